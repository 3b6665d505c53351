"""The client role: one Instamrkt session over a succession of websocket connections.

The caller drives ``ClientConnection`` with three kinds of input and reads two outputs
(the contract of websockets' sans-I/O layer, plus aioquic's timers):

* transport reports: ``connection_made``, ``connection_failed``, ``connection_lost`` and
  ``receive_message`` (one websocket text message, ``bytes`` or ``str``);
* caller actions: ``connect``, ``send_request`` (and ``ping``/``get_opcodes``/``logon``),
  ``close``;
* time: ``handle_timer(now)`` at ``next_deadline()``.

After each call, write out ``data_to_send()`` (one websocket text message per item) and act on
``events_received()``: ``Connecting`` means open a socket to its URL, ``CloseTransport`` means
close the socket. State changes happen inside these calls, never while events are read.

Every time is monotonic seconds passed in by the caller; epoch milliseconds for the request
header and the nonce come from the injected ``wall_clock``, and backoff jitter from the
injected ``random``. The core reads no clock and no random source, so a test replays a run
exactly.

``ClientConnection`` owns the session and decides; the parts it owns keep their own state
behind a narrow interface: ``Correlator`` (which request a reply answers), ``Keepalive``,
``ReconnectPolicy``, ``GameRegistry`` and ``Restorer`` (what a reconnect must restore),
``RateLimiter`` and ``RoundTrips``. Every request gets exactly one settling event, whatever
the order and timing of the calls: ``PendingRequest.settled`` is set by the one place
that emits it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._correlation import Correlator, PendingRequest, timeout_outcome
from ._dialer import Dialer
from ._keepalive import Keepalive, Verdict
from ._models import PUSH_DECODERS, generic_push
from ._names import NameTables
from ._reconnect import ReconnectPolicy
from ._replies import reply_event
from ._requests import RequestFactory
from ._session import GameRegistry, Restorer
from ._state import IGNORED, TRANSITIONS, USER_SENDABLE, Input, State
from ._timing import ClockEstimate, RateLimiter, RoundTrips
from .auth import Credentials
from .codec import decode_server_message, frame_request
from .codes import ERROR_RES, Op, Res
from .config import DEFAULT, ClientConfig, Metrics
from .errors import (
    AuthenticationError,
    ConnectionClosed,
    InstamrktError,
    LocalProtocolError,
    LogonError,
    MessageTooBig,
    RemoteProtocolError,
    RequestLimitExceeded,
    ServerError,
)
from .events import (
    Closed,
    CloseTransport,
    Connected,
    Event,
    LateReply,
    LoggedOn,
    LogonFailed,
    OpcodeTable,
    Pong,
    ProtocolError,
    Reconnected,
    RefreshCredentials,
    RequestFailed,
    Response,
    UncorrelatedError,
)

__all__ = ("ClientConnection",)

log = logging.getLogger("instamrkt_proto.client")
wire_log = logging.getLogger("instamrkt_proto.wire")

_CONNECTED = frozenset({State.OPEN, State.LOGGING_ON, State.LOGGED_ON, State.RESTORING})
_FATAL_STATUS = frozenset({400, 401, 403})
_KEEPALIVE, _RELOGON, _REJOIN = "keepalive", "logon", "rejoin"  # internal request kinds


class ClientConnection:
    """A sans-IO Instamrkt client session. Not thread-safe: serialise calls into it."""

    __slots__ = (
        "_alive", "_connected", "_corr", "_dialer", "_events", "_games", "_had_logon",
        "_last_message", "_limiter", "_out", "_pacing_at", "_policy", "_reconnect_at",
        "_reconnects", "_requests", "_restorer", "_sendable", "_state", "_trips",
        "_undecodable", "_wall",
        "closed_error", "config", "flush_reports", "names",
    )

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        wall_clock: Callable[[], int],
        random: Callable[[], float],
        config: ClientConfig | None = None,
        nonce_factory: Callable[[int], str] | None = None,
        flush_reports: bool = False,
    ) -> None:
        self.config = config or ClientConfig()
        self.flush_reports = flush_reports
        self.names = NameTables()
        self.closed_error: InstamrktError | None = None
        """Why the session ended (set once the state is CLOSED)."""
        self._wall = wall_clock
        self._state = State.IDLE
        self._connected = self._sendable = False
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._had_logon = False
        self._last_message: float | None = None
        self._reconnect_at: float | None = None
        self._pacing_at: float | None = None
        self._reconnects = 0
        self._undecodable = 0  # documented codes whose payload did not fit their model
        # The parts, each owning its own state:
        self._dialer = Dialer(url, credentials, wall_clock, nonce_factory,
                              self.config.connect_timeout, self.config.credentials_max_age)
        self._corr = Correlator()
        self._requests = RequestFactory(self.config, self.names)
        self._limiter = RateLimiter(self.config.rate_limit, flush_reports=flush_reports)
        self._alive = Keepalive(self.config.keepalive_interval, self.config.keepalive_timeout)
        self._policy = ReconnectPolicy(self.config, random)
        self._games = GameRegistry()
        self._restorer = Restorer()
        self._trips = RoundTrips()

    @property
    def url(self) -> str:
        """The endpoint, without the per-attempt query (``id``, ``n``, ``h``)."""
        return self._dialer.url

    @property
    def credentials(self) -> Credentials:
        return self._dialer.credentials

    def __repr__(self) -> str:
        return f"<ClientConnection user_id={self.credentials.user_id!r} state={self._state.value}>"

    # -- outputs -----------------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        """Messages to write, in order, each as one websocket text message."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    @property
    def state(self) -> State:
        return self._state

    @property
    def logged_on(self) -> bool:
        return self._state is State.LOGGED_ON

    @property
    def joined_games(self) -> tuple[str, ...]:
        """Games joined on this session (re-joined after a reconnect)."""
        return tuple(self._games)

    @property
    def clock(self) -> ClockEstimate | None:
        """Server clock offset and uncertainty from pings, or None before the first pong."""
        return self._trips.clock.estimate

    def metrics(self, now: float) -> Metrics:
        last = self._last_message
        age = None if last is None else max(0.0, now - last)
        outstanding = sum(1 for r in self._corr.live() if r.internal is None)
        return Metrics(
            state=self._state,
            rtt=self._trips.last,
            rtt_min=self._trips.minimum,
            reconnects=self._reconnects,
            outstanding=outstanding,
            last_message_age=age,
            undecodable=self._undecodable,
        )

    def opcode(self, op: int | str) -> int:
        """The number of ``op`` (a number, or a documented or received name)."""
        return self.names.opcode(op)

    def response_name(self, res: int) -> str | None:
        return self.names.response_name(res)

    # -- caller actions ----------------------------------------------------------------------

    def connect(self, now: float) -> None:
        """Start the first connection attempt: emits ``Connecting``."""
        self._move(Input.CONNECT)
        self._dialer.obtained(now)
        self._events.append(self._dialer.attempt(now, self._policy.attempt))

    def close(self, now: float, reason: str = "closed by client") -> None:
        """End the session for good. Idempotent. Outstanding requests fail."""
        if self._state is State.CLOSED:
            return
        if self._connected or self._state is State.CONNECTING:
            self._events.append(CloseTransport(code=1000, reason=reason))
        self._finish(Input.CLOSE, ConnectionClosed(reason, 1000), code=1000, reason=reason)

    def send_request(
        self,
        op: int | str,
        params: Mapping[str, Any] | None = None,
        *,
        now: float,
        timeout: float | None = DEFAULT,
        idempotent: bool | None = None,
        expect: frozenset[int] | None = None,
        retry: bool | None = None,
    ) -> int:
        """Queue a request; returns its local id, which its settling event will carry.

        The request goes on the wire at once unless the correlation rules, pacing, or a
        reconnect in progress hold it back. ``timeout`` left out means
        ``config.request_timeout``; ``None`` means wait forever. ``idempotent`` defaults to
        the documented classification (``codes.IDEMPOTENT``); ``expect`` to the documented
        replies; ``retry`` (idempotent reads only) re-sends it once on a new connection if
        its connection drops. Everything is checked before anything is queued.
        """
        if self._state is State.IDLE:
            raise LocalProtocolError("call connect() before sending requests")
        if self._state is State.CLOSED:
            raise LocalProtocolError("the connection is closed")
        request = self._requests.caller(op, params, now, timeout, idempotent, expect, retry)
        limit = self.config.max_outstanding
        corr = self._corr
        if (limit is not None and len(corr.queue) + len(corr.wire) >= limit  # cheap check first
                and sum(1 for r in corr.live() if r.internal is None) >= limit):
            raise RequestLimitExceeded(limit)
        corr.submit(request)
        self._pump(now)
        return request.id

    def update_credentials(self, credentials: Credentials, now: float) -> None:
        """Use ``credentials`` from now on: the answer to ``RefreshCredentials``, or a key
        the application rotated itself.

        While the session waits for them (the key was refused) it reconnects at once, signed
        with the new key. Otherwise the live connection is kept: the protocol authenticates
        a connection only at its handshake and has no message to re-authenticate it, so the
        new key signs the next handshake (and goes in request headers from now on).
        """
        if not isinstance(credentials, Credentials):
            raise LocalProtocolError("update_credentials needs a Credentials value")
        if self._state is State.CLOSED:
            return
        if not self._dialer.replace(credentials, now):
            error = AuthenticationError(None, "the new credentials hold the key just refused",
                                        action="credential refresh")
            self._events.append(CloseTransport(code=1000, reason="credentials refused"))
            self._finish(Input.FATAL, error, code=None, reason=str(error))
        elif self._state is State.REFRESHING:
            self._dialer.refreshed = True
            self._move(Input.REFRESHED)
            self._events.append(self._dialer.attempt(now, self._policy.attempt))

    def refresh_failed(self, now: float, reason: str) -> None:
        """No fresh credentials could be had for ``RefreshCredentials`` (``reason`` says why).

        A session waiting for them ends with ``AuthenticationError``; one that asked ahead of
        expiry keeps its key and asks again a minute later.
        """
        if self._state is State.REFRESHING:
            error = AuthenticationError(None, f"the provider failed: {reason}",
                                        action="credential refresh")
            self._finish(Input.FATAL, error, code=None, reason=str(error))
        elif self._state is not State.CLOSED and self.config.credentials_max_age is not None:
            self._dialer.refresh_at = now + min(60.0, self.config.credentials_max_age)

    def request(self, op: int | str, now: float, /, **params: Any) -> int:
        """``send_request(op, params, now=now)`` with the parameters as keywords."""
        return self.send_request(op, params, now=now)

    def ping(self, now: float, *, timeout: float | None = DEFAULT) -> int:
        return self.send_request(Op.PING, None, now=now, timeout=timeout)

    def get_opcodes(self, now: float, *, timeout: float | None = DEFAULT) -> int:
        return self.send_request(Op.GET_OPCODES, None, now=now, timeout=timeout)

    def logon(self, now: float, *, timeout: float | None = DEFAULT) -> int:
        return self.send_request(Op.LOGON, None, now=now, timeout=timeout)

    # -- transport reports -------------------------------------------------------------------

    def connection_made(self, now: float) -> None:
        """The websocket handshake for the last ``Connecting`` succeeded."""
        restoring = self._policy.disconnected_at is not None
        if self._ignored(Input.MADE):
            return
        self._move(Input.MADE_RESTORE if restoring else Input.MADE)
        self._dialer.deadline = None
        if self._dialer.refused_at_handshake:
            self._dialer.proven()  # the handshake that refused the old key took this one
        if not restoring:
            self._dialer.refreshed = False
        self._last_message = now
        self._policy.connected(now)
        self._alive.reset(now)
        self._events.append(Connected())
        if restoring:
            self._begin_restore(now)
        self._pump(now)

    def connection_failed(self, now: float, status: int | None = None, reason: str = "") -> None:
        """The attempt failed: HTTP ``status`` if the server refused the handshake."""
        if self._ignored(Input.FAILED):
            return
        if status in _FATAL_STATUS:
            if self._may_refresh():
                self._dialer.deadline = None
                self._dialer.refused(at_handshake=True)
                self._move(Input.REFUSED)
                self._events.append(RefreshCredentials(reason="refused", status=status))
            else:
                self._finish(Input.FATAL, AuthenticationError(status, reason), code=None,
                             reason=reason)
            return
        text = f"connection failed: {reason}" if reason else "connection failed"
        if status:
            text = f"{text} (HTTP {status})"
        self._lost(now, None, text)

    def connection_lost(self, now: float, code: int | None = None, reason: str = "") -> None:
        """The socket closed (``code``/``reason`` from the close frame, if any)."""
        if self._ignored(Input.LOST):
            return
        self._lost(now, code, reason or "connection lost")

    def receive_too_big(self, size: int, now: float) -> None:
        """A message over ``max_message_size`` arrived (or the framing layer refused one).

        Reported as ``ProtocolError(MessageTooBig)``; the connection is abandoned (1009),
        because the lost message may have been a reply that will now never come.
        """
        if not self._connected:
            return
        limit = self.config.max_message_size or 0
        self._events.append(ProtocolError(error=MessageTooBig(size, limit), size=size))
        self._drop(now, 1009, "message too big")

    def flushed(self, now: float) -> None:
        """Everything taken from ``data_to_send()`` so far was written to the socket at ``now``.

        Only for a connection built with ``flush_reports=True`` (transports whose writes can
        lag behind ``data_to_send``): pacing windows then start when bytes leave.
        """
        self._limiter.flushed(now)
        self._pump(now)

    def reading_paused(self, now: float) -> None:
        """The transport stopped reading (back-pressure): unread messages wait in the socket.

        Until ``reading_resumed``, silence is not a sign of a dead peer: the keepalive
        neither pings nor gives a verdict (request timeouts still run). The pause counts as
        life: a peer that dies during it is noticed a keepalive cycle after reading resumes.
        """
        if self._connected:
            self._alive.pause()

    def reading_resumed(self, now: float) -> None:
        """The transport reads again after ``reading_paused``."""
        if self._connected:
            self._alive.resume(now)

    def receive_message(self, data: bytes | str, now: float) -> None:
        """One complete websocket message from the server."""
        self.receive_messages((data,), now)

    def receive_messages(self, messages: Iterable[bytes | str], now: float) -> None:
        """Complete websocket messages from the server, in order: all that one read gave.

        The same as ``receive_message`` for each; one call per read keeps the per-message
        work to the message itself, which is what a flood of pushes is made of.
        """
        debug = wire_log.isEnabledFor(logging.DEBUG)
        limit = self.config.max_message_size
        corr, events = self._corr, self._events
        if self._connected:
            self._alive.last_inbound = self._last_message = now
        for data in messages:
            if not self._connected:
                return  # arrived after the core gave up on the connection
            if debug:
                wire_log.debug("recv %s", data[:2048])
            if limit is not None and len(data) > limit:
                self.receive_too_big(len(data), now)
                continue
            try:
                res, t, fields = decode_server_message(data)
            except RemoteProtocolError as error:
                events.append(ProtocolError(error=error, size=len(data)))
                corr.doubt()  # it may have been a reply: FIFO order is in doubt
                continue
            if res == ERROR_RES:
                request = corr.claim_error()
                if request is None:
                    events.append(UncorrelatedError(
                        text=_error_text(fields), server_time=t,
                        candidates=tuple(r.id for r in corr.wire if r.internal is None)))
                else:
                    self._answer(request, res, fields, t, now)
            else:
                request = corr.match(res, fields) if corr.wire else None
                if request is None:
                    self._push(res, fields, t, now)
                else:
                    self._answer(request, res, fields, t, now)
            if corr.queue:
                self._pump(now)

    # -- time --------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time at which ``handle_timer`` has work, or None."""
        state = self._state
        if state is State.CONNECTING:
            best = self._dialer.deadline
        elif state is State.BACKOFF:
            best = self._reconnect_at
        else:
            best = self._pacing_at
            if self._connected:
                alive = self._alive.deadline()
                if alive is not None and (best is None or alive < best):
                    best = alive
                stale_after = self.config.game_stale_after
                if stale_after is not None:
                    for stale in self._games.stale_deadlines(stale_after):
                        if best is None or stale < best:
                            best = stale
        refresh_at = self._dialer.refresh_at
        if refresh_at is not None and (best is None or refresh_at < best):
            best = refresh_at
        # Request timeouts and tombstone grace periods (plain loops: this runs per message).
        for requests in (self._corr.queue, self._corr.wire):
            for request in requests:
                deadline = request.deadline
                if deadline is not None and (best is None or deadline < best):
                    best = deadline
        return best

    def handle_timer(self, now: float) -> None:
        """Act on every deadline at or before ``now``; early, late or repeated calls are fine.

        Expiring one request can end the connection or the session, which settles others:
        each is looked at again just before it is expired, so none is settled twice.
        """
        if self._state is State.CONNECTING and _due(self._dialer.deadline, now):
            self._events.append(CloseTransport(code=1000, reason="connect timed out"))
            self._lost(now, None, "connect timed out")
        self._corr.expire_tombstones(now)
        for request in list(self._corr.live()):
            if not request.settled and _due(request.deadline, now):
                self._expire(request, now)
        if self._connected:
            self._check_keepalive(now)
        if self._connected and self.config.game_stale_after is not None:
            self._events.extend(self._games.due_stale(now, self.config.game_stale_after))
        if _due(self._dialer.refresh_at, now) and self._state is not State.REFRESHING:
            self._dialer.refresh_at = None  # re-armed by update_credentials or refresh_failed
            self._events.append(RefreshCredentials(reason="expiring"))
        if self._state is State.BACKOFF and _due(self._reconnect_at, now):  # last: a loss
            self._move(Input.BACKOFF_EXPIRED)  # just above may have backed off for 0 s
            self._reconnect_at = None
            self._events.append(self._dialer.attempt(now, self._policy.attempt))
        self._pump(now)

    def _check_keepalive(self, now: float) -> None:
        verdict = self._alive.check(now)
        if verdict is Verdict.DEAD:
            log.info("nothing received within %g s of a keepalive ping: peer is dead",
                     self._alive.timeout)
            self._drop(now, 1011, "keepalive timed out")
        elif verdict is Verdict.PING:
            ping = self._requests.build(Op.PING, {}, now, None, None, True, internal=_KEEPALIVE)
            self._alive.ping = ping
            self._corr.submit(ping, first=True)

    # -- settling: every request's one outcome -----------------------------------------------

    def _answer(self, request: PendingRequest, res: int, fields: dict[str, Any],
                t: int | None, now: float) -> None:
        """The one path by which a reply (res 666 included) reaches its request."""
        self._corr.remove(request)
        if request.settled:  # a tombstone: its caller already has an outcome
            if request.internal is None:
                self._events.append(LateReply(request_id=request.id, op=request.op, res=res,
                                              fields=fields, server_time=t))
            return
        request.settled = True
        if request.internal is not None:
            self._internal_reply(request, res, fields, t, now)
        elif res == ERROR_RES:
            self._events.append(RequestFailed(request_id=request.id, op=request.op,
                                              error=ServerError(_error_text(fields), request.op)))
        elif request.op == Op.PING and res == Res.PONG:  # the hot path
            rtt = self._trips.pong(request.sent_at, request.sent_wall, now, t, self._wall)
            self._events.append(Pong(request_id=request.id, op=request.op, res=res,
                                     name=self.names.response_name(res), rtt=rtt, server_time=t))
        else:
            self._reply(request, res, fields, t, now)

    def _reply(self, request: PendingRequest, res: int, fields: dict[str, Any],
               t: int | None, now: float) -> None:
        """What a caller's reply means to the session, then the event that settles it."""
        event = reply_event(request.id, request.op, res, fields, t,
                            name=self.names.response_name(res))
        if isinstance(event, OpcodeTable):
            self.names.learn(event.opcodes, event.response_codes)
        elif isinstance(event, LoggedOn):
            self._had_logon = True
            self._dialer.proven()
            self._try_move(Input.LOGON_OK)
        elif isinstance(event, LogonFailed):
            if self._may_refresh():  # answered on the next connection, with a fresh key
                request.settled = False
                request.sent_at = request.sent_wall = None
                self._corr.submit(request, first=True)
                self._refresh_after_logon_refused(now)
                return
            self._had_logon = False
            self._try_move(Input.LOGON_REFUSED)
        elif isinstance(event, Response):
            self._games.track(request.op, res, request.params, now)
            if event.decode_error is not None:
                self._undecodable += 1
        self._events.append(event)

    def _expire(self, request: PendingRequest, now: float) -> None:
        """A request's own timeout fired; a sent one stays behind as a tombstone."""
        request.settled = True
        if request.sent_at is None:
            self._corr.remove(request)
        else:  # a tombstone, for a grace period as long as the timeout
            request.deadline = now + (request.timeout or self.config.keepalive_timeout)
        if request.internal is not None:
            self._internal_reply(request, None, {}, None, now)
        else:
            self._events.append(RequestFailed(request_id=request.id, op=request.op,
                                              error=timeout_outcome(request)))

    def _fail(self, request: PendingRequest, error: InstamrktError) -> None:
        if request.settled:
            return
        request.settled = True
        if request.internal is None:
            self._events.append(RequestFailed(request_id=request.id, op=request.op, error=error))

    def _push(self, res: int, fields: dict[str, Any], t: int | None, now: float) -> None:
        game = fields.get("game_id")
        if game is not None:
            self._games.saw(game, now)
        # Its api model if the code has one (the generic Push with decode_error if the
        # payload does not fit), else the generic Push.
        event = PUSH_DECODERS.get(res, generic_push)(fields, res, self.names.response_name(res), t)
        if event.decode_error is not None:
            self._undecodable += 1
        self._events.append(event)

    def _internal_reply(self, request: PendingRequest, res: int | None, fields: dict[str, Any],
                        t: int | None, now: float) -> None:
        """A reply (None: the timeout) to a request the core sent for itself."""
        if request.internal == _KEEPALIVE:
            if res == Res.PONG:
                self._trips.pong(request.sent_at, request.sent_wall, now, t, self._wall)
            if self._alive.ping is request:
                self._alive.ping = None
        elif not self._restorer.active:
            return  # the restore it belonged to was abandoned with its connection
        elif request.internal == _RELOGON:
            self._relogon_answered(request, res, fields, t, now)
        else:  # a re-join
            game = request.params.get("game_id")
            if res == Res.GAME_JOINED:
                self._games.saw(game, now)
            elif res == ERROR_RES:
                self._games.forget(game)  # the server refused it: forget the game
            if self._restorer.rejoin_answered(str(game), joined=res == Res.GAME_JOINED):
                self._end_restore(now)

    # -- session restore after a reconnect ---------------------------------------------------

    def _begin_restore(self, now: float) -> None:
        """Re-logon if the session had logged on, then re-join every game, then report."""
        logon = self._had_logon and self.config.restore_session
        self._restorer.begin(logon=logon)
        if logon:
            self._corr.submit(self._requests.build(Op.LOGON, {}, now, DEFAULT, None, False,
                                                internal=_RELOGON), first=True)
        else:
            self._rejoin(now)

    def _rejoin(self, now: float) -> None:
        games = self._games.game_ids() if self.config.restore_session else []
        for game in reversed(games):
            self._corr.submit(self._requests.build(Op.JOIN_GAME, {"game_id": game}, now, DEFAULT,
                                                None, False, internal=_REJOIN), first=True)
        if self._restorer.rejoining(len(games)):
            self._end_restore(now)

    def _relogon_answered(self, request: PendingRequest, res: int | None,
                          fields: dict[str, Any], t: int | None, now: float) -> None:
        if res in (Res.LOGON_SUCCESS, Res.LOGON_FAIL_ALREADY_LOGGED_IN):
            self._dialer.proven()
            self._rejoin(now)
        elif res == Res.LOGON_FAIL and self._may_refresh():
            self._refresh_after_logon_refused(now)
        elif res == Res.LOGON_FAIL and self.config.refresh_on_refusal:
            error = AuthenticationError(None, "res 110 with refreshed credentials",
                                        action="logon")
            self._events.append(CloseTransport(code=1000, reason="logon refused"))
            self._finish(Input.FATAL, error, code=1000, reason="logon refused")
        elif res == Res.LOGON_FAIL:
            refused = LogonFailed(request_id=request.id, op=request.op, res=res,
                                  name=self.names.response_name(res), server_time=t,
                                  fields=fields)
            self._events.append(CloseTransport(code=1000, reason="logon refused"))
            self._finish(Input.FATAL, LogonError(refused), code=1000, reason="logon refused")
        else:
            self._drop(now, 1011, "re-logon after reconnect got no answer")

    def _end_restore(self, now: float) -> None:
        relogged_on, rejoined, failed, advice = self._restorer.finish()
        self._move(Input.RESTORED if relogged_on else Input.RESTORED_OPEN)
        self._reconnects += 1
        self._events.append(Reconnected(
            disconnected_at=self._policy.restored(), reconnected_at=now,
            attempts=self._policy.attempt, relogged_on=relogged_on, rejoined=rejoined,
            rejoin_failed=failed, advice=advice, credentials_refreshed=self._dialer.refreshed))
        self._dialer.refreshed = False

    # -- losing a connection, ending the session ---------------------------------------------

    def _may_refresh(self) -> bool:
        """A refused key may be replaced: a provider is set and it has not failed too often."""
        config = self.config
        return (config.refresh_on_refusal
                and self._dialer.refreshes < config.max_credential_refreshes)

    def _refresh_after_logon_refused(self, now: float) -> None:
        """A logon on a live connection got 110: close it, keep the session, get a new key.

        The connection cannot be re-authenticated, so the session continues as after a
        loss: money-moving requests on the wire end as outcome unknown, queued ones wait,
        and the next connection (signed with the new key) restores the session.
        """
        reason = "logon refused: refreshing the credentials"
        error = ConnectionClosed(reason, 1000)
        self._events.append(CloseTransport(code=1000, reason=reason))
        self._abandon_wire(error, keep_queue=True)
        self._policy.interrupted(now)
        self._dialer.refused(at_handshake=False)
        self._move(Input.REFUSED)
        self._events.append(Closed(code=1000, reason=reason, error=error, reconnect_at=now))
        self._events.append(RefreshCredentials(reason="refused"))

    def _drop(self, now: float, code: int, reason: str) -> None:
        """The core itself abandons the current connection."""
        self._events.append(CloseTransport(code=code, reason=reason))
        self._lost(now, code, reason)

    def _lost(self, now: float, code: int | None, reason: str) -> None:
        """A connection or an attempt ended: back off and reconnect, or end the session."""
        self._dialer.deadline = None
        error = ConnectionClosed(reason, code)
        delay = self._policy.lost(now, code, reason)
        if delay is None:
            self._finish(Input.FATAL, error, code=code, reason=reason)
            return
        self._abandon_wire(error, keep_queue=True)
        self._reconnect_at = now + delay
        self._move(Input.LOST)
        log.info("connection lost (%s); reconnecting in %.3f s", reason, delay)
        self._events.append(Closed(code=code, reason=reason, error=error,
                                   reconnect_at=self._reconnect_at))

    def _finish(self, event: Input, error: InstamrktError, *, code: int | None,
                reason: str) -> None:
        """The session ends for good: everything outstanding fails with ``error``."""
        self._abandon_wire(error, keep_queue=False)
        self._move(event)
        self.closed_error = error
        self._reconnect_at = self._dialer.deadline = self._pacing_at = None
        self._dialer.refresh_at = None
        self._events.append(Closed(code=code, reason=reason or str(error), error=error))

    def _abandon_wire(self, error: InstamrktError, *, keep_queue: bool) -> None:
        """Settle what the lost connection carried (money-moving: outcome unknown)."""
        self._alive.reset(None)
        self._restorer.cancel()
        for request, outcome in self._corr.abandon(error, keep_queue=keep_queue):
            self._fail(request, outcome)

    # -- building and sending requests -------------------------------------------------------

    def _pump(self, now: float) -> None:
        """Send every queued request that the state, correlation and pacing allow."""
        self._pacing_at = None
        if not self._connected or not self._corr.queue:
            return
        debug = wire_log.isEnabledFor(logging.DEBUG)
        key = self._dialer.key_json
        while True:
            request = self._corr.next_sendable(callers_allowed=self._sendable)
            if request is None:
                return
            at = self._limiter.available_at(now)
            if at > now:
                self._pacing_at = at if at != math.inf else None  # else: wait for flushed()
                return
            wall = self._wall()
            data = frame_request(request.op, request.body, key, wall)
            self._corr.mark_sent(request, now, wall)
            self._limiter.record(now)
            self._out.append(data)
            if debug:
                wire_log.debug("send %s", data.replace(key, b'"***"'))
            if request.op == Op.LOGON and request.internal is None:
                self._try_move(Input.LOGON_SENT)

    # -- the state table ---------------------------------------------------------------------

    def _move(self, event: Input) -> None:
        key = (self._state, event)
        try:
            new = TRANSITIONS[key]
        except KeyError:
            raise LocalProtocolError(
                f"cannot handle {event.value} in state {self._state.value}"
            ) from None
        if new is not self._state:
            log.info("state %s -> %s (%s)", self._state.value, new.value, event.value)
        self._state = new
        # Cached because Enum hashing is slow and these are asked on every message.
        self._connected = new in _CONNECTED
        self._sendable = new in USER_SENDABLE

    def _try_move(self, event: Input) -> None:
        if (self._state, event) in TRANSITIONS:
            self._move(event)

    def _ignored(self, event: Input) -> bool:
        return (self._state, event) in IGNORED


def _due(deadline: float | None, now: float) -> bool:
    return deadline is not None and now >= deadline


def _error_text(fields: Mapping[str, Any]) -> str | None:
    """A res 666's explanation, verbatim (made text if the server sent something else)."""
    raw = fields.get("text")
    return raw if raw is None or isinstance(raw, str) else str(raw)
