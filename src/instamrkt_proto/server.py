"""The server role: one websocket connection as an Instamrkt server sees it, sans I/O.

It exists so that clients can be tested against something that speaks the protocol exactly
as this library reads it, with the same codec on both ends. The caller (a transport) drives
it with two inputs and reads two outputs, like ``ClientConnection``:

* ``accept(query)`` once, with the handshake's request target or query string; it checks
  ``id``, ``n`` and ``h`` and returns a ``Handshake`` whose ``status`` the transport turns
  into HTTP 101, 400 or 403 *before* the websocket upgrade;
* ``receive_message(data)`` for each websocket message;
* ``data_to_send()`` gives the messages to write; ``events_received()`` the requests the
  application must answer (``RequestReceived``) and notes about the ones the core answered
  itself (``RequestAnswered``, ``BadRequest``).

The core answers ping (1), get_opcodes (2) and logon (100 / 110 / 112) on its own, because
every server must and their answers depend only on connection state. Every other known op
becomes a ``RequestReceived``; the application answers it with ``reply`` or ``error``, in
order (the protocol has no request id, so replies are matched by the client, not by us).

Malformed input never raises. A message that is not a JSON object with an int ``op`` and a
``header`` object is answered with res 666 ``"malformed request: <why>"``; an op missing
from the op table with res 666 ``"unknown op <n>"``. The session key and the digest never
appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

import enum
import hmac
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import attrs

from . import codes
from .auth import digest
from .codec import decode_request, encode_response
from .errors import LocalProtocolError, RemoteProtocolError

__all__ = (
    "BadRequest",
    "Handshake",
    "RequestAnswered",
    "RequestReceived",
    "ServerConnection",
    "ServerEvent",
    "ServerState",
)

log = logging.getLogger("instamrkt_proto.server")

UserLookup = Mapping[str, str] | Callable[[str], str | None]
"""user_id -> session key: a mapping (read live, so it may change) or a callable."""

_AUTH_FAILED = "authentication failed"  # one text for unknown user and bad digest: no oracle


class ServerState(enum.Enum):
    """Where the connection is. Requests are accepted in OPEN and LOGGED_ON."""

    HANDSHAKE = "handshake"
    REJECTED = "rejected"
    OPEN = "open"
    LOGGED_ON = "logged_on"
    CLOSED = "closed"


@attrs.frozen(slots=True, kw_only=True)
class Handshake:
    """The verdict on a connection attempt: ``status`` is the HTTP status to answer.

    101 means upgrade; 400 means ``id``, ``n`` or ``h`` is missing (or repeated); 403 means an
    unknown user or a wrong digest. Both 403 causes share one ``reason`` so that a caller
    cannot probe which user ids exist. ``user_id`` is the id claimed (not secret).
    """

    status: int
    user_id: str | None
    reason: str

    @property
    def accepted(self) -> bool:
        return self.status == 101


@attrs.frozen(slots=True, kw_only=True)
class ServerEvent:
    """Base class of the server role's events."""


@attrs.frozen(slots=True, kw_only=True)
class RequestReceived(ServerEvent):
    """A request the application must answer with ``reply`` or ``error`` (exactly once).

    ``seq`` numbers the well-formed requests on this connection from 1; ``t`` is the client's
    header timestamp (epoch ms) if it sent a usable one. ``name`` comes from the op table.
    """

    seq: int
    op: int
    name: str | None
    params: Mapping[str, Any]
    t: int | None = None


@attrs.frozen(slots=True, kw_only=True)
class RequestAnswered(ServerEvent):
    """A request the core answered itself (ping, get_opcodes, logon, unknown op)."""

    seq: int
    op: int
    name: str | None
    res: int
    params: Mapping[str, Any] = attrs.field(factory=dict)
    t: int | None = None


@attrs.frozen(slots=True, kw_only=True)
class BadRequest(ServerEvent):
    """An undecodable message, already answered with res 666. ``size`` is its length."""

    reason: str
    size: int


def _query_of(target: str) -> str:
    """The query part of a request target (``/?id=..``) or the query string itself."""
    _, sep, query = target.partition("?")
    return query if sep else target


