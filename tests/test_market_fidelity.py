"""The reference market follows the public docs where it used to depart from them silently.

Each test names the rule of ``docs/market.md`` it holds the market to: unknown pools are
errors (no made-up pools), a recreated pool is a fresh pool, future times take effect at
their time, every parimutuel pool has ``none``, 362 reports net winnings, unknown sources
are errors, and history stays bounded.
"""

from __future__ import annotations

from typing import Any

import pytest
from market_helpers import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    T0,
    Clock,
    Driver,
    bet,
    check_money,
    pool,
    setup_game,
)

from instamrkt_proto import api
from instamrkt_transports.rehearsal import Market


def reads(d: Any, user: str, game: str) -> dict[str, dict[str, Any]]:
    """Every unresolved pool of ``game`` as ``user`` reads it (387), by pool id."""
    res, fields, _ = d.raw(user, api.ListAllBettingPoolsForGame(game_id=game))
    assert res == 3535
    return {p["pool_id"]: p for p in fields["pools_list"]}


# -- 1. an unknown pool is an error, and nothing is charged ---------------------------------

def test_a_bet_into_an_unknown_pool_is_a_666_and_charges_nothing() -> None:
    market, d, _game = setup_game()
    text = d.error(ALICE, api.PlaceBetInBettingPool(pool_id="nope", target="arg", amount=5))
    assert "unknown betting pool 'nope'" in text and "nothing charged" in text
    assert market.available[ALICE] == 100 and market.exposure.get(ALICE, 0) == 0
    assert "nope" not in market.pools and not market.bets


def test_a_pool_opened_later_never_overwrites_bets() -> None:
    market, d, game = setup_game()
    first = pool(d, game)
    bet(d, ALICE, first, "arg", "3")
    upcoming = f"pool-{int(first.split('-')[1]) + 1}"  # the id the next pool will get
    d.error(BOB, api.PlaceBetInBettingPool(pool_id=upcoming, target="arg", amount=5))
    assert pool(d, game) == upcoming
    assert market.pools[upcoming].bets == [] and market.exposure.get(BOB, 0) == 0
    assert [b.bet_id for b in market.pools[first].bets] == ["bet-1"]
    check_money(market)


# -- 2. a recreated pool gets fresh times and no single-pool block --------------------------

def test_a_recreated_pool_shifts_its_times_and_drops_a_single_pool_block() -> None:
    clock = Clock()
    market, d, game = setup_game(clock)
    p = pool(d, game, 2, finish_at=T0 + 60_000, stop_accepting_bets_at=T0 + 50_000,
             recreate_on_end=True)
    assert d.raw(ADMIN, api.BlockBettingInBettingPool(pool_id=p))[0] == 368
    clock.now = T0 + 70_000  # expired: recreated at T0 + 60 s (resolved when the tick ran)
    pushes = market.tick()
    assert [o.res for o in pushes][:2] == [363, 352]
    (again,) = [q for q in market.pools.values() if q.resolved_at is None]
    shift = clock.now - T0
    assert (again.start_at, again.finish_at, again.stop_accepting_bets_at) == (
        T0 + shift, T0 + 60_000 + shift, T0 + 50_000 + shift)
    assert again.blocked is False
    bet(d, ALICE, again.pool_id, "arg", "1")  # born accepting bets


def test_a_recreated_pool_keeps_an_action_block() -> None:
    market, d, game = setup_game()
    p = pool(d, game, recreate_on_end=True)
    assert d.raw(ADMIN, api.BlockBettingForGameAndAction(game_id=game, action_id="goal"))[0] \
        == 370
    d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id="goal", target_id="arg"))
    (again,) = [q for q in market.pools.values() if q.resolved_at is None]
    assert again.pool_id != p and again.blocked is True


# -- 3. future times take effect at their time ----------------------------------------------

def test_a_hot_suggestion_with_a_future_time_happens_at_that_time() -> None:
    clock = Clock()
    market, d, game = setup_game(clock)
    p = pool(d, game)
    res, fields, pushes = d.raw(ADMIN, api.SuggestHotBettingPool(
        pool_id=p, likely_to_happen_at=T0 + 5_000))
    assert (res, fields) == (367, {"pool_id": p, "hot_since": T0 + 5_000})
    assert not pushes and reads(d, ALICE, game)[p]["is_hot"] is False
    clock.now = T0 + 4_999
    assert market.tick() == []
    clock.now = T0 + 5_000
    (hot,) = market.tick()
    assert (hot.res, hot.fields, hot.to.kind, hot.to.exclude) == (
        367, {"pool_id": p, "hot_since": T0 + 5_000}, "game", None)
    assert reads(d, ALICE, game)[p]["is_hot"] is True


