"""A local reference Instamrkt server on anyio, for rehearsals, tests and demos.

It speaks real websocket framing through the sans-I/O layer of the ``websockets`` library
(no compression extension is offered) and the Instamrkt protocol through
``instamrkt_proto.ServerConnection``, so a client tested against it meets the same codec and
handshake rules it would meet in production, plus the faults in ``Faults``. The application
behind it is the in-memory ``Market`` of ``instamrkt_transports.market``. It runs on asyncio
and trio.

Each connection has one reader task (feeds bytes in, answers requests), one writer task
(drains a bounded queue of outgoing messages, applying delays and drops) and one push task.
Writes to the socket go through a lock, because the reader also writes (pongs, close
echoes). A full queue blocks the reader (backpressure) for replies and drops pushes
(counted in ``stats.pushes_dropped``), as a server protecting itself from a slow consumer.

Authentication happens before the upgrade: a bad digest or unknown user gets HTTP 403, a
missing parameter HTTP 400, and no websocket is ever opened. The websockets library's own
debug log would print the request target, which holds the digest, so its logger is kept
below DEBUG.

The REST side (login, signup, logout: ``server/rest.py``) listens on a port of its own,
as production serves it from the web application rather than the websocket port; its root
is ``rest_url``. It shares ``users`` with the handshake, so a login that rotates a key, a
logout or ``expire_key`` takes effect at the next handshake, and a logon (op 100) on a
connection whose key has since been replaced answers 110.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import ssl
import struct
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import attrs
from anyio.streams.tls import TLSStream
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from instamrkt_proto.auth import Credentials
from instamrkt_proto.server import (
    BadRequest,
    RequestAnswered,
    RequestReceived,
    ServerConnection,
)

from .._quietlog import NoDebugLogger
from ..market import Audience, Market, Out
from ..market.replay import Backtest, UserReport, VirtualClock, load_timeline
from ..market.scenario import Scenario, make_scenario
from .faults import Faults, ServerStats
from .rest import REST_PREFIX, RestService, serve_http

__all__ = ("ReferenceServer", "text_frames")

log = logging.getLogger("instamrkt_transports.server")
_DATA = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})
_NETWORK_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream,
                   OSError, ssl.SSLError)


_WS_LOG = NoDebugLogger(logging.getLogger("instamrkt_transports.server.websockets"), {})


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


_BATCH = 256  # pushes queued (and written) together when the replay plays at full speed

_SHORT_TEXT = [bytes((0x81, n)) for n in range(126)]  # FIN + text, unmasked, length < 126
_MEDIUM_TEXT = struct.Struct("!BBH").pack  # 126: a 16-bit length follows


def text_frames(proto: ServerProtocol, messages: Iterable[bytes]) -> bytes | None:
    """The frames ``proto.send_text`` would write for ``messages``, as one buffer, or None
    when this connection needs the library's own path.

    Framing a flood one message at a time (a ``Frame`` object, its checks and a buffer per
    message) cost the replay at full speed about a tenth of the server's time; the
    frame of an unmasked, unfragmented, uncompressed text message is two or four header
    bytes before the payload. Anything else (extensions, a fragmented message under way,
    a closing connection, debug logging, a payload of 64 KiB or more) goes through
    ``send_text``, which is then the one to answer or refuse it.
    """
    if (proto.state is not State.OPEN or proto.extensions or proto.expect_continuation_frame
            or proto.debug):
        return None
    parts: list[bytes] = []
    append = parts.append
    for data in messages:
        size = len(data)
        if size < 126:
            append(_SHORT_TEXT[size])
        elif size < 65536:
            append(_MEDIUM_TEXT(0x81, 126, size))
        else:
            return None
        append(data)
    return b"".join(parts)


class _Out:
    __slots__ = ("batch", "code", "data", "done", "kind")

    def __init__(self, kind: str, data: bytes = b"", code: int = 1000,
                 batch: list[bytes] | None = None, done: anyio.Event | None = None) -> None:
        # "reply", "push", "raw", "close" (data is then the reason), "pushes" (``batch``)
        # or "mark" (``done`` is set once all that was queued before it is written)
        self.kind = kind
        self.data = data
        self.code = code
        self.batch = batch
        self.done = done


class _Session:
    """One accepted websocket connection and what the server tracks about it."""

    def __init__(self, stream: anyio.abc.ByteStream, proto: ServerProtocol,
                 core: ServerConnection, user_id: str, queue_size: int) -> None:
        self.stream = stream
        self.proto = proto
        self.core = core
        self.user_id = user_id
        self.out_send, self.out_recv = anyio.create_memory_object_stream[_Out](queue_size)
        self.lock = anyio.Lock()
        self.scope = anyio.CancelScope()
        self.joined: set[str] = set()
        self.sources: dict[str, Iterator[tuple[int, dict[str, Any]]]] = {}
        self.fragments: list[bytes] = []
        self.requests = 0
        self.replies = 0
        self.closing = False
        self.eof_sent = False
        self.unflushed = 0  # messages written to the protocol since the last flush


def _speed(value: float | str) -> float | None:
    """``speed``: a positive factor, or "max" (None: as fast as the clients read)."""
    if value == "max":
        return None
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"speed must be a positive number or 'max', not {value!r}") from None
    if not (speed > 0 and math.isfinite(speed)):
        raise ValueError(f"speed must be a positive number or 'max', not {value!r}")
    return speed


class ReferenceServer:
    """The reference server. Use ``async with ReferenceServer(...) as server:``.

    ``users`` maps user id to session key (``add_user`` adds more while running). ``port=0``
    picks a free port (read ``port``/``url`` after start). ``ssl_context`` turns on TLS
    (``wss://``). ``faults`` are the server-wide fault knobs; ``faults_for(user_id)`` gives a
    user their own. ``max_message_size`` (bytes, ``None`` = unlimited) closes a connection
    that sends more with code 1009; ``queue_size`` bounds each connection's outgoing queue.
    ``require_logon`` makes ops other than 1, 2 and 100 fail with 666 before logon.
    ``close_timeout`` bounds the closing handshake and graceful shutdown (seconds).
    ``rest`` (default True) also serves login, signup and logout over HTTP on ``rest_port``
    (0: a free port); accounts come from ``add_account`` or a signup.
    ``market`` is the in-memory market (``market.market.Market``: balances, games, pools, bets;
    read it from tests); its clock is ``wall_clock``, and every ``tick_interval`` seconds it
    runs what is due (pool expiry, scheduled blocks) and the pushes go out.
    ``scenario`` (e.g. ``"football"``) makes the server play a scripted live game on that
    market (``market/scenario.py``, ``docs/market.md``): read ``scenario.source_id`` and
    ``scenario.game_id``; a step runs every ``scenario_interval`` seconds, with choices
    drawn from ``random.Random(scenario_seed)``.

    ``replay`` (a recording's path, ``docs/record-replay.md``) makes it play the recorded
    games instead, once a client joined one of them: at the recorded pace times ``speed``,
    or as fast as the clients read with ``speed="max"``; the market's clock is then the
    recording's. ``backtest.game_ids`` maps recorded game ids to served ones,
    ``replay_finished`` turns True once the last pushes are written to the clients, and
    ``replay_report()`` says what each user did.

    ``start()`` and ``aclose()`` must be awaited from the same task (they enter and leave a
    task group); prefer ``async with``. Everything else must run on the server's event loop;
    from another thread use ``ServerThread``.
    """

    def __init__(
        self,
        users: Mapping[str | int, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        faults: Faults | None = None,
        max_message_size: int | None = 2**20,
        queue_size: int = 256,
        initial_balance: int = 1000,
        require_logon: bool = False,
        handshake_timeout: float = 10.0,
        close_timeout: float = 2.0,
        wall_clock: Callable[[], int] = _wall_ms,
        rest: bool = True,
        rest_port: int = 0,
        tick_interval: float = 0.1,
        scenario: str | None = None,
        scenario_seed: int = 0,
        scenario_interval: float = 1.0,
        replay: str | os.PathLike[str] | None = None,
        speed: float | str = 1.0,
    ) -> None:
        self.users: dict[str, str] = {str(k): v for k, v in (users or {}).items()}
        self.host = host
        self._port = port
        self.ssl_context = ssl_context
        self.faults = faults or Faults()
        self.user_faults: dict[str, Faults] = {}
        self.max_message_size = max_message_size
        self.queue_size = queue_size
        self.require_logon = require_logon
        self.handshake_timeout = handshake_timeout
        self.close_timeout = close_timeout
        self._wall = wall_clock
        self.tick_interval = tick_interval
        self.backtest: Backtest | None = None
        self.speed = _speed(speed)
        if replay is not None:  # the recording's clock, not the wall's (market/replay.py)
            timeline = load_timeline(replay)
            clock = VirtualClock(timeline.start)
            self.market = Market(clock, initial_balance)
            self.backtest = Backtest(self.market, clock, timeline, initial_balance)
            self.backtest.start()
        else:
            self.market = Market(wall_clock, initial_balance)
        self.replay_finished = False
        for uid in self.users:
            self.market.add_user(uid)
        self.scenario: Scenario | None = None
        if scenario is not None:
            self.scenario = make_scenario(scenario, self.market, seed=scenario_seed,
                                          interval=scenario_interval)
        self.stats = ServerStats()
        self._sessions: set[_Session] = set()
        self._online: dict[str, int] = {}  # user id -> its connections in ``_sessions``
        if self.backtest is not None:  # the recorded bettors' balances reach nobody
            self.market.balance_pushes_for(self._online.__contains__)
        self._tg: anyio.abc.TaskGroup | None = None
        self._listener: anyio.abc.Listener[Any] | None = None
        self._accept_scope: anyio.CancelScope | None = None
        self._drained: anyio.Event | None = None
        self.rest = RestService(self.users, lambda: self.faults,
                                secure_cookies=ssl_context is not None)
        self._rest_enabled = rest
        self._rest_port = rest_port
        self._rest_scope: anyio.CancelScope | None = None

    def __repr__(self) -> str:
        where = self.url if self._tg is not None else "not started"
        return f"<ReferenceServer {where} users={len(self.users)} sessions={len(self._sessions)}>"

    # -- configuration -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """``ws://host:port/`` or ``wss://``; valid once started."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'wss' if self.ssl_context else 'ws'}://{host}:{self._port}/"

    @property
    def rest_url(self) -> str:
        """The REST root (``http://host:port/i``, or https) to pass as ``base_url``."""
        if not self._rest_enabled:
            raise RuntimeError("this server was started with rest=False")
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host}:{self._rest_port}{REST_PREFIX}"

    def add_account(self, username: str, password: str, email: str | None = None,
                    user_id: str | int | None = None) -> Credentials:
        """A REST account (for ``login``); an existing user id keeps its session key."""
        credentials = self.rest.add_account(username, password, email, user_id)
        self.market.add_user(credentials.user_id, username)  # appointable by username
        return credentials

    def expire_key(self, user_id: str | int) -> None:
        """Expire the user's session key now, as 24 hours would.

        Its next handshake gets HTTP 403 and a logon on an open connection 110, until a
        login issues a new key.
        """
        self.rest.expire_key(user_id)

    def add_user(self, user_id: str | int, session_key: str) -> Credentials:
        """Register a user (effective for the next handshake) and return its credentials."""
        credentials = Credentials(user_id, session_key)
        self.users[credentials.user_id] = session_key
        self.market.add_user(credentials.user_id)
        return credentials

    def credentials(self, user_id: str | int | None = None) -> Credentials:
        """Credentials of ``user_id`` (default: the first user)."""
        uid = str(user_id) if user_id is not None else next(iter(self.users))
        return Credentials(uid, self.users[uid])

    def faults_for(self, user_id: str | int) -> Faults:
        """The user's own fault knobs, created on first use as a copy of the server-wide ones."""
        uid = str(user_id)
        if uid not in self.user_faults:
            self.user_faults[uid] = attrs.evolve(self.faults)
        return self.user_faults[uid]

    def _faults(self, user_id: str) -> Faults:
        return self.user_faults.get(user_id, self.faults)

    def connected_users(self) -> list[str]:
        """User ids of the open connections (one entry per connection)."""
        return sorted(s.user_id for s in self._sessions)

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> ReferenceServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Bind and start accepting connections."""
        if self._tg is not None:
            raise RuntimeError("the server is already started")
        listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self._port)
        rest_listener = None
        if self._rest_enabled:
            try:
                rest_listener = await anyio.create_tcp_listener(local_host=self.host,
                                                                local_port=self._rest_port)
            except BaseException:
                await listener.aclose()
                raise
            self._rest_port = rest_listener.extra(anyio.abc.SocketAttribute.local_port)
        self._port = listener.extra(anyio.abc.SocketAttribute.local_port)
        self._listener = listener
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        self._accept_scope = anyio.CancelScope()
        tg.start_soon(self._accept_loop, listener, self._accept_scope, self._connection)
        tg.start_soon(self._ticker)
        if self.backtest is not None:
            tg.start_soon(self._play_replay)
        log.info("reference server listening on %s", self.url)
        if rest_listener is not None:
            self._rest_scope = anyio.CancelScope()
            tg.start_soon(self._accept_loop, rest_listener, self._rest_scope,
                          self._rest_connection)
            log.info("reference server REST root %s", self.rest_url)

    async def _rest_connection(self, raw: anyio.abc.ByteStream) -> None:
        await self._guarded_stream(raw, "REST connection", functools.partial(
            serve_http, service=self.rest, timeout=self.handshake_timeout))

    async def _guarded_stream(self, raw: anyio.abc.ByteStream, what: str,
                              serve: Callable[[anyio.abc.ByteStream], Awaitable[None]]) -> None:
        """``serve`` one accepted connection, over TLS if configured; a peer's failure ends
        only its own connection, and a bug in a handler is logged, never fatal."""
        try:
            async with raw:
                stream = raw
                if self.ssl_context is not None:
                    with anyio.fail_after(self.handshake_timeout):
                        stream = await TLSStream.wrap(raw, server_side=True,
                                                      ssl_context=self.ssl_context,
                                                      standard_compatible=False)
                await serve(stream)
        except (*_NETWORK_ERRORS, TimeoutError):
            pass
        except Exception:  # never let one connection take the server down
            log.exception("reference server: %s handler failed", what)

    async def _accept_loop(self, listener: anyio.abc.Listener[Any], scope: anyio.CancelScope,
                           handler: Callable[[anyio.abc.ByteStream], Awaitable[None]]) -> None:
        """Accept connections for ``handler`` until ``scope`` is cancelled, then close."""
        assert self._tg is not None
        try:
            with scope:
                await listener.serve(handler, self._tg)
        finally:
            with anyio.CancelScope(shield=True):
                await listener.aclose()
            if listener is self._listener:
                self._listener = None

    async def aclose(self) -> None:
        """Graceful shutdown: stop accepting, close every websocket with 1001, then cancel.

        Connections get ``close_timeout`` seconds to complete the closing handshake.
        """
        tg, self._tg = self._tg, None
        if tg is None:
            return
        try:
            if self._accept_scope is not None:
                self._accept_scope.cancel()
            if self._rest_scope is not None:
                self._rest_scope.cancel()
            while self._listener is not None:  # the accept loop closes it as it exits
                await anyio.sleep(0)
            self._drained = anyio.Event()
            with anyio.move_on_after(self.close_timeout):
                async with anyio.create_task_group() as closers:
                    for session in list(self._sessions):
                        closers.start_soon(self._send_close, session, 1001, "server shutting down")
                if self._sessions:
                    await self._drained.wait()
        finally:
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)
            log.info("reference server on port %d closed", self._port)

    # -- on-demand actions (call on the server's loop) ---------------------------------------

    def push(self, user_id: str | int | None, res: int, /, **fields: Any) -> int:
        """Push ``res`` with ``fields`` to every connection of ``user_id`` (None: everyone).

        Returns how many connections it was queued to (a full queue drops it).
        """
        targets = [s for s in self._sessions if user_id is None or s.user_id == str(user_id)]
        return sum(self._push_nowait(s, res, fields) for s in targets)

    def burst(self, game_id: str | int, n: int) -> int:
        """Queue ``n`` pushes (366, 362, 815 in turn) to every connection that joined the game.

        Returns the number of messages queued.
        """
        game = str(game_id)
        queued = 0
        for session in [s for s in self._sessions if game in s.joined]:
            source = self._source(session, game)
            queued += sum(self._push_nowait(session, *next(source)) for _ in range(n))
        return queued

    async def flood(self, user_id: str | int, n: int, res: int = 815) -> int:
        """Send ``n`` pushes ``res`` (fields ``seq`` 0..n-1) to ``user_id``'s connections.

        Unlike ``push``, this waits for room in each connection's queue, so a client that
        stops reading slows the flood down (TCP back-pressure) instead of losing pushes.
        Returns how many were queued.
        """
        sent = 0
        for session in [s for s in self._sessions if s.user_id == str(user_id)]:
            for seq in range(n):
                if session.closing:
                    break
                session.core.push(res, seq=seq, current_balance=seq, available_balance=seq,
                                  currency="DON")
                for data in session.core.data_to_send():
                    try:
                        await session.out_send.send(_Out("push", data))
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                        return sent
                sent += 1
        return sent

    def close_connections(self, user_id: str | int | None = None, code: int = 1001,
                          reason: str = "") -> int:
        """Close the connections of ``user_id`` (None: all) with ``code`` after queued replies."""
        targets = [s for s in self._sessions if user_id is None or s.user_id == str(user_id)]
        for session in targets:
            self._queue_close(session, code, reason)
        return len(targets)

    # -- per connection ----------------------------------------------------------------------

    async def _connection(self, raw: anyio.abc.ByteStream) -> None:
        await self._guarded_stream(raw, "connection", self._handshake)

    async def _handshake(self, stream: anyio.abc.ByteStream) -> None:
        proto = ServerProtocol(max_size=self.max_message_size, logger=_WS_LOG)
        request: Request | None = None
        with anyio.move_on_after(self.handshake_timeout):
            while request is None and proto.state is State.CONNECTING and not proto.eof_sent:
                try:
                    proto.receive_data(await stream.receive(65536))
                except anyio.EndOfStream:
                    return
                events = proto.events_received()
                if events and isinstance(events[0], Request):
                    request = events[0]
        if request is None:
            await self._write(stream, proto)
            return
        accepted_key: list[str | None] = [None]
        core = ServerConnection(self.users, wall_clock=self._wall,
                                refuse_logon=lambda uid: self._refuse_logon(uid,
                                                                            accepted_key[0]),
                                require_logon=self.require_logon)
        verdict = core.accept(request.path)
        if verdict.accepted and verdict.user_id is not None:
            accepted_key[0] = self.users.get(verdict.user_id)
        if verdict.accepted:
            response = proto.accept(request)
        else:
            response = proto.reject(verdict.status, f"{verdict.reason}\n")
        proto.send_response(response)
        if response.status_code != 101:
            self.stats.rejected[response.status_code] += 1  # counted before the client knows
            await self._write(stream, proto)
            return
        assert verdict.user_id is not None
        self.stats.connections += 1
        await self._write(stream, proto)
        session = _Session(stream, proto, core, verdict.user_id, self.queue_size)
        self._sessions.add(session)
        self._online[session.user_id] = self._online.get(session.user_id, 0) + 1
        try:
            with session.scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._guarded, session, self._writer)
                    tg.start_soon(self._guarded, session, self._push_loop)
                    await self._guarded(session, self._reader)
                    tg.cancel_scope.cancel()
        finally:
            core.close()
            self._sessions.discard(session)
            if self._online[session.user_id] > 1:
                self._online[session.user_id] -= 1
            else:
                del self._online[session.user_id]
            if self._drained is not None and not self._sessions:
                self._drained.set()

    def _refuse_logon(self, user_id: str, accepted_key: str | None) -> bool:
        """110 when the knob says so, or when the key the connection was opened with has
        since expired or been replaced by a login: a dead key must not log on."""
        return self._faults(user_id).refuse_logon or self.users.get(user_id) != accepted_key

    async def _guarded(self, session: _Session,
                       task: Callable[[_Session], Awaitable[None]]) -> None:
        """Run one of the session's tasks; any failure ends the session, never the server."""
        try:
            await task(session)
        except _NETWORK_ERRORS:
            pass
        except Exception:
            log.exception("reference server: connection of user %r failed", session.user_id)
        session.scope.cancel()

    async def _write(self, stream: anyio.abc.ByteStream, proto: ServerProtocol) -> bool:
        """Write what ``proto`` has for the wire; True once it signalled end of stream."""
        eof = False
        pending: list[bytes] = []  # frames leave in one write: a system call per flush
        for chunk in proto.data_to_send():
            if chunk:
                pending.append(chunk)
                continue
            if pending:
                await stream.send(b"".join(pending))
                pending.clear()
            eof = True
            if not isinstance(stream, TLSStream):  # TLS has no half-close: just close
                await stream.send_eof()
        if pending:
            await stream.send(b"".join(pending))
        return eof

    async def _flush(self, session: _Session) -> None:
        async with session.lock:
            if self._faults(session.user_id).silent:
                session.proto.data_to_send()  # half-open: nothing ever reaches the wire
                return
            if await self._write(session.stream, session.proto):
                session.eof_sent = True

    async def _reader(self, session: _Session) -> None:
        proto = session.proto
        while not session.eof_sent and proto.state is not State.CLOSED:
            try:
                proto.receive_data(await session.stream.receive(65536))
            except _NETWORK_ERRORS:
                proto.receive_eof()
            arrived = time.monotonic()  # stamp arrival, not processing, for pacing checks
            for frame in proto.events_received():
                if isinstance(frame, Frame) and frame.opcode in _DATA:
                    session.fragments.append(bytes(frame.data))
                    if frame.fin:
                        message = b"".join(session.fragments)
                        session.fragments.clear()
                        await self._on_message(session, message, arrived)
            await self._flush(session)

    async def _on_message(self, session: _Session, data: bytes, arrived: float) -> None:
        if session.closing:
            return
        faults = self._faults(session.user_id)
        core = session.core
        core.clock_skew_ms = faults.clock_skew_ms
        core.receive_message(data)
        replies = core.data_to_send()
        pushes: list[Out] = []
        for event in core.events_received():
            if isinstance(event, BadRequest):
                self.stats.malformed += 1
                continue
            if not isinstance(event, (RequestAnswered, RequestReceived)):
                continue
            session.requests += 1
            self.stats.record(arrived, session.user_id, event.op, dict(event.params))
            if isinstance(event, RequestReceived):
                pushes = self._execute(session, event, faults)
                replies += core.data_to_send()
        limit = faults.too_many_requests_after
        if limit is not None and session.requests > limit:
            self._closing_by_fault("too_many_requests", faults)
            self._queue_close(session, 1008, "too many requests")
            return
        for reply in replies:
            await self._queue_reply(session, reply, faults)
        self.route(pushes, session)

    async def _ticker(self) -> None:
        """Let the market's clock act between requests (pool expiry, scheduled blocks)."""
        while True:
            await anyio.sleep(self.tick_interval)
            try:
                self.route(self.market.tick())
                if self.scenario is not None:
                    self.route(self.scenario.tick())
            except Exception:  # a market bug must not stop the clock or the server
                log.exception("reference server: market tick failed")

    async def _play_replay(self) -> None:
        """Play the recording once a client joined one of its games: at the recorded pace
        times ``speed``, or (``speed`` None) as fast as the clients read, never dropping a
        push (a full queue waits, as ``flood`` does)."""
        backtest = self.backtest
        assert backtest is not None
        served = set(backtest.game_ids.values())
        while not any(s.joined & served for s in self._sessions):
            await anyio.sleep(0.01)
        started, origin = time.monotonic(), backtest.clock.now
        while not backtest.finished:
            if self.speed is None:  # as fast as possible: a batch of steps at a time
                await self._route_wait(backtest.play_next(_BATCH))
                continue
            due = backtest.next_at
            assert due is not None
            now = origin + int((time.monotonic() - started) * 1000 * self.speed)
            if due > now:
                await anyio.sleep(min(0.05, (due - now) / 1000 / self.speed))
                continue
            await self._route_wait(backtest.play_until(now))
        await self._written_out()
        self.replay_finished = True
        log.info("reference server: the recording is played to its end")

    async def _written_out(self) -> None:
        """Wait until each connection has written what was queued for it, so that
        ``replay_finished`` means the last pushes are on their way to the clients, not in a
        queue (a connection that closes meanwhile has nothing more to write)."""
        marks: list[tuple[_Session, anyio.Event]] = []
        for session in list(self._sessions):
            done = anyio.Event()
            try:
                await session.out_send.send(_Out("mark", done=done))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                continue
            marks.append((session, done))
        while not all(done.is_set() or session.closing or session not in self._sessions
                      for session, done in marks):
            await anyio.sleep(0.01)

    async def _route_wait(self, pushes: list[Out]) -> None:
        """``route``, waiting for room in each connection's queue instead of dropping. Each
        push is encoded once for its audience, and each connection's pushes are queued in
        batches that its writer writes at once."""
        touched: dict[_Session, None] = {}  # in order of first push
        audiences: dict[int, list[_Session]] = {}  # by id: a batch's pushes share audiences
        for out in pushes:
            encoded: dict[int, bytes] = {}
            audience = audiences.get(id(out.to))
            if audience is None:
                audience = audiences[id(out.to)] = self._audience(out.to, None)
            for session in audience:
                if not session.closing:
                    session.core.push_shared(out.res, out.fields, encoded)
                    touched[session] = None
        # Taken before any wait: a reader answering a request meanwhile takes its reply
        # from the same core, and must not take these pushes with it.
        batches = [(session, session.core.data_to_send()) for session in touched]
        for session, items in batches:
            for start in range(0, len(items), _BATCH):
                if session.closing:
                    break
                try:
                    await session.out_send.send(_Out("pushes",
                                                     batch=items[start:start + _BATCH]))
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    break
        await anyio.sleep(0)  # let the readers in between steps, even when none waited

    def replay_report(self, users: Iterable[str] = ()) -> list[UserReport]:
        """What each user did in the replayed games, from the market's ledger (every user
        who bet, and ``users``); see ``market/replay.py``."""
        if self.backtest is None:
            raise RuntimeError("this server is not replaying a recording")
        return self.backtest.report(users)

    def route(self, pushes: list[Out], requester: _Session | None = None) -> int:
        """Queue each push to its audience's connections (``Audience``); returns how many.

        "user": every connection of that user; "game": every connection that joined the
        game; "all": every connection. ``exclude`` leaves a user out.
        """
        queued = 0
        for out in pushes:
            encoded: dict[int, bytes] = {}  # one encoding for the whole audience
            for session in self._audience(out.to, requester):
                queued += self._push_nowait(session, out.res, out.fields, encoded)
        return queued

    def _audience(self, to: Audience, requester: _Session | None) -> list[_Session]:
        sessions = list(self._sessions)
        if requester is not None:
            sessions.sort(key=lambda s: s is not requester)  # requester first
        if to.kind == "user":
            chosen = [s for s in sessions if s.user_id == to.key]
        elif to.kind == "game":
            chosen = [s for s in sessions if to.key in s.joined]
        else:
            chosen = sessions
        return [s for s in chosen if s.user_id != to.exclude]

    def _execute(self, session: _Session, event: RequestReceived, faults: Faults
                 ) -> list[Out]:
        if faults.silent:
            session.core.error("not executed: the server is silent")  # discarded anyway
            return []
        try:
            res, fields, pushes = self.market.handle(session.user_id, event.op,
                                                     dict(event.params), session.joined)
            session.core.reply(res, **fields)
        except Exception:
            log.exception("reference server: op %d failed", event.op)
            session.core.error(f"op {event.op}: internal error")
            return []
        return pushes

    async def _queue_reply(self, session: _Session, reply: bytes, faults: Faults) -> None:
        send = session.out_send.send
        for _ in range(faults.pushes_before_reply):
            game = min(session.joined) if session.joined else "none"
            res, fields = next(self._source(session, game))
            session.core.push(res, **fields)
            for data in session.core.data_to_send():
                await send(_Out("push", data))
        if faults.oversized:
            await send(_Out("push", self._oversized(session, faults.oversized)))
        if faults.malformed == "before":
            await send(_Out("raw", faults.malformed_payload))
        payload = faults.malformed_payload if faults.malformed == "instead" else reply
        await send(_Out("reply", payload))

    def _oversized(self, session: _Session, size: int) -> bytes:
        session.core.push(901, sender="server", text="", received_at=self._wall(), channel=None)
        base = session.core.data_to_send()[0]
        session.core.push(901, sender="server", text="x" * max(0, size - len(base)),
                          received_at=self._wall(), channel=None)
        return session.core.data_to_send()[0]

    def _source(self, session: _Session, game: str) -> Iterator[tuple[int, dict[str, Any]]]:
        if game not in session.sources:
            session.sources[game] = self.market.push_stream(game, session.user_id)
        return session.sources[game]

    def _push_nowait(self, session: _Session, res: int, fields: Mapping[str, Any],
                     encoded: dict[int, bytes] | None = None) -> bool:
        """Queue one push, or drop it if the queue is full; ``encoded`` shares its encoding
        with the rest of its audience (``ServerConnection.push_shared``)."""
        if session.closing:
            return False
        if encoded is None:
            session.core.push(res, **fields)
        else:
            session.core.push_shared(res, fields, encoded)
        try:
            for data in session.core.data_to_send():
                session.out_send.send_nowait(_Out("push", data))
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.stats.pushes_dropped += 1
            return False
        return True

    def _queue_close(self, session: _Session, code: int, reason: str) -> None:
        if session.closing:
            return
        session.closing = True
        try:
            session.out_send.send_nowait(_Out("close", reason.encode(), code))
        except anyio.WouldBlock:  # queue full: close at once, dropping the queue
            session.scope.cancel()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass

    async def _push_loop(self, session: _Session) -> None:
        """The push source of the connection's joined games, paced by ``push_interval``."""
        while True:
            interval = self._faults(session.user_id).push_interval
            if not interval:
                await anyio.sleep(0.1)  # poll: the knob may be turned on at any moment
                continue
            await anyio.sleep(interval)
            for game in sorted(session.joined):
                self._push_nowait(session, *next(self._source(session, game)))

    async def _writer(self, session: _Session) -> None:
        async for out in session.out_recv:
            if out.done is not None:  # a mark: what came before it leaves now
                if session.unflushed:
                    session.unflushed = 0
                    await self._flush(session)
                out.done.set()
                continue
            if out.kind == "close":
                await self._send_close(session, out.code, out.data.decode())
                continue
            if out.batch is not None:
                await self._write_batch(session, out.batch)
                continue
            delay = self._faults(session.user_id).reply_delay
            if out.kind == "reply" and delay > 0:
                await anyio.sleep(delay)
            faults = self._faults(session.user_id)
            if session.proto.state is not State.OPEN:
                continue
            drop = None if faults.silent else faults.drop_after_replies
            if out.kind == "reply" and drop is not None and session.replies >= drop:
                await self._drop(session, faults)  # the knob was set after the Nth reply
                return
            session.proto.send_text(out.data)
            if not faults.silent:  # counted before the write, so a client never sees it first
                if out.kind == "reply":
                    self.stats.replies_sent += 1
                    session.replies += 1
                elif out.kind == "push":
                    self.stats.pushes_sent += 1
            if out.kind == "reply" and drop is not None and session.replies >= drop:
                await self._drop(session, faults, flush=True)
                return
            # Pushes queued right behind this one leave in the same write (up to 64): a
            # flood costs a system call per batch, not per message.
            session.unflushed += 1
            if (out.kind != "push" or session.unflushed >= 64
                    or not session.out_recv.statistics().current_buffer_used):
                session.unflushed = 0
                await self._flush(session)

    async def _write_batch(self, session: _Session, batch: list[bytes]) -> None:
        """Write a batch of pushes (``_route_wait``): flushed with what follows it when
        more is queued, as single pushes are."""
        proto = session.proto
        if proto.state is not State.OPEN:
            return
        frames = text_frames(proto, batch)
        if frames is None:
            for data in batch:
                proto.send_text(data)
        else:
            proto.writes.append(frames)
        if not self._faults(session.user_id).silent:
            self.stats.pushes_sent += len(batch)
        session.unflushed += len(batch)
        if session.unflushed >= 64 or not session.out_recv.statistics().current_buffer_used:
            session.unflushed = 0
            await self._flush(session)

    def _closing_by_fault(self, kind: str, faults: Faults) -> None:
        """A knob of ``faults`` is about to close a connection: count it and, for a one-shot
        set, reset the knobs now, before the client can see the close and reconnect."""
        self.stats.closed_by_fault[kind] += 1
        if faults.once:
            faults.reset()

    async def _drop(self, session: _Session, faults: Faults, *, flush: bool = False) -> None:
        """Close the TCP connection with no websocket close frame (the client sees 1006)."""
        self._closing_by_fault("drop", faults)
        if flush:
            await self._flush(session)
        session.scope.cancel()

    async def _send_close(self, session: _Session, code: int, reason: str) -> None:
        """Start the closing handshake; cancel the connection if it does not finish in time."""
        session.closing = True
        if session.proto.state is State.OPEN:
            session.proto.send_close(code, reason)
            with anyio.move_on_after(self.close_timeout):
                await self._flush(session)
        if self._tg is not None:
            self._tg.start_soon(self._close_timer, session)

    async def _close_timer(self, session: _Session) -> None:
        await anyio.sleep(self.close_timeout)
        session.scope.cancel()
