"""Everything the core reports, as frozen, slotted, keyword-only attrs classes.

Two kinds of event come out of ``events_received()``:

* ``RequestSettled`` subclasses carry the ``request_id`` that ``send_request`` returned. Each
  request gets exactly one of them: its reply, a ``LogonFailed``, or a ``RequestFailed``
  holding the error (timeout, connection closed, outcome unknown, server error). Adapters
  use the id to settle a future; these never enter a push queue.
* Everything else is a push or a lifecycle event for the application.

Fields that hold secrets (the connection URL carries the digest) are excluded from ``repr``.
Events compare by value and are not meant to be subclassed by users.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from .errors import InstamrktError, RemoteProtocolError

__all__ = (
    "CloseTransport",
    "Closed",
    "Connected",
    "Connecting",
    "Event",
    "LateReply",
    "LoggedOn",
    "LogonFailed",
    "OpcodeTable",
    "Pong",
    "ProtocolError",
    "Push",
    "PushesDropped",
    "Reconnected",
    "RefreshCredentials",
    "RequestFailed",
    "RequestSettled",
    "Response",
    "Stale",
    "UncorrelatedError",
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})

def redact_url(url: str) -> str:
    """``url`` with the digest (``h``) replaced by ``***``: safe to log or print."""
    parts = urlsplit(url)
    query = urlencode(
        [(k, "***" if k == "h" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe="*",
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@attrs.frozen(slots=True, kw_only=True)
class Event:
    """Base class of all events."""


# -- lifecycle ------------------------------------------------------------------------------


@attrs.frozen(slots=True, kw_only=True)
class Connecting(Event):
    """The transport must open a websocket to ``url`` now (it carries a fresh nonce).

    ``url`` embeds the handshake digest, so it is hidden from ``repr``; log
    ``redacted_url`` instead.
    """

    url: str = attrs.field(repr=False)
    attempt: int = 0

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)


@attrs.frozen(slots=True, kw_only=True)
class Connected(Event):
    """The websocket handshake succeeded; requests can flow."""


@attrs.frozen(slots=True, kw_only=True)
class CloseTransport(Event):
    """The core gave up on this connection (dead peer, oversized message, close()).

    The transport must close the socket (sending a websocket close frame with ``code``,
    always a code that may be sent, if a websocket is open); it need not report
    ``connection_lost`` for it.
    """

    code: int
    reason: str


@attrs.frozen(slots=True, kw_only=True)
class Closed(Event):
    """The connection is gone. ``reconnect_at`` is set when the core will try again."""

    code: int | None
    reason: str
    error: InstamrktError | None = None
    reconnect_at: float | None = None

    @property
    def will_reconnect(self) -> bool:
        return self.reconnect_at is not None


@attrs.frozen(slots=True, kw_only=True)
class Reconnected(Event):
    """A new connection replaced a lost one and the session was restored on it.

    Pushes sent between ``disconnected_at`` and ``reconnected_at`` (monotonic seconds) are
    lost: re-run the calls in ``advice`` (list/details reads per rejoined game) to resync.
    """

    disconnected_at: float
    reconnected_at: float
    attempts: int
    relogged_on: bool
    rejoined: tuple[str, ...] = ()
    rejoin_failed: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()
    credentials_refreshed: bool = False
    """The server had refused the session key; fresh credentials were obtained for this
    connection."""

    @property
    def gap(self) -> float:
        return self.reconnected_at - self.disconnected_at


@attrs.frozen(slots=True, kw_only=True)
class RefreshCredentials(Event):
    """The transport must obtain fresh credentials and report them.

    Call ``update_credentials(credentials, now)`` with them, or ``refresh_failed(now,
    reason)`` if they cannot be had. ``reason`` is ``"refused"`` (the server refused the key:
    the session waits, its queued requests kept, and reconnects once the new key comes) or
    ``"expiring"`` (the key is older than ``credentials_max_age``: the session carries on
    meanwhile). ``status`` is the refused handshake's HTTP status (None for a logon 110).
    """

    reason: str
    status: int | None = None


# -- replies (settle exactly one request) ---------------------------------------------------


@attrs.frozen(slots=True, kw_only=True)
class RequestSettled(Event):
    """Base of the events that settle the request with ``request_id``."""

    request_id: int
    op: int


@attrs.frozen(slots=True, kw_only=True)
class Response(RequestSettled):
    """A reply: what a call returns. ``fields`` is the message minus ``res`` and its header.

    The replies the core interprets (``Pong``, ``OpcodeTable``, ``LoggedOn``,
    ``LogonFailed``) are subclasses, so every call can promise a ``Response``; so are the
    typed models of ``instamrkt_proto.api``, one per documented response code.
    ``decode_error`` is set when the code has a model but this payload could not be
    structured into it: the reply then comes as this generic ``Response``, never lost.
    """

    res: int
    name: str | None = None
    fields: Mapping[str, Any] = _EMPTY
    server_time: int | None = None
    decode_error: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(slots=True, kw_only=True)
class Pong(Response):
    """Reply to ping: ``rtt`` in seconds (monotonic), ``server_time`` in epoch ms."""

    rtt: float
    fields: Mapping[str, Any] = attrs.field(default=_EMPTY, repr=False)


@attrs.frozen(slots=True, kw_only=True)
class OpcodeTable(Response):
    """Reply to get_opcodes: name -> number maps as the server sent them."""

    opcodes: Mapping[str, int]
    response_codes: Mapping[str, int]
    fields: Mapping[str, Any] = attrs.field(default=_EMPTY, repr=False)


@attrs.frozen(slots=True, kw_only=True)
class LoggedOn(Response):
    """Logon succeeded. ``already_logged_in`` is True for res 112, which is success too.

    ``fields`` is hidden from ``repr``: the logon reply carries an opaque ``session_key``.
    """

    already_logged_in: bool = False
    fields: Mapping[str, Any] = attrs.field(default=_EMPTY, repr=False)


@attrs.frozen(slots=True, kw_only=True)
class LogonFailed(Response):
    """Logon refused (res 110): the session key is not (or no longer) valid.

    Calls raise ``LogonError`` carrying this event instead of returning it.
    """

    fields: Mapping[str, Any] = attrs.field(default=_EMPTY, repr=False)


@attrs.frozen(slots=True, kw_only=True)
class RequestFailed(RequestSettled):
    """The request ended without a reply; ``error`` says how (and is what adapters raise)."""

    error: InstamrktError


# -- pushes and diagnostics -----------------------------------------------------------------


@attrs.frozen(slots=True, kw_only=True)
class Push(Event):
    """A server message that answers no outstanding request.

    Documented codes arrive as their typed model from ``instamrkt_proto.api`` (a subclass,
    e.g. ``api.BalanceUpdate``); unknown codes as this generic ``Push``, and so does a known
    code whose payload could not be structured, with the reason in ``decode_error``.
    """

    res: int
    name: str | None
    fields: Mapping[str, Any]
    server_time: int | None = None
    decode_error: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(slots=True, kw_only=True)
class LateReply(Event):
    """The reply to a request that had already been settled (timed out, outcome unknown).

    It is reported here, never handed to another request: use it to reconcile.
    """

    request_id: int
    op: int
    res: int
    fields: Mapping[str, Any]
    server_time: int | None = None


@attrs.frozen(slots=True, kw_only=True)
class UncorrelatedError(Event):
    """A res 666 that could belong to more than one outstanding request.

    The outstanding requests keep waiting (and time out if nothing else comes).
    """

    text: str | None
    server_time: int | None = None
    candidates: tuple[int, ...] = ()


@attrs.frozen(slots=True, kw_only=True)
class ProtocolError(Event):
    """A received message was malformed; the connection carries on (unless it was too big)."""

    error: RemoteProtocolError
    size: int


@attrs.frozen(slots=True, kw_only=True)
class Stale(Event):
    """No push for a joined game for ``age`` seconds (only if game staleness is enabled)."""

    game_id: str
    age: float


@attrs.frozen(slots=True, kw_only=True)
class PushesDropped(Event):
    """The drop-oldest overflow policy discarded ``count`` pushes just before this event."""

    count: int
