"""The options every adapter accepts, and the glue every adapter shares.

The adapters differ only in how they wait; what a reply means, how the core is configured
and which TLS context a URL gets are decided here once, so the three behave identically.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import attrs

from instamrkt_proto import (
    Backoff,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    Credentials,
    Event,
    InstamrktError,
    LogonError,
    LogonFailed,
    RateLimit,
    RequestFailed,
)

from .delivery import Overflow, PushBuffer

__all__ = ("NoDebugLogger", "Options", "make_options", "new_core", "result", "ssl_for",
           "wall_ms")


class NoDebugLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """For websockets' sans-I/O layer, which logs at DEBUG the request target (it carries
    the digest) and every frame (the request header carries the session key): never DEBUG.
    """

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


def _rate(value: RateLimit | tuple[int, float] | None) -> RateLimit | None:
    if value is None or isinstance(value, RateLimit):
        return value
    count, window = value
    return RateLimit(count, window)


@attrs.frozen(slots=True, kw_only=True)
class Options:
    """Adapter options. Defaults match ``ClientConfig``; see the README's table."""

    timeout: float | None = 30.0
    keepalive_interval: float | None = 20.0
    keepalive_timeout: float = 10.0
    connect_timeout: float | None = 10.0
    reconnect: bool = True
    backoff: Backoff = attrs.field(factory=Backoff)
    max_reconnect_attempts: int | None = None
    stable_after: float = 30.0
    max_message_size: int | None = 1 << 20
    max_outstanding: int | None = 1024
    rate_limit: RateLimit | None = attrs.field(default=None, converter=_rate)
    game_stale_after: float | None = None
    retry_idempotent: bool = False
    restore_session: bool = True
    ssl_context: ssl.SSLContext | None = None
    proxy: str | bool | None = None
    queue_size: int | None = 10_000
    overflow: Overflow = attrs.field(default=Overflow.BACKPRESSURE, converter=Overflow)

    def config(self) -> ClientConfig:
        return ClientConfig(
            request_timeout=self.timeout,
            keepalive_interval=self.keepalive_interval,
            keepalive_timeout=self.keepalive_timeout,
            connect_timeout=self.connect_timeout,
            reconnect=self.reconnect,
            backoff=self.backoff,
            max_reconnect_attempts=self.max_reconnect_attempts,
            stable_after=self.stable_after,
            max_message_size=self.max_message_size,
            max_outstanding=self.max_outstanding,
            rate_limit=self.rate_limit,
            game_stale_after=self.game_stale_after,
            retry_idempotent=self.retry_idempotent,
            restore_session=self.restore_session,
        )

    def push_buffer(self) -> PushBuffer:
        return PushBuffer(self.queue_size, self.overflow)


_FIELDS = frozenset(a.name for a in attrs.fields(Options))


def make_options(options: dict[str, Any]) -> Options:
    """``Options(**options)`` with a clear error for a misspelt option."""
    unknown = sorted(set(options) - _FIELDS)
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; valid options: {sorted(_FIELDS)}")
    return Options(**options)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def new_core(url: str, credentials: Credentials, options: Options, *,
             flush_reports: bool = False) -> ClientConnection:
    """The core, wired to the real clocks and the real random source."""
    return ClientConnection(url, credentials, wall_clock=wall_ms, random=random.random,
                            config=options.config(), flush_reports=flush_reports)


def ssl_for(url: str, options: Options) -> ssl.SSLContext | None:
    """The TLS context for ``url``: the caller's, or a verifying default for wss://."""
    if urlsplit(url).scheme != "wss":
        return None
    return options.ssl_context or ssl.create_default_context()


def result(event: Event) -> Any:
    """The value a call returns for its settling event, or raise the error it carries."""
    if isinstance(event, RequestFailed):
        raise event.error
    if isinstance(event, LogonFailed):
        raise LogonError(event)
    return event


def closed_error(core: ClientConnection) -> InstamrktError:
    return core.closed_error or ConnectionClosed("the client is closed")
