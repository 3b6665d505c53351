"""The market mirror against the reference market: a scripted game with two bettors.

After the game (pools created before and after joining, bets of both users, an event that
resolves some pools), ``client.mirror`` must agree field for field with fresh reads of the
same user: balance, my running pools, every distribution; and its own checks must have
found nothing wrong.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import anyio

from instamrkt_proto import Backoff, Credentials, Reconnected, api
from instamrkt_proto.mirror import (
    BetState,
    MarketMirror,
    PoolResolved,
    PoolStatus,
    StaleKey,
    StaleKind,
)
from instamrkt_proto.replay import replay
from instamrkt_transports import anyio as aio
from instamrkt_transports import blocking, threaded
from instamrkt_transports._client import portal
from instamrkt_transports._client.driver import new_mirror
from instamrkt_transports.options import make_options

USERS = {"1000": "admin-key-0123456789", "1001": "mine-key-0123456789",
         "1002": "other-key-0123456789"}


def _admin_game(admin: blocking.BlockingClient) -> str:
    source = admin.call(api.OpenGameSource(source_name="test source"))
    game = admin.call(api.CreateAndOpenGame(source_id=source.source_id or "",
                                            game_name="Reds - Blues",
                                            actions="goal,corner", targets="reds,blues"))
    assert game.game_id is not None
    return game.game_id


def _pool(admin: blocking.BlockingClient, game_id: str, **params: Any) -> str:
    created = admin.call(api.CreateAndOpenBettingPool(game_id=game_id, **params))
    assert created.pool_id is not None
    return created.pool_id


def _resync(client: blocking.BlockingClient) -> None:
    mirror = client.mirror
    assert mirror is not None
    for request in mirror.resync_requests():
        client.call(request)
    assert mirror.stale == frozenset()


def _agrees(client: blocking.BlockingClient, game_id: str) -> MarketMirror:
    """Compare a snapshot taken after a barrier with fresh reads, field for field."""
    mirror = client.mirror
    assert mirror is not None
    client.ping()  # every push sent before this reply has been applied
    snap = mirror.snapshot()
    current = client.call(api.GetMyCurrentBalance())
    available = client.call(api.GetMyAvailableBalance())
    exposure = client.call(api.GetMyExposure())
    assert (snap.balance.current, snap.balance.available, snap.balance.exposure) == (
        current.current_balance, available.available_balance, exposure.exposure)
    running = client.call(api.ListMyRunningPoolsForGame(game_id=game_id))
    mine = {p for p, v in snap.pools.items() if v.my_stakes and not v.status.ended}
    assert {p.pool_id for p in running.pools_list} == mine
    for pool in running.pools_list:
        assert pool.pool_id is not None
        view = snap.pools[pool.pool_id]
        assert dict(view.my_stakes) == dict(pool.user_backed)
        assert view.is_blocked == bool(pool.is_blocked)
        assert view.is_hot == bool(pool.is_hot)
    every = client.call(api.ListAllBettingPoolsForGame(game_id=game_id))
    assert {p.pool_id for p in every.pools_list} == {
        p for p, v in snap.pools.items() if not v.status.ended}
    for pool_id, view in snap.pools.items():
        if view.status.ended:
            continue
        read = client.call(api.GetBettingPoolBetsDistribution(pool_id=pool_id))
        assert dict(view.distribution) == {
            e.target_id: e.backing_money for e in read.distribution}
    return mirror


def _play(server: Any) -> tuple[MarketMirror, dict[str, str]]:
    """The scripted game, checking the mirror against fresh reads after each step."""
    url = server.url
    with blocking.connect(url, server.credentials_for("1000"), timeout=5) as admin, \
            blocking.connect(url, server.credentials_for("1001"), timeout=5,
                             mirror=True) as me, \
            blocking.connect(url, server.credentials_for("1002"), timeout=5) as other:
        for client in (admin, me, other):
            client.logon()
        game_id = _admin_game(admin)
        scorer = _pool(admin, game_id, type=1, action_id="goal", targets="reds,blues",
                       description="Who scores next?")
        blues_score = _pool(admin, game_id, type=3, action_id="goal", targets="blues",
                            description="Will the blues score?")
        me.call(api.JoinGame(game_id=game_id))
        other.call(api.JoinGame(game_id=game_id))
        mirror = me.mirror
        assert mirror is not None and mirror.user_id == "1001"
        assert mirror.resync_requests()  # a game just joined: never read yet
        _resync(me)
        assert set(mirror.pools) == {scorer, blues_score}
        corner = _pool(admin, game_id, type=1, action_id="corner", targets="reds,blues",
                       description="Who wins the next corner?")  # arrives as a 352 push
        me.ping()
        assert corner in mirror.pools and mirror.pools[corner].status is PoolStatus.OPEN

        me.call(api.PlaceBetInBettingPool(pool_id=scorer, target="reds", amount="10"))
        me.call(api.PlaceBetInBettingPool(pool_id=scorer, target="blues", amount="2.50"))
        me.call(api.PlaceBetInBettingPool(pool_id=blues_score, target="yes", amount="5"))
        me.call(api.PlaceBetInBettingPool(pool_id=corner, target="blues", amount="7"))
        other.call(api.PlaceBetInBettingPool(pool_id=scorer, target="blues", amount="20"))
        other.call(api.PlaceBetInBettingPool(pool_id=blues_score, target="no", amount="5"))
        other.call(api.PlaceBetInBettingPool(pool_id=corner, target="reds", amount="3"))
        admin.call(api.SuggestHotBettingPool(pool_id=corner))
        _agrees(me, game_id)
        assert mirror.pools[corner].status is PoolStatus.HOT

        admin.call(api.RegisterGameEvent(game_id=game_id, action_id="goal", target_id="reds"))
        _agrees(me, game_id)
        resolved = mirror.pools[scorer]
        assert resolved.status is PoolStatus.RESOLVED and resolved.winning_target == "reds"
        states = {b.target: b.state for b in mirror.my_bets.values() if b.pool_id == scorer}
        assert states == {"reds": BetState.WON, "blues": BetState.LOST}
        assert mirror.pools[blues_score].status is PoolStatus.OPEN  # a reds goal: not hit

        admin.call(api.BlockBettingInBettingPool(pool_id=blues_score))
        admin.call(api.RegisterGameEvent(game_id=game_id, action_id="corner",
                                         target_id="reds"))
        _agrees(me, game_id)
        assert mirror.pools[blues_score].status is PoolStatus.BLOCKED
        assert mirror.pools[corner].my_payout == Decimal(0)  # my 7 on blues lost
        # 1000, +22.50 won and -2.50 lost in the scorer pool, -7 lost on the corner; 5 at stake.
        assert mirror.balance.current == Decimal("1013")
        assert mirror.balance.exposure == Decimal("5")
        assert mirror.stale == frozenset()
    return mirror, {"scorer": scorer, "corner": corner, "blues_score": blues_score}


def test_mirror_agrees_with_fresh_reads_after_a_scripted_game(instamrkt_server_factory):
    """Balance, my running pools, every open pool's distribution: field for field."""
    _play(instamrkt_server_factory(USERS))


