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
    State,
)

from .delivery import Overflow, PushBuffer

__all__ = ("NoDebugLogger", "Options", "closed_error", "make_options", "new_core", "result",
           "ssl_for", "submit", "wall_ms")


class NoDebugLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """For websockets' sans-I/O layer, which logs at DEBUG the request target (it carries
    the digest) and every frame (the request header carries the session key): never DEBUG.
    """

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


@attrs.frozen(slots=True, kw_only=True)
class Options:
    """An adapter's options: the core's ``ClientConfig`` plus what only a transport needs.

    Adapters take them as keywords (``connect(url, creds, timeout=5, proxy=...)``):
    ``make_options`` sends each keyword to the right place, so the defaults live in one
    place (``ClientConfig``), documented in the README's options table.
    """

    config: ClientConfig = attrs.field(factory=ClientConfig)
    ssl_context: ssl.SSLContext | None = None
    proxy: str | bool | None = None
    queue_size: int | None = 10_000
    overflow: Overflow = attrs.field(default=Overflow.BACKPRESSURE, converter=Overflow)

    def push_buffer(self) -> PushBuffer:
        return PushBuffer(self.queue_size, self.overflow)


_TRANSPORT = frozenset(a.name for a in attrs.fields(Options)) - {"config"}
_CORE = frozenset(a.name for a in attrs.fields(ClientConfig)) - {"request_timeout"}
_ALIASES = {"timeout": "request_timeout"}


def make_options(options: dict[str, Any]) -> Options:
    """Split keyword options between ``ClientConfig`` and ``Options``; reject misspellings."""
    valid = _TRANSPORT | _CORE | set(_ALIASES)
    unknown = sorted(set(options) - valid)
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; valid options: {sorted(valid)}")
    core = {_ALIASES.get(k, k): v for k, v in options.items() if k not in _TRANSPORT}
    rate = core.get("rate_limit")
    if rate is not None and not isinstance(rate, RateLimit):
        count, window = rate
        core["rate_limit"] = RateLimit(count, window)
    transport = {k: v for k, v in options.items() if k in _TRANSPORT}
    return Options(config=ClientConfig(**core), **transport)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def new_core(url: str, credentials: Credentials, options: Options, *,
             flush_reports: bool = False) -> ClientConnection:
    """The core, wired to the real clocks and the real random source."""
    return ClientConnection(url, credentials, wall_clock=wall_ms, random=random.random,
                            config=options.config, flush_reports=flush_reports)


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


def submit(core: ClientConnection, op: int | str, params: dict[str, Any] | None, now: float,
           timeout: float | None, extra: dict[str, Any]) -> int:
    """Queue a caller's request in the core; options left at None keep the core's default.

    Raises the error that closed the session if it is over.
    """
    if core.state is State.CLOSED:
        raise closed_error(core)
    kwargs = {k: v for k, v in extra.items() if v is not None}
    if timeout is not None:
        kwargs["timeout"] = timeout
    return core.send_request(op, params, now=now, **kwargs)


def closed_error(core: ClientConnection) -> InstamrktError:
    return core.closed_error or ConnectionClosed("the client is closed")
