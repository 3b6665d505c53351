"""A recording's games played again on the market, for backtesting a bot (``serve --replay``).

``Backtest`` plays a ``Timeline`` (``timeline.py``: the recording read as steps) through
``Market.handle`` as scripted users, the way ``scenario.py`` plays its game: an admin
creates the games and pools and registers the events, and one market user per recorded
bettor (``rec-<id>``) places that bettor's bets. The market then resolves the pools and
settles every bet, the bot's included, through its own ledger: nothing is settled from the
recording's pushes, so the bot's bets change the payouts exactly as they would have.
``mismatches`` lists pools whose served outcome differs from the recorded one; ``report``
reads what each user did from the ledger.

The market's clock must be the backtest's ``VirtualClock``, moved along the recording's
times, so time-based pools expire at their recorded ``finish_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs

from .market import Market, Out
from .timeline import Step, Timeline, load_timeline

__all__ = ("ADMIN", "Backtest", "UserReport", "VirtualClock", "load_timeline")

ADMIN = "replay-admin"


class VirtualClock:
    """The market's clock during a replay: the recording's epoch ms, moved by the player."""

    __slots__ = ("now",)

    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


@attrs.frozen(slots=True)
class UserReport:
    """What one user did in a replayed session, from the market's ledger.

    ``payouts`` is what resolved pools paid back (stake plus net winnings, or the stake
    when returned); ``profit`` is ``payouts`` minus the stakes of resolved pools, which is
    the change of the user's current balance; ``open_stake`` is still at risk.
    """

    user_id: str
    bets: int
    staked: Decimal
    open_stake: Decimal
    payouts: Decimal
    profit: Decimal
    recorded: bool

    def as_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "bets": self.bets, "staked": str(self.staked),
                "open_stake": str(self.open_stake), "payouts": str(self.payouts),
                "profit": str(self.profit), "recorded": self.recorded}


class Backtest:
    """Plays a recording's timeline on ``market`` (whose clock must be ``clock``).

    ``start()`` creates the games and the opening: the pools the recording begins with
    (and the money already in them), so a bot can read and bet before it joins; their
    pushes go nowhere, since nobody joined yet. Then ``play_until(ms)`` runs the steps due
    by then and returns the pushes to route.
    ``game_ids`` / ``pool_ids`` map recorded ids to the market's.
    """

    def __init__(self, market: Market, clock: VirtualClock, timeline: Timeline,
                 initial_balance: Decimal | int = 1000) -> None:
        self.market = market
        self.clock = clock
        self.timeline = timeline
        self.initial_balance = Decimal(initial_balance)
        self.game_ids: dict[str, str] = {}
        self.pool_ids: dict[str, str] = {}
        self.refused: list[tuple[Step, str]] = []
        self._next = 0
        self._users: set[str] = set()

    @property
    def finished(self) -> bool:
        return self._next >= len(self.timeline.steps)

    @property
    def next_at(self) -> int | None:
        steps = self.timeline.steps
        return steps[self._next].at if self._next < len(steps) else None

    def _call(self, user: str, op: int, **params: Any) -> tuple[int, dict[str, Any], list[Out]]:
        params = {k: v for k, v in params.items() if v is not None}
        return self.market.handle(user, op, params, set())

    def start(self) -> None:
        self.market.add_user(ADMIN, ADMIN)
        res, fields, _ = self._call(ADMIN, 365, source_name="recording",
                                    description="games replayed from a recording")
        self.source_id = str(fields["source_id"])
        for recorded, game in sorted(self.timeline.games.items()):
            res, fields, _ = self._call(
                ADMIN, 370, source_id=self.source_id,
                game_name=game["name"] or f"recorded {recorded}",
                actions=",".join(sorted(game["actions"])) or None,
                targets=",".join(sorted(game["targets"])) or None)
            if res == 340:
                self.game_ids[recorded] = str(fields["game_id"])
        steps = self.timeline.steps
        while not self.finished and (steps[self._next].kind == "pool"
                                     or steps[self._next].data.get("listed")):
            step = steps[self._next]
            self._next += 1
            self.clock.now = max(self.clock.now, step.at)
            self._run(step)

    def play_until(self, now: int) -> list[Out]:
        """Run every step due by ``now`` (epoch ms of the recording); the pushes they and
        the market's clock produced, in order."""
        pushes: list[Out] = []
        steps = self.timeline.steps
        while self._next < len(steps) and steps[self._next].at <= now:
            pushes += self._step()
        if now > self.clock.now:
            self.clock.now = now
            pushes += self.market.tick()
        return pushes

    def play_next(self, pushes: int) -> list[Out]:
        """Run the next steps, each at its own time (as ``play_until`` of each step's time
        would), until they made at least ``pushes`` pushes or the timeline ends: playing as
        fast as possible (``--speed max``), the server routes the pushes a batch at a time."""
        out: list[Out] = []
        steps, clock = self.timeline.steps, self.clock
        while self._next < len(steps) and len(out) < pushes:  # _step, inlined: per bet
            step = steps[self._next]
            self._next += 1
            if step.at > clock.now:
                clock.now = step.at
                out += self.market.tick()
            out += self._run(step)
        return out

    def _step(self) -> list[Out]:
        """Run the next step, moving the clock to its time first (what that makes due runs
        before it)."""
        step = self.timeline.steps[self._next]
        self._next += 1
        pushes: list[Out] = []
        if step.at > self.clock.now:
            self.clock.now = step.at
            pushes += self.market.tick()
        pushes += self._run(step)
        return pushes

    def _run(self, step: Step) -> list[Out]:
        if step.kind == "bet":  # nearly every step: first, and straight to the market
            pool = self.pool_ids.get(step.ref)
            if pool is None:
                return []
            user = step.data["user"]
            if user not in self._users:
                self._users.add(user)
                self.market.add_user(user, user)
            refused, placed = self.market.scripted_bet(user, pool, step.data["target"],
                                                       step.data["amount"])
            if refused is not None:
                self.refused.append((step, refused))
            return placed
        res = 0
        fields: dict[str, Any] = {}
        pushes: list[Out] = []
        if step.kind == "pool":
            info = self.timeline.pools[step.ref]
            game = self.game_ids.get(info["game"])
            if game is None:
                return []
            res, fields, pushes = self._call(
                ADMIN, 385, game_id=game, description=info["description"],
                action_id=info["action_id"], targets=",".join(info["targets"]) or None,
                type=info["type"], start_at=info["start_at"], finish_at=info["finish_at"],
                stop_accepting_bets_at=info["stop_accepting_bets_at"])
            if res == 350:
                self.pool_ids[step.ref] = str(fields["pool_id"])
        elif step.kind == "event":
            game = self.game_ids.get(step.ref)
            if game is None:
                return []
            res, fields, pushes = self._call(
                ADMIN, 395, game_id=game, action_id=step.data["action_id"],
                target_id=step.data["target_id"], happened_at=step.data["happened_at"],
                description=step.data["description"])
        elif step.kind in ("block", "allow"):
            pool = self.pool_ids.get(step.ref)
            if pool is None:
                return []
            res, fields, pushes = self._call(ADMIN, 397 if step.kind == "block" else 398,
                                             pool_id=pool)
        elif step.kind == "close":
            game = self.game_ids.get(step.ref)
            if game is None:
                return []
            res, fields, pushes = self._call(ADMIN, 375, game_id=game)
        if res == 666:
            self.refused.append((step, str(fields.get("text", ""))))
        return pushes

    def mismatches(self) -> list[tuple[str, str, str | None]]:
        """(recorded pool, recorded winning target, served winning target) where the
        market decided otherwise than the live server (or not yet)."""
        out = []
        for recorded, winning in sorted(self.timeline.outcomes.items()):
            served = self.pool_ids.get(recorded)
            if served is None:
                continue
            pool = self.market.pools.get(served)
            got = pool.winning_target if pool is not None else None
            if got != winning:
                out.append((recorded, winning, got))
        return out

    def report(self, users: Iterable[str] = ()) -> list[UserReport]:
        """Each user who bet (and each of ``users``), from the ledger: current balance and
        exposure are read as the user would read them (ops 800 and 840)."""
        bets: dict[str, list[Any]] = {}
        for bet in self.market.bets.values():
            bets.setdefault(bet.user_id, []).append(bet)
        everyone = sorted(set(bets) | set(users))
        reports = []
        for user in everyone:
            mine = bets.get(user, [])
            staked = sum((b.amount for b in mine), Decimal(0))
            current = Decimal(str(self._call(user, 800)[1]["current_balance"]))
            exposure = Decimal(str(self._call(user, 840)[1]["exposure"]))
            profit = current - self.initial_balance
            reports.append(UserReport(
                user_id=user, bets=len(mine), staked=staked, open_stake=exposure,
                payouts=profit + staked - exposure, profit=profit,
                recorded=user.startswith("rec-")))
        return reports