def test_the_mirror_s_payouts_agree_with_the_resolution_pushes(instamrkt_server_factory):
    """The mirror's own arithmetic (docs/mirror.md, "Payouts"): 362's ``winners`` are net
    winnings, so the payout of a pool is stake - lost + won, and the 815s that follow the
    resolutions match the mirror's balance plus those payouts: no ``MirrorMismatch``."""
    mirror, pools = _play(instamrkt_server_factory(USERS))
    # 32.50 in the scorer pool, all of it to my 10 on reds: paid back 32.50 (net 22.50
    # won, 2.50 lost on blues).
    assert mirror.pools[pools["scorer"]].my_payout == Decimal("32.50")
    assert mirror.metrics.mismatches == 0


def test_every_client_applies_a_push_before_the_application_sees_it(instamrkt_server_factory):
    """The mirror is current when the application receives an event, on all three."""
    server = instamrkt_server_factory(USERS)
    creds = server.credentials_for("1001")
    with blocking.connect(server.url, server.credentials_for("1000"), timeout=5) as admin:
        admin.logon()
        game_id = _admin_game(admin)
        pools = [_pool(admin, game_id, type=1, action_id="goal", targets="reds,blues")
                 for _ in range(3)]

    def seen(mirror: MarketMirror | None, event: object) -> bool:
        assert mirror is not None
        return isinstance(event, api.BalanceUpdate) and mirror.balance.available == \
            event.available_balance

    with blocking.connect(server.url, creds, timeout=5, mirror=True) as client:
        client.logon()
        client.call(api.PlaceBetInBettingPool(pool_id=pools[0], target="reds", amount="1"))
        event = client.next_event(timeout=5)
        while not isinstance(event, api.BalanceUpdate):
            event = client.next_event(timeout=5)
        assert seen(client.mirror, event)
        assert client.mirror is not None and pools[0] in {
            b.pool_id for b in client.mirror.my_bets.values()}

    checks: list[bool] = []
    done = threading.Event()

    def on_event(event: object) -> None:
        if isinstance(event, api.BalanceUpdate):
            checks.append(seen(tclient.mirror, event))
            done.set()

    with threaded.connect(server.url, creds, timeout=5, mirror=True,
                          on_event=on_event) as tclient:
        tclient.logon()
        tclient.call(api.PlaceBetInBettingPool(pool_id=pools[1], target="reds", amount="1"))
        assert done.wait(5)
        assert checks == [True]
        assert tclient.mirror is not None
        snap = tclient.mirror.snapshot()  # from this thread, while the reader runs
        assert snap.balance == tclient.mirror.balance

    async def main() -> None:
        async with aio.connect(server.url, creds, timeout=5, mirror=True) as client:
            await client.logon()
            await client.call(api.PlaceBetInBettingPool(pool_id=pools[2], target="reds",
                                                        amount="1"))
            async for event in client.events():
                if isinstance(event, api.BalanceUpdate):
                    assert seen(client.mirror, event)
                    break

    anyio.run(main)

    # The anyio client driven from synchronous code (the command line's way) shows it too.
    with portal.connect(server.url, creds, backend="asyncio", timeout=5,
                        mirror=True) as pclient:
        pclient.logon()
        assert pclient.mirror is not None
        assert pclient.mirror is pclient._client.mirror
        assert pclient.mirror.metrics.events > 0

    with blocking.connect(server.url, creds, timeout=5) as plain:
        assert plain.mirror is None


