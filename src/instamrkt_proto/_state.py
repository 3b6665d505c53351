"""The client connection's states and every legal transition, as data.

Rule (after h11's ``_state.py``): everything that decides a state change lives in this table.
``ClientConnection`` looks up ``(state, input)``; a missing pair is either a caller mistake
(``LocalProtocolError``) or, for inputs that come from the transport, a stale report that is
ignored (``IGNORED``), e.g. a ``connection_lost`` for a socket the core already gave up on.

    IDLE -connect-> CONNECTING -made-> OPEN -logon-> LOGGING_ON -ok-> LOGGED_ON
                      |  ^                \\______________________________/
               failed |  | backoff expired          | lost (retryable)
                      v  |                          v
                     BACKOFF <----------------------+ ---(fatal or no reconnect)--> CLOSED
                      |
                      +-made, session to restore-> RESTORING -restored-> LOGGED_ON / OPEN

    CONNECTING / OPEN / LOGGING_ON / LOGGED_ON / RESTORING
        -refused (key refused, a credentials provider is set)-> REFRESHING
    REFRESHING -refreshed-> CONNECTING
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ("IGNORED", "TRANSITIONS", "USER_SENDABLE", "Input", "State")


class State(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    LOGGING_ON = "logging_on"
    LOGGED_ON = "logged_on"
    RESTORING = "restoring"
    BACKOFF = "backoff"
    REFRESHING = "refreshing"  # waiting for fresh credentials after the key was refused
    CLOSED = "closed"


class Input(enum.Enum):
    CONNECT = "connect"  # caller
    CLOSE = "close"  # caller
    MADE = "connection_made"  # transport
    MADE_RESTORE = "connection_made (session to restore)"
    FAILED = "connection_failed"  # transport: handshake or TCP failure, retryable
    LOST = "connection_lost"  # transport or core: retryable loss
    FATAL = "fatal"  # refused handshake, logon refused during restore, attempts exhausted
    LOGON_SENT = "logon_sent"
    LOGON_OK = "logon_ok"
    LOGON_REFUSED = "logon_refused"
    RESTORED = "restored"  # restore finished, session had logged on
    RESTORED_OPEN = "restored (never logged on)"
    BACKOFF_EXPIRED = "backoff_expired"
    REFUSED = "credentials_refused"  # handshake 400/401/403 or logon 110, provider set
    REFRESHED = "credentials_refreshed"


S, I = State, Input  # noqa: E741
_CONNECTED = (S.OPEN, S.LOGGING_ON, S.LOGGED_ON, S.RESTORING)

_table: dict[tuple[State, Input], State] = {
    (S.IDLE, I.CONNECT): S.CONNECTING,
    (S.IDLE, I.CLOSE): S.CLOSED,
    (S.CONNECTING, I.MADE): S.OPEN,
    (S.CONNECTING, I.MADE_RESTORE): S.RESTORING,
    (S.CONNECTING, I.FAILED): S.BACKOFF,
    (S.CONNECTING, I.LOST): S.BACKOFF,
    (S.OPEN, I.LOGON_SENT): S.LOGGING_ON,
    (S.LOGGED_ON, I.LOGON_SENT): S.LOGGED_ON,
    (S.LOGGING_ON, I.LOGON_SENT): S.LOGGING_ON,
    (S.LOGGING_ON, I.LOGON_OK): S.LOGGED_ON,
    (S.LOGGED_ON, I.LOGON_OK): S.LOGGED_ON,
    (S.OPEN, I.LOGON_OK): S.LOGGED_ON,
    (S.LOGGING_ON, I.LOGON_REFUSED): S.OPEN,
    (S.LOGGED_ON, I.LOGON_REFUSED): S.OPEN,
    (S.OPEN, I.LOGON_REFUSED): S.OPEN,
    (S.RESTORING, I.RESTORED): S.LOGGED_ON,
    (S.RESTORING, I.RESTORED_OPEN): S.OPEN,
    (S.BACKOFF, I.BACKOFF_EXPIRED): S.CONNECTING,
    (S.CONNECTING, I.REFUSED): S.REFRESHING,
    (S.REFRESHING, I.REFRESHED): S.CONNECTING,
}
for _state in _CONNECTED:
    _table[(_state, I.LOST)] = S.BACKOFF
    _table[(_state, I.REFUSED)] = S.REFRESHING
for _state in S:
    if _state is not S.CLOSED:
        _table[(_state, I.CLOSE)] = S.CLOSED
        _table[(_state, I.FATAL)] = S.CLOSED

TRANSITIONS: Mapping[tuple[State, Input], State] = MappingProxyType(_table)
"""(state, input) -> next state. Anything missing is illegal."""

IGNORED: frozenset[tuple[State, Input]] = frozenset(
    {(s, i) for s in (S.BACKOFF, S.REFRESHING, S.CLOSED, S.IDLE)
     for i in (I.MADE, I.FAILED, I.LOST)}
    | {(S.CLOSED, I.CLOSE)}
)
"""Transport reports that arrive after the core moved on; they change nothing."""

USER_SENDABLE: frozenset[State] = frozenset({S.OPEN, S.LOGGING_ON, S.LOGGED_ON})
"""States in which the caller's requests go on the wire (others hold them back)."""
