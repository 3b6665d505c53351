"""A recording's games played again on the market, for backtesting a bot (``serve --replay``).

A recording (``instamrkt_proto.recording``) holds what one client received: new pools,
other users' bets (in distribution updates), game events, blocks, closes, resolutions.
``Backtest`` turns that into a timeline of requests and plays them through ``Market.handle``
as scripted users, the way ``scenario.py`` plays its game: an admin creates the games and
pools and registers the events, and one market user per recorded bettor (``rec-<id>``)
places that bettor's bets. The market then resolves the pools and settles every bet,
the bot's included, through its own ledger: nothing is settled from the recording's
pushes, so the bot's bets change the payouts exactly as they would have.

What the recording does not say is inferred, and ``docs/record-replay.md`` lists it: a
binary pool's target (the wire never carries it) is the target of the event that resolved
it ``yes`` live, else one no event of its action named; a pool first seen in a list already
holding money gets that money as bets of ``rec-crowd``; the recording user's own bets are
left out (the bot under test bets instead). ``mismatches`` lists pools whose served outcome
differs from the recorded one.

Times are the market's own where the recording has them (a bet's ``placed_at``, an event's
``happened_at``, a pool's ``start_at``), else the server's header ``t``, else the client's
wall clock: the same clock stamped ``happened_at`` and ``finish_at``, so a bet the recording
shows before an event is placed before it here too (by receive times it could come a
millisecond after and count as late). The market's clock must be ``clock`` (a
``VirtualClock``), moved along those times.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import attrs
import orjson

from instamrkt_proto.codec import decode_server_message
from instamrkt_proto.errors import RemoteProtocolError
from instamrkt_proto.recording import HEADER, raw_records, read_header
from instamrkt_proto.replay import open_recording

from .market import Market, Out

__all__ = ("ADMIN", "Backtest", "Step", "UserReport", "VirtualClock", "load_timeline")

ADMIN = "replay-admin"
CROWD = "rec-crowd"
_BINARY = (3, 4)


class VirtualClock:
    """The market's clock during a replay: the recording's epoch ms, moved by the player."""

    __slots__ = ("now",)

    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


@attrs.frozen(slots=True)
class Step:
    """One thing the recording says happened at ``at`` (epoch ms): ``kind`` is pool, bet,
    event, block, allow or close; ``ref`` the recorded pool or game id it is about."""

    at: int
    kind: str
    ref: str
    data: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(slots=True)
class _Timeline:
    start: int = 0
    user_id: str | None = None
    games: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    pools: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    steps: list[Step] = attrs.field(factory=list)
    outcomes: dict[str, str] = attrs.field(factory=dict)  # recorded pool -> winning target
    events: list[tuple[int, str, str, str]] = attrs.field(factory=list)  # at, game, action, t
    bets_seen: set[str] = attrs.field(factory=set)


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount > 0 else None


def _game(tl: _Timeline, game_id: Any) -> dict[str, Any] | None:
    if game_id is None:
        return None
    return tl.games.setdefault(str(game_id), {"name": None, "actions": set(),
                                              "targets": set()})


def _bets(tl: _Timeline, at: int, pool_id: str, bets: Iterable[Any], listed: bool = False
          ) -> None:
    for bet in bets:
        if not isinstance(bet, dict):
            continue
        bet_id, user, target = bet.get("bet_id"), bet.get("user_id"), bet.get("target")
        amount = _money(bet.get("amount"))
        if bet_id is None or user is None or target is None or amount is None:
            continue
        if str(bet_id) in tl.bets_seen:
            continue
        tl.bets_seen.add(str(bet_id))
        if str(user) == tl.user_id:
            continue  # the recorded user's own bets: the bot under test bets instead
        placed = bet.get("placed_at")
        when = placed if isinstance(placed, int) and placed > 0 else at
        tl.steps.append(Step(when, "bet", pool_id, {"user": f"rec-{user}", "target": str(target),
                                                  "amount": amount, "listed": listed}))


def _pool(tl: _Timeline, at: int, pool: dict[str, Any], listed: bool) -> None:
    pool_id = pool.get("pool_id")
    if pool_id is None or str(pool_id) in tl.pools:
        return
    pool_id = str(pool_id)
    game = _game(tl, pool.get("game_id"))
    if game is None:
        return
    kind = pool.get("type", 1)
    entries = [e for e in pool.get("distribution") or [] if isinstance(e, dict)]
    targets = [str(e["target_id"]) for e in entries if e.get("target_id") is not None]
    info = {"game": str(pool["game_id"]), "type": kind if kind in (1, 2, 3, 4) else 1,
            "action_id": pool.get("action_id"), "description": pool.get("description"),
            "start_at": pool.get("start_at"), "finish_at": pool.get("finish_at"),
            "stop_accepting_bets_at": pool.get("stop_accepting_bets_at"),
            "targets": [] if kind in _BINARY else targets}
    tl.pools[pool_id] = info
    if pool.get("action_id") is not None:
        game["actions"].add(str(pool["action_id"]))
    if kind not in _BINARY:
        game["targets"].update(t for t in targets if t != "none")
    start = pool.get("start_at")
    if isinstance(start, int) and 0 < start < at:
        at = start  # no bet on it can come before it exists, whatever the clocks say
    tl.steps.append(Step(at, "pool", pool_id))
    if listed:  # already holding money when first seen: who put it there is not known
        for entry in entries:
            if entry.get("bets"):
                _bets(tl, at, pool_id, entry["bets"], listed=True)
            else:
                amount = _money(entry.get("backing_money"))
                if amount is not None and entry.get("target_id") is not None:
                    tl.steps.append(Step(at, "bet", pool_id, {
                        "user": CROWD, "target": str(entry["target_id"]), "amount": amount,
                        "listed": True}))


def _inbound(tl: _Timeline, at: int, res: int, fields: dict[str, Any]) -> None:
    if res in (340, 3402, 342, 3401):
        game = _game(tl, fields.get("game_id"))
        if game is not None and fields.get("game_name"):
            game["name"] = str(fields["game_name"])
    elif res == 333:
        _game(tl, fields.get("game_id"))
    elif res == 352:
        _pool(tl, at, fields, listed=False)
    elif res in (3535, 353, 354):
        for pool in fields.get("pools_list") or []:
            if isinstance(pool, dict):
                _pool(tl, at, pool, listed=True)
    elif res in (360, 361):
        pool_id = fields.get("pool_id")
        if pool_id is None or str(pool_id) not in tl.pools:
            return
        _bets(tl, at, str(pool_id), fields.get("new_bets") or [])
        for entry in fields.get("distribution") or []:
            if isinstance(entry, dict):
                _bets(tl, at, str(pool_id), entry.get("bets") or [])
    elif res == 366:
        game = _game(tl, fields.get("game_id"))
        action, target = fields.get("action_id"), fields.get("target_id")
        if game is None or action is None or target is None:
            return
        game["actions"].add(str(action))
        game["targets"].add(str(target))
        happened = fields.get("happened_at")
        when = int(happened) if isinstance(happened, int) else at
        tl.events.append((when, str(fields["game_id"]), str(action), str(target)))
        tl.steps.append(Step(when, "event", str(fields["game_id"]), {
            "action_id": str(action), "target_id": str(target), "happened_at": when,
            "description": fields.get("description")}))
    elif res in (368, 369) and fields.get("pool_id") is not None:
        tl.steps.append(Step(at, "block" if res == 368 else "allow", str(fields["pool_id"])))
    elif res == 341 and fields.get("game_id") is not None:
        tl.steps.append(Step(at, "close", str(fields["game_id"])))
    elif res in (362, 363) and fields.get("pool_id") is not None:
        winning = fields.get("winning_target")
        if winning is not None:
            tl.outcomes.setdefault(str(fields["pool_id"]), str(winning))


def _binary_targets(tl: _Timeline) -> None:
    """A binary pool's target is not on the wire: the event that resolved it ``yes`` names
    it; failing that, any target of the game no event of the pool's action named."""
    for pool_id, info in tl.pools.items():
        if info["type"] not in _BINARY:
            continue
        game = tl.games[info["game"]]
        action = info["action_id"]
        named = {t for _, g, a, t in tl.events if g == info["game"] and (action is None
                                                                       or a == action)}
        chosen = None
        if tl.outcomes.get(pool_id) == "yes":
            resolved = [s.at for s in tl.steps if s.kind == "resolved" and s.ref == pool_id]
            hits = [e for e in tl.events if e[1] == info["game"] and (action is None
                                                                    or e[2] == action)]
            before = [e for e in hits if not resolved or e[0] <= resolved[0]]
            if before:
                chosen = before[-1][3]
        if chosen is None:
            spare = sorted(game["targets"] - named)
            chosen = spare[0] if spare else f"unnamed-{pool_id}"
            game["targets"].add(chosen)
        info["targets"] = [chosen]