def test_the_option_makes_a_mirror_whose_me_is_the_credentials_user() -> None:
    mirror = new_mirror(Credentials(user_id=17, session_key="k"), make_options({"mirror": True}))
    assert mirror is not None and mirror.user_id == "17"
    assert new_mirror(Credentials(user_id=17, session_key="k"), make_options({})) is None


def test_a_reconnect_makes_the_mirror_stale_until_its_reads_are_done(instamrkt_server_factory):
    """A real gap: the server drops the connection and another user's bet lands meanwhile
    (its 361 is lost): the mirror must stop vouching for what it held until it is read."""
    server = instamrkt_server_factory(USERS)
    with blocking.connect(server.url, server.credentials_for("1000"), timeout=5) as admin, \
            blocking.connect(server.url, server.credentials_for("1001"), timeout=5,
                             mirror=True, backoff=Backoff(base=0.05, cap=0.1)) as me, \
            blocking.connect(server.url, server.credentials_for("1002"), timeout=5) as other:
        for client in (admin, me, other):
            client.logon()
        game_id = _admin_game(admin)
        pool = _pool(admin, game_id, type=1, action_id="goal", targets="reds,blues")
        me.call(api.JoinGame(game_id=game_id))
        _resync(me)
        me.call(api.PlaceBetInBettingPool(pool_id=pool, target="reds", amount="4"))
        mirror = me.mirror
        assert mirror is not None
        server.close_connections("1001")
        other.call(api.PlaceBetInBettingPool(pool_id=pool, target="blues", amount="6"))
        event = me.next_event(timeout=5)
        while not isinstance(event, Reconnected):
            assert event is not None, "no Reconnected"
            event = me.next_event(timeout=5)
        assert StaleKey(StaleKind.BALANCE) in mirror.stale and mirror.is_stale(pool)
        reads = set(mirror.resync_requests())
        assert {api.GetMyCurrentBalance(currency="DON"),
                api.ListAllBettingPoolsForGame(game_id=game_id)} <= reads
        _resync(me)
        assert dict(mirror.pools[pool].distribution) == {"reds": Decimal(4),
                                                         "blues": Decimal(6),
                                                         "none": Decimal(0)}
        _agrees(me, game_id)


