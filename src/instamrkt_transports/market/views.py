"""How the reference market's records read on the wire: games, pools, bets, leaderboards.

The market (``market.py``) decides what a request does; what a game, a pool, a bet or a
leaderboard then looks like in a reply or push (the names and nesting of
``docs/api.md``) is a separate question, asked by many ops and by the pools' pushes.
Answering it here, as functions that read records and never change them, keeps each answer
in one place and lets the op logic be read without the field lists.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from .ledger import CENT, money
from .records import Bet, Game, Pool, Tally

__all__ = ("bet_fields", "distribution", "game_details", "game_fields", "leaderboard",
           "odds", "points", "pool_fields", "prediction")


def game_fields(game: Game, *, details: bool = True) -> dict[str, Any]:
    """A game as in 340/3401/3402 (``details``: with its actions and target tree)."""
    fields: dict[str, Any] = {
        "source_id": game.source_id, "game_id": game.game_id, "game_name": game.name,
        "type": game.type, "currency": game.currency, "open_at": game.open_at,
        "live_start_at": game.live_start_at, "live_finish_at": game.live_finish_at,
        "close_at": game.close_at, "hashtag": game.hashtag, "image_url": game.image_url}
    if details:
        fields["actions"] = [{"action_id": a, "name": a} for a in game.actions]
        fields["targets"] = _target_tree(game.targets)
    return {k: v for k, v in fields.items() if v is not None}


def _target_tree(paths: list[str]) -> list[dict[str, Any]]:
    """``["br", "br:neymar"]`` as the docs' nested ``{symbol, display_name, targets}``."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for part in path.split(":"):
            node = node.setdefault(part, {})

    def build(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"symbol": k, "display_name": k, "targets": build(v)}
                for k, v in node.items()]
    return build(root)


def _status(game: Game, clock: Callable[[], int]) -> str:
    if game.status == "closed":
        return "game_closed"
    if game.status == "upcoming":
        return "betting_not_yet_active"
    if game.live_start_at is not None and clock() < game.live_start_at:
        return "pre_game_betting_active"
    return "game_in_progress_betting_active"


def game_details(game: Game, clock: Callable[[], int]) -> dict[str, Any]:
    """A game as in 342 (and the game lists): its fields, status, counts and past events.
    ``clock`` (epoch ms) is read only when the status depends on the time."""
    fields = game_fields(game)
    fields["status"] = _status(game, clock)
    fields["game_state"] = [{"action_id": a, "target_id": t, "count": n}
                            for a, per in game.counts.items() for t, n in per.items()]
    fields["past_events"] = list(reversed(game.events))
    return fields


def bet_fields(bet: Bet) -> dict[str, Any]:
    """A bet as in a distribution's ``bets`` and a 361's ``new_bets``."""
    return {"bet_id": bet.bet_id, "user_id": bet.user_id, "amount": money(bet.amount),
            "placed_at": bet.placed_at, "target": bet.target}


def distribution(pool: Pool, *, with_bets: bool) -> list[dict[str, Any]]:
    """Who backs what in ``pool``: one entry per bettable target, then any other target
    backed, with the money and the pool's odds on it (``with_bets``: and its bets).
    Read from the pool's running sums (``Pool.tally``): a bet's 361 costs the number of
    targets, not of bets."""
    tally = pool.tally()
    total, backed, backers = tally.total, tally.money, tally.backers
    targets = pool.bettable
    for target in backed:  # looked for, not subtracted: nearly always none is backed
        if target not in targets:
            targets = targets + sorted(backed.keys() - targets)
            break
    if not with_bets and tally.exact and tally.total_cents < _EXACT_BELOW:
        return _whole_cents_entries(tally, targets)  # every bet's 361
    by_target: dict[str, list[dict[str, Any]]] = {}
    if with_bets:
        for bet in pool.bets:
            by_target.setdefault(bet.target, []).append(bet_fields(bet))
    entries = []
    for target in targets:
        backing = backed.get(target)
        if backing is None:
            entry: dict[str, Any] = {"target_id": target, "display_name": target,
                                     "backing_people": 0, "backing_money": 0}
        else:
            entry = {"target_id": target, "display_name": target,
                     "backing_people": len(backers[target]), "backing_money": money(backing)}
            if backing:  # str of a Decimal in cents is its plain text, as format "f"
                entry["to_win_if_backed"] = str((total / backing).quantize(CENT))
        if with_bets:
            entry["bets"] = by_target.get(target, [])
        entries.append(entry)
    return entries


def _whole_cents_entries(tally: Tally, targets: list[str]) -> list[dict[str, Any]]:
    """``distribution``'s entries when every amount is a positive whole number of cents:
    the same values, from the sums in integer cents (``odds``, inlined)."""
    total = tally.total_cents * 100
    cents, backers, backed = tally.cents, tally.backers, tally.money
    entries: list[dict[str, Any]] = []
    for target in targets:
        backing = cents.get(target)
        if backing is None:
            entries.append({"target_id": target, "display_name": target,
                            "backing_people": 0, "backing_money": 0})
            continue
        hundredths, rest = divmod(total, backing)
        rest += rest
        if rest > backing or (rest == backing and hundredths & 1):
            hundredths += 1
        entries.append({"target_id": target, "display_name": target,
                        "backing_people": len(backers[target]),
                        "backing_money": money(backed[target]) if backing % 100
                        else backing // 100,
                        "to_win_if_backed": _ODDS.get(hundredths) or _odds_text(hundredths)})
    return entries