def load_timeline(source: str | os.PathLike[str] | IO[bytes] | Iterable[bytes | str]
                  ) -> _Timeline:
    """Read a recording (one pass, lazily) into the timeline a ``Backtest`` plays."""
    lines, close = open_recording(source)
    try:
        it = iter(lines)
        first = next(it, None)
        if first is None:
            from instamrkt_proto.recording import RecordingError
            raise RecordingError("the recording is empty")
        header = read_header(first)
        tl = _Timeline(start=header.created, user_id=header.user_id)
        for data in raw_records(it):
            kind = data["k"]
            at = int(data.get("w", tl.start))
            if kind == "in":
                try:
                    res, sent_at, fields = decode_server_message(data["d"])
                except RemoteProtocolError:
                    continue
                if isinstance(sent_at, int) and sent_at > 0:
                    at = sent_at  # the server's clock, which also stamped happened_at
                if res is not None:
                    _inbound(tl, at, res, fields)
                    if res in (362, 363) and fields.get("pool_id") is not None:
                        tl.steps.append(Step(at, "resolved", str(fields["pool_id"])))
            elif kind == "out":
                try:
                    sent = orjson.loads(data["d"])
                except orjson.JSONDecodeError:
                    continue
                if isinstance(sent, dict) and sent.get("op") == 363:
                    _game(tl, sent.get("game_id"))
            elif kind == HEADER and data.get("user_id") is not None:
                tl.user_id = str(data["user_id"])
    finally:
        close()
    _binary_targets(tl)
    tl.steps.sort(key=lambda s: s.at)  # stable: the recorded order within a millisecond
    if tl.steps:
        tl.start = min(tl.start, tl.steps[0].at)
    return tl


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

    def __init__(self, market: Market, clock: VirtualClock, timeline: _Timeline,
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
            step = steps[self._next]
            self._next += 1
            if step.at > self.clock.now:
                self.clock.now = step.at
                pushes += self.market.tick()
            pushes += self._run(step)
        if now > self.clock.now:
            self.clock.now = now
            pushes += self.market.tick()
        return pushes

    def _run(self, step: Step) -> list[Out]:
        res, fields, pushes = 0, dict[str, Any](), list[Out]()
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
        elif step.kind == "bet":
            pool = self.pool_ids.get(step.ref)
            if pool is None:
                return []
            user = step.data["user"]
            if user not in self._users:
                self._users.add(user)
                self.market.add_user(user, user)
            res, fields, pushes = self._call(user, 392, pool_id=pool,
                                             target=step.data["target"],
                                             amount=step.data["amount"])
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
