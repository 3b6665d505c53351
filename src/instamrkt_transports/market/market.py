"""The reference server's market: the documented API played in memory, with money that adds up.

Clients and tests rehearse against it, so it must answer every op as the docs describe
and never lose a cent; plain synchronous Python with no I/O, so tests (and the property
test) drive it directly. This module is its front: ``Market`` is the one way in. It reads
every request through the API table (``api.request_from_wire``), so the handlers see the
typed request; it keeps what the ops decide themselves (the game sources and games, who may
do what); and it checks replies and pushes against the table's fields for their code
(``records.checked``), so names cannot drift from ``instamrkt_proto.api``. The rest of the
state is owned next door, each part behind a narrow interface: the pools, their bets and
what is due to them (``pools.py``), every balance and the house (``ledger.py``, the only
code that moves money) and the synthetic push source (``synthetic.py``); ``views.py``
says how records read on the wire. The rules the public docs leave open (payouts,
rounding, roles, expiry, who receives what) are in ``docs/market.md``; the short version:

* money is ``Decimal`` in whole cents (a bet with more than two decimals is refused), so
  payouts are exact integer arithmetic on cents; a rounding remainder goes to ``house``;
* a pool resolved to a target nobody backed, or with no money, returns every stake;
* winners of both pool kinds share the whole pool pro rata to their winning stakes;
  every parimutuel pool has the target ``none`` (the docs add it), which wins at expiry;
* time is the injected ``clock`` (epoch ms); ``tick()`` runs what is due (pool expiry,
  blocks, allows and hot suggestions given a future time, a game's ``close_at``) and every
  request runs it first;
* history is bounded (the newest events of a game, resolved pools of a game, closed games),
  so a market driven for days keeps bounded memory and bounded replies.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from instamrkt_proto import RemoteProtocolError, api
from instamrkt_proto._table import OPS

from .ledger import CENT, Ledger, money
from .pools import NONE, PoolBook, matches
from .records import (
    BINARY_EVENT,
    BINARY_TIME,
    CURRENCY,
    PARIMUTUEL_TIME,
    Audience,
    Bet,
    Game,
    MarketError,
    Out,
    Pool,
    Source,
    checked,
)
from .synthetic import SyntheticPushes
from .views import (
    distribution,
    game_details,
    game_fields,
    leaderboard,
    points,
    pool_fields,
    prediction,
)

__all__ = ("Audience", "Bet", "Game", "Market", "MarketError", "Out", "Pool", "Source")

_REPLIES = {spec.op: spec.replies for spec in OPS}

_GOOD_AMOUNTS: set[Decimal] = set()  # bet amounts that passed the checks: bets repeat a few

# the reply of every bet (``Market._placed``): its names checked here once
checked(356, dict.fromkeys(("bet_id", "pool_id", "target", "amount")))


def _with_none(targets: list[str]) -> list[str]:
    """A game's targets with ``none`` added when skipped (the docs: "necessary for automatic
    pool resolution"); a game with no targets accepts any target and stays so."""
    return [*targets, NONE] if targets and NONE not in targets else targets


def _strs(value: str | Iterable[str] | None) -> list[str]:
    """A ``strs`` parameter (comma-separated text or a list) as a clean list."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [s.strip() for s in items if s.strip()]


_Result = tuple[int, dict[str, Any], list[Out]]


def _check_amount(amount: Decimal) -> None:
    """Refuse a bet's amount unless positive and in whole cents."""
    if not amount.is_finite() or amount not in _GOOD_AMOUNTS:
        if not amount.is_finite() or amount <= 0:
            raise MarketError("place_bet_in_betting_pool: the amount must be positive")
        if amount != amount.quantize(CENT):
            raise MarketError("place_bet_in_betting_pool: the amount has more than two "
                              "decimals (money is kept in cents)")
        if len(_GOOD_AMOUNTS) >= 4096:
            _GOOD_AMOUNTS.clear()
        _GOOD_AMOUNTS.add(amount)  # whether an amount passes depends on its value alone


