"""A logger for websockets' sans-I/O layer that never logs at DEBUG.

That layer logs, at DEBUG, the request target of the handshake (it carries the digest) and
every frame (the request header carries the session key). Secrets must never reach a log,
whatever level the application enables, so its loggers go through this adapter.
"""

from __future__ import annotations

import logging

__all__ = ("NoDebugLogger",)


class NoDebugLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)
