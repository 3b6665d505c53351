"""The blocking adapter (no threads) against the reference server over loopback sockets.

The shared acceptance cases are in ``sync_cases.py``; this file adds what only a
single-threaded client has: reading happens only inside calls and ``next_event``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sync_cases import SyncAdapterCases, next_of

from instamrkt_proto import Closed, Connected, Pong, Push
from instamrkt_transports import blocking


class TestBlocking(SyncAdapterCases):
    adapter = blocking

    def provoke_overflow(self, client: Any) -> None:
        # A call must read every push queued ahead of its reply: the flood overflows here.
        assert isinstance(client.ping(), Pong)

    def burst_of_pings(self, client: Any, n: int) -> None:
        for _ in range(n):
            client.ping()


def test_no_threads_and_next_event_times_out(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    before = threading.active_count()
    with blocking.connect(srv.url, srv.credentials) as client:
        assert threading.active_count() == before
        assert isinstance(client.next_event(timeout=1), Connected)
        started = time.monotonic()
        assert client.next_event(timeout=0.2) is None
        assert 0.15 <= time.monotonic() - started < 3.0
    assert isinstance(client.next_event(), Closed)  # closing is an event too
    assert client.next_event() is None  # closed: returns at once


def test_pushes_wait_in_the_socket_until_the_client_reads(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    with blocking.connect(srv.url, srv.credentials, queue_size=10) as client:
        client.request("join_game", game_id="g")
        assert srv.burst("g", 50) == 50
        time.sleep(0.2)  # the server has written them; nobody reads
        assert client.metrics().delivery.depth == 1  # only the Connected event
        pushes = [next_of(client, Push) for _ in range(50)]
        assert client.metrics().delivery.high_water <= 10
        assert [p.res for p in pushes[:3]] == [366, 362, 815]
        # A call reads past pushes queued ahead of its reply; under back-pressure they are
        # kept (documented: the buffer may exceed its capacity by those pushes).
        assert srv.burst("g", 30) == 30
        assert isinstance(client.ping(), Pong)
        assert client.metrics().delivery.depth == 30


def test_keepalive_runs_inside_calls_after_a_long_pause(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    with blocking.connect(srv.url, srv.credentials, keepalive_interval=0.1,
                          keepalive_timeout=0.2) as client:
        time.sleep(0.5)  # nothing runs while the caller does something else
        assert isinstance(client.ping(), Pong)
        assert client.next_event(timeout=0.5) is not None  # Connected
        assert client.next_event(timeout=0.5) is None  # and no Closed: the peer is alive
    assert srv.stats.connections == 1
