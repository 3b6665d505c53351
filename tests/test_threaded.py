"""The threaded adapter against the reference server over loopback sockets.

The shared acceptance cases are in ``sync_cases.py``; this file adds concurrency: many
threads on one client, futures, the ``on_event`` callback and ``close()`` from any thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import pytest
from sync_cases import SyncAdapterCases

from instamrkt_proto import Closed, Connected, Event, LocalProtocolError, Pong, Push, Response
from instamrkt_transports import ConnectionClosed, threaded
from instamrkt_transports.threaded import ThreadedClient


class TestThreaded(SyncAdapterCases):
    adapter = threaded

    def provoke_overflow(self, client: Any) -> None:
        time.sleep(0.5)  # the reader fills the buffer while the consumer dawdles

    def burst_of_pings(self, client: Any, n: int) -> None:
        futures = [client.ping_async() for _ in range(n)]
        done, _ = wait(futures, timeout=30)
        assert len(done) == n and all(isinstance(f.result(), Pong) for f in futures)


def mixed_calls(client: ThreadedClient, worker: int, n: int) -> list[str]:
    """n mixed requests; returns an error description for each reply that is not ours."""
    wrong = []
    for i in range(n):
        game = f"w{worker}-g{i}"
        kind = i % 5
        if kind == 0:
            if not isinstance(client.ping(), Pong):
                wrong.append(f"{game}: ping")
            continue
        if kind == 4:
            reply = client.request("get_my_current_balance")
            if reply.res != 800:
                wrong.append(f"{game}: balance {reply}")
            continue
        op = {1: "join_game", 2: "get_game_details", 3: "leave_game"}[kind]
        reply = client.request(op, game_id=game)
        if reply.fields.get("game_id") != game:
            wrong.append(f"{game}: {op} got {reply}")
    return wrong


def test_eight_threads_get_their_own_replies(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    with threaded.connect(srv.url, srv.credentials) as client:
        client.logon()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda w: mixed_calls(client, w, 500), range(8)))
        assert results == [[]] * 8
        assert client.metrics().session.outstanding == 0
    assert sum(srv.stats.received.values()) == 1 + 8 * 500
    assert srv.stats.received[363] == srv.stats.received[364] == 800


def test_futures_pipeline_in_order(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    with threaded.connect(srv.url, srv.credentials) as client:
        futures: list[Future[Any]] = [client.request_async(372, game_id=f"g{i}")
                                      for i in range(200)]
        replies = [f.result(timeout=10) for f in futures]
        assert [r.fields["game_id"] for r in replies] == [f"g{i}" for i in range(200)]
        assert not futures[0].cancel()  # the core settles every request
        assert isinstance(client.logon_async().result(timeout=5).op, int)
        assert isinstance(client.send_async(1, timeout=5).result(timeout=5), Pong)
        assert client.opcodes_async().result(timeout=5).opcodes["logon"] == 100
    assert [r.params.get("game_id") for r in srv.stats.log[:200]] == [f"g{i}" for i in
                                                                      range(200)]


def test_on_event_callback_gets_pushes_in_order_and_survives_errors(
        instamrkt_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    srv = instamrkt_server
    seen: list[Event] = []
    done = threading.Event()
    caller = threading.current_thread()

    def on_event(event: Event) -> None:
        assert threading.current_thread() is not caller
        seen.append(event)
        if isinstance(event, Push) and event.fields.get("text") == "boom":
            raise RuntimeError("a bug in the application's callback")
        if isinstance(event, Push) and event.fields.get("text") == "last":
            done.set()

    with caplog.at_level(logging.ERROR, "instamrkt_transports.threaded"), \
            threaded.connect(srv.url, srv.credentials, on_event=on_event) as client:
        client.request("join_game", game_id="g")
        uid = srv.credentials.user_id
        srv.push(uid, 901, text="boom")
        assert srv.burst("g", 30) == 30
        srv.push(uid, 901, text="last")
        assert done.wait(10)
        with pytest.raises(LocalProtocolError, match="on_event"):
            client.next_event(timeout=0.1)
    assert isinstance(seen[0], Connected) and isinstance(seen[-1], Closed)
    pushes = [e for e in seen if isinstance(e, Push)]
    assert len(pushes) == 32 and [p.res for p in pushes[1:4]] == [366, 362, 815]
    assert "on_event raised" in caplog.text


def _threads_after_joining(before: int) -> int:
    """The number of threads once those above ``before`` have ended (5 s at most)."""
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count()


def test_close_from_another_thread_is_prompt_and_joins(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    before = threading.active_count()
    client_cm = threaded.connect(srv.url, srv.credentials, timeout=None)
    client = client_cm.__enter__()
    client.ping()
    srv.faults.silent = True
    pending = client.ping_async()
    waiter = threading.Thread(target=lambda: pending.exception(timeout=10))
    waiter.start()
    time.sleep(0.1)
    started = time.monotonic()
    threading.Thread(target=client.close).start()
    waiter.join(5)
    assert isinstance(pending.exception(timeout=0), ConnectionClosed)
    client_cm.__exit__(None, None, None)  # a second close is harmless
    assert time.monotonic() - started < 3.0  # prompt: the caller's own wait is 10 s
    assert _threads_after_joining(before) == before
    with pytest.raises(ConnectionClosed):
        client.ping()


def test_reconnect_happens_in_the_background(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    from sync_cases import FAST, next_of

    with threaded.connect(srv.url, srv.credentials, **FAST) as client:
        client.logon()
        srv.close_connections()
        closed = next_of(client, Closed)
        assert closed.will_reconnect and closed.code == 1001
        assert next_of(client, Connected)  # without any call from us
        assert isinstance(client.request(363, game_id="x"), Response)
        assert client.core.logged_on


def test_a_reader_paused_by_back_pressure_ends_with_its_connection(
        instamrkt_server: Any) -> None:
    """Reconnects while the consumer is behind must not leave paused readers (and their
    sockets) behind: each dropped connection's reader ends."""
    from instamrkt_proto import Backoff

    srv = instamrkt_server

    def readers() -> int:
        return sum(1 for t in threading.enumerate() if t.name.startswith("instamrkt-conn"))

    with threaded.connect(srv.url, srv.credentials, queue_size=3, timeout=0.5,
                          backoff=Backoff(base=0.05, cap=0.1)) as client:
        client.logon()
        client.request("join_game", game_id="g")
        srv.burst("g", 50)  # nobody reads events: the reader pauses
        deadline = time.monotonic() + 10
        while not client._pushes.buffer.full and time.monotonic() < deadline:
            time.sleep(0.01)
        first = srv.stats.connections
        srv.close_connections()  # unread by the paused reader; the server aborts in 0.25 s
        time.sleep(0.6)
        for _ in range(5):  # writes find the socket dead; each new connection pauses too
            client.ping_async(timeout=2.0)
            time.sleep(0.1)
        while srv.stats.connections < first + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.stats.connections >= first + 3
        while readers() > 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert readers() <= 2  # the current connection's reader, and at most one opening


