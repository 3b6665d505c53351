"""Policy for a client session, and the metrics snapshot it reports.

Every default here is documented in the README's options table; ``None`` disables a timer
or a limit. The defaults absorb the documented fan-out bursts (one register_game_event can
produce hundreds of pushes) and never reconnect faster than the backoff allows.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._state import State
from ._timing import Backoff, RateLimit

__all__ = ("DEFAULT", "ClientConfig", "Metrics")

class _Default:
    __slots__ = ()

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
"""Sentinel for "the configured default": a per-call ``timeout`` left out means
``ClientConfig.request_timeout``, while ``timeout=None`` means "wait forever"."""


@attrs.frozen(slots=True, kw_only=True)
class ClientConfig:
    """How a ``ClientConnection`` times out, keeps alive, reconnects and limits itself.

    * ``request_timeout``: seconds from submission to reply (None: wait forever).
    * ``keepalive_interval``: send ping (op 1) after this long without any inbound message.
    * ``keepalive_timeout``: declare the peer dead if nothing at all arrives this long after
      a keepalive ping (so detection takes at most interval + timeout).
    * ``connect_timeout``: give up on a connection attempt after this long.
    * ``reconnect``, ``backoff``, ``max_reconnect_attempts``, ``stable_after``: reconnect
      with full-jitter exponential backoff; the attempt count resets once a connection has
      stayed up ``stable_after`` seconds.
    * ``max_message_size``: bytes per received message (None: unlimited).
    * ``max_outstanding``: caller requests queued or in flight (None: unlimited).
    * ``rate_limit``: strict rolling-window pacing of everything sent.
    * ``game_stale_after``: emit ``Stale`` when a joined game has been silent this long.
    * ``retry_idempotent``: re-send reads once on a new connection if theirs dropped.
    * ``restore_session``: re-logon and re-join games after a reconnect.
    * ``refresh_on_refusal``: when the server refuses the session key (handshake HTTP
      400/401/403, or res 110 to a logon), emit ``RefreshCredentials`` and wait for
      ``update_credentials`` instead of ending the session; at most
      ``max_credential_refreshes`` times before the key is proven good again.
    * ``credentials_max_age``: emit ``RefreshCredentials(reason="expiring")`` this long
      after the credentials were obtained (keys live 24 hours), while staying connected.
    """

    request_timeout: float | None = 30.0
    keepalive_interval: float | None = 20.0
    keepalive_timeout: float = 10.0
    connect_timeout: float | None = 10.0
    reconnect: bool = True
    backoff: Backoff = attrs.field(factory=Backoff)
    max_reconnect_attempts: int | None = None
    stable_after: float = 30.0
    max_message_size: int | None = 1 << 20
    max_outstanding: int | None = 1024
    rate_limit: RateLimit | None = None
    game_stale_after: float | None = None
    retry_idempotent: bool = False
    restore_session: bool = True
    refresh_on_refusal: bool = False
    max_credential_refreshes: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    credentials_max_age: float | None = None


@attrs.frozen(slots=True, kw_only=True)
class Metrics:
    """A snapshot of what an operator wants on a dashboard."""

    state: State
    rtt: float | None
    rtt_min: float | None
    reconnects: int
    outstanding: int
    last_message_age: float | None
    undecodable: int = 0
    """Messages with a documented code whose payload did not fit its model (delivered as
    the generic ``Push``/``Response`` with ``decode_error``)."""