class ServerConnection:
    """One server-side Instamrkt connection. Not thread-safe: serialise calls into it.

    ``users`` maps a user id to its session key (a live mapping or a callable returning
    ``None`` for unknown users). ``wall_clock`` returns epoch milliseconds for every reply's
    ``response_header.t``; ``clock_skew_ms`` is added to it (a test knob for clients that
    estimate server time; it may be changed at any moment). ``refuse_logon(user_id)``
    returning True makes logon answer 110. ``opcodes``/``response_codes`` are the tables
    served by op 2 and define which ops are known (default: the documented tables).
    ``require_logon`` makes every op except ping, get_opcodes and logon answer 666 until a
    logon succeeded (the doc does not say which ops need it, so the default is lenient).
    """

    _SELF_ANSWERED = frozenset({codes.Op.PING, codes.Op.GET_OPCODES, codes.Op.LOGON})

    def __init__(
        self,
        users: UserLookup,
        *,
        wall_clock: Callable[[], int],
        clock_skew_ms: int = 0,
        refuse_logon: Callable[[str], bool] | None = None,
        opcodes: Mapping[str, int] = codes.DEFAULT_OPCODES,
        response_codes: Mapping[str, int] = codes.DEFAULT_RESPONSE_CODES,
        require_logon: bool = False,
        logger: logging.Logger | None = None,
    ) -> None:
        self._users = users
        self._wall = wall_clock
        self.clock_skew_ms = clock_skew_ms
        self._refuse_logon = refuse_logon
        self._opcodes = dict(opcodes)
        self._response_codes = dict(response_codes)
        self._names = {number: name for name, number in self._opcodes.items()}
        self.require_logon = require_logon
        self._log = logger or log
        self._debug = self._log.isEnabledFor(logging.DEBUG)
        self._state = ServerState.HANDSHAKE
        self.user_id: str | None = None
        self._seq = 0
        self._owed = 0
        self._out: list[bytes] = []
        self._events: list[ServerEvent] = []

    def __repr__(self) -> str:
        return f"<ServerConnection user_id={self.user_id!r} state={self._state.value}>"

    @property
    def state(self) -> ServerState:
        return self._state

    @property
    def pending(self) -> int:
        """Requests handed to the application and not yet answered."""
        return self._owed

    # -- outputs -----------------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        """Messages to write, in order, each as one websocket text message."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[ServerEvent]:
        """Events since the last call, in order."""
        events, self._events = self._events, []
        return events

    # -- handshake ---------------------------------------------------------------------------

    def accept(self, query: str) -> Handshake:
        """Check the handshake's ``id``, ``n`` and ``h``; call once, before any message.

        ``query`` is the request target (``/?id=...``) or just its query string.
        """
        if self._state is not ServerState.HANDSHAKE:
            raise LocalProtocolError(f"accept() called in state {self._state.value}")
        verdict = self._check(_query_of(query))
        if verdict.accepted:
            self._state = ServerState.OPEN
            self.user_id = verdict.user_id
        else:
            self._state = ServerState.REJECTED
        if self._debug:
            self._log.debug("handshake user_id=%r -> %d %s", verdict.user_id, verdict.status,
                            verdict.reason)
        return verdict

    def _check(self, query: str) -> Handshake:
        params = parse_qs(query, keep_blank_values=True)
        missing = [k for k in ("id", "n", "h") if not params.get(k, [""])[0]]
        if missing:
            return Handshake(status=400, user_id=None,
                             reason=f"missing query parameter(s): {', '.join(missing)}")
        repeated = [k for k in ("id", "n", "h") if len(params[k]) > 1]
        if repeated:
            return Handshake(status=400, user_id=None,
                             reason=f"repeated query parameter(s): {', '.join(repeated)}")
        user_id, nonce, received = params["id"][0], params["n"][0], params["h"][0]
        key = self._users(user_id) if callable(self._users) else self._users.get(user_id)
        # Hash even for an unknown user so that both failures cost the same time.
        expected = digest(user_id, nonce, key or "")
        good = hmac.compare_digest(expected.encode(), received.lower().encode())
        if key is None or not good:
            return Handshake(status=403, user_id=user_id, reason=_AUTH_FAILED)
        return Handshake(status=101, user_id=user_id, reason="accepted")

    # -- messages ----------------------------------------------------------------------------

    def receive_message(self, data: bytes | str) -> None:
        """One complete websocket message from the client. Never raises for bad input."""
        if self._state not in (ServerState.OPEN, ServerState.LOGGED_ON):
            raise LocalProtocolError(f"receive_message() in state {self._state.value}")
        try:
            request = decode_request(data)
        except RemoteProtocolError as exc:
            reason = f"malformed request: {exc}"
            self._events.append(BadRequest(reason=reason, size=len(data)))
            self._send(codes.ERROR_RES, {"text": reason})
            return
        self._seq += 1
        op, params, t = request.op, request.params, request.t
        name = self._names.get(op)
        if name is None:
            self._answered(op, None, params, t, codes.ERROR_RES, {"text": f"unknown op {op}"})
        elif op == codes.Op.PING:
            self._answered(op, name, params, t, codes.Res.PONG, {})
        elif op == codes.Op.GET_OPCODES:
            self._answered(op, name, params, t, codes.Res.OPCODES,
                           {"opcodes": self._opcodes, "response_codes": self._response_codes})
        elif op == codes.Op.LOGON:
            self._answered(op, name, params, t, self._logon(), {})
        elif self.require_logon and self._state is not ServerState.LOGGED_ON:
            self._answered(op, name, params, t, codes.ERROR_RES,
                           {"text": f"op {op} ({name}) requires logon"})
        else:
            self._owed += 1
            self._events.append(RequestReceived(seq=self._seq, op=op, name=name,
                                                params=params, t=t))

    def _logon(self) -> int:
        if self._state is ServerState.LOGGED_ON:
            return codes.Res.LOGON_FAIL_ALREADY_LOGGED_IN
        if self._refuse_logon is not None and self._refuse_logon(self.user_id or ""):
            return codes.Res.LOGON_FAIL
        self._state = ServerState.LOGGED_ON
        return codes.Res.LOGON_SUCCESS

    def _answered(self, op: int, name: str | None, params: Mapping[str, Any], t: int | None,
                  res: int, fields: Mapping[str, Any]) -> None:
        self._events.append(RequestAnswered(seq=self._seq, op=op, name=name, res=res,
                                            params=params, t=t))
        self._send(res, fields)

    # -- application verbs -------------------------------------------------------------------

    def reply(self, res: int, /, **fields: Any) -> None:
        """Answer the oldest unanswered ``RequestReceived`` with ``res`` and ``fields``.

        Raises ``LocalProtocolError`` if no request is waiting (use ``push`` for unsolicited
        messages), or if a field is named ``res``/``response_header`` or is not JSON-able.
        """
        if self._owed <= 0:
            raise LocalProtocolError(f"reply({res}) with no request waiting; use push()")
        self._send(res, fields)
        self._owed -= 1

    def error(self, text: str) -> None:
        """Answer the oldest unanswered request with res 666 and ``text``."""
        self.reply(codes.ERROR_RES, text=text)

    def push(self, res: int, /, **fields: Any) -> None:
        """Send an unsolicited message (a push); it answers no request."""
        if self._state not in (ServerState.OPEN, ServerState.LOGGED_ON):
            raise LocalProtocolError(f"push() in state {self._state.value}")
        self._send(res, fields)

    def push_shared(self, res: int, fields: Mapping[str, Any], encoded: dict[int, bytes]
                    ) -> None:
        """``push``, for one push sent to many connections: ``encoded`` (the same dict for
        every connection) maps a ``response_header.t`` to the message already encoded with
        it, so the push is encoded once per distinct ``t`` (wall clock plus skew), not once
        per connection. The bytes are the ones ``push`` would send."""
        if self._state not in (ServerState.OPEN, ServerState.LOGGED_ON):
            raise LocalProtocolError(f"push() in state {self._state.value}")
        t = self._wall() + self.clock_skew_ms
        data = encoded.get(t)
        if data is None:
            data = encoded[t] = self._encode(res, fields, t)
        if self._debug:
            self._log.debug("> res %d (%d bytes) to user_id=%r", res, len(data), self.user_id)
        self._out.append(data)

    def close(self) -> None:
        """The connection is gone; later calls to ``receive_message`` raise."""
        self._state = ServerState.CLOSED
        self._owed = 0

    @staticmethod
    def _encode(res: int, fields: Mapping[str, Any], t: int) -> bytes:
        try:
            return encode_response(res, fields, t=t)
        except TypeError as exc:
            raise LocalProtocolError(f"res {res}: fields are not JSON-serialisable: {exc}"
                                     ) from None

    def _send(self, res: int, fields: Mapping[str, Any]) -> None:
        data = self._encode(res, fields, self._wall() + self.clock_skew_ms)
        if self._debug:
            self._log.debug("> res %d (%d bytes) to user_id=%r", res, len(data), self.user_id)
        self._out.append(data)
