"""The reference market driven directly (no I/O): documented semantics, errors and money.

The property test drives random sequences of typed calls from several users against one
market with an injected clock and checks the money invariants after every step.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from market_helpers import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    T0,
    Clock,
    bet,
    check_money,
    pool,
    setup_game,
)

from instamrkt_proto import api
from instamrkt_proto._table import OPS


def test_parimutuel_event_pool_pays_winners_pro_rata_with_remainder_to_house() -> None:
    market, d, game = setup_game()
    p = pool(d, game)
    bet(d, ALICE, p, "bra", "10")
    bet(d, CAROL, p, "bra", "20")
    bet(d, BOB, p, "arg", "3.33")
    assert market.exposure[BOB] == Decimal("3.33")
    res, fields, pushes = d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id="goal",
                                                             target_id="bra:neymar"))
    assert res == 366 and fields["current_count"] == {"bra:neymar": 1}
    resolved = [p for p in pushes if p.res == 362]
    assert len(resolved) == 1
    fields362 = resolved[0].fields
    assert fields362["winning_target"] == "bra" and fields362["is_money_return"] is False
    # 33.33 shared 10:20 -> 11.11 and 22.22 (in cents, rounded down); 0 cents left over.
    # ``winners`` are net winnings, as in the docs' example: 11.11 - 10 and 22.22 - 20.
    assert fields362["winners"] == {ALICE: "1.11", CAROL: "2.22"}
    assert fields362["losers"] == {BOB: "3.33"}
    assert {p.to.key for p in pushes if p.res == 815} == {ALICE, BOB, CAROL}
    assert market.available[ALICE] == Decimal("101.11")
    assert market.exposure[BOB] == 0 and market.available[BOB] == Decimal("96.67")
    assert market.house == 0
    check_money(market)


def test_rounding_remainder_goes_to_the_house() -> None:
    market, d, game = setup_game()
    p = pool(d, game)
    for user in (ALICE, BOB, CAROL):
        bet(d, user, p, "arg", "1")
    bet(d, ADMIN, p, "bra", "1")
    d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id="goal", target_id="arg"))
    # 4.00 shared three ways: 1.33 each, 0.01 to the house.
    assert market.available[ALICE] == Decimal("100.33")
    assert market.house == Decimal("0.01")
    check_money(market)


def test_nobody_on_the_winner_returns_stakes_and_late_bets_are_invalidated() -> None:
    clock = Clock()
    market, d, game = setup_game(clock)
    p = pool(d, game)
    bet(d, ALICE, p, "arg", "5")
    clock.now += 1000
    bet(d, BOB, p, "bra", "7")
    _res, _f, pushes = d.raw(ADMIN, api.RegisterGameEvent(
        game_id=game, action_id="goal", target_id="bra", happened_at=T0 + 500))
    (resolved,) = [o.fields for o in pushes if o.res == 362]
    assert resolved["is_money_return"] is True and resolved["invalidated_bettors"] == [BOB]
    assert market.available[ALICE] == market.available[BOB] == 100
    check_money(market)


def test_binary_pools_and_time_expiry() -> None:
    clock = Clock()
    market, d, game = setup_game(clock)
    yes_pool = pool(d, game, 3, targets=["bra"])
    timed = pool(d, game, 4, finish_at=T0 + 60_000, action_id="corner")
    pari_timed = pool(d, game, 2, finish_at=T0 + 30_000, action_id="corner")
    bet(d, ALICE, yes_pool, "yes", "10")
    bet(d, BOB, yes_pool, "no", "30")
    bet(d, ALICE, timed, "yes", "4")
    bet(d, BOB, timed, "no", "6")
    bet(d, CAROL, pari_timed, "arg", "9")
    assert d.error(ALICE, api.PlaceBetInBettingPool(pool_id=yes_pool, target="bra",
                                                    amount=1)).endswith("['yes', 'no']")
    _r, _f, pushes = d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id="goal",
                                                        target_id="arg"))
    assert not [o for o in pushes if o.res == 362]  # the binary pool is about "bra"
    clock.now += 30_000
    expired = market.tick()
    assert [o.res for o in expired] == [363, 815]
    assert expired[0].fields["winning_target"] == "none"
    assert expired[0].fields["is_money_return"] is True and market.available[CAROL] == 100
    _r, _f, pushes = d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id="goal",
                                                        target_id="bra:neymar"))
    (resolved,) = [o.fields for o in pushes if o.res == 362]
    assert resolved["pool_id"] == yes_pool and resolved["winners"] == {ALICE: 30}
    clock.now += 30_000
    (expiry, *_balances) = market.tick()
    assert expiry.res == 363 and expiry.fields["winning_target"] == "no"
    assert expiry.fields["winners"] == {BOB: 4}
    assert market.available[ALICE] == Decimal(126) and market.available[BOB] == Decimal(74)
    check_money(market)


def test_errors_roles_and_blocking() -> None:
    market, d, game = setup_game()
    p = pool(d, game)
    assert "not authorized" in d.error(ALICE, api.CreateAndOpenBettingPool(
        game_id=game, targets=["arg", "bra"], action_id="goal"))
    assert "not authorized" in d.error(ALICE, api.CloseGameSource(source_id="source-1"))
    assert "not authorized" in d.error(ALICE, api.RegisterGameEvent(
        game_id=game, action_id="goal", target_id="arg"))
    assert "unknown game" in d.error(ADMIN, api.CloseGame(game_id="nope"))
    assert "unknown betting pool" in d.error(ADMIN, api.GetBettingPoolBetsDistribution(
        pool_id="nope"))
    assert "'game_name' is required" in d.market.handle(ADMIN, 370, {"source_id": "source-1"},
                                                        set())[1]["text"]
    assert "more than two decimals" in d.error(ALICE, api.PlaceBetInBettingPool(
        pool_id=p, target="arg", amount="0.001"))
    assert d.error(ALICE, api.PlaceBetInBettingPool(pool_id=p, target="arg",
                                                    amount=101)) == "insufficient funds"
    res, fields, pushes = d.raw(ADMIN, api.BlockBettingInBettingPool(pool_id=p))
    assert res == 368 and [o.res for o in pushes] == [368]
    assert "blocked" in d.error(ALICE, api.PlaceBetInBettingPool(pool_id=p, target="arg",
                                                                 amount=1))
    assert d.raw(ADMIN, api.AllowBettingInBettingPool(pool_id=p))[0] == 369
    bet(d, ALICE, p, "arg", "1")
    res, fields, pushes = d.raw(ADMIN, api.BlockBettingForGameAndAction(game_id=game,
                                                                        action_id="goal"))
    assert res == 370 and [o.res for o in pushes] == [370, 368]
    assert d.raw(ADMIN, api.AllowBettingForGameAndAction(game_id=game,
                                                         action_id="goal"))[0] == 371
    assert d.raw(ALICE, api.BecomeAnAdminForGame(game_id=game))[0] == 645
    res, fields, pushes = d.raw(ADMIN, api.AppointAdminForGameByUsername(game_id=game,
                                                                         username="alice"))
    assert fields == {"game_id": game, "username": "alice"}
    assert res == 617 and pushes[0].res == 640 and pushes[0].to.key == ALICE
    assert d.raw(ALICE, api.SuggestHotBettingPool(pool_id=p))[0] == 367
    res, _fields, pushes = d.raw(ALICE, api.CloseGame(game_id=game))
    assert res == 341 and [o.res for o in pushes] == [362, 815, 341]
    assert "resolved" in d.error(ALICE, api.PlaceBetInBettingPool(pool_id=p, target="arg",
                                                                  amount=1))
    check_money(market)


def test_every_op_of_the_table_has_a_handler() -> None:
    market, _d, _game = setup_game()
    for spec in OPS:
        if spec.op in (1, 2, 100):  # the protocol core answers these
            continue
        res, fields, _ = market.handle(ALICE, spec.op, {}, set())
        assert res == 666 or res in spec.replies, (spec.name, res, fields)
        assert "not implemented" not in str(fields.get("text")), spec.name


def test_leaderboards_and_friends() -> None:
    _market, d, game = setup_game()
    p = pool(d, game)
    bet(d, ALICE, p, "arg", "10")
    bet(d, BOB, p, "bra", "10")
    res, fields, _ = d.raw(CAROL, api.GetMyFriendsPredictionsForPool(pool_id=p))
    assert res == 460 and [x["username"] for x in fields["predictions"]] == ["alice", "bob"]
    d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id="goal", target_id="arg"))
    res, fields, _ = d.raw(BOB, api.GetLeaderboardForGame(game_id=game))
    assert res == 451 and fields["leaderboard"] == [
        {"username": "alice", "points": 10, "rank": 1},
        {"username": "bob", "points": -10, "rank": 2}]
    res, fields, _ = d.raw(BOB, api.GetUserTailoredLeaderboard(top_count=1, bottom_count=0,
                                                               surrounding_count=0))
    assert [e["rank"] for e in fields["leaderboard"]] == [1, 2]
    res, fields, _ = d.raw(BOB, api.GetMyFriendsPredictionsForGame(game_id=game))
    assert [x["bet_id"] for x in fields["predictions"]["resolved"]] == ["bet-1"]
    res, fields, _ = d.raw(ALICE, api.ListMyResolvedPoolsForGame(game_id=game))
    assert res == 355 and fields["pools_list"][0]["total_winnings"] == 20


# -- property: money adds up whatever the calls ---------------------------------------------

USERS = (ALICE, BOB, CAROL)
step = st.one_of(
    st.tuples(st.just("bet"), st.sampled_from(USERS), st.integers(0, 3),
              st.sampled_from(["arg", "bra", "yes", "no", "none"]),
              st.decimals(min_value=Decimal("0.01"), max_value=Decimal("60"), places=2)),
    st.tuples(st.just("event"), st.sampled_from(["goal", "corner"]),
              st.sampled_from(["arg", "bra", "bra:neymar"])),
    st.tuples(st.just("time"), st.integers(1, 40_000)),
    st.tuples(st.just("pool"), st.integers(1, 4)),
    st.tuples(st.just("block"), st.integers(0, 3)),
    st.tuples(st.just("close"),),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=40))
def test_money_is_conserved_whatever_the_calls(steps: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    market, d, game = setup_game(clock)
    pools = [pool(d, game, kind, finish_at=T0 + 20_000 * kind) if kind in (2, 4)
             else pool(d, game, kind) for kind in (1, 2, 3, 4)]
    for item in steps:
        kind = item[0]
        if kind == "bet":
            _k, user, index, target, amount = item
            d.raw(user, api.PlaceBetInBettingPool(pool_id=pools[index % len(pools)],
                                                  target=target, amount=amount))
        elif kind == "event":
            d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id=item[1],
                                               target_id=item[2]))
        elif kind == "time":
            clock.now += item[1]
            market.tick()
        elif kind == "pool":
            res, fields, _ = d.raw(ADMIN, api.CreateAndOpenBettingPool(
                game_id=game, type=item[1], action_id="goal", targets=["arg", "bra"],
                finish_at=clock.now + 10_000 if item[1] in (2, 4) else None))
            if res == 350:
                pools.append(fields["pool_id"])
        elif kind == "block":
            d.raw(ADMIN, api.BlockBettingInBettingPool(pool_id=pools[item[1] % len(pools)]))
        else:
            d.raw(ADMIN, api.CloseGame(game_id=game))
        check_money(market)
    res, _f, _p = d.raw(ADMIN, api.CloseGame(game_id=game))
    check_money(market)
    if res == 341:  # closing resolves everything: nothing stays exposed
        assert all(v == 0 for v in market.exposure.values())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([ALICE, BOB, CAROL]),
                          st.sampled_from(["arg", "bra", "none", "bra:neymar"]),
                          st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9"),
                                      places=2)), max_size=40))
def test_a_pools_distribution_is_its_bets_summed_after_every_bet(
        bets: list[tuple[str, str, Decimal]]) -> None:
    """The market keeps each pool's money and backers as running sums (a bet and its 361
    cost the targets, not the bets): after every bet, the 361, the distribution read (393)
    and the pool list (387) must say what summing the accepted bets says, to the cent; a
    pool opened again when it resolves starts empty."""
    _market, d, game = setup_game()
    p = pool(d, game, recreate_on_end=True)
    accepted: list[tuple[str, str, Decimal]] = []

    def summed() -> dict[str, tuple[Decimal, int, str | None]]:
        total = sum((a for _u, _t, a in accepted), Decimal(0))
        out = {}
        for target in {t for _u, t, _a in accepted}:
            money = sum((a for _u, t, a in accepted if t == target), Decimal(0))
            people = len({u for u, t, _a in accepted if t == target})
            out[target] = (money, people, format((total / money).quantize(Decimal("0.01")),
                                                 "f"))
        return out

    def shown(entries: list[dict[str, Any]]) -> dict[str, tuple[Decimal, int, str | None]]:
        return {e["target_id"]: (Decimal(str(e["backing_money"])), e["backing_people"],
                                 e.get("to_win_if_backed"))
                for e in entries if e["backing_money"] or e["backing_people"]}

    for user, target, amount in bets:
        res, fields, pushes = d.raw(user, api.PlaceBetInBettingPool(pool_id=p, target=target,
                                                                    amount=amount))
        if res != 356:
            assert res == 666 and not pushes
            continue
        accepted.append((user, target, amount))
        [pushed] = [out.fields for out in pushes if out.res == 361]
        assert shown(pushed["distribution"]) == summed()
        assert pushed["new_bets"][0]["target"] == target
    res, fields, _ = d.raw(ADMIN, api.GetBettingPoolBetsDistribution(pool_id=p))
    assert res == 360 and shown(fields["distribution"]) == summed()
    assert sorted(Decimal(str(b["amount"])) for e in fields["distribution"]
                  for b in e["bets"]) == sorted(a for _u, _t, a in accepted)
    res, fields, _ = d.raw(ADMIN, api.ListAllBettingPoolsForGame(game_id=game))
    [listed] = fields["pools_list"]
    assert Decimal(str(listed["amount_total"])) == sum((a for _u, _t, a in accepted),
                                                       Decimal(0))
    assert listed["participants"] == len({u for u, _t, _a in accepted})
    res, fields, pushes = d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id="goal",
                                                             target_id="arg"))
    [again] = [out.fields for out in pushes if out.res == 352]
    assert again["pool_id"] != p and shown(again["distribution"]) == {}
    assert again["amount_total"] == 0 and again["participants"] == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=2)
                | st.decimals(min_value=-10**6, max_value=10**6, places=0)
                | st.integers(-10**6, 10**6).map(lambda n: Decimal(n).quantize(Decimal("0.01"))),
                max_size=30))
def test_money_is_written_alike_whatever_was_written_before(amounts: list[Decimal]) -> None:
    """Whole amounts are remembered once written (every bet writes several): 5, 5.00 and
    5.0 must still read 5, and 12.5 and 12.50 keep their own text."""
    from instamrkt_transports.market.ledger import money

    amounts += [a.normalize() for a in amounts]  # 12.50 -> 12.5, 100 -> 1E+2
    for amount in amounts + amounts[::-1]:
        expected = int(amount) if amount == int(amount) else format(amount, "f")
        got = money(amount)
        assert got == expected and type(got) is type(expected), (amount, got)
