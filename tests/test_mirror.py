"""The market mirror's rules, one case each (docs/mirror.md), on events decoded by the core
from the wire, as a client hands them over."""

from __future__ import annotations

import sys
import threading
from decimal import Decimal
from typing import Any

import orjson
import pytest

from instamrkt_proto import (
    ClientConfig,
    ClientConnection,
    Credentials,
    LateReply,
    PushesDropped,
    Reconnected,
    api,
)
from instamrkt_proto.mirror import (
    BalanceChanged,
    BetState,
    DistributionChanged,
    Ignored,
    MarkedStale,
    MarketMirror,
    MirrorMismatch,
    PoolAdded,
    PoolRemoved,
    PoolResolved,
    PoolStatus,
    Resynced,
    StaleKey,
    StaleKind,
    resolved_payout,
)

ME = "7"
GAME = "g-1"


def connection() -> ClientConnection:
    conn = ClientConnection("ws://mirror.test", Credentials(ME, "key"),
                            wall_clock=lambda: 1_700_000_000_000, random=lambda: 0.5,
                            config=ClientConfig(keepalive_interval=None))
    conn.connect(0.0)
    conn.connection_made(0.0)
    conn.events_received()
    return conn


CONN = connection()


def push(res: int, **fields: Any) -> Any:
    """A push as the core decodes it from the wire."""
    CONN.receive_message(orjson.dumps({"response_header": {"t": 1}, "res": res, **fields}),
                         1.0)
    (event,) = CONN.events_received()
    return event


def reply(request: api.Request[Any], res: int, **fields: Any) -> Any:
    """The reply to ``request`` as the core decodes it."""
    CONN.send_request(request.OP, request.params(), now=1.0)
    CONN.data_to_send()
    CONN.receive_message(orjson.dumps({"response_header": {"t": 1}, "res": res, **fields}),
                         1.0)
    (event,) = CONN.events_received()
    return event


def dist(**money: Any) -> list[dict[str, Any]]:
    return [{"target_id": t, "backing_money": m} for t, m in money.items()]


def pool_image(pool_id: str, **extra: Any) -> dict[str, Any]:
    fields = {"pool_id": pool_id, "game_id": GAME, "type": 1, "is_blocked": False,
              "is_hot": False, "distribution": dist(reds=0, blues=0)}
    fields.update(extra)
    return fields


def fresh(*, balance: tuple[str, str] = ("100", "100")) -> MarketMirror:
    """A mirror that joined GAME, read everything, holds pool p-1 and its balance."""
    mirror = MarketMirror(ME)
    mirror.apply(reply(api.JoinGame(game_id=GAME), 333, game_id=GAME))
    mirror.apply(reply(api.GetGameDetails(game_id=GAME), 342, game_id=GAME,
                       status="game_in_progress_betting_active"))
    mirror.apply(reply(api.ListAllBettingPoolsForGame(game_id=GAME), 3535, game_id=GAME,
                       pools_list=[pool_image("p-1", user_backed={})]))
    mirror.apply(reply(api.ListMyRunningPoolsForGame(game_id=GAME), 354, game_id=GAME,
                       pools_list=[]))
    mirror.apply(push(815, current_balance=balance[0], available_balance=balance[1],
                      currency="DON"))
    assert mirror.stale == frozenset()
    return mirror


def bet(mirror: MarketMirror, pool: str, target: str, amount: str, bet_id: str) -> None:
    mirror.apply(reply(api.PlaceBetInBettingPool(pool_id=pool, target=target, amount=amount),
                       356, pool_id=pool, bet_id=bet_id, target=target, amount=amount))


def test_a_fresh_mirror_knows_nothing_and_says_what_to_read() -> None:
    mirror = MarketMirror(ME)
    assert mirror.balance.current is None and mirror.balance.exposure is None
    assert mirror.stale == {StaleKey(StaleKind.BALANCE)}
    assert mirror.resync_requests() == (api.GetMyCurrentBalance(),
                                        api.GetMyAvailableBalance())
    mirror.apply(reply(api.GetMyCurrentBalance(), 800, current_balance="50", currency="DON"))
    assert mirror.balance.exposure is None  # available unknown: exposure is not derived
    assert mirror.resync_requests() == (api.GetMyAvailableBalance(currency="DON"),)
    changes = mirror.apply(reply(api.GetMyAvailableBalance(), 810, available_balance="45",
                                 currency="DON"))
    assert mirror.balance.exposure == Decimal(5)
    assert Resynced(keys=frozenset({StaleKey(StaleKind.BALANCE)})) in changes


