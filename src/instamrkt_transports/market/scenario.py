"""Scripted live games the reference server can play (``ReferenceServer(scenario=...)``).

A bot rehearsing against the reference server should meet what a real market does over a
session: pools that resolve, pools that expire, `none` winning, binary pools answered by
hand, betting blocked before full time, games that end and new ones that follow. A
scenario scripts that, with every outcome drawn from ``random.Random(seed)`` (the same seed
and the same clock give the same games) and the guarantees a rehearsal needs written into
the script (see ``docs/market.md``, "Scenarios").

A scenario is plain synchronous code over the ``Market``, driven by the market's clock: the
server calls ``tick()`` on its ticker and routes the pushes it returns. Everything the
scenario does goes through ``Market.handle`` as an ordinary request of its own users (an
admin and a few simulated bettors), so money moves by the documented rules only and
``Market.total_money()`` stays equal to ``Market.minted``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .market import Market, Out

__all__ = ("SCENARIOS", "FootballScenario", "Scenario", "make_scenario")

ADMIN = "scenario-admin"
BETTORS = ("bot-1", "bot-2", "bot-3")
PESSIMIST = "bot-3"  # backs `none` (and `no`) in every pool as it opens
TEAMS = ("reds", "blues")
GAME_STEPS = 60  # one game: kick-off at step 0, full time at this step
BREAK_STEPS = 4  # between full time and the next kick-off
BLOCK_BEFORE = 2  # betting is blocked this many steps before full time (3975, a future time)
LULL_STEPS = 12  # one stretch of each game with no event: time pools expire in it
CORNER_WINDOW = 8  # "who wins the next corner" expires to `none` after this many steps
SOON_WINDOW = 4  # "will the reds score soon" expires to `no` after this many steps
GOAL_CHANCE, CORNER_CHANCE = 0.2, 0.25  # per step, outside the lull
BLUES_SHUT_OUT = 0.5  # the chance, drawn at kick-off, that the blues score no goal in a game


class Scenario:
    """Base class: ``start()`` once, then ``tick()`` whenever the clock may have moved."""

    name = ""

    def __init__(self, market: Market, *, seed: int = 0, interval: float = 1.0) -> None:
        if not interval > 0:
            raise ValueError(f"scenario interval must be > 0 seconds, got {interval}")
        self.market = market
        self.rng = random.Random(seed)
        self.interval_ms = max(1, round(interval * 1000))
        self.steps = 0
        self.next_at = 0
        self.source_id = ""  # set by start(): the scenario's game source and current game
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
            self.steps += 1
            pushes += self.step()
            ran += 1
        return pushes


class FootballScenario(Scenario):
    """"Reds - Blues", game after game: each game lasts ``GAME_STEPS`` steps, then a break
    of ``BREAK_STEPS``; the next game is announced (3401) at full time and opened (3402)
    at kick-off. Each game's events are drawn at kick-off, with one lull; see
    ``docs/market.md`` for the pools and what each step does."""

    name = "football"

    def __init__(self, market: Market, *, seed: int = 0, interval: float = 1.0) -> None:
        super().__init__(market, seed=seed, interval=interval)
        self.games_played = 0
        self.kickoff_step = 0  # the step the current game started at
        self.timeline: dict[int, tuple[str, str]] = {}  # step of the game -> (action, team)
        self.pools: dict[int, str] = {}  # pool type -> the open pool of that kind
        self.lull = 0  # the step of the game its lull starts at
        self.in_play = False

    def start(self) -> list[Out]:
        market = self.market
        market.add_user(ADMIN, "scenario")
        for bot in BETTORS:
            market.add_user(bot, bot)
        _res, fields, pushes = self._call(ADMIN, 365, source_name="reference football",
                                          description="the reference server's scripted game")
        self.source_id = str(fields["source_id"])
        pushes += self._announce()
        pushes += self._kick_off()
        self.next_at = market.now() + self.interval_ms
        return pushes

    # -- a game's life ------------------------------------------------------------------------

    def _announce(self) -> list[Out]:
        """Create the next game, upcoming (3401): the game lists show it before kick-off."""
        self.games_played += 1
        res, fields, pushes = self._call(ADMIN, 3701, source_id=self.source_id,
                                         game_name=f"Reds - Blues #{self.games_played}")
        assert res == 3401, fields
        self.game_id = str(fields["game_id"])
        return pushes

    def _kick_off(self) -> list[Out]:
        res, fields, pushes = self._call(ADMIN, 3702, game_id=self.game_id,
                                         actions="goal,corner", targets="reds,blues")
        assert res == 3402, fields
        self.kickoff_step, self.in_play, self.pools = self.steps, True, {}
        rng = self.rng
        lull = rng.randint(4, GAME_STEPS - BLOCK_BEFORE - LULL_STEPS - 4)
        # "will the blues score" must not be a sure thing: in some games they never do
        blues_score = rng.random() >= BLUES_SHUT_OUT
        self.timeline = {}
        for minute in range(1, GAME_STEPS - BLOCK_BEFORE):
            if lull <= minute < lull + LULL_STEPS:
                continue
            roll = rng.random()
            action = "goal" if roll < GOAL_CHANCE else \
                "corner" if roll < GOAL_CHANCE + CORNER_CHANCE else None
            if action is not None:
                team = rng.choice(TEAMS)
                if action == "goal" and not blues_score:
                    team = "reds"
                self.timeline[minute] = (action, team)
        self.lull = lull
        return pushes + self._open_pools(with_binary=True)

    def _open_pools(self, *, with_binary: bool = False) -> list[Out]:
        """Open each kind of pool that is not open (the binary "this game" one only at
        kick-off); the pessimist backs `none` or `no` in each as it opens."""
        now, step = self.market.now(), self.interval_ms
        kinds: dict[int, dict[str, Any]] = {
            1: {"action_id": "goal", "targets": "reds,blues",
                "description": "Who scores next? (none: nobody before full time)"},
            2: {"action_id": "corner", "targets": "reds,blues",
                "description": f"Who wins the next corner? (none: no corner within "
                               f"{CORNER_WINDOW} steps)",
                "finish_at": now + CORNER_WINDOW * step},
            4: {"action_id": "goal", "targets": "reds",
                "description": f"Will the reds score within {SOON_WINDOW} steps?",
                "finish_at": now + SOON_WINDOW * step},
        }
        if with_binary:
            kinds[3] = {"action_id": "goal", "targets": "blues",
                        "description": "Will the blues score in this game? (answered by hand)"}
        pushes: list[Out] = []
        for kind, params in sorted(kinds.items()):
            open_id = self.pools.get(kind)
            if open_id is not None and self.market.pools.get(open_id) is not None \
                    and self.market.pools[open_id].resolved_at is None:
                continue
            if open_id is not None and kind == 3:
                continue  # one "this game" pool per game
            res, fields, more = self._call(ADMIN, 385, game_id=self.game_id, type=kind,
                                           **params)
            assert res == 350, fields
            self.pools[kind] = str(fields["pool_id"])
            pushes += more
            target = "no" if kind in (3, 4) else "none"
            pushes += self._bet(PESSIMIST, self.pools[kind], target, 1)
        return pushes

    def _bet(self, bot: str, pool_id: str, target: str, amount: int) -> list[Out]:
        if self.market.available.get(bot, Decimal(0)) < amount:
            return []  # a broke bot sits out (money is conserved, not created)
        _res, _fields, pushes = self._call(bot, 392, pool_id=pool_id, target=target,
                                           amount=amount)
        return pushes  # a refused bet (666: blocked...) still returns due pushes

    def step(self) -> list[Out]:
        if not self.in_play:
            if self.steps - self.kickoff_step >= GAME_STEPS + BREAK_STEPS:
                return self._kick_off()
            return []
        minute = self.steps - self.kickoff_step
        if minute >= GAME_STEPS:
            return self._full_time()
        pushes: list[Out] = []
        if minute == GAME_STEPS - BLOCK_BEFORE - 1:  # betting closes just before full time
            for action in ("goal", "corner"):
                pushes += self._call(ADMIN, 3975, game_id=self.game_id, action_id=action,
                                     block_at=self.market.now() + self.interval_ms)[2]
        elif minute < GAME_STEPS - BLOCK_BEFORE - 1:
            pushes += self._open_pools()  # the pools that expired since the last step
            if minute == self.lull:  # the corner pool looks hot... and nothing happens
                pushes += self._call(ADMIN, 396, pool_id=self.pools[2],
                                     likely_to_happen_at=self.market.now() + self.interval_ms)[2]
            pushes += self._bots_bet()
        event = self.timeline.get(minute)
        if event is not None:
            action, team = event
            pushes += self._call(ADMIN, 395, game_id=self.game_id, action_id=action,
                                 target_id=team)[2]
            if minute < GAME_STEPS - BLOCK_BEFORE - 1:
                pushes += self._open_pools()  # what the event resolved, open again at once
        return pushes

    def _bots_bet(self) -> list[Out]:
        pushes: list[Out] = []
        open_pools = [p for p in self.market.pools.values()
                      if p.game_id == self.game_id and p.resolved_at is None]
        for bot in self.rng.sample(BETTORS, 2):
            if not open_pools:
                break
            pool = self.rng.choice(open_pools)
            pushes += self._bet(bot, pool.pool_id, self.rng.choice(pool.bettable),
                                self.rng.randint(1, 10))
        return pushes

    def _full_time(self) -> list[Out]:
        """Answer what is still open by hand (an event on `none`: nobody scored again, so
        the next-goal pool goes to `none` and the binary pools to `no`), close the game
        (the corner pool resolves to `none`), and announce the next one."""
        _res, _fields, pushes = self._call(ADMIN, 395, game_id=self.game_id, action_id="goal",
                                           target_id="none")
        res, fields, more = self._call(ADMIN, 375, game_id=self.game_id)
        assert res == 341, fields
        self.in_play = False
        return pushes + more + self._announce()


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