def test_an_action_block_with_a_future_time_blocks_at_that_time() -> None:
    clock = Clock()
    market, d, game = setup_game(clock)
    early = pool(d, game)
    res, fields, pushes = d.raw(ADMIN, api.BlockBettingForGameAndAction(
        game_id=game, action_id="goal", block_at=T0 + 8_000))
    assert (res, fields["blocked_at"], pushes) == (370, T0 + 8_000, [])
    clock.now = T0 + 6_000
    bet(d, ALICE, early, "arg", "1")  # not blocked yet
    late = pool(d, game)  # created before the block time: blocked at that time too
    assert not market.pools[late].blocked
    clock.now = T0 + 8_000
    pushes = market.tick()
    assert [(o.res, o.fields.get("pool_id")) for o in pushes] == [
        (370, None), (368, early), (368, late)]
    assert pushes[0].fields == {"game_id": game, "action_id": "goal", "blocked_at": T0 + 8_000}
    for p in (early, late):
        assert "blocked" in d.error(BOB, api.PlaceBetInBettingPool(pool_id=p, target="arg",
                                                                   amount=1))
    res, _f, pushes = d.raw(ADMIN, api.AllowBettingForGameAndAction(
        game_id=game, action_id="goal", allow_at=T0 + 9_000))
    assert res == 371 and pushes == []
    clock.now = T0 + 9_000
    assert [o.res for o in market.tick()] == [371, 369, 369]
    bet(d, BOB, late, "arg", "1")


# -- 6. the docs' rules: `none`, net winnings, unknown sources --------------------------------

def test_every_parimutuel_pool_has_none_and_none_backers_win_at_expiry() -> None:
    clock = Clock()
    market, d, game = setup_game(clock)
    p = pool(d, game, 2, finish_at=T0 + 10_000)
    assert [e["target_id"] for e in reads(d, ALICE, game)[p]["distribution"]] == [
        "arg", "bra", "none"]
    bet(d, ALICE, p, "none", "4")
    bet(d, BOB, p, "arg", "6")
    clock.now = T0 + 10_000
    expired, *balances = market.tick()
    assert expired.res == 363 and expired.fields["winning_target"] == "none"
    assert expired.fields["is_money_return"] is False
    assert expired.fields["winners"] == {ALICE: 6} and expired.fields["losers"] == {BOB: 6}
    assert market.available[ALICE] == 106 and market.available[BOB] == 94
    assert {o.to.key for o in balances} == {ALICE, BOB}
    check_money(market)


def test_an_event_on_none_answers_binary_pools_no_and_parimutuel_pools_none() -> None:
    market, d, game = setup_game()
    binary, pari = pool(d, game, 3, targets=["bra"]), pool(d, game)
    bet(d, ALICE, binary, "no", "2")
    bet(d, BOB, binary, "yes", "2")
    bet(d, CAROL, pari, "none", "1")
    res, _f, pushes = d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id="goal",
                                                         target_id="none"))
    assert res == 366
    won = {o.fields["pool_id"]: o.fields for o in pushes if o.res == 362}
    assert won[binary]["winning_target"] == "no" and won[binary]["winners"] == {ALICE: 2}
    assert won[pari]["winning_target"] == "none" and won[pari]["is_money_return"] is False
    check_money(market)


def test_winners_are_net_winnings_as_in_the_docs_example() -> None:
    """The docs' 362 example: stakes 7 and 3 lost, the winner shown with 10 (its net)."""
    market, d, game = setup_game()
    p = pool(d, game)
    bet(d, ALICE, p, "arg", "7")
    bet(d, BOB, p, "arg", "3")
    bet(d, CAROL, p, "bra", "10")
    _r, _f, pushes = d.raw(ADMIN, api.RegisterGameEvent(game_id=game, action_id="goal",
                                                        target_id="bra"))
    (resolved,) = [o.fields for o in pushes if o.res == 362]
    assert resolved["winners"] == {CAROL: 10} and resolved["losers"] == {ALICE: 7, BOB: 3}
    assert market.available[CAROL] == 100 - 10 + 10 + resolved["winners"][CAROL]


@pytest.mark.parametrize("request_", [api.ListGamesForSource(source_id="nope"),
                                      api.ListUpcomingGamesForSource(source_id="nope")])
def test_an_unknown_source_is_a_666(request_: Any) -> None:
    _market, d, _game = setup_game()
    assert d.error(ALICE, request_) == "unknown game source 'nope'"


# -- 5. bounded history -----------------------------------------------------------------------

def test_history_is_bounded_events_resolved_pools_and_closed_games() -> None:
    clock = Clock()
    market = Market(clock, initial_balance=10_000, events_kept=5, resolved_pools_kept=3,
                    closed_games_kept=2)
    d = Driver(market)
    source = d.raw(ADMIN, api.OpenGameSource(source_name="s"))[1]["source_id"]
    games = []
    for n in range(4):
        game = d.raw(ADMIN, api.CreateAndOpenGame(source_id=source, game_name=f"g{n}",
                                                  actions="goal", targets="arg,bra"))[1]
        games.append(game["game_id"])
        for _ in range(8):
            p = pool(d, game["game_id"])
            bet(d, ALICE, p, "arg", "1")
            d.raw(ADMIN, api.RegisterGameEvent(game_id=game["game_id"], action_id="goal",
                                               target_id="arg"))
        details = d.raw(ALICE, api.GetGameDetails(game_id=game["game_id"]))[1]
        assert len(details["past_events"]) == 5
        assert details["game_state"] == [{"action_id": "goal", "target_id": "arg", "count": 8}]
        assert len(market.pools) <= 3 * (n + 1) and len(market.bets) <= 3 * (n + 1)
        d.raw(ADMIN, api.CloseGame(game_id=game["game_id"]))
    market.tick()
    assert list(market.games) == games[2:]
    assert {p.game_id for p in market.pools.values()} == set(games[2:])
    assert len(market.bets) == 6
    check_money(market)
    with pytest.raises(ValueError, match="at least 1"):
        Market(clock, events_kept=0)