def test_joining_a_game_asks_for_its_reads() -> None:
    mirror = MarketMirror(ME)
    changes = mirror.apply(reply(api.JoinGame(game_id=GAME), 333, game_id=GAME))
    assert any(isinstance(c, MarkedStale) for c in changes)
    assert set(mirror.resync_requests()) >= {
        api.GetGameDetails(game_id=GAME), api.ListAllBettingPoolsForGame(game_id=GAME),
        api.ListMyRunningPoolsForGame(game_id=GAME)}


def test_a_push_for_an_unknown_pool_creates_nothing() -> None:
    mirror = fresh()
    changes = mirror.apply(push(361, pool_id="p-9", distribution=dist(reds=5)))
    assert changes == (Ignored(res=361, reason="unknown pool"),)
    assert "p-9" not in mirror.pools
    assert mirror.metrics.ignored == 1


def test_my_bet_counts_once_whether_its_push_or_its_reply_comes_first() -> None:
    for push_first in (True, False):
        mirror = fresh()
        bet_push = push(361, pool_id="p-1", distribution=dist(reds=3, blues=0),
                        new_bets=[{"bet_id": "b-1", "user_id": int(ME), "amount": 3,
                                   "target": "reds"}])
        if push_first:
            mirror.apply(bet_push)
        bet(mirror, "p-1", "reds", "3", "b-1")
        if not push_first:
            mirror.apply(bet_push)
        pool = mirror.pools["p-1"]
        assert dict(pool.my_stakes) == {"reds": Decimal(3)}
        assert pool.my_bets == ("b-1",)
        assert dict(pool.distribution) == {"reds": Decimal(3), "blues": Decimal(0)}


def test_me_is_learnt_from_my_bet_reply_and_its_push() -> None:
    mirror = MarketMirror()
    mirror.apply(reply(api.ListAllBettingPoolsForGame(game_id=GAME), 3535, game_id=GAME,
                       pools_list=[pool_image("p-1")]))
    bet(mirror, "p-1", "reds", "3", "b-1")
    mirror.apply(push(361, pool_id="p-1", distribution=dist(reds=3),
                      new_bets=[{"bet_id": "b-1", "user_id": 7, "amount": 3,
                                 "target": "reds"}]))
    assert mirror.user_id == ME


def test_a_pool_recreated_under_the_same_id_starts_afresh() -> None:
    mirror = fresh()
    bet(mirror, "p-1", "reds", "10", "b-1")
    mirror.apply(push(362, pool_id="p-1", game_id=GAME, winning_target="blues",
                      winners={}, losers={ME: 10}, is_money_return=False))
    assert mirror.pools["p-1"].status is PoolStatus.RESOLVED  # kept: a bet of mine
    changes = mirror.apply(push(352, **pool_image("p-1")))
    assert isinstance(changes[0], PoolAdded)
    pool = mirror.pools["p-1"]
    assert pool.status is PoolStatus.OPEN and not pool.my_stakes and pool.my_bets == ()
    assert mirror.my_bets["b-1"].state is BetState.LOST


def test_pool_flags_and_status() -> None:
    mirror = fresh()
    mirror.apply(push(367, pool_id="p-1", hot_since=1))
    assert mirror.pools["p-1"].status is PoolStatus.HOT
    mirror.apply(push(368, pool_id="p-1", blocked_at=2))
    assert mirror.pools["p-1"].status is PoolStatus.BLOCKED
    mirror.apply(push(369, pool_id="p-1", allowed_at=3))
    assert mirror.pools["p-1"].status is PoolStatus.HOT


def test_a_winning_pool_pays_stake_plus_net_and_the_balance_push_agrees() -> None:
    mirror = fresh()
    bet(mirror, "p-1", "reds", "10", "b-1")
    bet(mirror, "p-1", "blues", "2.50", "b-2")
    mirror.apply(push(815, current_balance="100", available_balance="87.50",
                      currency="DON"))
    # 20 from someone else on blues: the pool holds 32.50, all of it to my 10 on reds.
    changes = mirror.apply(push(362, pool_id="p-1", game_id=GAME, winning_target="reds",
                                winners={ME: "22.50", "8": 0}, losers={ME: "2.50", "8": 20},
                                is_money_return=False))
    resolved = next(c for c in changes if isinstance(c, PoolResolved))
    assert resolved.my_payout == Decimal("32.50") and resolved.my_stake == Decimal("12.50")
    assert mirror.my_bets["b-1"].state is BetState.WON
    assert mirror.my_bets["b-1"].payout == Decimal("32.50")
    assert mirror.my_bets["b-2"].state is BetState.LOST
    changes = mirror.apply(push(815, current_balance="120", available_balance="120",
                                currency="DON"))
    assert not any(isinstance(c, MirrorMismatch) for c in changes)
    assert mirror.metrics.mismatches == 0


