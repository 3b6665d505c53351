"""The anyio adapter against the reference server over real loopback sockets, asyncio and trio."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from conftest import assert_paced

from instamrkt_proto import (
    Closed,
    Credentials,
    Event,
    LoggedOn,
    LogonFailed,
    MessageTooBig,
    OpcodeTable,
    Pong,
    ProtocolError,
    Push,
    PushesDropped,
    Reconnected,
    Response,
    State,
)
from instamrkt_transports import (
    AuthenticationError,
    ConnectionClosed,
    ConsumerTooSlow,
    LogonError,
    OutcomeUnknown,
    RequestTimeout,
)
from instamrkt_transports.anyio import AsyncClient, connect

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def next_of(client: AsyncClient, kind: type[Event], limit: float = 10.0) -> Any:
    """The next event of ``kind`` from ``client.events()`` (others are skipped)."""
    with anyio.fail_after(limit):
        async for event in client.events():
            if isinstance(event, kind):
                return event
    raise AssertionError(f"events() ended without a {kind.__name__}")


async def test_ping_opcodes_logon_request(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials) as client:
        pong = await client.ping()
        assert isinstance(pong, Pong) and pong.rtt >= 0 and pong.server_time
        table = await client.opcodes()
        assert isinstance(table, OpcodeTable)
        assert table.opcodes["logon"] == 100 and table.response_codes["pong"] == 1
        first = await client.logon()
        assert isinstance(first, LoggedOn) and not first.already_logged_in
        second = await client.logon()
        assert second.already_logged_in
        joined = await client.request("join_game", game_id="g-7")
        assert isinstance(joined, Response)
        assert (joined.res, joined.name, joined.fields["game_id"]) == (333, "game_joined", "g-7")
        balance = await client.request(800)
        assert balance.res == 800 and balance.fields["current_balance"] == 1000
        assert client.clock is not None and client.clock == client.core.clock
    assert srv.stats.ops() == [1, 2, 100, 100, 363, 800]


async def test_tls_with_a_test_ca(instamrkt_server_factory: Any,
                                  tls_contexts: tuple[Any, Any]) -> None:
    server_ctx, client_ctx = tls_contexts
    srv = instamrkt_server_factory(ssl_context=server_ctx)
    assert srv.url.startswith("wss://")
    async with connect(srv.url, srv.credentials, ssl_context=client_ctx) as client:
        assert isinstance(await client.ping(), Pong)
        assert (await client.logon()).op == 100
    # The default context verifies certificates: the test CA is not trusted by it.
    with pytest.raises(ConnectionClosed, match=r"(?i)certificate"):
        async with connect(srv.url, srv.credentials):
            pass


async def test_wrong_session_key_is_refused_before_any_message(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    bad = Credentials(srv.credentials.user_id, "not-the-key")
    with pytest.raises(AuthenticationError) as caught:
        async with connect(srv.url, bad):
            pass
    assert caught.value.status == 403
    assert "not-the-key" not in str(caught.value)
    assert str(caught.value) == "handshake refused with HTTP 403: Forbidden"  # as in sync
    assert srv.stats.log == []


async def test_logon_refused_raises_logon_error(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    srv.faults.refuse_logon = True
    async with connect(srv.url, srv.credentials) as client:
        with pytest.raises(LogonError) as caught:
            await client.logon()
        assert isinstance(caught.value.event, LogonFailed)
        assert client.core.state is State.OPEN


async def test_half_open_server_is_detected_by_keepalive(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials, keepalive_interval=0.3,
                       keepalive_timeout=0.3, reconnect=False, timeout=None) as client:
        await client.ping()
        srv.faults.silent = True
        started = time.monotonic()
        with pytest.raises((ConnectionClosed, RequestTimeout)):
            await client.ping()
        elapsed = time.monotonic() - started
        # interval + timeout = 0.6 s, plus a generous margin for a loaded CI machine
        assert elapsed < 0.6 + 2.0
        closed = await next_of(client, Closed)
        assert closed.reason == "keepalive timed out" and not closed.will_reconnect


async def test_drop_mid_bet_gives_outcome_unknown_and_restores_the_session(
        instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials, **backoff_cap(0.2)) as client:
        await client.logon()
        await client.request("join_game", game_id="g-1")
        # Reply #3 on this connection is the pong; then the server drops TCP, no close frame.
        srv.faults.update(reply_delay=0.2, drop_after_replies=3)
        outcome: dict[str, Any] = {}

        async def bet() -> None:
            try:
                await client.request("place_bet_in_betting_pool", pool_id="p-1",
                                     target="t-1", amount="5")
            except OutcomeUnknown as exc:
                outcome["bet"] = exc
                srv.faults.reset()

        async with anyio.create_task_group() as tg:
            tg.start_soon(client.ping)
            await anyio.sleep(0.05)
            tg.start_soon(bet)
        assert isinstance(outcome["bet"], OutcomeUnknown)
        assert outcome["bet"].params["pool_id"] == "p-1"
        reconnected = await next_of(client, Reconnected)
        assert reconnected.relogged_on and reconnected.rejoined == ("g-1",)
        assert reconnected.gap > 0 and reconnected.advice
        assert isinstance(await client.ping(), Pong)
        assert client.core.logged_on
    assert srv.stats.received[392] == 1
    assert srv.stats.received[100] == 2
    assert srv.stats.received[363] == 2


def backoff_cap(cap: float) -> dict[str, Any]:
    from instamrkt_proto import Backoff
    return {"backoff": Backoff(base=0.05, cap=cap)}


async def test_dropped_connection_fails_the_call_then_reconnects(
        instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials, **backoff_cap(0.2)) as client:
        await client.logon()  # reply 1 on this connection
        srv.faults.update(reply_delay=0.2, drop_after_replies=2)
        failures: list[BaseException] = []

        async def opcodes() -> None:
            try:
                await client.opcodes()  # in flight when the TCP connection drops
            except ConnectionClosed as exc:
                failures.append(exc)
                srv.faults.reset()

        async with anyio.create_task_group() as tg:
            tg.start_soon(client.ping)  # reply 2, then the server drops TCP
            await anyio.sleep(0.05)
            tg.start_soon(opcodes)
        assert len(failures) == 1
        assert (await next_of(client, Closed)).code == 1006  # no close frame: as in sync
        assert isinstance(await client.ping(), Pong)  # a new connection, logged on again
        assert client.core.logged_on
    assert srv.stats.received[100] == 2


async def test_refused_digest_stops_reconnecting(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    uid = srv.credentials.user_id
    async with connect(srv.url, srv.credentials, **backoff_cap(0.1)) as client:
        await client.logon()
        srv.server.users[uid] = "rotated-key"  # the key changed server-side
        srv.close_connections(uid)
        closed = await next_of(client, Closed)
        while closed.will_reconnect:
            closed = await next_of(client, Closed)
        assert isinstance(closed.error, AuthenticationError)
        with pytest.raises(AuthenticationError):
            await client.ping()
    assert srv.stats.rejected[403] == 1


async def test_malformed_reply_is_a_typed_event_and_nothing_hangs(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials) as client:
        srv.faults.malformed = "instead"
        with pytest.raises(RequestTimeout):
            await client.send(1, timeout=0.5)
        event = await next_of(client, ProtocolError)
        assert "JSON" in str(event.error)
        srv.faults.reset()
        assert isinstance(await client.ping(), Pong)  # the same connection carries on


async def test_oversized_message_is_a_typed_error(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials, max_message_size=2000,
                       **backoff_cap(0.1)) as client:
        srv.faults.oversized = 10_000
        with pytest.raises(ConnectionClosed):
            await client.ping()
        event = await next_of(client, ProtocolError)
        assert isinstance(event.error, MessageTooBig) and event.error.max_size == 2000
        srv.faults.reset()
        assert isinstance(await client.ping(), Pong)


async def test_pushes_arrive_as_events_and_never_settle_a_request(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials) as client:
        await client.request("join_game", game_id="g-2")
        srv.faults.pushes_before_reply = 3
        balance = await client.request("get_my_current_balance")
        assert balance.res == 800
        pushes = [await next_of(client, Push) for _ in range(3)]
        assert [p.res for p in pushes] == [366, 362, 815]
        assert all(p.fields["game_id"] == "g-2" for p in pushes[:2])


async def test_pacing_never_exceeds_the_window_at_the_server(server_process: Any) -> None:
    count, window = 50, 0.25
    creds = Credentials("pacer", "pacer-key")
    async with (connect(server_process.url, creds, rate_limit=(count, window)) as client,
                anyio.create_task_group() as tg):
        for _ in range(1000):
            tg.start_soon(client.ping)
    times = [at for at, _op in server_process.log()]
    assert len(times) == 1000
    assert_paced(times, count, window)
    assert times[-1] - times[0] >= (1000 / count - 1) * window * 0.9


FLOOD = 100_000


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_flood_with_backpressure_loses_nothing_and_stays_bounded(
        instamrkt_server: Any) -> None:
    srv = instamrkt_server
    capacity = 1000
    async with connect(srv.url, srv.credentials, queue_size=capacity) as client:
        await client.ping()
        flood = srv.flood(srv.credentials.user_id, FLOOD)
        seen = 0
        with anyio.fail_after(120):
            async for event in client.events():
                if isinstance(event, Push):
                    assert event.fields["seq"] == seen  # once each, in order
                    seen += 1
                    if seen % 1000 == 0:
                        await anyio.sleep(0.001)  # a slow consumer
                    if seen == FLOOD:
                        break
        assert flood.result(timeout=30) == FLOOD
        delivery = client.metrics().delivery
        # Bounded: the capacity plus at most one network read of pushes.
        assert delivery.high_water <= capacity + 1000
        assert delivery.dropped == 0


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_flood_with_drop_oldest_counts_exactly_what_it_dropped(
        instamrkt_server: Any) -> None:
    srv = instamrkt_server
    capacity = 1000
    async with connect(srv.url, srv.credentials, queue_size=capacity,
                       overflow="drop_oldest") as client:
        await client.ping()
        # The consumer does not read at all until the flood is over.
        total = 30_000
        assert await anyio.to_thread.run_sync(
            lambda: srv.flood(srv.credentials.user_id, total).result(timeout=120)) == total
        await client.ping()  # replies still flow: every push before it has been read
        delivered, dropped, last = 0, 0, -1
        with anyio.fail_after(30):
            async for event in client.events():
                if isinstance(event, PushesDropped):
                    dropped += event.count
                elif isinstance(event, Push):
                    assert event.fields["seq"] > last
                    last = event.fields["seq"]
                    delivered += 1
                    if last == total - 1:
                        break
        assert delivered + dropped == total
        assert delivered <= capacity
        assert client.metrics().delivery.high_water == capacity


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_flood_with_fail_policy_raises_consumer_too_slow(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    capacity = 500
    async with connect(srv.url, srv.credentials, queue_size=capacity,
                       overflow="fail") as client:
        await client.ping()
        total = 20_000
        assert await anyio.to_thread.run_sync(
            lambda: srv.flood(srv.credentials.user_id, total).result(timeout=60)) == total
        await client.ping()
        with pytest.raises(ConsumerTooSlow):
            async for _event in client.events():
                pass
        delivered = 0
        with anyio.fail_after(10):
            async for event in client.events():
                delivered += isinstance(event, Push)
                if delivered == capacity:
                    break
        metrics = client.metrics().delivery
        assert metrics.dropped == total - capacity
        assert metrics.high_water == capacity


async def test_through_an_http_connect_proxy(instamrkt_server: Any, http_proxy: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    srv = instamrkt_server
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    async with connect(srv.url, srv.credentials, proxy=f"http://127.0.0.1:{http_proxy}"
                       ) as client:
        assert isinstance(await client.ping(), Pong)
        assert (await client.logon()).op == 100
    # A dead proxy fails the attempt: the option really routes through the proxy.
    with pytest.raises(ConnectionClosed):
        async with connect(srv.url, srv.credentials, proxy="http://127.0.0.1:1"):
            pass
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{http_proxy}")
    async with connect(srv.url, srv.credentials) as client:
        assert isinstance(await client.ping(), Pong)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # bypass the (dead) proxy
    async with connect(srv.url, srv.credentials) as client:
        assert isinstance(await client.ping(), Pong)
    assert srv.stats.connections == 3


async def test_wss_through_the_proxy_from_https_proxy(
        instamrkt_server_factory: Any, tls_contexts: tuple[Any, Any], http_proxy: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server_ctx, client_ctx = tls_contexts
    srv = instamrkt_server_factory(ssl_context=server_ctx)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{http_proxy}")
    async with connect(srv.url, srv.credentials, ssl_context=client_ctx) as client:
        assert isinstance(await client.ping(), Pong)
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:1")
    with pytest.raises(ConnectionClosed):
        async with connect(srv.url, srv.credentials, ssl_context=client_ctx):
            pass


async def test_a_server_that_never_answers_the_handshake_times_out() -> None:
    import socket

    with socket.socket() as listener:  # accepts TCP, then says nothing at all
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        creds = Credentials("1", "k")
        with anyio.fail_after(10), pytest.raises(ConnectionClosed, match="connect timed out"):
            async with connect(f"ws://127.0.0.1:{port}/", creds, connect_timeout=0.3,
                               reconnect=False):
                pass


async def test_a_handshake_answer_that_is_not_http_is_a_typed_error(garbage_server: str) -> None:
    with anyio.fail_after(10), pytest.raises(ConnectionClosed):
        async with connect(garbage_server, Credentials("1", "k"), reconnect=False):
            pass


async def test_a_peer_that_stops_reading_cannot_wedge_the_client(deaf_peer: str) -> None:
    # 8 MB cannot be written to a peer that reads nothing: the call still ends on time, as
    # outcome unknown (it may have left), and closing stays prompt.
    started = time.monotonic()
    async with connect(deaf_peer, Credentials("1", "k"), timeout=1.0, keepalive_interval=0.5,
                       keepalive_timeout=0.5, reconnect=False) as client:
        with anyio.fail_after(10), pytest.raises(OutcomeUnknown):
            await client.send("place_bet_in_betting_pool",
                              {"pool_id": "p", "target": "t", "amount": "1",
                               "memo": "x" * 8_000_000})
        with anyio.fail_after(10), pytest.raises(ConnectionClosed):
            await client.ping()
    assert time.monotonic() - started < 1.0 + 5.0  # the timeout plus a generous margin
