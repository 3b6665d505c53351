"""The anyio adapter against the reference server over real loopback sockets, asyncio and trio."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from conftest import assert_paced

from instamrkt_proto import (
    Backoff,
    Connected,
    Credentials,
    Event,
    LoggedOn,
    OpcodeTable,
    Pong,
    Push,
    PushesDropped,
    Reconnected,
    Response,
)
from instamrkt_transports import (
    ConsumerTooSlow,
    rest,
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


def backoff_cap(cap: float) -> dict[str, Any]:
    from instamrkt_proto import Backoff
    return {"backoff": Backoff(base=0.05, cap=cap)}


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
        # Bounded: the capacity plus at most one network read of pushes. asyncio's socket
        # transport reads up to 256 KiB at a time, and every push here is over 100 bytes.
        assert delivery.high_water <= capacity + 256 * 1024 // 100
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


# -- what only the async API has ------------------------------------------------------------


async def test_a_cancelled_call_leaves_the_session_whole(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials) as client:
        srv.faults.reply_delay = 0.3
        with anyio.move_on_after(0.05) as scope:
            await client.request("get_my_current_balance")
        assert scope.cancelled_caught
        srv.faults.reset()
        # The cancelled read's late reply must not answer the next one: each gets its own.
        first, second = await client.ping(), await client.request("get_my_current_balance")
        assert isinstance(first, Pong) and second.res == 800
        assert client.metrics().session.outstanding == 0


async def test_next_event_waits_at_most_its_timeout(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials) as client:
        assert isinstance(await client.next_event(), Connected)
        started = time.monotonic()
        assert await client.next_event(timeout=0.2) is None
        assert time.monotonic() - started >= 0.19
        assert srv.push(srv.credentials.user_id, 901, text="hi") == 1
        event = await client.next_event(timeout=10)
        assert isinstance(event, Push) and event.fields["text"] == "hi"
    assert await client.next_event(timeout=10) is not None  # the final Closed is kept
    assert await client.next_event(timeout=10) is None  # then: closed and drained


async def test_concurrent_tasks_each_get_their_own_reply(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    wrong: list[str] = []

    async def worker(n: int) -> None:
        for i in range(20):
            game = f"w{n}-g{i}"
            reply = await client.request("get_game_details", game_id=game)
            if reply.fields.get("game_id") != game:
                wrong.append(f"{game}: {reply}")

    async with connect(srv.url, srv.credentials) as client, anyio.create_task_group() as tg:
        for n in range(8):
            tg.start_soon(worker, n)
    assert wrong == []


async def test_a_coroutine_provider_refreshes_an_expired_key(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    uid = srv.credentials.user_id
    srv.add_account("abot", "abot-password", user_id=uid)
    calls: list[Credentials] = []

    async def provider() -> Credentials:  # awaited on the client's own event loop
        calls.append(await rest.alogin(srv.rest_url, "abot", "abot-password"))
        return calls[-1]

    creds = await rest.alogin(srv.rest_url, "abot", "abot-password")
    async with connect(srv.url, creds, refresh_credentials=provider,
                       backoff=Backoff(base=0.05, cap=0.2)) as client:
        await client.logon()
        await client.request("join_game", game_id="g-a")
        srv.expire_key(uid)
        srv.close_connections(uid)
        reconnected = await next_of(client, Reconnected)
        assert reconnected.credentials_refreshed and reconnected.rejoined == ("g-a",)
        assert isinstance(await client.ping(), Pong)
    assert len(calls) == 1 and srv.stats.rejected[403] == 1