def test_a_balance_push_that_disagrees_is_a_mismatch_and_the_server_wins() -> None:
    mirror = fresh()
    bet(mirror, "p-1", "reds", "10", "b-1")
    mirror.apply(push(815, current_balance="100", available_balance="90", currency="DON"))
    mirror.apply(push(362, pool_id="p-1", game_id=GAME, winning_target="reds",
                      winners={ME: "5"}, losers={}, is_money_return=False))
    changes = mirror.apply(push(815, current_balance="104", available_balance="104",
                                currency="DON"))
    assert MirrorMismatch(subject="current_balance", pool_id="p-1", expected=Decimal(105),
                          actual=Decimal(104)) in changes
    assert mirror.metrics.mismatches == 2  # current and available
    assert mirror.balance.current == Decimal(104)
    assert any(isinstance(c, BalanceChanged) for c in changes)


def test_a_loss_that_disagrees_with_my_stakes_is_a_mismatch() -> None:
    mirror = fresh()
    bet(mirror, "p-1", "blues", "4", "b-1")
    changes = mirror.apply(push(362, pool_id="p-1", game_id=GAME, winning_target="reds",
                                winners={}, losers={ME: 6}, is_money_return=False))
    assert MirrorMismatch(subject="lost_stake", pool_id="p-1", expected=Decimal(4),
                          actual=Decimal(6)) in changes


def test_a_money_return_pays_every_stake_back() -> None:
    mirror = fresh()
    bet(mirror, "p-1", "blues", "4", "b-1")
    mirror.apply(push(815, current_balance="100", available_balance="96", currency="DON"))
    changes = mirror.apply(push(363, pool_id="p-1", game_id=GAME, winning_target="none",
                                winners={}, losers={}, is_money_return=True))
    assert mirror.pools["p-1"].status is PoolStatus.EXPIRED
    assert mirror.pools["p-1"].my_payout == Decimal(4)
    assert mirror.my_bets["b-1"].state is BetState.RETURNED
    changes = mirror.apply(push(815, current_balance="100", available_balance="100",
                                currency="DON"))
    assert not any(isinstance(c, MirrorMismatch) for c in changes)


def test_the_payout_rule_is_net_winnings_per_the_docs() -> None:
    assert resolved_payout(Decimal(10), Decimal("22.50"), Decimal(0)) == Decimal("32.50")
    assert resolved_payout(Decimal(10), Decimal(0), Decimal(10)) == Decimal(0)


def test_a_pool_that_ends_without_me_is_forgotten_and_memory_stays_flat() -> None:
    mirror = fresh()
    for n in range(2000):
        pool_id = f"q-{n}"
        mirror.apply(push(352, **pool_image(pool_id)))
        mirror.apply(push(361, pool_id=pool_id, distribution=dist(reds=n, blues=1),
                          new_bets=[{"bet_id": f"x-{n}", "user_id": 8, "amount": 1,
                                     "target": "blues"}]))
        changes = mirror.apply(push(362, pool_id=pool_id, game_id=GAME,
                                    winning_target="reds", winners={}, losers={"8": 1},
                                    is_money_return=False))
        assert PoolRemoved(pool_id=pool_id, cause="ended") in changes
    assert set(mirror.pools) == {"p-1"} and not mirror.my_bets
    late = mirror.apply(push(368, pool_id="q-1999", blocked_at=1))
    assert late == (Ignored(res=368, reason="forgotten pool"),)


