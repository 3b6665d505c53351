"""The scripted game (``ReferenceServer(scenario=...)``): pools resolve, money adds up."""

from __future__ import annotations

import inspect
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from instamrkt_proto import api
from instamrkt_transports import blocking
from instamrkt_transports.cli.commands import build_parser
from instamrkt_transports.market import Market, Out
from instamrkt_transports.market.scenario import BETTORS, BREAK_STEPS, GAME_STEPS, make_scenario
from instamrkt_transports.server.websocket import ReferenceServer

START_MS = 1_700_000_000_000


def play(seed: int, steps: int, interval: float = 1.0) -> tuple[Market, list[Out]]:
    """``steps`` steps of the scenario on a fake clock moved like the server's ticker (a
    tenth of the interval at a time), with the market's timers run on each tick."""
    now = [START_MS]
    market = Market(lambda: now[0])
    scenario = make_scenario("football", market, seed=seed, interval=interval)
    seen: list[Out] = []
    tick_ms = round(interval * 100)
    while scenario.steps < steps:
        now[0] += tick_ms
        seen += market.tick() + scenario.tick()
        assert market.total_money() == market.minted  # at every tick, not just the end
    assert scenario.steps == steps
    return market, seen


def rehearsal_milestones(pushes: list[Out], market: Market) -> dict[str, int]:
    """What a bot must meet in a session: how often it met each."""
    resolutions = [o.fields for o in pushes if o.res in (362, 363)]
    types = {o.fields["pool_id"]: o.fields["type"] for o in pushes if o.res == 352}
    types.update((p.pool_id, p.type) for p in market.pools.values())  # opened at start
    return {
        "expiry": sum(o.res == 363 for o in pushes),
        "none wins": sum(f["winning_target"] == "none" and bool(f["winners"])
                         for f in resolutions),
        "manual resolution": sum(o.res == 362 and types.get(o.fields["pool_id"]) == 3
                                 for o in pushes),
        "game ends": sum(o.res == 341 for o in pushes),
        "next game opens": sum(o.res == 3402 for o in pushes),
        "future block": sum(o.res == 370 for o in pushes),
        "hot": sum(o.res == 367 for o in pushes),
    }


@pytest.mark.parametrize("seed", [7, 0, 1, 2, 3])
def test_ten_minutes_at_the_default_pace_show_every_milestone(seed: int) -> None:
    """``instamrkt serve --scenario football --scenario-seed 7``: within ten minutes at the
    default pace, a bot sees expiries, `none` winning, binary pools answered by hand, games
    ending and new ones opening (driven by a fake clock, not by waiting)."""
    interval = inspect.signature(make_scenario).parameters["interval"].default
    serve = build_parser().parse_args(["serve", "--scenario", "football",
                                       "--scenario-seed", "7"])
    server_default = inspect.signature(ReferenceServer).parameters["scenario_interval"].default
    assert serve.scenario_interval == server_default == interval == 1.0  # one default pace
    market, pushes = play(seed, int(600 / interval), interval)
    milestones = rehearsal_milestones(pushes, market)
    assert all(count > 0 for count in milestones.values()), milestones
    # no outcome is a sure thing: the corner pool expires to `none`, and "will the blues
    # score in this game" is answered `yes` in some games and `no` in others
    types = {o.fields["pool_id"]: o.fields["type"] for o in pushes if o.res == 352}
    types.update((p.pool_id, p.type) for p in market.pools.values())
    outcomes = {(o.res, types.get(o.fields["pool_id"]), o.fields["winning_target"])
                for o in pushes if o.res in (362, 363)}
    assert {(363, 2, "none"), (362, 3, "yes"), (362, 3, "no")} <= outcomes, outcomes
    # at each full time, everything of the ended game is resolved: no stake stays exposed
    assert all(p.resolved_at is not None for p in market.pools.values()
               if market.games.get(p.game_id) is None
               or market.games[p.game_id].status == "closed")


def test_the_first_game_alone_shows_every_milestone() -> None:
    market, pushes = play(7, GAME_STEPS + BREAK_STEPS + 1)
    milestones = rehearsal_milestones(pushes, market)
    assert all(count > 0 for count in milestones.values()), milestones


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_pools_resolve_and_money_is_conserved(seed: int) -> None:
    market, pushes = play(seed, 80)
    seen = Counter(o.res for o in pushes)
    for res in (352, 361, 362, 363, 366, 815):
        assert seen[res] > 0, res
    assert market.total_money() == market.minted == 1000 * (1 + len(BETTORS))
    assert market.house >= 0 and all(market.exposure[b] >= 0 for b in BETTORS)
    for out in pushes:  # every resolution pays the docs' rule: stake + net back to winners
        if out.res in (362, 363) and not out.fields["is_money_return"]:
            assert all(Decimal(v) >= 0 for v in out.fields["winners"].values())


def test_a_seed_gives_the_same_game() -> None:
    first, second, other = play(3, 130)[1], play(3, 130)[1], play(4, 130)[1]

    def history(pushes: list[Out]) -> list[Any]:
        return [(o.res, sorted(o.fields.items())) for o in pushes if o.res in (352, 361, 362)]

    assert history(first) == history(second) != history(other)


def test_history_stays_bounded_over_a_long_run() -> None:
    market, _pushes = play(11, 40 * (GAME_STEPS + BREAK_STEPS))  # 40 games
    assert len(market.games) <= 11 and len(market.pools) <= 11 * 100
    assert all(len(g.events) <= 100 for g in market.games.values())
    assert market.total_money() == market.minted


def test_a_paused_clock_skips_ahead_instead_of_bursting() -> None:
    now = [START_MS]
    market = Market(lambda: now[0])
    scenario = make_scenario("football", market, interval=1.0)
    now[0] += 60_000
    scenario.tick()
    assert scenario.steps == 3
    now[0] += 1000
    scenario.tick()
    assert scenario.steps == 4


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'chess'"):
        make_scenario("chess", Market(lambda: START_MS))


def next_of(client: Any, kind: type, limit: float = 10.0) -> Any:
    while True:
        event = client.next_event(timeout=limit)
        assert event is not None, f"no {kind.__name__} within {limit} s"
        if isinstance(event, kind):
            return event


def test_the_server_plays_it_live_with_faults_alongside(instamrkt_server_factory: Any) -> None:
    server = instamrkt_server_factory({"7": "key-7"}, scenario="football",
                                      scenario_interval=0.2, scenario_seed=5)
    game = server.scenario.game_id
    with blocking.connect(server.url, server.credentials, timeout=10) as client:
        games = client.call(api.ListGamesForSource(source_id=server.scenario.source_id)).games
        assert [g["game_id"] for g in games] == [game]
        client.call(api.JoinGame(game_id=game))
        assert isinstance(next_of(client, api.BettingPoolBetsDistributionUpdate).pool_id, str)
        resolved = next_of(client, api.BetPoolResolved)
        assert resolved.game_id == game and resolved.winning_target
        server.faults_for("7").update(reply_delay=0.05)  # the knobs still apply
        balance = client.call(api.GetMyCurrentBalance()).current_balance
        assert balance == Decimal(1000)
        server.faults_for("7").reset()
        pools = client.call(api.ListAllBettingPoolsForGame(game_id=game)).pools_list
        # "who scores next" reopens in the step that resolved it; the time pools reopen at
        # the step after they expire, "will the blues score" is answered once per game
        assert 1 in {p.type for p in pools}
        assert all("none" in [d.target_id for d in p.distribution]
                   for p in pools if p.type in (1, 2))