def test_close_is_prompt_while_a_reconnect_hangs_in_tcp_connect(
        instamrkt_server_factory: Any) -> None:
    import socket

    from instamrkt_proto import Backoff, State

    srv = instamrkt_server_factory()
    port = srv.port
    fillers: list[socket.socket] = []
    with threaded.connect(srv.url, srv.credentials, connect_timeout=30.0,
                          backoff=Backoff(base=0.01, cap=0.01)) as client:
        client.ping()
        srv.close()  # the server is gone; its port now listens but never accepts, and
        listener = socket.socket()  # with a full accept queue new SYNs are dropped
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(0)
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        deadline = time.monotonic() + 5
        while client.core.state is not State.CONNECTING and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the reconnect attempt is now blocked inside connect()
        assert client.core.state is State.CONNECTING
        closing = time.monotonic()
    assert time.monotonic() - closing < 2.0
    listener.close()
    for filler in fillers:
        filler.close()


# -- the calling thread reads for its own reply (leader and follower) ------------------------


def _while_blocked(call: Any, probe: Any, settle: float = 0.2) -> tuple[Any, Any]:
    """Run ``call()`` in a thread; once it has blocked for ``settle`` s, run ``probe()``.
    Returns ``(probe's value, call's outcome: its value or the exception it raised)``."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(settle)
    probed = probe()
    thread.join(10)
    assert not thread.is_alive() and len(outcome) == 1
    return probed, outcome[0]


def test_a_caller_that_times_out_while_it_is_the_reader(instamrkt_server: Any) -> None:
    from instamrkt_proto import RequestTimeout

    srv = instamrkt_server
    with threaded.connect(srv.url, srv.credentials) as client:
        client.ping()
        srv.faults.silent = True
        started = time.monotonic()
        reading, outcome = _while_blocked(lambda: client.ping(timeout=0.5),
                                          client._token.locked)
        assert reading  # the calling thread held the reading role while it waited
        assert isinstance(outcome, RequestTimeout)
        assert 0.5 <= time.monotonic() - started < 5
        assert not client._token.locked()  # and gave it back
        srv.faults.silent = False
        assert isinstance(client.ping(), Pong)  # the reader thread or the next caller reads on
        assert srv.push(srv.credentials.user_id, 901, text="between calls") == 1
        event = client.next_event(timeout=5)
        while isinstance(event, Connected):
            event = client.next_event(timeout=5)
        assert isinstance(event, Push) and event.fields["text"] == "between calls"


def test_a_push_read_by_a_calling_thread_reaches_the_consumer_waiting(
        instamrkt_server: Any) -> None:
    srv = instamrkt_server
    with threaded.connect(srv.url, srv.credentials) as client:
        assert isinstance(client.next_event(timeout=5), Connected)
        client.request("join_game", game_id="g")
        got: list[tuple[Event | None, float]] = []
        consumer = threading.Thread(
            target=lambda: got.append((client.next_event(timeout=10), time.monotonic())))
        consumer.start()
        time.sleep(0.1)  # the consumer waits; the reader thread sleeps on the socket
        srv.faults.pushes_before_reply = 1
        srv.faults.reply_delay = 0.3  # the caller reads alone for a while
        reading, balance = _while_blocked(lambda: client.request("get_my_current_balance"),
                                          client._token.locked, settle=0.1)
        answered = time.monotonic()
        consumer.join(10)
        assert reading and balance.res == 800
        assert len(got) == 1 and isinstance(got[0][0], Push) and got[0][0].res == 366
        assert got[0][1] < answered - 0.1  # handed over while the caller still waited
        srv.faults.reset()
        assert client.next_event(timeout=0.3) is None  # delivered once


def test_close_from_another_thread_while_a_caller_reads(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    before = threading.active_count()
    client_cm = threaded.connect(srv.url, srv.credentials, timeout=None)
    client = client_cm.__enter__()
    client.ping()
    srv.faults.silent = True

    def close() -> bool:
        reading = client._token.locked()
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 3.0  # prompt: the caller would wait forever
        return reading

    reading, outcome = _while_blocked(client.ping, close)
    assert reading and isinstance(outcome, ConnectionClosed)
    client_cm.__exit__(None, None, None)
    assert _threads_after_joining(before) == before
