"""The options every adapter accepts.

Adapters take them as keywords (``connect(url, creds, timeout=5, proxy=...)``) or as one
``Options`` value (``connect(url, creds, options=opts)``, keywords then override it):
``make_options`` sends each keyword to the right place, so the defaults live in one place
(``ClientConfig`` for the session, ``Options`` for the transport) and a misspelt option is
an error, never silently ignored.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Callable
from typing import IO, Any

import attrs

from instamrkt_proto import ClientConfig, Credentials, RateLimit

from .delivery import Overflow, PushBuffer

__all__ = ("Options", "make_options")


@attrs.frozen(slots=True, kw_only=True)
class Options:
    """An adapter's options: the core's ``ClientConfig`` plus what only a transport needs
    (documented in the README's options table)."""

    config: ClientConfig = attrs.field(factory=ClientConfig)
    ssl_context: ssl.SSLContext | None = None
    proxy: str | bool | None = None
    queue_size: int | None = 10_000
    overflow: Overflow = attrs.field(default=Overflow.BACKPRESSURE, converter=Overflow)
    refresh_credentials: Callable[[], Credentials | Awaitable[Credentials]] | None = \
        attrs.field(default=None, repr=False)
    record: str | os.PathLike[str] | IO[bytes] | None = None
    mirror: bool = False

    def push_buffer(self) -> PushBuffer:
        return PushBuffer(self.queue_size, self.overflow)


_TRANSPORT = frozenset(a.name for a in attrs.fields(Options)) - {"config"}
# The core asks for fresh credentials exactly when the adapter has a provider to ask.
_CORE = frozenset(a.name for a in attrs.fields(ClientConfig)) - {"request_timeout",
                                                                 "refresh_on_refusal"}
_ALIASES = {"timeout": "request_timeout"}


def make_options(options: dict[str, Any], base: Options | None = None) -> Options:
    """Split keyword options between ``ClientConfig`` and ``Options``; reject misspellings.

    With ``base``, the keywords override its values and the rest of it is kept.
    """
    if base is not None and not isinstance(base, Options):
        raise TypeError(f"options must be an Options, not {type(base).__name__}")
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
    if base is None:
        made = Options(config=ClientConfig(**core), **transport)
    else:
        made = attrs.evolve(base, config=attrs.evolve(base.config, **core), **transport)
    provider = made.refresh_credentials
    if provider is not None and not callable(provider):
        raise TypeError("refresh_credentials must be a callable returning Credentials")
    if made.config.credentials_max_age is not None and provider is None:
        raise TypeError("credentials_max_age needs refresh_credentials to get the new key")
    if made.config.refresh_on_refusal != (provider is not None):
        made = attrs.evolve(made, config=attrs.evolve(
            made.config, refresh_on_refusal=provider is not None))
    return made
