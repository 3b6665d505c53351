"""A recording read as a backtest's timeline: what happened in its games, when, as steps.

A recording (``instamrkt_proto.recording``) holds what one client received: new pools,
other users' bets (in distribution updates), game events, blocks, closes, resolutions.
``load_timeline`` reads it once, lazily, into ``Step`` values in time order, which
``replay.py`` plays on the market. What the recording does not say is inferred here, and
``docs/record-replay.md`` lists it: a binary pool's target (the wire never carries it) is
the target of the event that resolved it ``yes`` live, else one no event of its action
named; a pool first seen in a list already holding money gets that money as bets of
``rec-crowd``; the recording user's own bets are left out (the bot under test bets
instead).

Times are the market's own where the recording has them (a bet's ``placed_at``, an event's
``happened_at``, a pool's ``start_at``), else the server's header ``t``, else the client's
wall clock: the same clock stamped ``happened_at`` and ``finish_at``, so a bet the recording
shows before an event is placed before it here too (by receive times it could come a
millisecond after and count as late).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import attrs
import orjson

from instamrkt_proto.codec import decode_server_message
from instamrkt_proto.errors import RemoteProtocolError
from instamrkt_proto.recording import HEADER, RecordingError, raw_records, read_header
from instamrkt_proto.replay import open_recording

__all__ = ("CROWD", "Step", "Timeline", "load_timeline")

CROWD = "rec-crowd"
_BINARY = (3, 4)


@attrs.frozen(slots=True)
class Step:
    """One thing the recording says happened at ``at`` (epoch ms): ``kind`` is pool, bet,
    event, block, allow or close; ``ref`` the recorded pool or game id it is about."""

    at: int
    kind: str
    ref: str
    data: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(slots=True)
class Timeline:
    start: int = 0
    user_id: str | None = None
    games: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    pools: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    steps: list[Step] = attrs.field(factory=list)
    outcomes: dict[str, str] = attrs.field(factory=dict)  # recorded pool -> winning target
    events: list[tuple[int, str, str, str]] = attrs.field(factory=list)  # at, game, action, t
    bets_seen: set[str] = attrs.field(factory=set)


def _money(value: Any) -> Decimal | None:
    """A recorded amount, or None unless a positive number. One ``Decimal`` per text (the
    same value and exponent): a replay's bets repeat a few amounts, and the market hashes
    each bet's amount to look it up; a shared object is hashed once."""
    text = str(value)
    amount = _AMOUNTS.get(text)
    if amount is not None:
        return amount
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not (amount.is_finite() and amount > 0):
        return None
    if len(_AMOUNTS) >= 4096:
        _AMOUNTS.clear()
    _AMOUNTS[text] = amount
    return amount


_AMOUNTS: dict[str, Decimal] = {}


def _game(tl: Timeline, game_id: Any) -> dict[str, Any] | None:
    if game_id is None:
        return None
    return tl.games.setdefault(str(game_id), {"name": None, "actions": set(),
                                              "targets": set()})


def _bets(tl: Timeline, at: int, pool_id: str, bets: Iterable[Any], listed: bool = False
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
        # One object per name (interned): the market keys its dicts by bettor and target
        # for every bet, and a key that is the stored object is found without comparing text.
        tl.steps.append(Step(when, "bet", pool_id, {
            "user": sys.intern(f"rec-{user}"), "target": sys.intern(str(target)),
            "amount": amount, "listed": listed}))


def _pool(tl: Timeline, at: int, pool: dict[str, Any], listed: bool) -> None:
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


def _inbound(tl: Timeline, at: int, res: int, fields: dict[str, Any]) -> None:
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


def _binary_targets(tl: Timeline) -> None:
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
                  ) -> Timeline:
    """Read a recording (one pass, lazily) into the timeline a ``Backtest`` plays."""
    lines, close = open_recording(source)
    try:
        it = iter(lines)
        first = next(it, None)
        if first is None:
            raise RecordingError("the recording is empty")
        header = read_header(first)
        tl = Timeline(start=header.created, user_id=header.user_id)
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