def test_a_gap_marks_everything_it_could_have_changed_stale_and_reads_clear_it() -> None:
    mirror = fresh()
    bet(mirror, "p-1", "reds", "3", "b-1")
    changes = mirror.apply(Reconnected(disconnected_at=1.0, reconnected_at=2.0, attempts=1,
                                       relogged_on=True, rejoined=(GAME,)))
    (marked,) = [c for c in changes if isinstance(c, MarkedStale)]
    assert marked.keys == {StaleKey(StaleKind.BALANCE), StaleKey(StaleKind.GAME, GAME),
                           StaleKey(StaleKind.GAME_POOLS, GAME),
                           StaleKey(StaleKind.MY_POOLS, GAME), StaleKey(StaleKind.POOL, "p-1")}
    assert mirror.is_stale("p-1")
    assert mirror.resync_requests() == (
        api.GetMyCurrentBalance(currency="DON"), api.GetMyAvailableBalance(currency="DON"),
        api.GetGameDetails(game_id=GAME), api.ListAllBettingPoolsForGame(game_id=GAME),
        api.ListMyRunningPoolsForGame(game_id=GAME))
    # p-1 resolved during the gap: the open-pools list no longer has it
    mirror.apply(reply(api.ListAllBettingPoolsForGame(game_id=GAME), 3535, game_id=GAME,
                       pools_list=[pool_image("p-2", user_backed={})]))
    assert mirror.is_stale("p-1") and "p-2" in mirror.pools
    assert api.ListMyResolvedPoolsForGame(game_id=GAME) in mirror.resync_requests()
    mirror.apply(reply(api.ListMyResolvedPoolsForGame(game_id=GAME), 355, game_id=GAME,
                       pools_list=[pool_image("p-1", resolved_at=5, winning_target="reds",
                                              user_backed={"reds": 3},
                                              total_winnings="7")]))
    pool = mirror.pools["p-1"]
    assert pool.status is PoolStatus.RESOLVED and pool.my_payout == Decimal(7)
    assert mirror.my_bets["b-1"].state is BetState.SETTLED  # per bet: not said
    for request in mirror.resync_requests():
        if isinstance(request, api.GetGameDetails):
            mirror.apply(reply(request, 342, game_id=GAME))
        elif isinstance(request, api.ListMyRunningPoolsForGame):
            mirror.apply(reply(request, 354, game_id=GAME, pools_list=[]))
        elif isinstance(request, api.GetMyCurrentBalance):
            mirror.apply(reply(request, 800, current_balance="100", currency="DON"))
        elif isinstance(request, api.GetMyAvailableBalance):
            mirror.apply(reply(request, 810, available_balance="97", currency="DON"))
    assert mirror.stale == frozenset()
    assert mirror.balance.exposure == Decimal(3)


def test_dropped_pushes_are_a_gap_too() -> None:
    mirror = fresh()
    mirror.apply(PushesDropped(count=3))
    assert StaleKey(StaleKind.BALANCE) in mirror.stale and mirror.is_stale("p-1")
    assert mirror.metrics.gaps == 1


def test_a_failed_rejoin_leaves_the_game_not_joined() -> None:
    mirror = fresh()
    mirror.apply(Reconnected(disconnected_at=1.0, reconnected_at=2.0, attempts=1,
                             relogged_on=True, rejoin_failed=(GAME,)))
    assert mirror.games[GAME].joined is False


def test_an_undecodable_push_makes_what_it_names_stale() -> None:
    mirror = fresh()
    changes = mirror.apply(push(361, pool_id="p-1", distribution=[{"target_id": "reds",
                                                                    "backing_money": "x"}]))
    assert mirror.is_stale("p-1"), changes
    assert mirror.resync_requests() == (api.ListAllBettingPoolsForGame(game_id=GAME),)
    broken = push(815, current_balance="nope", available_balance="1")
    assert broken.decode_error is not None
    mirror.apply(broken)
    assert StaleKey(StaleKind.BALANCE) in mirror.stale


def test_a_late_bet_reply_is_still_my_bet() -> None:
    mirror = fresh()
    mirror.apply(LateReply(request_id=9, op=392, res=356, fields={
        "pool_id": "p-1", "bet_id": "b-late", "target": "reds", "amount": "2"}))
    assert mirror.my_bets["b-late"].amount == Decimal(2)
    assert dict(mirror.pools["p-1"].my_stakes) == {"reds": Decimal(2)}


def test_a_balance_in_another_currency_is_ignored() -> None:
    mirror = fresh()
    changes = mirror.apply(push(815, current_balance="5", available_balance="5",
                                currency="EUR"))
    assert changes == (Ignored(res=815, reason="balance in EUR"),)
    assert mirror.balance.current == Decimal(100)


def test_distribution_changes_are_reported_with_old_and_new() -> None:
    mirror = fresh()
    changes = mirror.apply(push(361, pool_id="p-1", distribution=dist(reds=4, blues=1)))
    assert changes == (DistributionChanged(
        pool_id="p-1", old={"reds": Decimal(0), "blues": Decimal(0)},
        new={"reds": Decimal(4), "blues": Decimal(1)}),)
    pool = mirror.pools["p-1"]
    assert pool.total == Decimal(5)
    assert pool.implied_payout("blues", Decimal(1)) == Decimal(3)
    assert pool.implied_payout("nobody", Decimal(1)) is None