# Below this many cents the Decimal division (28 digits) cannot land on or across a
# rounding tie of the quotient in cents: integer half-even rounding gives the same text.
_EXACT_BELOW = 10**20


def odds(total_cents: int, backing_cents: int) -> str:
    """``str((total / backing).quantize(CENT))`` for positive whole cents, backing at most
    total, total below ``_EXACT_BELOW``: the pool's payout per unit backed, rounded half
    to even to the cent, as the ``Decimal`` form would be."""
    hundredths, rest = divmod(total_cents * 100, backing_cents)
    if rest * 2 > backing_cents or (rest * 2 == backing_cents and hundredths & 1):
        hundredths += 1
    return _ODDS.get(hundredths) or _odds_text(hundredths)


def _odds_text(hundredths: int) -> str:
    if len(_ODDS) >= 4096:  # the same few odds come back again and again: remembered
        _ODDS.clear()
    units, part = divmod(hundredths, 100)
    text = _ODDS[hundredths] = f"{units}.{part:02d}"
    return text


_ODDS: dict[int, str] = {}  # odds in hundredths -> their text


def pool_fields(pool: Pool, game: Game | None, user: str | None) -> dict[str, Any]:
    """A pool as in 352 and the pool lists; ``user``: with what that user backed and, once
    resolved, won. ``game`` is the pool's game (``None`` once the game is forgotten)."""
    fields: dict[str, Any] = {
        "pool_id": pool.pool_id, "game_id": pool.game_id, "description": pool.description,
        "name": pool.description, "type": pool.type, "action_id": pool.action_id,
        "participants": len(pool.tally().users),
        "amount_total": money(pool.total), "target_level": 1, "is_blocked": pool.blocked,
        "is_hot": pool.hot_since is not None,
        "distribution": distribution(pool, with_bets=False),
        "start_at": pool.start_at, "finish_at": pool.finish_at,
        "stop_accepting_bets_at": pool.stop_accepting_bets_at,
        "resolved_at": pool.resolved_at, "winning_target": pool.winning_target,
        "game_name": game.name if game else None}
    if user is not None:
        backed: dict[str, Decimal] = {}
        for bet in pool.bets:
            if bet.user_id == user:
                backed[bet.target] = backed.get(bet.target, Decimal(0)) + bet.amount
        fields["user_backed"] = {k: money(v) for k, v in backed.items()}
        if pool.resolved_at is not None:
            fields["total_winnings"] = money(pool.payouts.get(user, Decimal(0)))
    return {k: v for k, v in fields.items() if v is not None}


def prediction(bet: Bet, username: str, *, with_pool: bool) -> dict[str, Any]:
    """A friend's bet as in 460 (``with_pool``: and 461), by the bettor's ``username``."""
    out = {"user_id": bet.user_id, "username": username, "target": bet.target,
           "amount": money(bet.amount), "placed_at": bet.placed_at, "bet_id": bet.bet_id}
    if with_pool:
        out["pool_id"] = bet.pool_id
    return out


def points(pools: Iterable[Pool]) -> dict[str, Decimal]:
    """Net winnings (paid back minus staked) by user over the resolved ones of ``pools``."""
    net: dict[str, Decimal] = {}
    for pool in pools:
        if pool.resolved_at is None:
            continue
        for bet in pool.bets:
            net[bet.user_id] = net.get(bet.user_id, Decimal(0)) - bet.amount
        for uid, back in pool.payouts.items():
            net[uid] += back
    return net


def leaderboard(net: dict[str, Decimal], user: str, username: Callable[[str], str], *,
                start: int | None = None, end: int | None = None,
                counts: tuple[int | None, ...] | None = None) -> dict[str, Any]:
    """The ranked ``net`` points (ties by username): the ranks ``start`` to ``end``, or with
    ``counts`` (top, surrounding, bottom; 3 each by default) the top, the ranks around
    ``user`` and the bottom, with ``break_after_rank`` where ranks are skipped."""
    ranked = sorted(net.items(), key=lambda item: (-item[1], username(item[0])))
    entries = [{"username": username(u), "points": money(p), "rank": i}
               for i, (u, p) in enumerate(ranked, 1)]
    if counts is None:
        lo, hi = start or 0, 1_000_000 if end is None else end
        return {"leaderboard": [e for i, e in enumerate(entries, 1) if lo <= i <= hi]}
    top, around, bottom = (3 if c is None else c for c in counts)
    mine = next((i for i, (u, _p) in enumerate(ranked) if u == user), None)
    keep_idx = set(range(min(top, len(entries))))
    keep_idx |= set(range(max(0, len(entries) - bottom), len(entries)))
    if mine is not None:
        keep_idx |= set(range(max(0, mine - around), min(len(entries), mine + around + 1)))
    shown = sorted(keep_idx)
    breaks = [entries[a]["rank"] for a, b in itertools.pairwise(shown) if b != a + 1]
    return {"leaderboard": [entries[i] for i in shown], "break_after_rank": breaks}
