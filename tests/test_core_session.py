"""Liveness, reconnects, session restore, fatal errors, staleness, retry and log scrubbing."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from core_helpers import SECRET, WALL0, make, silent

from instamrkt_proto import (
    AuthenticationError,
    Backoff,
    ClientConfig,
    Closed,
    CloseTransport,
    Connected,
    Connecting,
    ConnectionClosed,
    LoggedOn,
    LogonError,
    OutcomeUnknown,
    Pong,
    Reconnected,
    RequestFailed,
    RequestTimeout,
    Response,
    Stale,
    State,
    digest,
)
from instamrkt_proto.codec import ClientRequest
from instamrkt_proto.testing import Reply, standard_reply


def nonce(event: Connecting) -> str:
    return parse_qs(urlsplit(event.url).query)["n"][0]


# -- keepalive ------------------------------------------------------------------------------


def test_keepalive_ping_after_idle_and_dead_peer() -> None:
    cfg = ClientConfig(keepalive_interval=20.0, keepalive_timeout=10.0)
    h = make(config=cfg, peer=silent)
    h.connect()
    t0 = h.clock.now
    assert h.conn.next_deadline() == t0 + 20.0
    assert h.advance(19.9) == [] and h.sent == []
    h.advance(0.1)
    assert [r.op for r in h.sent] == [1]
    assert h.conn.next_deadline() == t0 + 30.0
    events = h.advance(10.0)
    assert events[0] == CloseTransport(code=1011, reason="keepalive timed out")
    closed = events[1]
    assert isinstance(closed, Closed) and closed.code == 1011
    assert closed.reconnect_at == t0 + 30.0 + 0.25  # 0.5 (random) * base 0.5
    assert h.clock.now - t0 == 30.0  # detected within interval + timeout
    assert h.conn.state is State.BACKOFF


def test_keepalive_pong_keeps_connection_and_measures_rtt() -> None:
    h = make(config=ClientConfig(keepalive_interval=20.0, keepalive_timeout=10.0), peer=silent)
    h.connect()
    h.advance(20.0)
    h.clock.advance(1.5)
    assert h.receive({"res": 1}) == []  # internal ping: no event for the caller
    assert h.conn.metrics(h.clock.now).rtt == 1.5
    assert h.conn.next_deadline() == h.clock.now + 20.0
    h.advance(100.0)
    assert h.conn.state is State.OPEN or h.conn.state is State.BACKOFF


def test_any_inbound_message_counts_as_liveness() -> None:
    h = make(config=ClientConfig(keepalive_interval=20.0, keepalive_timeout=10.0), peer=silent)
    h.connect()
    t0 = h.clock.now
    for _ in range(5):
        h.clock.advance(15.0)
        h.receive({"res": 815})  # pushes only, never a pong
    assert h.sent == [] and h.conn.state is State.OPEN
    h.advance(20.0)  # silence: ping at 20 s after the last push
    assert [r.op for r in h.sent] == [1]
    h.clock.advance(9.0)
    h.receive({"res": 815, "current_balance": 1})  # a push instead of the pong
    h.advance(1.0)  # pong overdue, but the peer is alive
    assert h.conn.state is State.OPEN
    assert not any(isinstance(e, Closed) for e in h.events)
    h.advance(18.9)
    assert [r.op for r in h.sent] == [1]
    h.advance(0.1)  # 20 s after the push: a fresh ping
    assert [r.op for r in h.sent] == [1, 1]
    late = h.receive({"res": 1})  # the late pong to the first ping answers nothing
    assert not any(isinstance(e, Pong) for e in late)
    assert h.clock.now > t0


def test_a_reported_reading_pause_is_not_taken_for_a_dead_peer() -> None:
    h = make(config=ClientConfig(keepalive_interval=20.0, keepalive_timeout=10.0), peer=silent)
    h.connect()
    h.advance(20.0)
    assert [r.op for r in h.sent] == [1]  # a keepalive ping is out when reading pauses
    h.conn.reading_paused(h.clock.now)
    assert h.conn.next_deadline() is None  # no keepalive verdict while paused
    assert h.advance(300.0) == [] and h.conn.state is State.OPEN
    resumed = h.clock.now
    h.conn.reading_resumed(resumed)
    assert h.advance(19.9) == [] and [r.op for r in h.sent] == [1]  # the pause was life
    h.advance(0.1)
    assert [r.op for r in h.sent] == [1, 1]  # a fresh cycle; the first ping is a tombstone
    assert h.clock.now == resumed + 20.0
    events = h.advance(10.0)  # this time nothing at all arrives: dead
    assert isinstance(events[-1], Closed) and events[-1].code == 1011


# -- reconnect ------------------------------------------------------------------------------


def test_reconnect_backoff_exact_delays_and_fresh_nonce() -> None:
    cfg = ClientConfig(backoff=Backoff(base=1.0, cap=5.0), keepalive_interval=None)
    h = make(config=cfg, randoms=(1.0, 0.5, 0.25, 1.0, 1.0), auto_connect=False)
    h.connect()
    nonces = [nonce(h.events[0])]  # type: ignore[arg-type]
    delays = []
    for _ in range(5):
        start = h.clock.now
        events = h.call(lambda c, now: c.connection_failed(now, 503, "unavailable"))
        (closed,) = events
        assert isinstance(closed, Closed) and closed.reconnect_at is not None
        assert "503" in closed.reason
        delays.append(closed.reconnect_at - start)
        assert h.conn.next_deadline() == closed.reconnect_at
        h.clock.advance(0.5)
        events = h.advance(closed.reconnect_at - h.clock.now)
        (connecting,) = events
        assert isinstance(connecting, Connecting)
        nonces.append(nonce(connecting))
    assert delays == [1.0 * 1, 0.5 * 2, 0.25 * 4, 1.0 * 5, 1.0 * 5]
    assert len(set(nonces)) == len(nonces)
    assert all(a < b for a, b in zip(map(int, nonces), map(int, nonces[1:]), strict=False))


def test_nonce_strictly_increases_within_one_millisecond() -> None:
    h = make(config=ClientConfig(backoff=Backoff(base=0.0001)), auto_connect=False)
    h.connect()
    h.call(lambda c, now: c.connection_failed(now))
    (connecting,) = h.advance(0.0001)  # 50 us of backoff: the wall clock did not move
    assert isinstance(connecting, Connecting)
    assert int(nonce(connecting)) == WALL0 + 1
    assert parse_qs(urlsplit(connecting.url).query)["h"] == [digest("1", str(WALL0 + 1), SECRET)]


def test_connect_timeout_retries() -> None:
    h = make(config=ClientConfig(connect_timeout=3.0), auto_connect=False)
    h.connect()
    events = h.advance(3.0)
    assert events[0] == CloseTransport(code=1000, reason="connect timed out")
    assert isinstance(events[1], Closed) and events[1].will_reconnect
    h.clock.advance(1.0)
    assert h.call(lambda c, now: c.connection_made(now)) == []  # stale report: ignored


def test_reconnect_restores_logon_and_games() -> None:
    cfg = ClientConfig(keepalive_interval=None)
    h = make(config=cfg, randoms=(0.5,))
    h.connect()
    h.request("logon")
    h.request("join_game", game_id="g1")
    h.request("join_game", game_id=42)
    assert h.conn.state is State.LOGGED_ON
    h.clock.advance(5.0)
    lost_at = h.clock.now
    pending = h.request("get_my_current_balance")  # answered: settles normally
    sent_before = len(h.sent)
    h.peer = silent
    bet = h.request(392, pool_id="p", target="a", amount="1")
    h.request("get_my_current_balance")
    events = h.call(lambda c, now: c.connection_lost(now, 1006, "abnormal"))
    assert {type(e.error) for e in events if isinstance(e, RequestFailed)} == {
        OutcomeUnknown, ConnectionClosed}
    assert isinstance(events[-1], Closed) and events[-1].reconnect_at == lost_at + 0.25
    assert h.conn.state is State.BACKOFF
    queued = h.request("get_my_current_balance")  # queued until the session is back
    assert len(h.sent) == sent_before + 2
    h.peer = standard_reply
    events = h.advance(0.25)
    assert isinstance(events[0], Connecting) and isinstance(events[1], Connected)
    restored = [r.op for r in h.sent[sent_before + 2:]]
    assert restored[:3] == [100, 363, 363]
    assert {r.params.get("game_id") for r in h.sent[sent_before + 3:sent_before + 5]} == {
        "g1", 42}
    reconnected = [e for e in events if isinstance(e, Reconnected)]
    assert reconnected == [Reconnected(
        disconnected_at=lost_at, reconnected_at=lost_at + 0.25, attempts=1, relogged_on=True,
        rejoined=reconnected[0].rejoined, rejoin_failed=(), advice=reconnected[0].advice)]
    assert set(reconnected[0].rejoined) == {"g1", "42"}
    assert reconnected[0].gap == 0.25
    assert "get_my_current_balance" in reconnected[0].advice
    assert any("g1" in a for a in reconnected[0].advice)
    # the caller's queued read goes out only after the restore, and is answered
    assert restored[-1] == 800
    assert any(isinstance(e, Response) and e.request_id == queued for e in events)
    assert h.conn.state is State.LOGGED_ON
    assert h.conn.metrics(h.clock.now).reconnects == 1
    assert pending < bet  # ids are increasing
    # the bet was never re-sent
    assert sum(1 for r in h.sent if r.op == 392) == 1


def test_reconnect_with_112_counts_as_logged_on() -> None:
    def peer(request: ClientRequest) -> list[Reply]:
        return [{"res": 112}] if request.op == 100 else standard_reply(request)

    h = make(config=ClientConfig(keepalive_interval=None), peer=peer)
    h.connect()
    h.request("logon")
    h.call(lambda c, now: c.connection_lost(now))
    events = h.advance(10.0)
    (rec,) = [e for e in events if isinstance(e, Reconnected)]
    assert rec.relogged_on and h.conn.state is State.LOGGED_ON


def test_refused_handshake_is_fatal() -> None:
    for status in (403, 400):
        h = make(auto_connect=False)
        h.connect()
        events = h.call(lambda c, now, s=status: c.connection_failed(now, s, "bad digest"))
        (closed,) = events
        assert isinstance(closed, Closed) and not closed.will_reconnect
        assert isinstance(closed.error, AuthenticationError)
        assert closed.error.status == status
        assert h.conn.state is State.CLOSED
        assert h.conn.closed_error is closed.error
        assert h.conn.next_deadline() is None
        assert h.advance(3600.0) == []


def test_logon_refused_during_restore_is_fatal() -> None:
    refuse = False

    def peer(request: ClientRequest) -> list[Reply]:
        if request.op == 100 and refuse:
            return [{"res": 110}]
        return standard_reply(request)

    h = make(config=ClientConfig(keepalive_interval=None), peer=peer)
    h.connect()
    h.request("logon")
    refuse = True
    h.call(lambda c, now: c.connection_lost(now))
    events = h.advance(10.0)
    assert CloseTransport(code=1000, reason="logon refused") in events
    closed = events[-1]
    assert isinstance(closed, Closed) and not closed.will_reconnect
    assert isinstance(closed.error, LogonError)
    assert h.conn.state is State.CLOSED
    assert not any(isinstance(e, Reconnected) for e in events)
    assert sum(1 for e in events if isinstance(e, Connecting)) == 1


def test_1008_escalates_backoff_and_stable_connection_resets_it() -> None:
    cfg = ClientConfig(backoff=Backoff(base=1.0, cap=1000.0), keepalive_interval=None,
                       stable_after=30.0)
    h = make(config=cfg, randoms=(1.0,))
    h.connect()
    (closed,) = h.call(lambda c, now: c.connection_lost(now, 1006))
    assert isinstance(closed, Closed)
    assert closed.reconnect_at == h.clock.now + 1.0
    h.advance(1.0)
    (closed,) = h.call(lambda c, now: c.connection_lost(now, 1008, "policy"))
    assert isinstance(closed, Closed)
    assert closed.reconnect_at == h.clock.now + 8.0  # attempt 1, penalty 2: 2**3
    h.advance(8.0)
    (closed,) = h.call(lambda c, now: c.connection_lost(now, 1000, "Too Many Requests"))
    assert isinstance(closed, Closed)
    assert closed.reconnect_at == h.clock.now + 64.0  # attempt 2, penalty 4
    h.advance(64.0)
    h.clock.advance(30.0)  # stable for stable_after
    (closed,) = h.call(lambda c, now: c.connection_lost(now, 1006))
    assert isinstance(closed, Closed)
    assert closed.reconnect_at == h.clock.now + 1.0


def test_max_reconnect_attempts_and_no_reconnect() -> None:
    cfg = ClientConfig(max_reconnect_attempts=2, connect_timeout=None)
    h = make(config=cfg, auto_connect=False)
    h.connect()
    h.call(lambda c, now: c.connection_failed(now))
    h.advance(100.0)
    h.call(lambda c, now: c.connection_failed(now))
    h.advance(100.0)
    (closed,) = h.call(lambda c, now: c.connection_failed(now))
    assert isinstance(closed, Closed) and not closed.will_reconnect
    assert h.conn.state is State.CLOSED
    h = make(config=ClientConfig(reconnect=False))
    h.connect()
    (closed,) = h.call(lambda c, now: c.connection_lost(now))
    assert isinstance(closed, Closed) and isinstance(closed.error, ConnectionClosed)
    assert h.conn.state is State.CLOSED


# -- retry ----------------------------------------------------------------------------------


def test_retry_resends_idempotent_read_once() -> None:
    h = make(config=ClientConfig(keepalive_interval=None), peer=silent)
    h.connect()
    rid = h.conn.send_request("get_my_current_balance", None, now=h.clock.now, retry=True)
    h.call(lambda c, now: c.connection_lost(now))
    assert not any(isinstance(e, RequestFailed) for e in h.events)
    h.advance(10.0)
    assert [r.op for r in h.sent] == [800, 800]
    events = h.call(lambda c, now: c.connection_lost(now))
    (failed,) = [e for e in events if isinstance(e, RequestFailed)]
    assert failed.request_id == rid and isinstance(failed.error, ConnectionClosed)
    h.advance(10.0)
    assert [r.op for r in h.sent] == [800, 800]


def test_retried_read_that_times_out_says_it_was_sent() -> None:
    cfg = ClientConfig(keepalive_interval=None, request_timeout=3.0, connect_timeout=None)
    h = make(config=cfg, peer=silent, auto_connect=False)
    h.connect()
    h.call(lambda c, now: c.connection_made(now))
    rid = h.conn.send_request("get_my_current_balance", None, now=h.clock.now, retry=True)
    h.call(lambda c, now: c.connection_lost(now))  # requeued; no new connection comes
    events = h.advance(3.0)
    (failed,) = [e for e in events if isinstance(e, RequestFailed)]
    assert failed.request_id == rid
    assert isinstance(failed.error, RequestTimeout) and failed.error.sent


def test_zero_jitter_after_connect_timeout_reconnects_at_once() -> None:
    h = make(config=ClientConfig(connect_timeout=2.0), randoms=(0.0,), auto_connect=False)
    h.connect()
    now = h.clock.advance(2.0)
    events = h.call(lambda c, t: c.handle_timer(t))
    assert [type(e).__name__ for e in events] == ["CloseTransport", "Closed", "Connecting"]
    deadline = h.conn.next_deadline()
    assert deadline is not None and deadline > now


def test_without_retry_a_read_fails_on_loss() -> None:
    h = make(config=ClientConfig(keepalive_interval=None), peer=silent)
    h.connect()
    rid = h.request("get_my_current_balance")
    events = h.call(lambda c, now: c.connection_lost(now))
    (failed,) = [e for e in events if isinstance(e, RequestFailed)]
    assert failed.request_id == rid and isinstance(failed.error, ConnectionClosed)


# -- staleness ------------------------------------------------------------------------------


def test_stale_is_off_by_default() -> None:
    h = make(config=ClientConfig(keepalive_interval=None))
    h.connect()
    h.request("join_game", game_id="g")
    assert h.conn.next_deadline() is None
    assert h.advance(10_000.0) == []


def test_stale_game_event_never_reconnects() -> None:
    h = make(config=ClientConfig(keepalive_interval=None, game_stale_after=60.0))
    h.connect()
    h.request("join_game", game_id="g")
    t0 = h.clock.now
    assert h.conn.next_deadline() == t0 + 60.0
    h.clock.advance(30.0)
    h.receive({"res": 366, "game_id": "g"})
    events = h.advance(60.0)
    assert events == [Stale(game_id="g", age=60.0)]
    assert h.advance(1000.0) == []  # once per silence, and no reconnect
    assert h.conn.state is State.OPEN
    h.receive({"res": 362, "game_id": "g"})
    assert h.advance(60.0) == [Stale(game_id="g", age=60.0)]


# -- logging --------------------------------------------------------------------------------


def test_logs_of_a_full_session_never_hold_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = ClientConfig(keepalive_interval=5.0)
    h = make(config=cfg)
    with caplog.at_level(logging.DEBUG):
        h.connect()
        h.request("logon")
        h.request("join_game", game_id="g1")
        h.request(392, pool_id="p", target="a", amount="1")
        h.advance(12.0)
        h.receive(b"not json")
        h.call(lambda c, now: c.connection_lost(now, 1006))
        h.advance(30.0)
        h.call(lambda c, now: c.connection_failed(now, 403, "refused"))
        h.call(lambda c, now: c.close(now))
    digests = [parse_qs(urlsplit(e.url).query)["h"][0] for e in h.events
               if isinstance(e, Connecting)]
    assert len(digests) >= 2
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "send" in text and "recv" in text and "connecting" in text  # traffic was logged
    for secret in (SECRET, *digests):
        assert secret not in text
        for event in h.events:
            assert secret not in repr(event)
            error = getattr(event, "error", None)
            if error is not None:
                assert secret not in str(error) and secret not in repr(error)
    assert SECRET not in repr(h.conn)
    assert any(isinstance(e, LoggedOn) for e in h.events)
