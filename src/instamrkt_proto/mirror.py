"""The market mirror: the state a bot bets on, folded from the session's events, sans-IO.

``MarketMirror.apply(event)`` takes every event a client produces (replies, pushes and the
lifecycle events ``Reconnected`` and ``PushesDropped``) in arrival order and returns what
changed, as typed ``Change`` records. It reads no clock and does no I/O: the same events
give the same mirror, live or replayed from a recording.

The rules (``docs/mirror.md`` has them at length):

* **Replies replace, pushes merge.** A read's reply is an image: the pool list of a game
  replaces the mirror's pools of that game, a balance read replaces the balance. A push
  changes what it names, and a push naming a pool or game the mirror does not know creates
  nothing (it is reported as ``Ignored``): the reply that lists it will.
* **Never guess.** A value not learnt from the server is ``None``, never zero. Sums and
  odds are views computed on demand (``PoolView.total``, ``implied_payout``), never state.
* **Gaps make things stale.** After ``Reconnected`` or ``PushesDropped`` the pushes of the
  gap are lost, so the balance, the joined games and every unended pool are marked stale;
  ``resync_requests()`` gives the reads that refresh them, and only their replies (or a
  full balance push) clear it. Something never read (a game just joined, the balance at
  start) is stale too: stale means "the mirror cannot vouch for it".
* **It checks its own arithmetic.** When a pool of mine resolves, what the push says I lost
  must be what the mirror recorded I staked on the losing targets, and the balance push
  that follows must equal the mirror's balance plus the payout. A disagreement is a
  ``MirrorMismatch`` change, counted in ``metrics``; the server's value is then kept.
* **Memory follows open pools and my bets.** A pool that ends with nothing of mine in it
  is forgotten (a bounded set of forgotten ids absorbs late pushes); no history of pushes
  is kept.

Reading from another thread: ``snapshot()`` returns a consistent frozen copy even while
another thread applies events (the threaded client does): it copies, then retries if an
``apply`` ran meanwhile. ``games``, ``pools`` and ``my_bets`` are live read-only views for
the thread that applies.

What is stale lives apart (``_mirror_stale``), so that what a gap spoils and which reads
repair it are decided in one place; pools are records changed in place and frozen when read
(``_mirror_pools``), as a view built per push would cost more than decoding the push; my
bets, my balance and the checks between them are the ledger's (``_mirror_ledger``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from . import api
from ._mirror_ledger import Ledger
from ._mirror_pools import Pool, PoolViews, may_be_mine, resolved_payout
from ._mirror_pools import distribution as _distribution
from ._mirror_pools import live_status as _live_status
from ._mirror_pools import proxy as _proxy
from ._mirror_pools import raw_fields as _raw
from ._mirror_records import (
    DISCARD,
    EMPTY,
    Balance,
    BalanceChanged,
    BetChanged,
    BetState,
    BetView,
    Change,
    DistributionChanged,
    GameChanged,
    GameView,
    Ignored,
    MarkedStale,
    MirrorMetrics,
    MirrorMismatch,
    MirrorSnapshot,
    PoolAdded,
    PoolRemoved,
    PoolResolved,
    PoolStatus,
    PoolStatusChanged,
    PoolView,
    Resynced,
    StakeChanged,
    StaleKey,
    StaleKind,
    builder,
)
from ._mirror_stale import Staleness, game_keys
from .errors import RemoteProtocolError
from .events import Event, LateReply, Push, PushesDropped, Reconnected, Response

__all__ = (
    "Balance",
    "BalanceChanged",
    "BetChanged",
    "BetState",
    "BetView",
    "Change",
    "DistributionChanged",
    "GameChanged",
    "GameView",
    "Ignored",
    "MarkedStale",
    "MarketMirror",
    "MirrorMetrics",
    "MirrorMismatch",
    "MirrorSnapshot",
    "PoolAdded",
    "PoolRemoved",
    "PoolResolved",
    "PoolStatus",
    "PoolStatusChanged",
    "PoolView",
    "Resynced",
    "StakeChanged",
    "StaleKey",
    "StaleKind",
    "resolved_payout",
)

_ZERO = Decimal(0)
_RESOLVED, _EXPIRED = PoolStatus.RESOLVED, PoolStatus.EXPIRED
_OPEN, _HOT, _BLOCKED = PoolStatus.OPEN, PoolStatus.HOT, PoolStatus.BLOCKED
_TOMBSTONES = 128  # late pushes for a forgotten pool come within moments

_distribution_changed = builder(DistributionChanged)
_ignored = builder(Ignored)
_stake_changed = builder(StakeChanged)
_status_changed = builder(PoolStatusChanged)
_IGNORED: dict[tuple[int | None, str], Ignored] = {}
_DISCARD = DISCARD  # where ``update`` sends changes: nowhere (the hot paths skip building them)
Handler = Callable[["MarketMirror", Any, list[Change]], None]


class MarketMirror:
    """Games, pools, my bets and my balance, kept current from a session's events.

    ``user_id`` is "me" (the bets, stakes and payouts that are mine); the clients pass their
    credentials' user id. Left ``None``, the mirror learns it from the first distribution
    push that carries a bet its own bet reply announced. ``currency`` is the balance's
    currency (``None``: the first one seen); balance messages in another are ignored.
    """

    __slots__ = ("_counts", "_games", "_gen", "_ledger", "_missing", "_out", "_pools",
                 "_stale", "_staleness", "_tombs")

    def __init__(self, user_id: str | int | None = None, *, currency: str | None = None
                 ) -> None:
        self._games: dict[str, GameView] = {}
        self._pools: dict[str, Pool] = {}
        self._staleness = staleness = Staleness(self._pools)
        # its sets, tested on the push paths without a hop; only it changes them
        self._stale, self._missing = staleness.keys, staleness.missing
        self._ledger = Ledger(None if user_id is None else str(user_id), currency, staleness)
        self._tombs: dict[str, None] = {}  # pools forgotten lately, oldest first
        self._gen = 0
        self._counts = [0, 0, 0]  # events, changes, ignored (the ledger counts its own)
        self._out: list[Change] = []

    # -- reading -------------------------------------------------------------------------

    @property
    def user_id(self) -> str | None:
        return self._ledger.me

    @property
    def games(self) -> Mapping[str, GameView]:
        return MappingProxyType(self._games)

    @property
    def pools(self) -> Mapping[str, PoolView]:
        """The pools by id, each read as a frozen ``PoolView`` (for the thread applying
        events; other threads read ``snapshot()``)."""
        return PoolViews(self, self._pools)

    @property
    def my_bets(self) -> Mapping[str, BetView]:
        """My bets by bet id (a bet whose reply carried no id is keyed ``unnamed-N``)."""
        return MappingProxyType(self._ledger.bets)

    @property
    def balance(self) -> Balance:
        return self._ledger.balance

    @property
    def stale(self) -> frozenset[StaleKey]:
        return frozenset(self._stale)

    @property
    def metrics(self) -> MirrorMetrics:
        events, changes, ignored = self._counts
        staleness, ledger = self._staleness, self._ledger
        return MirrorMetrics(events=events, changes=changes, ignored=ignored + ledger.ignored,
                             mismatches=ledger.mismatches, gaps=staleness.gaps,
                             resyncs=staleness.resyncs)

    def is_stale(self, pool_id: str) -> bool:
        """Whether anything the mirror holds about pool ``pool_id`` awaits a read."""
        return self._staleness.is_stale(pool_id)

    def snapshot(self) -> MirrorSnapshot:
        """A consistent frozen copy, safe to take from any thread (see the module doc)."""
        while True:
            gen = self._gen
            if gen & 1:  # an apply is under way in another thread: let it finish
                continue
            ledger = self._ledger
            snap = MirrorSnapshot(
                user_id=ledger.me, games=MappingProxyType(dict(self._games)),
                pools=MappingProxyType({p: v.view or v.build() for p, v in
                                        self._pools.copy().items()}),
                my_bets=MappingProxyType(dict(ledger.bets)), balance=ledger.balance,
                stale=frozenset(self._stale.copy()))
            if self._gen == gen:
                return snap

    def resync_requests(self) -> tuple[api.Request[Any], ...]:
        """The reads whose replies refresh everything stale, each once, in a stable order."""
        return self._staleness.resync_requests(self._ledger.balance.currency)

    def forget_settled(self) -> tuple[Change, ...]:
        """Drop ended pools and my bets in them (a long-running bot's memory bound)."""
        out: list[Change] = []
        self._gen += 1
        try:
            for pool_id in [p for p, v in self._pools.items() if v.status.ended]:
                self._ledger.forget(self._pools[pool_id].my_bets)
                self._forget_pool(pool_id, "settled", out)
        finally:
            self._gen += 1
        return tuple(out)

    # -- applying ------------------------------------------------------------------------

    def apply(self, event: Event) -> tuple[Change, ...]:
        """Fold ``event`` into the mirror; returns what changed (empty if nothing did).

        Never raises for an ``Event``: what the mirror cannot use is ``Ignored`` or marks
        something stale. Anything else is a ``TypeError``.
        """
        try:
            handler = _HANDLERS[type(event)]
        except KeyError:
            handler = _checked_handler(type(event))
        out = self._out  # one list, emptied after each event: no allocation per push
        self._gen += 1
        try:
            handler(self, event, out)
        except RemoteProtocolError:  # a nested list of the message could not be structured
            self._undecodable(event, out, unreadable=True)
        except BaseException:
            out.clear()
            raise
        finally:
            self._gen += 1
        counts = self._counts
        counts[0] += 1
        if out:
            counts[1] += len(out)
            changes = tuple(out)
            out.clear()
            return changes
        return ()

    def update(self, event: Event) -> None:
        """``apply`` without building the change records: the same state, for a reader who
        only reads the state (the clients' ``mirror=True`` folds every push this way).
        ``metrics.changes`` counts only the changes ``apply`` reported."""
        cls = type(event)
        handler = _HANDLERS.get(cls) or _checked_handler(cls)
        self._gen += 1
        try:
            handler(self, event, _DISCARD)
        except RemoteProtocolError:
            self._undecodable(event, _DISCARD, unreadable=True)
        finally:
            self._gen += 1
        self._counts[0] += 1

    # -- gaps and what the mirror cannot use -------------------------------------------

    def _gap(self, event: Event, out: list[Change]) -> None:
        """Pushes were lost: the games rejoined or not, and everything stale."""
        self._ledger.gap()
        cause = type(event).__name__
        if isinstance(event, Reconnected):
            rejoined = set(event.rejoined)
            for game_id, old in list(self._games.items()):
                joined = game_id in rejoined
                if old.joined != joined:
                    game = attrs.evolve(old, joined=joined)
                    self._games[game_id] = game
                    out.append(GameChanged(game_id=game_id, game=game, cause=cause))
        self._staleness.gap(cause, self._games, out)

    def _undecodable(self, event: Any, out: list[Change], *, unreadable: bool = False
                     ) -> None:
        """A state-bearing message the core could not structure: what it named is stale."""
        if event.decode_error is None and not unreadable:
            return
        if not self._staleness.undecodable(event.res, getattr(event, "fields", EMPTY), out):
            self._ignore(event.res, "undecodable", out)

    def _ignore(self, res: int | None, reason: str, out: list[Change]) -> None:
        self._counts[2] += 1
        if out is _DISCARD:
            return
        change = _IGNORED.get((res, reason))  # records are immutable: one of each will do
        if change is None:
            change = _ignored(res, reason)
            if len(_IGNORED) < 256:
                _IGNORED[res, reason] = change
        out.append(change)

    # -- games ---------------------------------------------------------------------------

    def _set_game(self, game: GameView, cause: str, out: list[Change]) -> None:
        if self._games.get(game.game_id) != game:
            self._games[game.game_id] = game
            out.append(GameChanged(game_id=game.game_id, game=game, cause=cause))

    def _joined(self, event: api.GameJoined, out: list[Change]) -> None:
        if event.game_id is None:
            return
        game = self._games.get(event.game_id) or GameView(game_id=event.game_id)
        if game.joined:
            return
        self._set_game(attrs.evolve(game, joined=True), "joined", out)
        gid = event.game_id
        self._staleness.mark(game_keys(gid), "joined", out)

    def _left(self, event: api.GameLeft, out: list[Change]) -> None:
        """A game left sends no more pushes: forget it and its pools (my bets stay)."""
        gid = event.game_id
        if gid is None or self._games.pop(gid, None) is None:
            return
        out.append(GameChanged(game_id=gid, game=None, cause="left"))
        for pool_id in [p for p, v in self._pools.items() if v.game_id == gid]:
            self._forget_pool(pool_id, "game left", out)
        self._staleness.game_left(gid)

    def _details(self, event: api.GameDetails, out: list[Change]) -> None:
        gid = event.game_id
        if gid is None:
            return
        counts: dict[str, dict[str, int]] = {}
        for row in event.game_state:  # {action_id, target_id, count} objects, as sent
            if isinstance(row, Mapping) and isinstance(row.get("count"), int) and \
                    row.get("action_id") is not None and row.get("target_id") is not None:
                counts.setdefault(str(row["action_id"]), {})[str(row["target_id"])] = \
                    row["count"]
        old = self._games.get(gid) or GameView(game_id=gid)
        game = attrs.evolve(old, details=event, closed=event.status == "game_closed",
                            counts=_proxy({a: _proxy(t) for a, t in counts.items()}))
        self._set_game(game, "details", out)
        self._staleness.clear([StaleKey(StaleKind.GAME, gid)], out)

    def _known_game(self, gid: str | None, res: int, out: list[Change]) -> GameView | None:
        game = self._games.get(gid) if gid is not None else None
        if game is None:
            self._ignore(res, "unknown game", out)
        return game

    def _game_closed(self, event: api.GameClosed, out: list[Change]) -> None:
        game = self._known_game(event.game_id, event.res, out)
        if game is not None:
            self._set_game(attrs.evolve(game, closed=True), "closed", out)

    def _game_event(self, event: api.NewGameEvent, out: list[Change]) -> None:
        game = self._known_game(event.game_id, event.res, out)
        if game is None:
            return
        counts = dict(game.counts)
        if event.action_id is not None:
            counts[event.action_id] = _proxy(dict(event.current_count))
        self._set_game(attrs.evolve(game, last_event=event, counts=_proxy(counts)), "event",
                       out)

    def _action_blocking(self, event: Any, out: list[Change]) -> None:
        game = self._known_game(event.game_id, event.res, out)
        if game is None or event.action_id is None:
            return
        blocked = isinstance(event, api.BettingForGameAndActionBlocked)
        actions = game.blocked_actions | {event.action_id} if blocked else \
            game.blocked_actions - {event.action_id}
        self._set_game(attrs.evolve(game, blocked_actions=actions), "action blocking", out)

    # -- pools ---------------------------------------------------------------------------

    def _forget_pool(self, pool_id: str, cause: str, out: list[Change]) -> None:
        self._pools.pop(pool_id, None)
        if self._stale or self._missing:
            self._staleness.pool_gone(pool_id)
        tombs = self._tombs  # insertion-ordered: the oldest goes first
        if pool_id not in tombs:
            tombs[pool_id] = None
            if len(tombs) > _TOMBSTONES:
                del tombs[next(iter(tombs))]
        out.append(PoolRemoved(pool_id=pool_id, cause=cause))

    def _known_pool(self, pool_id: str | None, res: int, out: list[Change]) -> Pool | None:
        pool = self._pools.get(pool_id) if pool_id is not None else None
        if pool is None:
            self._ignore(res, "forgotten pool" if pool_id in self._tombs else "unknown pool",
                         out)
        return pool

    def _image(self, image: Any, game_id: str | None, out: list[Change], *,
               resolved_list: bool = False) -> str | None:
        """Replace a pool by the server's image of it (a pool record of a 352 or a list)."""
        pool_id: str | None = image.pool_id
        if pool_id is None:
            return None
        targets, money, ratio = _distribution(image.distribution)
        old = self._pools.get(pool_id)
        ended = image.resolved_at is not None or image.winning_target is not None
        same = old is not None and (not old.status.ended or ended)  # else: recreated
        before = old.frozen() if old is not None and same else None
        pool = old if old is not None and same else Pool(pool_id)
        if not same:  # my bets placed before the mirror knew the pool
            pool.my_bets, stakes = self._ledger.placed_in(pool_id)
            pool.set_stakes(_proxy(stakes))
        if image.user_backed or "user_backed" in _raw(image):
            pool.set_stakes(_proxy(dict(image.user_backed)))
        if ended and resolved_list and image.total_winnings is not None:
            pool.my_payout = image.total_winnings
        blocked, hot = bool(image.is_blocked), bool(image.is_hot)
        if ended:
            if not pool.status.ended:  # it ended while the mirror did not look
                pool.status = PoolStatus.RESOLVED
                self._ledger.ended_unseen(pool.my_bets, out)
        else:
            pool.status = _live_status(blocked, hot)
        pool.game_id = image.game_id or game_id
        pool.description, pool.type, pool.action_id = (image.description, image.type,
                                                       image.action_id)
        pool.is_blocked, pool.is_hot = blocked, hot
        pool.targets, pool.distribution, pool.to_win_if_backed = targets, money, ratio
        pool.participants, pool.start_at, pool.finish_at = (image.participants,
                                                            image.start_at, image.finish_at)
        pool.stop_accepting_bets_at = image.stop_accepting_bets_at
        pool.resolved_at, pool.winning_target = image.resolved_at, image.winning_target
        pool.view = None
        self._pools[pool_id] = pool
        if self._missing:
            self._staleness.listed(pool_id)
        self._tombs.pop(pool_id, None)
        if before is None:
            out.append(PoolAdded(pool=pool.frozen()))
        else:
            if before.status is not pool.status:
                out.append(_status_changed(pool_id, before.status, pool.status))
            if before.distribution != pool.distribution:
                out.append(_distribution_changed(pool_id, before.distribution, money))
            if before.my_stakes != pool.my_stakes:
                out.append(_stake_changed(pool_id, before.my_stakes, pool.my_stakes))
        return pool_id

    def _new_pool(self, event: api.NewBettingPool, out: list[Change]) -> None:
        self._image(event, None, out)

    def _pool_list(self, event: Any, out: list[Change]) -> None:
        """353/354/355/3535: images of pools of one game; 3535 (every open pool) and 354
        (my running pools) also say which of the mirror's pools are no longer open."""
        gid = event.game_id
        res = event.res
        listed: set[str] = set()
        for image in event.pools_list:
            pool_id = self._image(image, gid, out, resolved_list=res == 355)
            if pool_id is not None:
                listed.add(pool_id)
        cleared = [StaleKey(StaleKind.POOL, p) for p in listed]
        if gid is not None and res in (3535, 354):
            cleared.append(StaleKey(StaleKind.GAME_POOLS if res == 3535 else StaleKind.MY_POOLS,
                                    gid))
            for pool_id, pool in list(self._pools.items()):
                if pool.game_id != gid or pool_id in listed or pool.status.ended:
                    continue
                if pool.my_stakes:  # ended while we did not look: its resolution is due
                    self._staleness.unlisted(pool_id, out)
                elif res == 3535:
                    self._forget_pool(pool_id, "not in the open pools", out)
        if gid is not None and res == 355:
            for pool_id in [p for p in self._missing
                            if p not in listed and self._pools[p].game_id == gid]:
                self._forget_pool(pool_id, "in no list", out)
        self._staleness.clear(cleared, out)

    def _distribution_read(self, event: api.NewBettingPoolBetsDistribution,
                           out: list[Change]) -> None:
        """393's reply: the pool's distribution and, with its bets, my stakes in it."""
        pool = self._known_pool(event.pool_id, event.res, out)
        if pool is None:
            return
        entries = event.distribution
        self._set_distribution(pool, entries, out)
        with_bets = any(entry.bets or "bets" in entry.raw for entry in entries)
        me = self._ledger.me
        if with_bets and me is not None:
            stakes: dict[str, Decimal] = {}
            for entry in entries:
                for bet in entry.bets:
                    if bet.user_id == me and bet.amount is not None:
                        target = bet.target or entry.target_id or ""
                        stakes[target] = stakes.get(target, _ZERO) + bet.amount
                        self._add_bet(bet.bet_id, pool.pool_id, target, bet.amount,
                                      bet.placed_at, "distribution read", out, stake=False)
            if stakes != pool.my_stakes:
                new, old = _proxy(stakes), pool.my_stakes
                pool.my_stakes, pool.view = new, None
                out.append(_stake_changed(pool.pool_id, old, new))
        if self._stale:
            self._staleness.clear([StaleKey(StaleKind.POOL, pool.pool_id)], out)

    def _set_distribution(self, pool: Pool, entries: Sequence[api.DistributionEntry],
                          out: list[Change]) -> None:
        targets, money, ratio = _distribution(entries)
        old = pool.distribution
        if money != old or ratio != pool.to_win_if_backed:
            if targets:
                pool.targets = targets
            pool.distribution, pool.to_win_if_backed, pool.view = money, ratio, None
            if money != old and out is not _DISCARD:
                out.append(_distribution_changed(pool.pool_id, old, money))

    def _distribution_push(self, event: api.BettingPoolBetsDistributionUpdate,
                           out: list[Change]) -> None:
        me, pool_id = self._ledger.me, event.pool_id
        if event.new_bets and (me is None or may_be_mine(event.fields, me)):
            # my bets, and "me" learnt from a bet my own reply announced
            for bet in event.new_bets:
                if me is None:
                    me = self._ledger.learn(bet)
                if bet.user_id == me and me is not None and pool_id is not None:
                    self._add_bet(bet.bet_id, pool_id, bet.target, bet.amount,
                                  bet.placed_at, "distribution push", out)
        pool = self._pools.get(pool_id) if pool_id is not None else None
        if pool is None:
            self._known_pool(pool_id, 361, out)
        else:
            self._set_distribution(pool, event.distribution, out)

    def _pool_blocked(self, event: api.BettingInPoolBlocked, out: list[Change]) -> None:
        self._pool_flags(event, True, None, out)

    def _pool_allowed(self, event: api.BettingInPoolAllowed, out: list[Change]) -> None:
        self._pool_flags(event, False, None, out)

    def _pool_hot(self, event: api.HotBettingPoolSuggested, out: list[Change]) -> None:
        self._pool_flags(event, None, True, out)

    def _pool_flags(self, event: Any, blocked: bool | None, hot: bool | None,
                    out: list[Change]) -> None:
        """A flag push (368, 369, 367) sets ``blocked`` or ``hot`` (the other ``None``:
        unchanged) of the pool it names, if the mirror holds it and it has not ended; an
        unknown one is noted as ``_known_pool`` notes it. One function: a 368/369 must cost
        at most half of its decode, which is small."""
        pool = self._pools.get(event.pool_id)
        if pool is None:
            self._known_pool(event.pool_id, event.res, out)
            return
        old = pool.status
        if old is _RESOLVED or old is _EXPIRED:
            return
        was_blocked, was_hot = pool.is_blocked, pool.is_hot
        now_blocked = was_blocked if blocked is None else blocked
        now_hot = was_hot if hot is None else hot
        if now_blocked == was_blocked and now_hot == was_hot:
            return
        status = _BLOCKED if now_blocked else _HOT if now_hot else _OPEN
        pool.is_blocked, pool.is_hot, pool.status, pool.view = now_blocked, now_hot, status, None
        if status is not old and out is not _DISCARD:
            out.append(_status_changed(pool.pool_id, old, status))

    # -- my bets, a pool's end and my balance: the ledger's -----------------------------

    def _add_bet(self, bet_id: str | None, pool_id: str, target: str | None,
                 amount: Decimal | None, placed_at: int | None, cause: str,
                 out: list[Change], *, stake: bool = True) -> None:
        """A bet of mine (from my bet reply, a distribution push or read), once per id, and
        in its pool if the mirror holds it open."""
        key = self._ledger.add(bet_id, pool_id, target, amount, placed_at, cause, out)
        if key is None:
            return
        pool = self._pools.get(pool_id)
        if pool is None or pool.status.ended:
            return
        if stake and target is not None and amount is not None:
            old = pool.my_stakes
            grown = dict(old)
            grown[target] = grown.get(target, _ZERO) + amount
            pool.set_stakes(MappingProxyType(grown))
            out.append(_stake_changed(pool_id, old, pool.my_stakes))
        pool.my_bets, pool.view = (*pool.my_bets, key), None

    def _bet_placed(self, event: api.BetPlacedInBettingPool, out: list[Change]) -> None:
        if event.pool_id is not None:
            self._add_bet(event.bet_id, event.pool_id, event.target, event.amount, None,
                          "bet reply", out)

    def _expired(self, event: api.BetPoolExpired, out: list[Change]) -> None:
        self._resolved(event, out, _EXPIRED)

    def _resolved(self, event: api.BetPoolResolved | api.BetPoolExpired,
                  out: list[Change], status: PoolStatus = _RESOLVED) -> None:
        """A pool ended: its status and outcome; the ledger checks my payout, reports the
        end and settles my bets (``Ledger.pool_ended``); a pool left with nothing of mine
        is forgotten. A 362 must cost at most half of its decode: one call into the
        ledger, which does its part in one function."""
        pool = self._pools.get(event.pool_id) if event.pool_id is not None else None
        if pool is None:
            self._known_pool(event.pool_id, event.res, out)
            return
        old = pool.status
        if old is _RESOLVED or old is _EXPIRED:
            self._ignore(event.res, "pool already ended", out)
            return
        pool.status, pool.winning_target, pool.resolved_at = (status, event.winning_target,
                                                              event.resolved_at)
        self._ledger.pool_ended(pool, old, event, out)  # sets my payout, drops the view
        if self._stale or self._missing:
            self._staleness.pool_gone(pool.pool_id)
        if not pool.my_bets and not pool.my_stakes:
            self._forget_pool(pool.pool_id, "ended", out)

    def _balance_update(self, event: api.BalanceUpdate, out: list[Change]) -> None:
        self._ledger.balance_update(event, out)

    def _balance_read(self, event: Any, out: list[Change]) -> None:
        self._ledger.balance_read(event, out)

    # -- the rest ------------------------------------------------------------------------

    def _late(self, event: LateReply, out: list[Change]) -> None:
        """A reply that came after its request gave up (a bet that timed out): as a reply."""
        reply = api.decode_reply(event.request_id, event.op, event.res, dict(event.fields),
                                 event.server_time, None)
        handler = _HANDLERS.get(type(reply)) or _handler_for(type(reply))
        handler(self, reply, out)

    def _nothing(self, event: Event, out: list[Change]) -> None:
        """Events that change nothing the mirror holds."""


_ROUTES: dict[type, Handler] = {
    PushesDropped: MarketMirror._gap,
    Reconnected: MarketMirror._gap,
    LateReply: MarketMirror._late,
    Push: MarketMirror._undecodable,
    Response: MarketMirror._undecodable,
    api.GameJoined: MarketMirror._joined,
    api.GameLeft: MarketMirror._left,
    api.GameDetails: MarketMirror._details,
    api.GameClosed: MarketMirror._game_closed,
    api.NewGameEvent: MarketMirror._game_event,
    api.BettingForGameAndActionBlocked: MarketMirror._action_blocking,
    api.BettingForGameAndActionAllowed: MarketMirror._action_blocking,
    api.NewBettingPool: MarketMirror._new_pool,
    api.AllBettingPoolsForGame: MarketMirror._pool_list,
    api.YouOpenPoolsListForGame: MarketMirror._pool_list,
    api.YourRunningPoolsForGame: MarketMirror._pool_list,
    api.YourResolvedPoolsForGame: MarketMirror._pool_list,
    api.NewBettingPoolBetsDistribution: MarketMirror._distribution_read,
    api.BettingPoolBetsDistributionUpdate: MarketMirror._distribution_push,
    api.BettingInPoolBlocked: MarketMirror._pool_blocked,
    api.BettingInPoolAllowed: MarketMirror._pool_allowed,
    api.HotBettingPoolSuggested: MarketMirror._pool_hot,
    api.BetPlacedInBettingPool: MarketMirror._bet_placed,
    api.BetPoolResolved: MarketMirror._resolved,
    api.BetPoolExpired: MarketMirror._expired,
    api.BalanceUpdate: MarketMirror._balance_update,
    api.YourCurrentBalance: MarketMirror._balance_read,
    api.YourAvailableBalance: MarketMirror._balance_read,
    api.YourExposure: MarketMirror._balance_read,
}
_HANDLERS: dict[type, Handler] = {}
_GENERIC = (Push, Response)  # a model's own route first: a ...Reply is a Response too


def _checked_handler(cls: type) -> Handler:
    if not issubclass(cls, Event):
        raise TypeError(f"MarketMirror.apply takes an Event, not {cls.__name__}")
    return _handler_for(cls)


def _handler_for(cls: type) -> Handler:
    """The route of ``cls`` or its nearest base (a ``...Reply``/``...Push`` goes where its
    common model goes), cached per class."""
    mro = cls.__mro__
    handler = next((_ROUTES[base] for base in mro if base in _ROUTES and base not in _GENERIC),
                   None) or next((_ROUTES[base] for base in mro if base in _GENERIC),
                                 MarketMirror._nothing)
    _HANDLERS[cls] = handler
    return handler