def test_a_recorded_session_replays_into_the_same_mirror(instamrkt_server_factory, tmp_path):
    """The mirror is a pure fold: the events a recording replays give the live mirror."""
    server = instamrkt_server_factory(USERS)
    path = tmp_path / "session.jsonl"
    with blocking.connect(server.url, server.credentials_for("1000"), timeout=5) as admin, \
            blocking.connect(server.url, server.credentials_for("1001"), timeout=5,
                             mirror=True, record=str(path)) as me:
        admin.logon()
        me.logon()
        game_id = _admin_game(admin)
        pool = _pool(admin, game_id, type=1, action_id="goal", targets="reds,blues")
        me.call(api.JoinGame(game_id=game_id))
        _resync(me)
        me.call(api.PlaceBetInBettingPool(pool_id=pool, target="reds", amount="3"))
        admin.call(api.RegisterGameEvent(game_id=game_id, action_id="goal", target_id="reds"))
        me.ping()
        assert me.mirror is not None
        live = me.mirror.snapshot()
    replayed = MarketMirror("1001")
    events = list(replay(path))
    for event in events:
        replayed.apply(event)
    assert replayed.snapshot() == live
    # The same, built in: replay(mirror=True) folds a mirror of the recorded user.
    steps = list(replay(path, mirror=True))
    assert [repr(step.event) for step in steps] == [repr(e) for e in events]  # errors: by text
    assert len({id(step.mirror) for step in steps}) == 1
    assert steps[-1].mirror.user_id == "1001"
    assert steps[-1].mirror.snapshot() == live
    resolved = [c for step in steps for c in step.changes if isinstance(c, PoolResolved)]
    assert [c.pool_id for c in resolved] == [pool]
    assert live.pools[pool].status is PoolStatus.RESOLVED


def test_the_mirror_adds_no_thread_and_no_task(instamrkt_server_factory):
    """``mirror=True`` is applied in the code path that already handles each event: the
    threads and tasks a client starts are the same with and without it."""
    server = instamrkt_server_factory(USERS)
    creds = server.credentials_for("1001")

    def threads_started(connect: Any, mirror: bool) -> int:
        before = set(threading.enumerate())
        with connect(server.url, creds, timeout=5, mirror=mirror) as client:
            client.logon()
            client.ping()
            return len(set(threading.enumerate()) - before)

    for connect in (blocking.connect, threaded.connect):
        started = threads_started(connect, True)
        assert started == threads_started(connect, False), (connect, started)

    async def tasks_started(mirror: bool) -> int:
        import asyncio

        before = asyncio.all_tasks()
        async with aio.connect(server.url, creds, timeout=5, mirror=mirror) as client:
            await client.logon()
            await client.ping()
            return len(asyncio.all_tasks() - before)

    async def main() -> None:
        assert await tasks_started(True) == await tasks_started(False)

    anyio.run(main)
