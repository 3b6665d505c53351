"""Turning a matched reply into the event that settles its request.

``reply_event`` is a pure function of (request, message). ``ReplyHandling``, a mixin of
``ClientConnection`` (as ``recovery.SessionRecovery`` is), applies what a reply means to the
session: state moves, name tables, the game registry, the RTT and clock estimates, and the
res 666 rule (it settles a request only when exactly one could have caused it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .codec import converter
from .codes import ERROR_RES, Op, Res
from .correlation import Correlator, PendingRequest
from .errors import InstamrktError, RemoteProtocolError, ServerError
from .events import (
    Event,
    LateReply,
    LoggedOn,
    LogonFailed,
    OpcodeTable,
    Pong,
    Push,
    RequestFailed,
    Response,
    UncorrelatedError,
)
from .keepalive import Keepalive
from .names import NameTables
from .session import GameRegistry
from .state import Input
from .timing import ClockEstimator

__all__ = ("ReplyHandling", "reply_event")

_LOGON_OK = frozenset({Res.LOGON_SUCCESS, Res.LOGON_FAIL_ALREADY_LOGGED_IN})


def _opcode_table(rid: int, op: int, fields: dict[str, Any], t: int | None) -> Event:
    try:
        opcodes = converter.structure(fields.get("opcodes") or {}, dict[str, int])
        response_codes = converter.structure(fields.get("response_codes") or {}, dict[str, int])
    except Exception:
        error = RemoteProtocolError("res 2: 'opcodes' and 'response_codes' must map names to ints")
        return RequestFailed(request_id=rid, op=op, error=error)
    return OpcodeTable(request_id=rid, op=op, opcodes=opcodes, response_codes=response_codes,
                       server_time=t)


def reply_event(
    rid: int, op: int, res: int, fields: dict[str, Any], t: int | None, *, name: str | None,
) -> Event:
    """The settling event for request ``rid`` (op ``op``) answered by ``res``.

    Pongs are not built here: the client settles them on its hot path, with their RTT.
    """
    if op == Op.GET_OPCODES and res == Res.OPCODES:
        return _opcode_table(rid, op, fields, t)
    if op == Op.LOGON and res in _LOGON_OK:
        return LoggedOn(request_id=rid, op=op, server_time=t, fields=fields,
                        already_logged_in=res == Res.LOGON_FAIL_ALREADY_LOGGED_IN)
    if op == Op.LOGON and res == Res.LOGON_FAIL:
        return LogonFailed(request_id=rid, op=op, server_time=t, fields=fields)
    return Response(request_id=rid, op=op, res=res, name=name, fields=fields, server_time=t)


class ReplyHandling:
    """What replies, pushes and res 666 do to the session, for ``ClientConnection``."""

    # Provided by ClientConnection:
    names: NameTables
    _events: list[Event]
    _corr: Correlator
    _games: GameRegistry
    _alive: Keepalive
    _clock: ClockEstimator
    _had_logon: bool
    _rtt: float | None
    _rtt_min: float | None

    _wall: Callable[[], int]

    if TYPE_CHECKING:
        def _try_move(self, event: Input) -> None: ...

        def _fail(self, request: PendingRequest, error: InstamrktError) -> None: ...

        def _restore_reply(self, request: PendingRequest, res: int | None,
                           fields: dict[str, Any], t: int | None, now: float) -> None: ...

    def _reply(
        self, request: PendingRequest, res: int, fields: dict[str, Any], t: int | None, now: float
    ) -> None:
        if request.op == Op.PING and res == Res.PONG:  # the common case
            self._events.append(Pong(request_id=request.id, op=request.op,
                                     rtt=self._pong(request, t, now), server_time=t))
            return
        event = reply_event(request.id, request.op, res, fields, t,
                            name=self.names.response_name(res))
        if isinstance(event, OpcodeTable):
            self.names.learn(event.opcodes, event.response_codes)
        elif isinstance(event, LoggedOn):
            self._had_logon = True
            self._try_move(Input.LOGON_OK)
        elif isinstance(event, LogonFailed):
            self._had_logon = False
            self._try_move(Input.LOGON_REFUSED)
        elif isinstance(event, Response):
            self._games.track(request.op, res, request.params, now)
        self._events.append(event)

    def _pong(self, request: PendingRequest, t: int | None, now: float) -> float:
        rtt = now - (request.sent_at if request.sent_at is not None else now)
        self._rtt = rtt
        self._rtt_min = rtt if self._rtt_min is None else min(self._rtt_min, rtt)
        if t is not None and request.sent_wall is not None:
            self._clock.add(request.sent_wall, t, self._wall())
        return rtt

    def _push(self, res: int, fields: dict[str, Any], t: int | None, now: float) -> None:
        game = fields.get("game_id")
        if game is not None:
            self._games.saw(game, now)
        self._events.append(Push(res=res, name=self.names.response_name(res), fields=fields,
                                 server_time=t))

    def _server_error(self, fields: dict[str, Any], t: int | None, now: float) -> None:
        raw = fields.get("text")
        text = raw if raw is None or isinstance(raw, str) else str(raw)
        wire = self._corr.wire
        if len(wire) != 1:
            self._corr.doubt()
            self._events.append(UncorrelatedError(
                text=text, server_time=t,
                candidates=tuple(r.id for r in wire if r.internal is None)))
            return
        request = wire[0]
        self._corr.remove(request)
        if request.settled:
            if request.internal is None:
                self._events.append(LateReply(request_id=request.id, op=request.op,
                                              res=ERROR_RES, fields=fields, server_time=t))
        elif request.internal is not None:
            self._internal_reply(request, ERROR_RES, fields, t, now)
        else:
            self._fail(request, ServerError(text, request.op))

    def _internal_reply(
        self, request: PendingRequest, res: int | None, fields: dict[str, Any],
        t: int | None, now: float,
    ) -> None:
        """A reply (None: the timeout) to a request the core sent for itself."""
        if request.internal == "keepalive":
            if res == Res.PONG:
                self._pong(request, t, now)
            if self._alive.ping is request:
                self._alive.ping = None
        else:
            self._restore_reply(request, res, fields, t, now)