def test_the_views_handed_out_do_not_change_afterwards() -> None:
    mirror = fresh()
    before = mirror.pools["p-1"]
    snap = mirror.snapshot()
    mirror.apply(push(368, pool_id="p-1", blocked_at=1))
    assert before.status is PoolStatus.OPEN and snap.pools["p-1"].status is PoolStatus.OPEN
    assert mirror.pools["p-1"].status is PoolStatus.BLOCKED


def test_a_snapshot_from_another_thread_is_consistent() -> None:
    """While one thread applies pairs of pushes that keep current = available + exposure
    and a pool's distribution in step with the balance, snapshots never see half a pair."""
    mirror = fresh()
    stop = threading.Event()
    seen: list[bool] = []
    pushes = []
    for n in range(3000):
        pushes.append(push(815, current_balance=str(100 + n), available_balance="50",
                           currency="DON"))
        pushes.append(push(361, pool_id="p-1", distribution=dist(reds=100 + n, blues=0)))
    mirror.apply(pushes[0])
    mirror.apply(pushes[1])

    def reader() -> None:
        while not stop.is_set():
            snap = mirror.snapshot()
            money = snap.pools["p-1"].distribution["reds"]
            current = snap.balance.current
            seen.append(current is not None and money in (current, current - 1))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for event in pushes[2:]:
            mirror.apply(event)
    finally:
        stop.set()
        thread.join(5)
    assert seen and all(seen)


def test_apply_refuses_what_is_not_an_event() -> None:
    with pytest.raises(TypeError, match="takes an Event"):
        MarketMirror().apply({"res": 815})  # type: ignore[arg-type]


def test_a_game_s_details_events_closing_and_leaving() -> None:
    mirror = fresh()
    mirror.apply(reply(api.GetGameDetails(game_id=GAME), 342, game_id=GAME,
                       status="game_in_progress_betting_active", game_state=[
                           {"action_id": "goal", "target_id": "reds", "count": 1},
                           {"action_id": "goal", "target_id": "blues", "count": "x"}]))
    assert dict(mirror.games[GAME].counts["goal"]) == {"reds": 1}
    mirror.apply(push(366, game_id=GAME, action_id="goal", target_id="reds",
                      current_count={"reds": 2, "blues": 0}, happened_at=5))
    game = mirror.games[GAME]
    assert dict(game.counts["goal"]) == {"reds": 2, "blues": 0}
    assert game.last_event.target_id == "reds"
    mirror.apply(push(370, game_id=GAME, action_id="goal", blocked_at=6))
    assert mirror.games[GAME].blocked_actions == {"goal"}
    mirror.apply(push(371, game_id=GAME, action_id="goal", allowed_at=7))
    assert mirror.games[GAME].blocked_actions == frozenset()
    mirror.apply(push(341, game_id=GAME))
    assert mirror.games[GAME].closed
    assert mirror.apply(push(366, game_id="other", action_id="goal", target_id="x")) == (
        Ignored(res=366, reason="unknown game"),)
    bet(mirror, "p-1", "reds", "1", "b-1")
    mirror.apply(reply(api.LeaveGame(game_id=GAME), 334, game_id=GAME))
    assert GAME not in mirror.games and "p-1" not in mirror.pools
    assert "b-1" in mirror.my_bets and mirror.stale == frozenset()


def test_forget_settled_drops_ended_pools_and_their_bets() -> None:
    mirror = fresh()
    bet(mirror, "p-1", "reds", "1", "b-1")
    mirror.apply(push(362, pool_id="p-1", game_id=GAME, winning_target="reds",
                      winners={ME: 0}, losers={}, is_money_return=False))
    assert "p-1" in mirror.pools
    assert mirror.forget_settled() == (PoolRemoved(pool_id="p-1", cause="settled"),)
    assert not mirror.pools and not mirror.my_bets


def test_a_bet_in_a_pool_not_yet_known_counts_when_the_pool_arrives() -> None:
    mirror = fresh()
    bet(mirror, "p-7", "blues", "3", "b-1")
    assert "p-7" not in mirror.pools and mirror.my_bets["b-1"].pool_id == "p-7"
    mirror.apply(push(352, **pool_image("p-7")))
    pool = mirror.pools["p-7"]
    assert pool.my_bets == ("b-1",) and dict(pool.my_stakes) == {"blues": Decimal(3)}


