"""A local reference Instamrkt server on anyio, for rehearsals, tests and demos.

It speaks real websocket framing through the sans-I/O layer of the ``websockets`` library
(no compression extension is offered) and the Instamrkt protocol through
``instamrkt_proto.ServerConnection``, so a client tested against it meets the same codec and
handshake rules it would meet in production, plus the faults in ``Faults``. The application
behind it is the in-memory ``Market`` of ``instamrkt_transports.market``. It runs on asyncio
and trio.

This module accepts, authenticates and decides: what a request answers (the market),
who hears a push (``route``), which fault applies. Each accepted connection's queue, reader
and writer are a ``Connection`` (``server/connection.py``); a recording's games are paced
by ``Playback`` (``server/playback.py``).

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
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import attrs
from anyio.streams.tls import TLSStream
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
from .connection import NETWORK_ERRORS, Connection, Outgoing, write_pending
from .faults import Faults, ServerStats
from .playback import Playback, parse_speed
from .rest import REST_PREFIX, RestService, serve_http

__all__ = ("ReferenceServer",)

log = logging.getLogger("instamrkt_transports.server")
_WS_LOG = NoDebugLogger(logging.getLogger("instamrkt_transports.server.websockets"), {})


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


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
        self.speed = parse_speed(speed)
        if replay is not None:  # the recording's clock, not the wall's (market/replay.py)
            timeline = load_timeline(replay)
            clock = VirtualClock(timeline.start)
            self.market = Market(clock, initial_balance)
            self.backtest = Backtest(self.market, clock, timeline, initial_balance)
            self.backtest.start()
        else:
            self.market = Market(wall_clock, initial_balance)
        for uid in self.users:
            self.market.add_user(uid)
        self.scenario: Scenario | None = None
        if scenario is not None:
            self.scenario = make_scenario(scenario, self.market, seed=scenario_seed,
                                          interval=scenario_interval)
        self.stats = ServerStats()
        self._connections: set[Connection] = set()
        self._online: dict[str, int] = {}  # user id -> its connections in ``_connections``
        self._playback: Playback | None = None
        if self.backtest is not None:  # the recorded bettors' balances reach nobody
            self.market.balance_pushes_for(self._online.__contains__)
            self._playback = Playback(self.backtest, self.speed, self._connections,
                                      lambda to: self._audience(to, None))
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
        return (f"<ReferenceServer {where} users={len(self.users)} "
                f"connections={len(self._connections)}>")

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
        return sorted(s.user_id for s in self._connections)

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
        if self._playback is not None:
            tg.start_soon(self._playback.play)
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
        except (*NETWORK_ERRORS, TimeoutError):
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
                    for connection in list(self._connections):
                        closers.start_soon(connection.send_close, 1001, "server shutting down")
                if self._connections:
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
        targets = [s for s in self._connections if user_id is None or s.user_id == str(user_id)]
        return sum(s.push_nowait(res, fields) for s in targets)

    def burst(self, game_id: str | int, n: int) -> int:
        """Queue ``n`` pushes (366, 362, 815 in turn) to every connection that joined the game.

        Returns the number of messages queued.
        """
        game = str(game_id)
        queued = 0
        for connection in [s for s in self._connections if game in s.joined]:
            source = self._source(connection, game)
            queued += sum(connection.push_nowait(*next(source)) for _ in range(n))
        return queued

    async def flood(self, user_id: str | int, n: int, res: int = 815) -> int:
        """Send ``n`` pushes ``res`` (fields ``seq`` 0..n-1) to ``user_id``'s connections.

        Unlike ``push``, this waits for room in each connection's queue, so a client that
        stops reading slows the flood down (TCP back-pressure) instead of losing pushes.
        Returns how many were queued.
        """
        sent = 0
        for connection in [s for s in self._connections if s.user_id == str(user_id)]:
            for seq in range(n):
                if connection.closing:
                    break
                connection.core.push(res, seq=seq, current_balance=seq, available_balance=seq,
                                  currency="DON")
                for data in connection.core.data_to_send():
                    if not await connection.send(Outgoing("push", data)):
                        return sent
                sent += 1
        return sent

    def close_connections(self, user_id: str | int | None = None, code: int = 1001,
                          reason: str = "") -> int:
        """Close the connections of ``user_id`` (None: all) with ``code`` after queued replies."""
        targets = [s for s in self._connections if user_id is None or s.user_id == str(user_id)]
        for connection in targets:
            connection.queue_close(code, reason)
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
            await write_pending(stream, proto)
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
            await write_pending(stream, proto)
            return
        assert verdict.user_id is not None
        self.stats.connections += 1
        await write_pending(stream, proto)
        uid = verdict.user_id
        connection = Connection(stream, proto, core, uid, queue_size=self.queue_size,
                             faults=lambda: self._faults(uid), stats=self.stats,
                             close_timeout=self.close_timeout)
        self._connections.add(connection)
        self._online[uid] = self._online.get(uid, 0) + 1
        try:
            await connection.serve(self._on_message, self._push_loop)
        finally:
            core.close()
            self._connections.discard(connection)
            if self._online[connection.user_id] > 1:
                self._online[connection.user_id] -= 1
            else:
                del self._online[connection.user_id]
            if self._drained is not None and not self._connections:
                self._drained.set()

    def _refuse_logon(self, user_id: str, accepted_key: str | None) -> bool:
        """110 when the knob says so, or when the key the connection was opened with has
        since expired or been replaced by a login: a dead key must not log on."""
        return self._faults(user_id).refuse_logon or self.users.get(user_id) != accepted_key

    async def _on_message(self, connection: Connection, data: bytes, arrived: float) -> None:
        if connection.closing:
            return
        faults = self._faults(connection.user_id)
        core = connection.core
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
            connection.requests += 1
            self.stats.record(arrived, connection.user_id, event.op, dict(event.params))
            if isinstance(event, RequestReceived):
                pushes = self._execute(connection, event, faults)
                replies += core.data_to_send()
        limit = faults.too_many_requests_after
        if limit is not None and connection.requests > limit:
            connection.closing_by_fault("too_many_requests", faults)
            connection.queue_close(1008, "too many requests")
            return
        for reply in replies:
            await self._queue_reply(connection, reply, faults)
        self.route(pushes, connection)

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

    @property
    def replay_finished(self) -> bool:
        """True once the recording is played to its end and every connection has written
        what was queued for it (False when not replaying)."""
        return self._playback is not None and self._playback.finished

    def replay_report(self, users: Iterable[str] = ()) -> list[UserReport]:
        """What each user did in the replayed games, from the market's ledger (every user
        who bet, and ``users``); see ``market/replay.py``."""
        if self.backtest is None:
            raise RuntimeError("this server is not replaying a recording")
        return self.backtest.report(users)

    def route(self, pushes: list[Out], requester: Connection | None = None) -> int:
        """Queue each push to its audience's connections (``Audience``); returns how many.

        "user": every connection of that user; "game": every connection that joined the
        game; "all": every connection. ``exclude`` leaves a user out.
        """
        queued = 0
        for out in pushes:
            encoded: dict[int, bytes] = {}  # one encoding for the whole audience
            for connection in self._audience(out.to, requester):
                queued += connection.push_nowait(out.res, out.fields, encoded)
        return queued

    def _audience(self, to: Audience, requester: Connection | None) -> list[Connection]:
        connections = list(self._connections)
        if requester is not None:
            connections.sort(key=lambda s: s is not requester)  # requester first
        if to.kind == "user":
            chosen = [s for s in connections if s.user_id == to.key]
        elif to.kind == "game":
            chosen = [s for s in connections if to.key in s.joined]
        else:
            chosen = connections
        return [s for s in chosen if s.user_id != to.exclude]

    def _execute(self, connection: Connection, event: RequestReceived, faults: Faults
                 ) -> list[Out]:
        if faults.silent:
            connection.core.error("not executed: the server is silent")  # discarded anyway
            return []
        try:
            res, fields, pushes = self.market.handle(connection.user_id, event.op,
                                                     dict(event.params), connection.joined)
            connection.core.reply(res, **fields)
        except Exception:
            log.exception("reference server: op %d failed", event.op)
            connection.core.error(f"op {event.op}: internal error")
            return []
        return pushes

    async def _queue_reply(self, connection: Connection, reply: bytes, faults: Faults) -> None:
        send = connection.out_send.send
        for _ in range(faults.pushes_before_reply):
            game = min(connection.joined) if connection.joined else "none"
            res, fields = next(self._source(connection, game))
            connection.core.push(res, **fields)
            for data in connection.core.data_to_send():
                await send(Outgoing("push", data))
        if faults.oversized:
            await send(Outgoing("push", self._oversized(connection, faults.oversized)))
        if faults.malformed == "before":
            await send(Outgoing("raw", faults.malformed_payload))
        payload = faults.malformed_payload if faults.malformed == "instead" else reply
        await send(Outgoing("reply", payload))

    def _oversized(self, connection: Connection, size: int) -> bytes:
        connection.core.push(901, sender="server", text="", received_at=self._wall(), channel=None)
        base = connection.core.data_to_send()[0]
        connection.core.push(901, sender="server", text="x" * max(0, size - len(base)),
                          received_at=self._wall(), channel=None)
        return connection.core.data_to_send()[0]

    def _source(self, connection: Connection, game: str) -> Iterator[tuple[int, dict[str, Any]]]:
        if game not in connection.sources:
            connection.sources[game] = self.market.push_stream(game, connection.user_id)
        return connection.sources[game]

    async def _push_loop(self, connection: Connection) -> None:
        """The push source of the connection's joined games, paced by ``push_interval``."""
        while True:
            interval = self._faults(connection.user_id).push_interval
            if not interval:
                await anyio.sleep(0.1)  # poll: the knob may be turned on at any moment
                continue
            await anyio.sleep(interval)
            for game in sorted(connection.joined):
                connection.push_nowait(*next(self._source(connection, game)))
