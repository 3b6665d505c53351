"""Scripted live games the reference server can play (``ReferenceServer(scenario=...)``).

A scenario is plain synchronous code over the ``Market``, driven by the market's clock: the
server calls ``tick()`` on its ticker and routes the pushes it returns. Everything the
scenario does goes through ``Market.handle`` as an ordinary request of its own users (an
admin and a few simulated bettors), so money moves by the documented rules only and
``Market.total_money()`` stays equal to ``Market.minted``. See ``docs/market.md``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .market import Market, Out

__all__ = ("SCENARIOS", "FootballScenario", "Scenario", "make_scenario")

ADMIN = "scenario-admin"
BETTORS = ("bot-1", "bot-2", "bot-3")
TEAMS = ("reds", "blues")
# What happens at each step, in a cycle: a goal every other step, a corner every fourth.
CYCLE = ("goal", "corner", "goal", None)


class Scenario:
    """Base class: ``start()`` once, then ``tick()`` whenever the clock may have moved."""

    name = ""

    def __init__(self, market: Market, *, seed: int = 0, interval: float = 1.0) -> None:
        if interval <= 0:
            raise ValueError(f"scenario interval must be > 0 seconds, got {interval}")
        self.market = market
        self.rng = random.Random(seed)
        self.interval_ms = max(1, round(interval * 1000))
        self.steps = 0
        self.next_at = 0
        self.source_id = ""  # set by start(): the scenario's game source and game
        self.game_id = ""

    def _call(self, user: str, op: int, **params: Any) -> tuple[int, dict[str, Any], list[Out]]:
        return self.market.handle(user, op, params, set())

    def start(self) -> list[Out]:
        raise NotImplementedError

    def step(self) -> list[Out]:
        raise NotImplementedError

    def tick(self) -> list[Out]:
        """Run the steps that are due by the market's clock (at most a few at once: a
        paused process skips ahead rather than replaying a burst)."""
        now = self.market.now()
        pushes: list[Out] = []
        ran = 0
        while self.next_at <= now:
            if ran == 3:
                self.next_at = now + self.interval_ms
                break
            self.next_at += self.interval_ms
            pushes += self.step()
            self.steps += 1
            ran += 1
        return pushes


class FootballScenario(Scenario):
    """"Reds - Blues": one game, one pool of each of the four types, all recreated when
    they end; each step some bettors bet, then the step's event (``CYCLE``) is registered
    for a team the seeded generator picks."""

    name = "football"

    def start(self) -> list[Out]:
        market = self.market
        market.add_user(ADMIN, "scenario")
        for bot in BETTORS:
            market.add_user(bot, bot)
        res, fields, pushes = self._call(ADMIN, 365, source_name="reference football",
                                         description="the reference server's scripted game")
        self.source_id = str(fields["source_id"])
        res, fields, more = self._call(ADMIN, 370, source_id=self.source_id,
                                       game_name="Reds - Blues", actions="goal,corner",
                                       targets="reds,blues")
        assert res == 340, fields
        self.game_id = str(fields["game_id"])
        pushes += more
        now = market.now()
        step = self.interval_ms
        for pool in (
            {"type": 1, "action_id": "goal", "targets": "reds,blues",
             "description": "Who scores next?"},
            {"type": 2, "action_id": "corner", "targets": "reds,blues,none",
             "description": "Who wins the next corner? (none: no corner in time)",
             "finish_at": now + 6 * step},
            {"type": 3, "action_id": "goal", "targets": "blues",
             "description": "Will the blues score?"},
            {"type": 4, "action_id": "goal", "targets": "reds",
             "description": "Will the reds score soon?", "finish_at": now + 3 * step},
        ):
            res, fields, more = self._call(ADMIN, 385, game_id=self.game_id,
                                           recreate_on_end=True, **pool)
            assert res == 350, fields
            pushes += more
        self.next_at = now + step
        return pushes

    def step(self) -> list[Out]:
        pushes: list[Out] = []
        market = self.market
        open_pools = [p for p in market.pools.values()
                      if p.game_id == self.game_id and p.resolved_at is None]
        for bot in self.rng.sample(BETTORS, 2):
            if not open_pools:
                break
            pool = self.rng.choice(open_pools)
            target = self.rng.choice(pool.bettable)
            amount = self.rng.randint(1, 10)
            _res, _fields, more = self._call(bot, 392, pool_id=pool.pool_id, target=target,
                                             amount=amount)
            pushes += more  # a refused bet (666: no funds...) still returns due pushes
        action = CYCLE[self.steps % len(CYCLE)]
        if action is not None:
            team = self.rng.choice(TEAMS)
            _res, _fields, more = self._call(ADMIN, 395, game_id=self.game_id,
                                             action_id=action, target_id=team)
            pushes += more
        return pushes


SCENARIOS: dict[str, Callable[..., Scenario]] = {"football": FootballScenario}


def make_scenario(name: str, market: Market, *, seed: int = 0, interval: float = 1.0
                  ) -> Scenario:
    """The scenario ``name`` on ``market``, started (its opening pushes are discarded:
    nobody is connected yet)."""
    try:
        kind = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}"
                         ) from None
    scenario = kind(market, seed=seed, interval=interval)
    scenario.start()
    return scenario
