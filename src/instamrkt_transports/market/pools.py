"""The reference market's betting pools: the pools, their bets and what is due to them.

A pool's life (opened, bet on, blocked and allowed now or at a later time, suggested hot,
resolved by an event, by its ``finish_at`` or with its game, opened again when
``recreate_on_end``) changes only the pool, its bets, the timetable of what is due and the
money. Keeping that state behind one class leaves the market (``market.py``) with games,
sources, roles and dispatch: it checks who may do what, then asks the pools. The pools read
the market's games (a pool's game name, whether the game is open) and never change them;
money moves only through the ledger (``ledger.py``). The rules are ``docs/market.md``'s
"Pools" and "Payouts".
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from .ledger import Ledger, money, new_money
from .records import Audience, Bet, Game, MarketError, Out, Pool, checked, new_bet
from .views import bet_fields, distribution, pool_fields

__all__ = ("NONE", "PoolBook", "matches")


def matches(pool_target: str, event_target: str) -> bool:
    """Targets nest with ":": an event on ``brazil:neymar`` also hits a pool on ``brazil``."""
    return event_target == pool_target or event_target.startswith(pool_target + ":")


NONE = "none"
_ZERO = Decimal(0)


def _expiry_target(pool: Pool) -> str:
    """A pool ending with no event (its ``finish_at``, its game closing): binary pools
    resolve "no", parimutuel "none" (its backers win; stakes back if nobody backed it)."""
    return "no" if pool.binary else NONE


class PoolBook:
    """Every pool and bet of a market on ``clock`` (epoch ms), with ``ledger`` for the money
    and read access to the market's ``games``. ``pools`` and ``bets`` are read-only views."""

    def __init__(self, clock: Callable[[], int], ledger: Ledger,
                 games: Mapping[str, Game], *, resolved_kept: int = 100) -> None:
        self._clock = clock
        self._resolved_kept = resolved_kept
        self._resolved: dict[str, deque[str]] = {}  # game id -> its resolved pools, oldest first
        self._ledger = ledger
        self._games = games
        self._pools: dict[str, Pool] = {}
        # game id -> its unresolved pools, in opening order (the order of ``_pools``): an
        # event looks through these, not the resolved pools each game keeps
        self._unresolved: dict[str, dict[str, Pool]] = {}
        self._bets: dict[str, Bet] = {}
        self._pool_ids = itertools.count(1)
        self._bet_ids = itertools.count(1)
        # (at, seq, what, pool_id): "expire", "block", "allow" or "hot" at ``at``; what is
        # due goes to every subscriber (the requester's reply came long before)
        self._due: list[tuple[int, int, str, str]] = []
        self._due_seq = itertools.count()
        self._audiences: dict[tuple[str, str], Audience] = {}
        # who may hear a balance push (815): None is everyone; see Market.balance_pushes_for
        self.heard: Callable[[str], bool] | None = None

    @property
    def pools(self) -> Mapping[str, Pool]:
        return MappingProxyType(self._pools)

    @property
    def bets(self) -> Mapping[str, Bet]:
        return MappingProxyType(self._bets)

    def new_pool_id(self) -> str:
        return f"pool-{next(self._pool_ids)}"

    # -- reads -------------------------------------------------------------------------------

    def get(self, pool_id: str | int) -> Pool:
        pool = self._pools.get(str(pool_id))
        if pool is None:
            raise MarketError(f"unknown betting pool {pool_id!r}")
        return pool

    def of_game(self, game_id: str | int) -> list[Pool]:
        return [p for p in self._pools.values() if p.game_id == str(game_id)]

    def open_for_action(self, game_id: str, action: str) -> list[Pool]:
        """The unresolved pools of ``game_id`` on ``action``."""
        return [p for p in self._unresolved_of(game_id)
                if p.action_id == action and p.resolved_at is None]

    def _unresolved_of(self, game_id: str) -> list[Pool]:
        pools = self._unresolved.get(str(game_id))
        return list(pools.values()) if pools else []

    # -- a pool's life -----------------------------------------------------------------------

    def open(self, pool: Pool) -> list[Out]:
        """Add ``pool`` (of a game), schedule its expiry and announce it (352)."""
        if pool.pool_id in self._pools:  # ids are the book's own: never two pools in one id
            raise AssertionError(f"pool id {pool.pool_id!r} is taken")
        self._pools[pool.pool_id] = pool
        if pool.resolved_at is None:
            self._unresolved.setdefault(pool.game_id, {})[pool.pool_id] = pool
        if pool.finish_at is not None:
            self._schedule(pool.finish_at, "expire", pool.pool_id)
        game = self._games.get(pool.game_id)
        fields = pool_fields(pool, game, None)
        fields.pop("name", None)
        if game is not None and game.live_start_at is not None:
            fields["live_start_at"] = game.live_start_at  # 352 carries it (the docs)
        return [Out(352, checked(352, fields), Audience("game", pool.game_id))]

    def place_bet(self, user: str, pool_id: str | int, target: str, amount: Decimal,
                  now: int) -> tuple[Bet, list[Out]]:
        """Stake ``amount`` on ``target``: the bet, and its 361 and 815 pushes. An unknown
        ``pool_id`` is refused before any money moves (no pool is made up for it)."""
        pool = self._pools.get(pool_id if isinstance(pool_id, str) else str(pool_id))
        if pool is None:
            raise MarketError(f"place_bet_in_betting_pool: unknown betting pool {pool_id!r} "
                              "(no bet placed, nothing charged)")
        why = self._closed_to_bets(pool, target, now)
        if why:
            raise MarketError(f"place_bet_in_betting_pool: {why}")
        self._ledger.stake(user, amount)
        bet = new_bet(f"bet-{next(self._bet_ids)}", user, pool.pool_id, target, amount, now)
        self._bets[bet.bet_id] = bet
        pool.bets.append(bet)
        pushes = [Out(361, {"pool_id": pool.pool_id, "target_level": 1,
                            "distribution": distribution(pool, with_bets=False),
                            "new_bets": [bet_fields(bet)]},
                      self._audience("game", pool.game_id))]
        # Like the real server, a balance change is followed by a 815 push to the user.
        if self.heard is None or self.heard(user):
            pushes.append(Out(815, self._ledger.balance_fields(user),
                              self._audience("user", user)))
        return bet, pushes

    def _audience(self, kind: str, key: str) -> Audience:
        """The audience of a game's or a user's pushes, made once (every bet has two).
        One per user and per game not yet forgotten."""
        audience = self._audiences.get((kind, key))
        if audience is None:
            audience = self._audiences[kind, key] = Audience(kind, key)
        return audience

    def _closed_to_bets(self, pool: Pool, target: str, now: int) -> str | None:
        if pool.resolved_at is not None:
            return f"pool {pool.pool_id!r} is resolved"
        if pool.blocked:
            return f"betting in pool {pool.pool_id!r} is blocked"
        if now < pool.start_at:
            return f"pool {pool.pool_id!r} opens at {pool.start_at}"
        if pool.stop_accepting_bets_at is not None and now >= pool.stop_accepting_bets_at:
            return f"pool {pool.pool_id!r} stopped accepting bets"
        if self._games[pool.game_id].status != "open":
            return f"game {pool.game_id!r} is not open"
        bettable = pool.bettable
        if bettable and target not in bettable:
            return f"target {target!r} is not one of {bettable}"
        return None

    def block_or_allow(self, pools: list[Pool], blocked: bool, at: int | None,
                       requester: str | None) -> list[Out]:
        """Block (or allow) betting in ``pools``: now, returning the pushes, or at a future
        ``at`` (scheduled: ``due`` pushes them then)."""
        now = self._clock()
        pushes: list[Out] = []
        for pool in pools:
            if at is not None and at > now:
                self._schedule(at, "block" if blocked else "allow", pool.pool_id)
                continue
            for out in self._set_blocked(pool, blocked, now if at is None else at):
                pushes.append(out._replace(to=attrs.evolve(out.to, exclude=requester)))
        return pushes

    def _set_blocked(self, pool: Pool, blocked: bool, at: int) -> list[Out]:
        pool.blocked = blocked
        res, key = (368, "blocked_at") if blocked else (369, "allowed_at")
        return [Out(res, {"pool_id": pool.pool_id, key: at}, Audience("game", pool.game_id))]

    def mark_hot(self, pools: list[Pool], since: int, requester: str) -> list[Out]:
        """Suggest ``pools`` as hot since ``since``: now (their 367 pushes), or, for a future
        ``since``, scheduled (``due`` marks them and pushes 367 then)."""
        if since > self._clock():
            for pool in pools:
                self._schedule(since, "hot", pool.pool_id)
            return []
        return [out for pool in pools for out in self._set_hot(pool, since, requester)]

    def _set_hot(self, pool: Pool, since: int, requester: str | None) -> list[Out]:
        pool.hot_since = since
        return [Out(367, {"pool_id": pool.pool_id, "hot_since": since},
                    Audience("game", pool.game_id, requester))]

    # -- resolution --------------------------------------------------------------------------

    def event(self, game_id: str, action_id: str, target_id: str, at: int) -> list[Out]:
        """Resolve the pools of ``game_id`` that an event hits (``docs/market.md``)."""
        pushes: list[Out] = []
        for pool in self._unresolved_of(game_id):
            if pool.resolved_at is not None or pool.start_at > at:
                continue
            if pool.action_id is not None and pool.action_id != action_id:
                continue
            if pool.binary:  # answered by hand: "no" by an event on "none"
                if target_id == NONE:
                    pushes += self._resolve(pool, "no", at)
                elif not pool.targets or any(matches(t, target_id) for t in pool.targets):
                    pushes += self._resolve(pool, "yes", at)
                continue
            winner = next((t for t in pool.targets if matches(t, target_id)), None)
            if winner is not None:
                pushes += self._resolve(pool, winner, at)
        return pushes

    def close_game(self, game_id: str, *, keep_manual: bool = False
                   ) -> tuple[list[Out], list[Pool]]:
        """Resolve every open pool of a closing game, with no event and no recreation:
        the pushes, and the manual (binary) pools left pending. ``keep_manual`` (close_game,
        375) leaves binary pools unresolved and blocks them (the docs never resolve them
        automatically); the caller announces them."""
        pushes: list[Out] = []
        pending: list[Pool] = []
        now = self._clock()
        for pool in self._unresolved_of(game_id):
            if pool.game_id == game_id and pool.resolved_at is None:
                if keep_manual and pool.binary:
                    pool.blocked = True
                    pool.recreate_on_end = False  # the game is closing: no fresh copy
                    pending.append(pool)
                    continue
                pool.recreate_on_end = False
                pushes += self._resolve(pool, _expiry_target(pool), now)
        return pushes, pending

    def due(self, now: int) -> list[Out]:
        """Run what the timetable says is due by ``now``: scheduled blocks, allows and hot
        suggestions, and time-based pools reaching ``finish_at`` (363). Returns the pushes."""
        if not self._due or self._due[0][0] > now:
            return []  # every bet's tick asks: answered without building anything
        pushes: list[Out] = []
        while self._due and self._due[0][0] <= now:
            at, _seq, what, pool_id = heapq.heappop(self._due)
            pool = self._pools.get(pool_id)
            if pool is None or pool.resolved_at is not None:
                continue
            if what == "expire":
                pushes += self._resolve(pool, _expiry_target(pool), at, res=363)
            elif what == "hot":
                pushes += self._set_hot(pool, at, None)
            else:
                pushes += self._set_blocked(pool, what == "block", at)
        return pushes

    def _schedule(self, at: int, what: str, pool_id: str) -> None:
        heapq.heappush(self._due, (at, next(self._due_seq), what, pool_id))

    def _resolve(self, pool: Pool, winning: str, at: int, res: int = 362) -> list[Out]:
        """Settle the pool with the ledger (bets placed after ``at`` are returned, winners
        share the pool) and build the 362 or 363 and the 815s."""
        now = self._clock()
        settled = self._ledger.settle(pool.bets, winning, at)
        payouts = pool.payouts
        for user, back in settled.returned.items():
            payouts[user] = payouts.get(user, _ZERO) + back
        pool.resolved_at, pool.winning_target = now, winning
        self._unresolved.get(pool.game_id, {}).pop(pool.pool_id, None)
        fields: dict[str, Any] = {
            "pool_id": pool.pool_id, "game_id": pool.game_id, "winning_target": winning,
            "description": pool.description,
            "winners": {u: new_money(v) for u, v in settled.winners.items()},
            "losers": {u: money(v) for u, v in settled.losers.items()},
            "invalidated_bettors": settled.invalidated,
            "is_money_return": settled.money_return, "resolved_at": now}
        if res == 363:
            fields["expired_at"] = now
        pushes = [Out(res, checked(res, {k: v for k, v in fields.items() if v is not None}),
                      Audience("game", pool.game_id))]
        heard = self.heard
        pushes += [Out(815, self._ledger.balance_fields(u), Audience("user", u))
                   for u in settled.returned if heard is None or heard(u)]
        self._remember_resolved(pool)
        if pool.recreate_on_end:
            game = self._games[pool.game_id]
            shift = now - pool.start_at
            again = attrs.evolve(
                pool, pool_id=self.new_pool_id(), bets=[], payouts={}, resolved_at=None,
                winning_target=None, hot_since=None, start_at=now,
                finish_at=None if pool.finish_at is None else pool.finish_at + shift,
                stop_accepting_bets_at=None if pool.stop_accepting_bets_at is None
                else pool.stop_accepting_bets_at + shift,
                blocked=pool.action_id in game.blocked_actions)
            pushes += self.open(again)
        return pushes

    # -- bounded history ---------------------------------------------------------------------

    def _remember_resolved(self, pool: Pool) -> None:
        """Keep the newest ``resolved_kept`` resolved pools of each game; forget older ones
        and their bets (their money has settled: nothing is owed on them)."""
        kept = self._resolved.setdefault(pool.game_id, deque())
        kept.append(pool.pool_id)
        while len(kept) > self._resolved_kept:
            self._forget(kept.popleft())

    def forget_game(self, game_id: str) -> bool:
        """Forget every pool of a closed game and their bets, if all are resolved (a bet
        whose pool is open is never forgotten). Whether the game was forgotten."""
        pools = self.of_game(game_id)
        if any(pool.resolved_at is None for pool in pools):
            return False
        self._resolved.pop(game_id, None)
        self._unresolved.pop(game_id, None)
        self._audiences.pop(("game", game_id), None)
        for pool in pools:
            self._forget(pool.pool_id)
        return True

    def _forget(self, pool_id: str) -> None:
        pool = self._pools.pop(pool_id)
        self._unresolved.get(pool.game_id, {}).pop(pool_id, None)
        for bet in pool.bets:
            del self._bets[bet.bet_id]