class Market:
    """The reference market (see the module docstring and ``docs/market.md``).

    ``clock`` gives epoch ms. Balances start at ``initial_balance`` for each user, created
    on first use (``add_user`` names one for leaderboards and appointments). History is
    bounded: a game keeps its newest ``events_kept`` events in ``past_events`` (its counts
    stay whole), each game its newest ``resolved_pools_kept`` resolved pools (with their
    bets), and the market its newest ``closed_games_kept`` closed games. State is
    public for tests to read: ``sources``, ``games``, ``pools``, ``bets``, ``available``,
    ``exposure``, ``house`` and ``minted`` (all money ever created: the sum of every
    balance plus ``house`` always equals it). ``pools`` and ``bets`` are read-only views of
    the market's ``PoolBook`` (``pools.py``), and the money reads of its ``Ledger``
    (``ledger.py``): change them only through requests.
    """

    def __init__(self, clock: Callable[[], int], initial_balance: int = 1000, *,
                 events_kept: int = 100, resolved_pools_kept: int = 100,
                 closed_games_kept: int = 10) -> None:
        if min(events_kept, resolved_pools_kept, closed_games_kept) < 1:
            raise ValueError("the market's history bounds must each be at least 1")
        self._clock = clock
        self._ledger = Ledger(initial_balance)
        self.sources: dict[str, Source] = {}
        self.games: dict[str, Game] = {}
        self._book = PoolBook(clock, self._ledger, self.games,
                              resolved_kept=resolved_pools_kept)
        self._ids = {k: itertools.count(1) for k in ("game", "source")}
        self._events_kept = events_kept
        self._closed_kept = closed_games_kept
        self._closed_games = 0  # how many of ``games`` are closed
        # action blocks and allows given a future time: (at, seq, "block"/"allow", game, action)
        self._timetable: list[tuple[int, int, str, str, str]] = []
        self._seq = itertools.count()
        # no open or upcoming game closes by its close_at before this (None: none has one)
        self._closing_from: int | None = None
        # the clock's value at the last tick, while nothing has been asked since: nothing
        # is due by then (only a request schedules or closes anything)
        self._ticked_at: int | None = None
        self._synthetic = SyntheticPushes(clock, self._ledger.balance_fields)

    def now(self) -> int:
        """The market's time: its injected clock, in epoch ms."""
        return self._clock()

    @property
    def pools(self) -> Mapping[str, Pool]:
        """Every pool by id (kept by the pool book)."""
        return self._book.pools

    @property
    def bets(self) -> Mapping[str, Bet]:
        """Every bet by id (kept by the pool book)."""
        return self._book.bets

    # -- users and money (kept by the ledger) ------------------------------------------------

    def add_user(self, user: str | int, username: str | None = None) -> None:
        """Open ``user``'s account now (not at its first request); ``username`` names it."""
        self._ledger.open(str(user), username)

    @property
    def available(self) -> Mapping[str, Decimal]:
        """Available balance by user id."""
        return self._ledger.available

    @property
    def exposure(self) -> Mapping[str, Decimal]:
        """Money staked in unresolved pools, by user id (users who never bet are absent)."""
        return self._ledger.exposure

    @property
    def house(self) -> Decimal:
        """The rounding remainders of every payout."""
        return self._ledger.house

    @property
    def minted(self) -> Decimal:
        """All money ever created: one ``initial_balance`` per user."""
        return self._ledger.minted

    def current(self, user: str) -> Decimal:
        """``user``'s current balance: available plus exposure."""
        return self._ledger.current(user)

    def total_money(self) -> Decimal:
        """Every balance plus the house: always ``minted``."""
        return self._ledger.total()

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids[kind])}"

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, user: str, op: int, params: dict[str, Any], joined: set[str]) -> _Result:
        """Execute one request: ``(res, fields, pushes)``; res 666 carries ``text``.

        ``joined`` is the connection's set of joined game ids (updated in place). Pushes
        due by the clock (``tick``) come first in ``pushes``.
        """
        self._ledger.open(user)
        due = self.tick()
        self._ticked_at = None  # what the request does may fall due at once
        handler = self._HANDLERS.get(op)
        if handler is None:
            return 666, {"text": f"op {op} is not implemented by the reference server"}, due
        try:
            request = api.request_from_wire(op, params)
            res, fields, pushes = handler(self, user, request, joined)
        except (RemoteProtocolError, MarketError) as exc:
            return 666, {"text": str(exc)}, due
        return res, checked(res, fields), due + pushes

    def tick(self) -> list[Out]:
        """Run what the clock says is due: scheduled blocks and allows, time-based pools
        reaching ``finish_at`` (363), games reaching ``close_at``. Returns the pushes."""
        now = self._clock()
        pushes: list[Out] = []
        while self._timetable and self._timetable[0][0] <= now:
            at, _seq, what, game_id, action_id = heapq.heappop(self._timetable)
            pushes += self._book.due(at)  # what the pools had due first, in time order
            pushes += self._set_action_blocked(game_id, action_id, what == "block", at)
        pushes += self._book.due(now)
        # Every request (and every replayed bet) ticks: the games are looked through only
        # when one of them may have reached its close_at.
        if self._closing_from is not None and self._closing_from <= now:
            for game in list(self.games.values()):
                if game.status == "open" and game.close_at is not None and \
                        game.close_at <= now:
                    pushes += self._close_game(game, None)
            self._closing_from = min((g.close_at for g in self.games.values()
                                      if g.status != "closed" and g.close_at is not None),
                                     default=None)
        if self._closed_games > self._closed_kept:
            self._forget_closed_games()
        self._ticked_at = now
        return pushes

    def _forget_closed_games(self) -> None:
        """Keep the newest ``closed_games_kept`` closed games; forget older ones and their
        pools (all resolved: a closed game owes nobody money)."""
        if self._closed_games <= self._closed_kept:
            return  # every request runs this: counted, not looked for, when none is due
        closed = [g for g in self.games.values() if g.status == "closed"]
        for game in closed[:max(0, len(closed) - self._closed_kept)]:
            if self._book.forget_game(game.game_id):
                del self.games[game.game_id]
                self._closed_games -= 1

    # -- lookups and roles -------------------------------------------------------------------

    def _source(self, source_id: str | int) -> Source:
        source = self.sources.get(str(source_id))
        if source is None:
            raise MarketError(f"unknown game source {source_id!r}")
        return source

    def _game(self, game_id: str | int) -> Game:
        game = self.games.get(str(game_id))
        if game is None:
            raise MarketError(f"unknown game {game_id!r}")
        return game

    def _source_admin(self, user: str, source_id: str | int, what: str) -> Source:
        source = self._source(source_id)
        if user not in source.admins:
            raise MarketError(f"you are not authorized to {what}: "
                              f"not an admin of game source {source.source_id!r}")
        if source.closed:
            raise MarketError(f"game source {source.source_id!r} is closed")
        return source

    def _game_admin(self, user: str, game_id: str | int, what: str) -> Game:
        game = self._game(game_id)
        if user not in game.admins:
            raise MarketError(f"you are not authorized to {what}: "
                              f"not an admin of game {game.game_id!r}")
        return game

    def _pool_admin(self, user: str, pool_id: str | int, what: str) -> tuple[Pool, Game]:
        pool = self._book.get(pool_id)
        return pool, self._game_admin(user, pool.game_id, what)

    # -- game sources ------------------------------------------------------------------------

    def _open_source(self, user: str, r: api.OpenGameSource, joined: set[str]) -> _Result:
        source = Source(source_id=self._new_id("source"), name=r.source_name,
                        description=r.description, admins={user})
        self.sources[source.source_id] = source
        return 335, {"source_id": source.source_id}, []

    def _close_source(self, user: str, r: api.CloseGameSource, joined: set[str]) -> _Result:
        source = self._source_admin(user, r.source_id, "close this game source")
        pushes: list[Out] = []
        for game in self.games.values():
            if game.source_id == source.source_id and game.status != "closed":
                pushes += self._close_game(game, None)
        source.closed = True
        return 336, {"source_id": source.source_id}, pushes

    def _list_sources(self, user: str, r: api.ListGameSourcesIAmAdminOf, joined: set[str]
                      ) -> _Result:
        return 621, {"sources": [{"id": s.source_id, "name": s.name,
                                  "description": s.description}
                                 for s in self.sources.values() if user in s.admins]}, []

    # -- games -------------------------------------------------------------------------------

    def _create_game(self, user: str, r: api.CreateAndOpenGame | api.CreateGame,
                     *, open_now: bool) -> Game:
        source = self._source_admin(user, r.source_id, "create a game")
        now = self._clock()
        game = Game(game_id=self._new_id("game"), source_id=source.source_id,
                    name=r.game_name, type=r.type, currency=r.currency or CURRENCY,
                    open_at=r.open_at if r.open_at is not None else now, close_at=r.close_at,
                    live_start_at=r.live_start_at if r.live_start_at is not None else now,
                    live_finish_at=r.live_finish_at if r.live_finish_at is not None else now,
                    hashtag=r.hashtag or "#" + "".join(c for c in r.game_name if c.isalnum()),
                    image_url=r.image_url, admins={user})
        if isinstance(r, api.CreateAndOpenGame):
            game.actions, game.targets = _strs(r.actions), _with_none(_strs(r.targets))
        game.status = "open" if open_now else "upcoming"
        self.games[game.game_id] = game
        if game.close_at is not None and (self._closing_from is None
                                          or game.close_at < self._closing_from):
            self._closing_from = game.close_at
        return game

    def _create_and_open_game(self, user: str, r: api.CreateAndOpenGame, joined: set[str]
                              ) -> _Result:
        fields = game_fields(self._create_game(user, r, open_now=True))
        return 340, fields, [Out(340, fields, Audience("all", exclude=user))]

    def _create_upcoming_game(self, user: str, r: api.CreateGame, joined: set[str]) -> _Result:
        fields = game_fields(self._create_game(user, r, open_now=False), details=False)
        return 3401, fields, [Out(3401, fields, Audience("all", exclude=user))]

    def _open_game(self, user: str, r: api.OpenGame, joined: set[str]) -> _Result:
        game = self._game(r.game_id)
        self._source_admin(user, game.source_id, "open this game")
        if game.status != "upcoming":
            raise MarketError(f"game {game.game_id!r} is not upcoming (it is {game.status})")
        game.actions += [a for a in _strs(r.actions) if a not in game.actions]
        game.targets = _with_none(game.targets + [t for t in _strs(r.targets)
                                                  if t not in game.targets])
        game.status, game.open_at = "open", self._clock()
        fields = game_fields(game)
        return 3402, fields, [Out(3402, fields, Audience("all", exclude=user))]

    def _become_admin(self, user: str, r: api.BecomeAnAdminForGame, joined: set[str]
                      ) -> _Result:
        game = self._game(r.game_id)
        if user not in self._source(game.source_id).admins:
            return 645, {"game_id": game.game_id,
                         "reason": "only an admin of the game's source may become its admin"}, []
        game.admins.add(user)
        return 640, {"game_id": game.game_id}, []

    def _appoint_admin(self, user: str, r: api.AppointAdminForGameByUsername, joined: set[str]
                       ) -> _Result:
        game = self._game(r.game_id)
        self._source_admin(user, game.source_id, "appoint a game admin")
        found = self._ledger.user_named(r.username)
        if found is None:
            raise MarketError(f"unknown username {r.username!r}")
        game.admins.add(found)
        return 617, {"game_id": game.game_id, "username": r.username}, [
            Out(640, {"game_id": game.game_id}, Audience("user", found))]

    def _get_details(self, user: str, r: api.GetGameDetails, joined: set[str]) -> _Result:
        game = self.games.get(str(r.game_id))
        if game is None:  # lenient: an ad-hoc game id, for rehearsing against any id
            return 342, {"game_id": r.game_id, "game_name": f"game {r.game_id}",
                         "status": "pre_game_betting_active", "actions": [], "targets": []}, []
        return 342, game_details(game, self._clock), []

    def _update_details(self, user: str, r: api.UpdateGameDetails, joined: set[str]
                        ) -> _Result:
        game = self._game_admin(user, r.game_id, "update this game")
        game.actions += [a for a in _strs(r.actions) if a not in game.actions]
        game.targets = _with_none(game.targets + [t for t in _strs(r.targets)
                                                  if t not in game.targets])
        if r.image_url is not None:
            game.image_url = r.image_url
        fields = checked(342, game_details(game, self._clock))
        return 343, {"game_id": game.game_id}, [Out(342, fields, Audience("game", game.game_id))]

    def _join(self, user: str, r: api.JoinGame, joined: set[str]) -> _Result:
        game = str(r.game_id)
        joined.add(game)
        note = {"game_id": r.game_id, "user_id": user, "user_name": self._ledger.username(user)}
        return 333, {"game_id": r.game_id}, [Out(470, note, Audience("game", game, user))]

    def _leave(self, user: str, r: api.LeaveGame, joined: set[str]) -> _Result:
        game = str(r.game_id)
        joined.discard(game)
        note = {"game_id": r.game_id, "user_id": user, "user_name": self._ledger.username(user)}
        return 334, {"game_id": r.game_id}, [Out(480, note, Audience("game", game, user))]

    def _close(self, user: str, r: api.CloseGame, joined: set[str]) -> _Result:
        """375: resolve the automatic pools; close the game only if no manual (binary)
        pool is left, else answer one 368 per pending pool (blocked), no 341, and keep
        the game open: the docs' "send it again once they are resolved"."""
        game = self._game_admin(user, r.game_id, "close this game")
        if game.status == "closed":
            raise MarketError(f"game {game.game_id!r} is already closed")
        resolved, pending = self._book.close_game(game.game_id, keep_manual=True)
        if not pending:
            return 341, {"game_id": game.game_id}, [*resolved, *self._closed(game, user)]
        blocked = [{"pool_id": p.pool_id, "blocked_at": self._clock(), "game_id": game.game_id}
                   for p in pending]
        to_others = [Out(368, fields, Audience("game", game.game_id, user)) for fields in blocked]
        to_requester = [Out(368, fields, Audience("user", user)) for fields in blocked[1:]]
        return 368, blocked[0], [*resolved, *to_others, *to_requester]

    def _close_game(self, game: Game, requester: str | None) -> list[Out]:
        """Resolve every open pool of the game (``PoolBook.close_game``), close it, then
        announce 341 (a game's ``close_at``, its source closing)."""
        pushes, _none = self._book.close_game(game.game_id)
        return [*pushes, *self._closed(game, requester)]

    def _closed(self, game: Game, requester: str | None) -> list[Out]:
        if game.status != "closed":
            self._closed_games += 1
        game.status = "closed"
        return [Out(341, {"game_id": game.game_id}, Audience("game", game.game_id, requester))]

    def _games_list(self, source_id: str | int, statuses: tuple[str, ...]) -> list[Any]:
        return [game_details(g, self._clock) for g in self.games.values()
                if g.source_id == str(source_id) and g.status in statuses]

    def _list_games(self, user: str, r: api.ListGamesForSource, joined: set[str]) -> _Result:
        games = self._games_list(self._source(r.source_id).source_id, ("open",))
        return 345, {"source_id": r.source_id, "games": games}, []

    def _list_upcoming(self, user: str, r: api.ListUpcomingGamesForSource, joined: set[str]
                       ) -> _Result:
        return 3461, {"source_id": r.source_id,
                      "games": self._games_list(self._source(r.source_id).source_id,
                                                ("upcoming",))}, []

    def _list_admin_games(self, user: str, r: api.ListGamesIAmAdminOf, joined: set[str]
                          ) -> _Result:
        return 620, {"games": [{"id": g.game_id, "name": g.name}
                               for g in self.games.values() if user in g.admins]}, []

    # -- betting pools -----------------------------------------------------------------------

    def _create_pool(self, user: str, r: api.CreateAndOpenBettingPool, joined: set[str]
                     ) -> _Result:
        game = self._game_admin(user, r.game_id, "create a betting pool")
        if game.status != "open":
            raise MarketError(f"game {game.game_id!r} is not open for betting")
        kind = 1 if r.type is None else r.type
        if kind not in (1, 2, 3, 4):
            raise MarketError(f"pool type must be 1..4, got {kind}")
        targets = _strs(r.targets)
        binary = kind in (BINARY_EVENT, BINARY_TIME)
        if not (binary or len([t for t in targets if t != NONE]) >= 2):
            raise MarketError("a parimutuel pool needs at least two targets (besides 'none')")
        if not binary and NONE not in targets:
            targets.append(NONE)  # the docs: "target 'none' will be added to target list"
        unknown = [t for t in targets if game.targets and t not in game.targets]
        if unknown:
            raise MarketError(f"targets not in game {game.game_id!r}: {unknown}")
        if r.action_id is not None and game.actions and r.action_id not in game.actions:
            raise MarketError(f"action {r.action_id!r} is not an action of game {game.game_id!r}")
        if kind in (PARIMUTUEL_TIME, BINARY_TIME) and r.finish_at is None:
            raise MarketError("a time-based pool needs finish_at")
        pool = Pool(pool_id=self._book.new_pool_id(), game_id=game.game_id, type=kind,
                    description=r.description, action_id=r.action_id, targets=targets,
                    start_at=r.start_at if r.start_at is not None else self._clock(),
                    finish_at=r.finish_at, stop_accepting_bets_at=r.stop_accepting_bets_at,
                    recreate_on_end=bool(r.recreate_on_end),
                    blocked=bool(r.is_blocked) or r.action_id in game.blocked_actions,
                    hot_since=self._clock() if r.is_hot else None)
        return 350, {"game_id": game.game_id, "pool_id": pool.pool_id,
                     "description": pool.description, "type": kind}, self._book.open(pool)

    def _list(self, res: int, user: str, game_id: str | int, keep: Callable[[Pool], bool]
              ) -> _Result:
        pools = [pool_fields(p, self.games.get(p.game_id), user)
                 for p in self._book.of_game(game_id) if keep(p)]
        return res, {"game_id": game_id, "pools_list": pools}, []

    def _list_all(self, user: str, r: api.ListAllBettingPoolsForGame, joined: set[str]
                  ) -> _Result:
        return self._list(3535, user, r.game_id, lambda p: p.resolved_at is None)

    def _list_open(self, user: str, r: api.ListMyOpenBettingPoolsForGame, joined: set[str]
                   ) -> _Result:
        return self._list(353, user, r.game_id, lambda p: p.resolved_at is None and all(
            b.user_id != user for b in p.bets))

    def _list_running(self, user: str, r: api.ListMyRunningPoolsForGame, joined: set[str]
                      ) -> _Result:
        return self._list(354, user, r.game_id, lambda p: p.resolved_at is None and any(
            b.user_id == user for b in p.bets))

    def _list_resolved(self, user: str, r: api.ListMyResolvedPoolsForGame, joined: set[str]
                       ) -> _Result:
        return self._list(355, user, r.game_id, lambda p: p.resolved_at is not None and any(
            b.user_id == user for b in p.bets))

    def _get_distribution(self, user: str, r: api.GetBettingPoolBetsDistribution,
                          joined: set[str]) -> _Result:
        pool = self._book.get(r.pool_id)
        return 360, {"pool_id": r.pool_id, "target_level": 1,
                     "distribution": distribution(pool, with_bets=True)}, []

    def _pool_blocking(self, user: str, pool_id: str | int, at: int | None, blocked: bool
                       ) -> _Result:
        """397 / 398: block or allow betting in one pool, now or at ``at``."""
        what = "block" if blocked else "allow"
        pool, _game = self._pool_admin(user, pool_id, f"{what} betting in this pool")
        res, key = (368, "blocked_at") if blocked else (369, "allowed_at")
        return res, {"pool_id": pool.pool_id, key: at if at is not None else self._clock()}, \
            self._book.block_or_allow([pool], blocked, at, user)

    def _block(self, user: str, r: api.BlockBettingInBettingPool, joined: set[str]) -> _Result:
        return self._pool_blocking(user, r.pool_id, r.block_at, True)

    def _allow(self, user: str, r: api.AllowBettingInBettingPool, joined: set[str]) -> _Result:
        return self._pool_blocking(user, r.pool_id, r.allow_at, False)

    def _action_blocking(self, user: str, game_id: str | int, action_id: str, at: int | None,
                         blocked: bool) -> _Result:
        """3975 / 3985: block or allow an action in a game, and each of its open pools: now,
        or at a future ``at`` (then the 370/371 and 368/369 pushes come at that time)."""
        what = "block" if blocked else "allow"
        game = self._game_admin(user, game_id, f"{what} betting in this game")
        now = self._clock()
        res, key = (370, "blocked_at") if blocked else (371, "allowed_at")
        when = at if at is not None else now
        fields = {"game_id": game.game_id, "action_id": action_id, key: when}
        if when > now:
            heapq.heappush(self._timetable, (when, next(self._seq), what, game.game_id,
                                             action_id))
            return res, fields, []
        return res, fields, self._set_action_blocked(game.game_id, action_id, blocked, when,
                                                     user)

    def _set_action_blocked(self, game_id: str, action_id: str, blocked: bool, at: int,
                            requester: str | None = None) -> list[Out]:
        game = self.games.get(game_id)
        if game is None or game.status == "closed":
            return []
        if blocked:
            game.blocked_actions.add(action_id)
        else:
            game.blocked_actions.discard(action_id)
        res, key = (370, "blocked_at") if blocked else (371, "allowed_at")
        fields = {"game_id": game_id, "action_id": action_id, key: at}
        pools = self._book.open_for_action(game_id, action_id)
        return [Out(res, fields, Audience("game", game_id, requester)),
                *self._book.block_or_allow(pools, blocked, at, None)]

    def _block_action(self, user: str, r: api.BlockBettingForGameAndAction, joined: set[str]
                      ) -> _Result:
        return self._action_blocking(user, r.game_id, r.action_id, r.block_at, True)

    def _allow_action(self, user: str, r: api.AllowBettingForGameAndAction, joined: set[str]
                      ) -> _Result:
        return self._action_blocking(user, r.game_id, r.action_id, r.allow_at, False)

    def _hot(self, pools: list[Pool], since: int, requester: str) -> _Result:
        pushes = self._book.mark_hot(pools, since, requester)
        first = pools[0].pool_id if pools else None
        return 367, {"pool_id": first, "hot_since": since}, pushes

    def _suggest_hot(self, user: str, r: api.SuggestHotBettingPool, joined: set[str]
                     ) -> _Result:
        pool, _game = self._pool_admin(user, r.pool_id, "suggest a hot pool")
        at = r.likely_to_happen_at if r.likely_to_happen_at is not None else self._clock()
        return self._hot([pool], at, user)

    def _suggest_hot_for(self, user: str, r: api.SuggestHotBettingPoolForActionAndTarget,
                         joined: set[str]) -> _Result:
        game = self._game_admin(user, r.game_id, "suggest a hot pool")
        pools = [p for p in self._book.open_for_action(game.game_id, r.action_id)
                 if p.binary or any(matches(t, r.target_id) for t in p.targets)]
        if not pools:
            raise MarketError(f"no open pool of game {game.game_id!r} for action "
                              f"{r.action_id!r} and target {r.target_id!r}")
        at = r.likely_to_happen_at if r.likely_to_happen_at is not None else self._clock()
        return self._hot(pools, at, user)

    # -- bets --------------------------------------------------------------------------------

    def scripted_bet(self, user: str, pool_id: str, target: str, amount: Decimal
                     ) -> tuple[str | None, list[Out]]:
        """A bet (392) of a user nobody answers (a replayed recording's bettors, whose bets
        come decoded): the request's checks, money and pushes, and the refusal's text (None
        when the bet is placed) instead of the answer, which a replay would build for every
        bet only to drop."""
        self._ledger.open(user)
        # a replay ticks as its clock moves: the bets of the same millisecond need not
        due = [] if self._clock() == self._ticked_at else self.tick()
        try:
            _check_amount(amount)
            pushes = self._book.place_bet(user, pool_id, target, amount, self._clock())[1]
        except MarketError as exc:
            return str(exc), due
        return None, due + pushes if due else pushes

    def balance_pushes_for(self, heard: Callable[[str], bool] | None) -> None:
        """Build the balance pushes (815) of bets and payouts only for the users ``heard``
        says someone may receive them (None, the default: everyone).

        A replayed recording's bettors are scripted users no client is connected as: their
        815s, half of a replay's pushes, would be built to be dropped. ``heard`` must answer
        as the server's routing would when the pushes are routed (the replay routes them
        at once); money moves the same either way, and every other push is unchanged.
        """
        self._book.heard = heard

    def _bet(self, user: str, r: api.PlaceBetInBettingPool, joined: set[str]) -> _Result:
        return self._placed(user, r.pool_id, str(r.target), Decimal(r.amount))

    def _placed(self, user: str, pool_id: str | int, target: str, amount: Decimal
                ) -> _Result:
        now = self._clock()
        _check_amount(amount)
        bet, pushes = self._book.place_bet(user, pool_id, target, amount, now)
        return 356, {"bet_id": bet.bet_id, "pool_id": pool_id, "target": target,
                     "amount": format(amount, "f")}, pushes

    # -- events and resolution ---------------------------------------------------------------

    def _event(self, user: str, r: api.RegisterGameEvent, joined: set[str]) -> _Result:
        game = self._game_admin(user, r.game_id, "register a game event")
        if game.status != "open":
            raise MarketError(f"game {game.game_id!r} is not open")
        if game.actions and r.action_id not in game.actions:
            raise MarketError(f"action {r.action_id!r} is not an action of game {game.game_id!r}")
        if game.targets and not any(matches(t, r.target_id) or t == r.target_id
                                    for t in game.targets):
            raise MarketError(f"target {r.target_id!r} is not a target of game {game.game_id!r}")
        now = self._clock()
        at = r.happened_at if r.happened_at is not None else now
        counts = game.counts.setdefault(r.action_id, {})
        counts[r.target_id] = counts.get(r.target_id, 0) + 1
        fields = {"game_id": game.game_id, "action_id": r.action_id, "target_id": r.target_id,
                  "target_display_name": r.target_id, "current_count": dict(counts),
                  "happened_at": at, "description": r.description}
        fields = {k: v for k, v in fields.items() if v is not None}
        game.events.append(fields)
        del game.events[:-self._events_kept]
        pushes = [Out(366, fields, Audience("game", game.game_id, user))]
        pushes += self._book.event(game.game_id, r.action_id, r.target_id, at)
        return 366, fields, pushes

    # -- leaderboards and friends ------------------------------------------------------------

    def _game_keep(self, game_id: str | int) -> Callable[[Pool], bool]:
        return lambda p: p.game_id == str(game_id)

    def _source_keep(self, source_id: str | int) -> Callable[[Pool], bool]:
        def keep(p: Pool) -> bool:
            game = self.games.get(p.game_id)
            return game is not None and game.source_id == str(source_id)
        return keep

    def _leaderboard(self, user: str, r: Any, joined: set[str]) -> _Result:
        """All nine leaderboard ops. Friends are every user (the reference server keeps no
        friend lists), so a friends' board is the same as the plain one."""
        replies = _REPLIES[r.OP]
        res = r.OP if r.OP in replies else replies[0]
        fields: dict[str, Any] = {}
        keep: Callable[[Pool], bool] = lambda _p: True  # noqa: E731
        if hasattr(r, "game_id"):
            keep, fields["game_id"] = self._game_keep(r.game_id), r.game_id
        elif hasattr(r, "source_id"):
            keep, fields["source_id"] = self._source_keep(r.source_id), r.source_id
        else:
            fields["game_type"] = r.game_type or "INSTAMRKT"
            fields["currency"] = r.currency or CURRENCY
        net = points(p for p in self._book.pools.values() if keep(p))
        if hasattr(r, "top_count"):
            fields.update(leaderboard(net, user, self._ledger.username, counts=(
                r.top_count, r.surrounding_count, r.bottom_count)))
        else:
            fields.update(leaderboard(net, user, self._ledger.username, start=r.start,
                                      end=r.end))
        return res, fields, []

    def _friends_pool(self, user: str, r: api.GetMyFriendsPredictionsForPool, joined: set[str]
                      ) -> _Result:
        """Friends are every other user (the reference server keeps no friend lists)."""
        pool = self._book.get(r.pool_id)
        return 460, {"pool_id": r.pool_id, "predictions": [
            prediction(b, self._ledger.username(b.user_id), with_pool=False)
            for b in pool.bets if b.user_id != user]}, []

    def _friends_game(self, user: str, r: api.GetMyFriendsPredictionsForGame, joined: set[str]
                      ) -> _Result:
        running: list[dict[str, Any]] = []
        resolved: list[dict[str, Any]] = []
        for pool in self._book.of_game(r.game_id):
            into = running if pool.resolved_at is None else resolved
            into += [prediction(b, self._ledger.username(b.user_id), with_pool=True)
                     for b in pool.bets if b.user_id != user]
        return 461, {"game_id": r.game_id,
                     "predictions": {"running": running, "resolved": resolved}}, []

    # -- balances and chat -------------------------------------------------------------------

    def _balance_read(self, user: str, r: Any, joined: set[str]) -> _Result:
        currency = r.currency or CURRENCY
        if currency != CURRENCY:
            raise MarketError(f"unknown currency {currency!r} (the market has {CURRENCY})")
        available, exposure = self._ledger.balances(user)
        key, value = {800: ("current_balance", available + exposure),
                      810: ("available_balance", available),
                      840: ("exposure", exposure)}[r.OP]
        return r.OP, {key: money(value), "currency": currency}, []

    def _chat(self, user: str, r: api.TextMessage, joined: set[str]) -> _Result:
        targets = r.targets
        games = sorted(joined) if targets is None else (
            [str(targets)] if isinstance(targets, (str, int)) else [str(t) for t in targets])
        fields = {"sender": user, "text": r.text, "received_at": self._clock(),
                  "channel": targets}
        return 901, fields, [Out(901, {**fields, "channel": g}, Audience("game", g, user))
                             for g in games]

    _HANDLERS: dict[int, Callable[[Market, str, Any, set[str]], _Result]] = {
        365: _open_source, 366: _close_source, 611: _list_sources,
        370: _create_and_open_game, 3701: _create_upcoming_game, 3702: _open_game,
        616: _become_admin, 617: _appoint_admin, 372: _get_details, 373: _update_details,
        363: _join, 364: _leave, 375: _close, 380: _list_games, 3811: _list_upcoming,
        610: _list_admin_games, 385: _create_pool, 395: _event, 387: _list_all,
        388: _list_open, 389: _list_running, 390: _list_resolved, 392: _bet,
        393: _get_distribution, 397: _block, 3975: _block_action, 398: _allow,
        3985: _allow_action, 396: _suggest_hot, 3961: _suggest_hot_for,
        **dict.fromkeys((450, 4505, 452, 451, 4515, 453, 4516, 4517, 454), _leaderboard),
        460: _friends_pool, 461: _friends_game,
        **dict.fromkeys((800, 810, 840), _balance_read), 900: _chat,
    }

    # -- the synthetic push source (``ReferenceServer.push``/``burst``, ``push_interval``) ----

    def make_push(self, res: int, game_id: str, user: str) -> dict[str, Any]:
        """Synthetic fields of push ``res`` (362, 366 or 815) for ``game_id``: load for a
        client's push path, not market state (a 362 here moves no money)."""
        return self._synthetic.make(res, game_id, user)

    def push_stream(self, game_id: str, user: str, start: int = 0
                    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Endless synthetic pushes for one game, cycling through 366, 362, 815."""
        return self._synthetic.stream(game_id, user, start)