def test_live_pool_views_read_from_another_thread_are_never_half_changed() -> None:
    """Pool list replies alternate between two images of a pool; a view read in another
    thread while they are applied must show one of them whole (its blocked flag, status,
    targets and money agree), and so must the views kept for later reads."""
    mirror = fresh()
    images = [
        pool_image("p-1", is_blocked=False, distribution=dist(reds=5, blues=5)),
        pool_image("p-1", is_blocked=True, distribution=dist(reds=3, blues=3, none=3))]
    replies = [reply(api.ListAllBettingPoolsForGame(game_id=GAME), 3535, game_id=GAME,
                     pools_list=[images[n % 2]]) for n in range(3000)]
    mirror.apply(replies[0])
    stop = threading.Event()
    torn: list[Any] = []

    def whole(view: Any) -> bool:
        blocked = view.is_blocked
        return (view.status is (PoolStatus.BLOCKED if blocked else PoolStatus.OPEN)
                and set(view.distribution) == set(view.targets)
                and len(view.targets) == (3 if blocked else 2)
                and set(view.distribution.values()) == {Decimal(3 if blocked else 5)})

    def reader() -> None:
        while not stop.is_set():
            view = mirror.pools["p-1"]
            if not whole(view):
                torn.append(view)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for event in replies[1:]:
            mirror.apply(event)
            if not whole(mirror.pools["p-1"]):  # a view kept by the reader thread
                torn.append(mirror.pools["p-1"])
    finally:
        stop.set()
        thread.join(5)
        sys.setswitchinterval(switch)
    assert torn == []


def test_records_built_on_the_fast_path_are_the_frozen_attrs_records() -> None:
    """``builder`` fills a record's slots through an unfrozen subclass, then gives it its
    class: what comes out must be the record attrs would build, in every respect."""
    import copy
    import pickle

    import attrs

    from instamrkt_proto._mirror_records import (
        Balance,
        BetChanged,
        BetView,
        PoolStatusChanged,
        PoolView,
        builder,
    )

    bet = BetView(bet_id="b-1", pool_id="p-1", target="x", amount=Decimal(5))
    cases: list[tuple[type, dict[str, Any]]] = [
        (PoolStatusChanged, {"pool_id": "p-1", "old": PoolStatus.OPEN,
                             "new": PoolStatus.RESOLVED}),
        (PoolResolved, {"pool_id": "p-1", "game_id": GAME, "status": PoolStatus.RESOLVED,
                        "winning_target": "x", "my_stake": Decimal(5),
                        "my_payout": Decimal(9)}),
        (BetChanged, {"bet": bet, "cause": "pool ended"}),
        (BetView, attrs.asdict(bet, recurse=False)),
        (Balance, {"current": Decimal(3), "available": Decimal(2), "exposure": Decimal(1),
                   "currency": "DON"}),
        (PoolView, {a.name: getattr(PoolView(pool_id="p-2"), a.name)
                    for a in attrs.fields(PoolView)}),
    ]
    for cls, fields in cases:
        built = builder(cls)(*fields.values())
        expected = cls(**fields)
        assert type(built) is cls and built == expected
        try:
            assert hash(built) == hash(expected)
        except TypeError:  # a view holds mapping proxies, unhashable; so must the copy be
            with pytest.raises(TypeError):
                hash(built)
        assert repr(built) == repr(expected)
        assert copy.copy(built) == expected
        if cls is not PoolView:  # its mapping proxies do not pickle
            assert pickle.loads(pickle.dumps(built)) == expected
        name = next(iter(fields))
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(built, name, None)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            delattr(built, name)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            built.__class__ = type(expected)
        assert getattr(built, name) == fields[name]
    with pytest.raises(TypeError, match="holds more than its fields"):
        builder(StaleKey)  # its hash cache is a slot attrs' __init__ fills


def test_records_are_built_through_their_slots_where_the_class_cannot_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from instamrkt_proto import _mirror_records
    from instamrkt_proto._mirror_records import PoolStatusChanged

    def refused(cls: type, names: list[str]) -> Any:
        raise TypeError("__class__ assignment: object layout differs")

    monkeypatch.setattr(_mirror_records, "_twin_builder", refused)
    build = _mirror_records.builder(PoolStatusChanged)
    built = build("p-1", PoolStatus.OPEN, PoolStatus.HOT)
    assert type(built) is PoolStatusChanged
    assert built == PoolStatusChanged(pool_id="p-1", old=PoolStatus.OPEN, new=PoolStatus.HOT)
