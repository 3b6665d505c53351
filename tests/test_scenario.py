"""The scripted game (``ReferenceServer(scenario=...)``): pools resolve, money adds up."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from instamrkt_proto import api
from instamrkt_transports import blocking
from instamrkt_transports.market import Market
from instamrkt_transports.market.scenario import BETTORS, make_scenario

START_MS = 1_700_000_000_000


def play(seed: int, steps: int) -> tuple[Market, Counter[int]]:
    now = [START_MS]
    market = Market(lambda: now[0])
    scenario = make_scenario("football", market, seed=seed, interval=1.0)
    seen: Counter[int] = Counter()
    for _ in range(steps):
        now[0] += 1000
        for out in market.tick() + scenario.tick():
            seen[out.res] += 1
        assert market.total_money() == market.minted  # at every step, not just the end
    assert scenario.steps == steps
    return market, seen


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_pools_resolve_and_money_is_conserved(seed: int) -> None:
    market, seen = play(seed, 80)
    for res in (352, 361, 362, 363, 366, 815):
        assert seen[res] > 0, res
    resolved = [p for p in market.pools.values() if p.resolved_at is not None]
    assert {p.type for p in resolved} == {1, 2, 3, 4}
    assert {p.type for p in market.pools.values() if p.resolved_at is None} == {1, 2, 3, 4}
    assert market.total_money() == market.minted == 1000 * (1 + len(BETTORS))
    assert market.house >= 0 and all(market.exposure[b] >= 0 for b in BETTORS)
    staked = sum((b.amount for p in resolved for b in p.bets), Decimal(0))
    paid = sum((v for p in resolved for v in p.payouts.values()), Decimal(0))
    assert staked == paid + market.house  # every resolved stake went back or to the house


def test_a_seed_gives_the_same_game() -> None:
    first, second, other = play(3, 30)[0], play(3, 30)[0], play(4, 30)[0]

    def history(market: Market) -> list[Any]:
        return [(p.pool_id, p.winning_target, [(b.user_id, b.target, b.amount) for b in p.bets])
                for p in market.pools.values()]

    assert history(first) == history(second) != history(other)


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
        assert {p.type for p in pools} == {1, 2, 3, 4}
