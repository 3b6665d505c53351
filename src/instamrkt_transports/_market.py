"""The reference server's market: the documented API played in memory, with money that adds up.

Plain synchronous Python with no I/O, so tests (and the property test) drive it directly.
Every request is read through the API table (``api.request_from_wire``): the handlers see
the typed request, and every reply or push is checked against the table's fields for its
code (``_out``), so names cannot drift from ``instamrkt_proto.api``. The rules the public
docs leave open (payouts, rounding, roles, expiry, who receives what) are in
``docs/market.md``; the short version:

* money is ``Decimal`` in whole cents (a bet with more than two decimals is refused), so
  payouts are exact integer arithmetic on cents; a rounding remainder goes to ``house``;
* a pool resolved to a target nobody backed, or with no money, returns every stake;
* winners of both pool kinds share the whole pool pro rata to their winning stakes;
* time is the injected ``clock`` (epoch ms); ``tick()`` runs what is due (pool expiry,
  scheduled blocks, a game's ``close_at``) and every request runs it first.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from instamrkt_proto import RemoteProtocolError, api
from instamrkt_proto._table import EXTRA_CODES, OPS, RESPONSES

__all__ = ("Audience", "Bet", "Game", "Market", "MarketError", "Out", "Pool", "Source")

CENT = Decimal("0.01")
CURRENCY = "DON"
PARIMUTUEL_EVENT, PARIMUTUEL_TIME, BINARY_EVENT, BINARY_TIME = 1, 2, 3, 4
BINARY_TARGETS = ("yes", "no")
_REPLIES = {spec.op: spec.replies for spec in OPS}
_FIELDS = {spec.res: frozenset(f.name for f in spec.fields) for spec in RESPONSES}
_FIELDS.update({res: _FIELDS[450] for res in EXTRA_CODES})  # 452, 453: leaderboards


def _money(amount: Decimal) -> int | str:
    """Money on the wire: a JSON number when integral (as the docs' examples), else the
    exact decimal text (as the docs' place_bet example)."""
    return int(amount) if amount == amount.to_integral_value() else format(amount, "f")


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


def _strs(value: str | Iterable[str] | None) -> list[str]:
    """A ``strs`` parameter (comma-separated text or a list) as a clean list."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [s.strip() for s in items if s.strip()]


def _matches(pool_target: str, event_target: str) -> bool:
    """Targets nest with ":": an event on ``brazil:neymar`` also hits a pool on ``brazil``."""
    return event_target == pool_target or event_target.startswith(pool_target + ":")


class MarketError(Exception):
    """A request the market refuses: answered with res 666 and this text."""


@attrs.frozen(slots=True)
class Audience:
    """Who receives a push: ``kind`` "user" (every connection of ``key``), "game" (the
    connections that joined game ``key``) or "all" (every connection: the reference server
    has one game source audience, every connected user). ``exclude`` is a user id left out
    (the requester, when the reply already told it the same thing)."""

    kind: str
    key: str | None = None
    exclude: str | None = None


class Out(NamedTuple):
    """One push: its code, its fields (as on the wire) and its audience."""

    res: int
    fields: dict[str, Any]
    to: Audience


def _out(res: int, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` checked against the table's fields for ``res`` (names cannot drift)."""
    unknown = set(fields) - _FIELDS[res]
    if unknown:
        raise AssertionError(f"res {res} has no field(s) {sorted(unknown)}")
    return fields


@attrs.define(slots=True, kw_only=True)
class Source:
    source_id: str
    name: str
    description: str | None
    admins: set[str]
    closed: bool = False


@attrs.define(slots=True, kw_only=True)
class Game:
    game_id: str
    source_id: str
    name: str
    type: str | None = None
    currency: str = CURRENCY
    open_at: int | None = None
    close_at: int | None = None
    live_start_at: int | None = None
    live_finish_at: int | None = None
    hashtag: str | None = None
    image_url: str | None = None
    actions: list[str] = attrs.field(factory=list)
    targets: list[str] = attrs.field(factory=list)
    status: str = "upcoming"  # "upcoming", "open" or "closed"
    admins: set[str] = attrs.field(factory=set)
    counts: dict[str, dict[str, int]] = attrs.field(factory=dict)  # action -> target -> n
    events: list[dict[str, Any]] = attrs.field(factory=list)
    blocked_actions: set[str] = attrs.field(factory=set)


@attrs.frozen(slots=True)
class Bet:
    bet_id: str
    user_id: str
    pool_id: str
    target: str
    amount: Decimal
    placed_at: int


@attrs.define(slots=True, kw_only=True)
class Pool:
    pool_id: str
    game_id: str | None  # None: an ad-hoc pool (a bet into an id nobody created)
    type: int = PARIMUTUEL_EVENT
    description: str | None = None
    action_id: str | None = None
    targets: list[str] = attrs.field(factory=list)
    start_at: int = 0
    finish_at: int | None = None
    stop_accepting_bets_at: int | None = None
    recreate_on_end: bool = False
    blocked: bool = False
    hot_since: int | None = None
    bets: list[Bet] = attrs.field(factory=list)
    resolved_at: int | None = None
    winning_target: str | None = None
    payouts: dict[str, Decimal] = attrs.field(factory=dict)  # user -> money paid back

    @property
    def binary(self) -> bool:
        return self.type in (BINARY_EVENT, BINARY_TIME)

    @property
    def bettable(self) -> list[str]:
        """What a bet may back: yes/no for binary pools, else the pool's targets."""
        return list(BINARY_TARGETS) if self.binary else self.targets

    @property
    def total(self) -> Decimal:
        return sum((b.amount for b in self.bets), Decimal(0))


_Result = tuple[int, dict[str, Any], list[Out]]


class Market:
    """The reference market (see the module docstring and ``docs/market.md``).

    ``clock`` gives epoch ms. Balances start at ``initial_balance`` for each user, created
    on first use (``add_user`` names one for leaderboards and appointments). State is
    public for tests to read: ``sources``, ``games``, ``pools``, ``bets``, ``available``,
    ``exposure``, ``house`` and ``minted`` (all money ever created: the sum of every
    balance plus ``house`` always equals it).
    """

    def __init__(self, clock: Callable[[], int], initial_balance: int = 1000) -> None:
        self._clock = clock
        self.initial_balance = initial_balance
        self.available: dict[str, Decimal] = {}
        self.exposure: dict[str, Decimal] = {}
        self.usernames: dict[str, str] = {}
        self.house = Decimal(0)
        self.minted = Decimal(0)
        self.sources: dict[str, Source] = {}
        self.games: dict[str, Game] = {}
        self.pools: dict[str, Pool] = {}
        self.bets: dict[str, Bet] = {}
        self._ids = {k: itertools.count(1) for k in ("bet", "pool", "game", "source")}
        self._push_seq = itertools.count(1)
        self._due: list[tuple[int, int, str, str]] = []  # (at, seq, what, pool_id)
        self._due_seq = itertools.count()

    def now(self) -> int:
        """The market's time: its injected clock, in epoch ms."""
        return self._clock()

    # -- users and money ---------------------------------------------------------------------

    def add_user(self, user: str | int, username: str | None = None) -> None:
        uid = str(user)
        self._balance(uid)
        if username is not None:
            self.usernames[uid] = username

    def username(self, user: str) -> str:
        return self.usernames.get(user, user)

    def _balance(self, user: str) -> tuple[Decimal, Decimal]:
        if user not in self.available:
            self.available[user] = Decimal(self.initial_balance)
            self.minted += self.initial_balance
        return self.available[user], self.exposure.get(user, Decimal(0))

    def current(self, user: str) -> Decimal:
        available, exposure = self._balance(user)
        return available + exposure

    def total_money(self) -> Decimal:
        """Every balance plus the house: always ``minted``."""
        return sum((self.current(u) for u in list(self.available)), Decimal(0)) + self.house

    def balance_fields(self, user: str) -> dict[str, Any]:
        available, exposure = self._balance(user)
        return _out(815, {"current_balance": _money(available + exposure),
                          "available_balance": _money(available), "currency": CURRENCY})

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids[kind])}"

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, user: str, op: int, params: dict[str, Any], joined: set[str]) -> _Result:
        """Execute one request: ``(res, fields, pushes)``; res 666 carries ``text``.

        ``joined`` is the connection's set of joined game ids (updated in place). Pushes
        due by the clock (``tick``) come first in ``pushes``.
        """
        self._balance(user)
        due = self.tick()
        handler = self._HANDLERS.get(op)
        if handler is None:
            return 666, {"text": f"op {op} is not implemented by the reference server"}, due
        try:
            request = api.request_from_wire(op, params)
            res, fields, pushes = handler(self, user, request, joined)
        except (RemoteProtocolError, MarketError) as exc:
            return 666, {"text": str(exc)}, due
        return res, _out(res, fields), due + pushes

    def tick(self) -> list[Out]:
        """Run what the clock says is due: scheduled blocks and allows, time-based pools
        reaching ``finish_at`` (363), games reaching ``close_at``. Returns the pushes."""
        now = self._clock()
        pushes: list[Out] = []
        while self._due and self._due[0][0] <= now:
            at, _seq, what, pool_id = heapq.heappop(self._due)
            pool = self.pools[pool_id]
            if pool.resolved_at is not None:
                continue
            if what == "expire":
                pushes += self._resolve(pool, self._expiry_target(pool), at, res=363)
            else:
                pushes += self._set_blocked(pool, what == "block", at)
        for game in list(self.games.values()):
            if game.status == "open" and game.close_at is not None and game.close_at <= now:
                pushes += self._close_game(game, None)
        return pushes

    def _schedule(self, at: int, what: str, pool_id: str) -> None:
        heapq.heappush(self._due, (at, next(self._due_seq), what, pool_id))

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

    def _pool(self, pool_id: str | int) -> Pool:
        pool = self.pools.get(str(pool_id))
        if pool is None:
            raise MarketError(f"unknown betting pool {pool_id!r}")
        return pool

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
        pool = self._pool(pool_id)
        if pool.game_id is None:
            raise MarketError(f"betting pool {pool.pool_id!r} has no game: nobody may {what}")
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

    def _game_fields(self, game: Game, *, details: bool = True) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "source_id": game.source_id, "game_id": game.game_id, "game_name": game.name,
            "type": game.type, "currency": game.currency, "open_at": game.open_at,
            "live_start_at": game.live_start_at, "live_finish_at": game.live_finish_at,
            "close_at": game.close_at, "hashtag": game.hashtag, "image_url": game.image_url}
        if details:
            fields["actions"] = [{"action_id": a, "name": a} for a in game.actions]
            fields["targets"] = self._target_tree(game.targets)
        return {k: v for k, v in fields.items() if v is not None}

    @staticmethod
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

    def _status(self, game: Game) -> str:
        if game.status == "closed":
            return "game_closed"
        if game.status == "upcoming":
            return "betting_not_yet_active"
        if game.live_start_at is not None and self._clock() < game.live_start_at:
            return "pre_game_betting_active"
        return "game_in_progress_betting_active"

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
            game.actions, game.targets = _strs(r.actions), _strs(r.targets)
        game.status = "open" if open_now else "upcoming"
        self.games[game.game_id] = game
        return game

    def _create_and_open_game(self, user: str, r: api.CreateAndOpenGame, joined: set[str]
                              ) -> _Result:
        fields = self._game_fields(self._create_game(user, r, open_now=True))
        return 340, fields, [Out(340, fields, Audience("all", exclude=user))]

    def _create_upcoming_game(self, user: str, r: api.CreateGame, joined: set[str]) -> _Result:
        fields = self._game_fields(self._create_game(user, r, open_now=False), details=False)
        return 3401, fields, [Out(3401, fields, Audience("all", exclude=user))]

    def _open_game(self, user: str, r: api.OpenGame, joined: set[str]) -> _Result:
        game = self._game(r.game_id)
        self._source_admin(user, game.source_id, "open this game")
        if game.status != "upcoming":
            raise MarketError(f"game {game.game_id!r} is not upcoming (it is {game.status})")
        game.actions += [a for a in _strs(r.actions) if a not in game.actions]
        game.targets += [t for t in _strs(r.targets) if t not in game.targets]
        game.status, game.open_at = "open", self._clock()
        fields = self._game_fields(game)
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
        found = [u for u in self.available if self.username(u) == r.username]
        if not found:
            raise MarketError(f"unknown username {r.username!r}")
        game.admins.add(found[0])
        return 617, {"game_id": game.game_id, "username": r.username}, [
            Out(640, {"game_id": game.game_id}, Audience("user", found[0]))]

    def _details(self, game: Game) -> dict[str, Any]:
        fields = self._game_fields(game)
        fields["status"] = self._status(game)
        fields["game_state"] = [{"action_id": a, "target_id": t, "count": n}
                                for a, per in game.counts.items() for t, n in per.items()]
        fields["past_events"] = list(reversed(game.events))
        return fields

    def _get_details(self, user: str, r: api.GetGameDetails, joined: set[str]) -> _Result:
        game = self.games.get(str(r.game_id))
        if game is None:  # lenient: an ad-hoc game id, for rehearsing against any id
            return 342, {"game_id": r.game_id, "game_name": f"game {r.game_id}",
                         "status": "pre_game_betting_active", "actions": [], "targets": []}, []
        return 342, self._details(game), []

    def _update_details(self, user: str, r: api.UpdateGameDetails, joined: set[str]
                        ) -> _Result:
        game = self._game_admin(user, r.game_id, "update this game")
        game.actions += [a for a in _strs(r.actions) if a not in game.actions]
        game.targets += [t for t in _strs(r.targets) if t not in game.targets]
        if r.image_url is not None:
            game.image_url = r.image_url
        return 343, {"game_id": game.game_id}, [
            Out(342, _out(342, self._details(game)), Audience("game", game.game_id))]

    def _join(self, user: str, r: api.JoinGame, joined: set[str]) -> _Result:
        game = str(r.game_id)
        joined.add(game)
        note = {"game_id": r.game_id, "user_id": user, "user_name": self.username(user)}
        return 333, {"game_id": r.game_id}, [Out(470, note, Audience("game", game, user))]

    def _leave(self, user: str, r: api.LeaveGame, joined: set[str]) -> _Result:
        game = str(r.game_id)
        joined.discard(game)
        note = {"game_id": r.game_id, "user_id": user, "user_name": self.username(user)}
        return 334, {"game_id": r.game_id}, [Out(480, note, Audience("game", game, user))]

    def _close(self, user: str, r: api.CloseGame, joined: set[str]) -> _Result:
        game = self._game_admin(user, r.game_id, "close this game")
        if game.status == "closed":
            raise MarketError(f"game {game.game_id!r} is already closed")
        return 341, {"game_id": game.game_id}, self._close_game(game, user)

    def _close_game(self, game: Game, requester: str | None) -> list[Out]:
        """Resolve every open pool (binary: "no", parimutuel: "none", i.e. stakes back
        unless someone backed a "none" target), then announce 341."""
        pushes: list[Out] = []
        now = self._clock()
        for pool in list(self.pools.values()):
            if pool.game_id == game.game_id and pool.resolved_at is None:
                pool.recreate_on_end = False
                pushes += self._resolve(pool, "no" if pool.binary else "none", now)
        game.status = "closed"
        return [*pushes, Out(341, {"game_id": game.game_id},
                             Audience("game", game.game_id, requester))]

    def _games_list(self, source_id: str | int, statuses: tuple[str, ...]) -> list[Any]:
        return [self._details(g) for g in self.games.values()
                if g.source_id == str(source_id) and g.status in statuses]

    def _list_games(self, user: str, r: api.ListGamesForSource, joined: set[str]) -> _Result:
        games = self._games_list(r.source_id, ("open",))
        return 345, {"source_id": r.source_id, "games": games}, []

    def _list_upcoming(self, user: str, r: api.ListUpcomingGamesForSource, joined: set[str]
                       ) -> _Result:
        return 3461, {"source_id": r.source_id,
                      "games": self._games_list(r.source_id, ("upcoming",))}, []

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
        if not (kind in (BINARY_EVENT, BINARY_TIME) or len(targets) >= 2):
            raise MarketError("a parimutuel pool needs at least two targets")
        unknown = [t for t in targets if game.targets and t != "none" and t not in game.targets]
        if unknown:
            raise MarketError(f"targets not in game {game.game_id!r}: {unknown}")
        if r.action_id is not None and game.actions and r.action_id not in game.actions:
            raise MarketError(f"action {r.action_id!r} is not an action of game {game.game_id!r}")
        if kind in (PARIMUTUEL_TIME, BINARY_TIME) and r.finish_at is None:
            raise MarketError("a time-based pool needs finish_at")
        pool = Pool(pool_id=self._new_id("pool"), game_id=game.game_id, type=kind,
                    description=r.description, action_id=r.action_id, targets=targets,
                    start_at=r.start_at if r.start_at is not None else self._clock(),
                    finish_at=r.finish_at, stop_accepting_bets_at=r.stop_accepting_bets_at,
                    recreate_on_end=bool(r.recreate_on_end),
                    blocked=r.action_id in game.blocked_actions)
        return 350, {"game_id": game.game_id, "pool_id": pool.pool_id,
                     "description": pool.description, "type": kind}, self._open_pool(pool)

    def _open_pool(self, pool: Pool) -> list[Out]:
        self.pools[pool.pool_id] = pool
        if pool.finish_at is not None:
            self._schedule(pool.finish_at, "expire", pool.pool_id)
        assert pool.game_id is not None
        fields = self._pool_fields(pool, None)
        fields.pop("name", None)
        return [Out(352, _out(352, fields), Audience("game", pool.game_id))]

    def _distribution(self, pool: Pool, *, with_bets: bool) -> list[dict[str, Any]]:
        total = pool.total
        targets = pool.bettable + sorted({b.target for b in pool.bets} - set(pool.bettable))
        entries = []
        for target in targets:
            bets = [b for b in pool.bets if b.target == target]
            money = sum((b.amount for b in bets), Decimal(0))
            entry: dict[str, Any] = {
                "target_id": target, "display_name": target,
                "backing_people": len({b.user_id for b in bets}), "backing_money": _money(money)}
            if money:
                entry["to_win_if_backed"] = format((total / money).quantize(CENT), "f")
            if with_bets:
                entry["bets"] = [self._bet_fields(b) for b in bets]
            entries.append(entry)
        return entries

    @staticmethod
    def _bet_fields(bet: Bet) -> dict[str, Any]:
        return {"bet_id": bet.bet_id, "user_id": bet.user_id, "amount": _money(bet.amount),
                "placed_at": bet.placed_at, "target": bet.target}

    def _pool_fields(self, pool: Pool, user: str | None) -> dict[str, Any]:
        game = self.games.get(pool.game_id or "")
        fields: dict[str, Any] = {
            "pool_id": pool.pool_id, "game_id": pool.game_id, "description": pool.description,
            "name": pool.description, "type": pool.type, "action_id": pool.action_id,
            "participants": len({b.user_id for b in pool.bets}),
            "amount_total": _money(pool.total), "target_level": 1, "is_blocked": pool.blocked,
            "is_hot": pool.hot_since is not None,
            "distribution": self._distribution(pool, with_bets=False),
            "start_at": pool.start_at, "finish_at": pool.finish_at,
            "stop_accepting_bets_at": pool.stop_accepting_bets_at,
            "resolved_at": pool.resolved_at, "winning_target": pool.winning_target,
            "game_name": game.name if game else None}
        if user is not None:
            backed: dict[str, Decimal] = {}
            for bet in pool.bets:
                if bet.user_id == user:
                    backed[bet.target] = backed.get(bet.target, Decimal(0)) + bet.amount
            fields["user_backed"] = {k: _money(v) for k, v in backed.items()}
            if pool.resolved_at is not None:
                fields["total_winnings"] = _money(pool.payouts.get(user, Decimal(0)))
        return {k: v for k, v in fields.items() if v is not None}

    def _pools_of(self, game_id: str | int) -> list[Pool]:
        return [p for p in self.pools.values() if p.game_id == str(game_id)]

    def _list(self, res: int, user: str, game_id: str | int, keep: Callable[[Pool], bool]
              ) -> _Result:
        pools = [self._pool_fields(p, user) for p in self._pools_of(game_id) if keep(p)]
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
        pool = self._pool(r.pool_id)
        return 360, {"pool_id": r.pool_id, "target_level": 1,
                     "distribution": self._distribution(pool, with_bets=True)}, []

    def _set_blocked(self, pool: Pool, blocked: bool, at: int) -> list[Out]:
        pool.blocked = blocked
        if pool.game_id is None:
            return []
        res, key = (368, "blocked_at") if blocked else (369, "allowed_at")
        return [Out(res, {"pool_id": pool.pool_id, key: at}, Audience("game", pool.game_id))]

    def _block_or_allow(self, pools: list[Pool], blocked: bool, at: int | None,
                        requester: str | None) -> list[Out]:
        """Now (pushes returned) or at ``at`` (scheduled: ``tick`` pushes them then)."""
        now = self._clock()
        pushes: list[Out] = []
        for pool in pools:
            if at is not None and at > now:
                self._schedule(at, "block" if blocked else "allow", pool.pool_id)
                continue
            for out in self._set_blocked(pool, blocked, now if at is None else at):
                pushes.append(out._replace(to=attrs.evolve(out.to, exclude=requester)))
        return pushes

    def _pool_blocking(self, user: str, pool_id: str | int, at: int | None, blocked: bool
                       ) -> _Result:
        """397 / 398: block or allow betting in one pool, now or at ``at``."""
        what = "block" if blocked else "allow"
        pool, _game = self._pool_admin(user, pool_id, f"{what} betting in this pool")
        res, key = (368, "blocked_at") if blocked else (369, "allowed_at")
        return res, {"pool_id": pool.pool_id, key: at if at is not None else self._clock()}, \
            self._block_or_allow([pool], blocked, at, user)

    def _block(self, user: str, r: api.BlockBettingInBettingPool, joined: set[str]) -> _Result:
        return self._pool_blocking(user, r.pool_id, r.block_at, True)

    def _allow(self, user: str, r: api.AllowBettingInBettingPool, joined: set[str]) -> _Result:
        return self._pool_blocking(user, r.pool_id, r.allow_at, False)

    def _action_pools(self, game: Game, action: str) -> list[Pool]:
        return [p for p in self._pools_of(game.game_id)
                if p.action_id == action and p.resolved_at is None]

    def _action_blocking(self, user: str, game_id: str | int, action_id: str, at: int | None,
                         blocked: bool) -> _Result:
        """3975 / 3985: block or allow an action in a game, and each of its open pools."""
        what = "block" if blocked else "allow"
        game = self._game_admin(user, game_id, f"{what} betting in this game")
        if blocked:
            game.blocked_actions.add(action_id)
        else:
            game.blocked_actions.discard(action_id)
        res, key = (370, "blocked_at") if blocked else (371, "allowed_at")
        fields = {"game_id": game.game_id, "action_id": action_id,
                  key: at if at is not None else self._clock()}
        return res, fields, [Out(res, fields, Audience("game", game.game_id, user)),
                             *self._block_or_allow(self._action_pools(game, action_id),
                                                   blocked, at, None)]

    def _block_action(self, user: str, r: api.BlockBettingForGameAndAction, joined: set[str]
                      ) -> _Result:
        return self._action_blocking(user, r.game_id, r.action_id, r.block_at, True)

    def _allow_action(self, user: str, r: api.AllowBettingForGameAndAction, joined: set[str]
                      ) -> _Result:
        return self._action_blocking(user, r.game_id, r.action_id, r.allow_at, False)

    def _hot(self, pools: list[Pool], since: int, requester: str) -> _Result:
        for pool in pools:
            pool.hot_since = since
        pushes = [Out(367, {"pool_id": p.pool_id, "hot_since": since},
                      Audience("game", p.game_id, requester)) for p in pools]
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
        pools = [p for p in self._action_pools(game, r.action_id)
                 if p.binary or any(_matches(t, r.target_id) for t in p.targets)]
        if not pools:
            raise MarketError(f"no open pool of game {game.game_id!r} for action "
                              f"{r.action_id!r} and target {r.target_id!r}")
        at = r.likely_to_happen_at if r.likely_to_happen_at is not None else self._clock()
        return self._hot(pools, at, user)

    # -- bets --------------------------------------------------------------------------------

    def _bet(self, user: str, r: api.PlaceBetInBettingPool, joined: set[str]) -> _Result:
        amount, target, now = Decimal(r.amount), str(r.target), self._clock()
        if not amount.is_finite() or amount <= 0:
            raise MarketError("place_bet_in_betting_pool: the amount must be positive")
        if amount != amount.quantize(CENT):
            raise MarketError("place_bet_in_betting_pool: the amount has more than two "
                              "decimals (money is kept in cents)")
        pool = self.pools.get(str(r.pool_id))
        if pool is None:  # lenient: an ad-hoc pool, so any id can be rehearsed against
            pool = Pool(pool_id=str(r.pool_id), game_id=None, start_at=now)
            self.pools[pool.pool_id] = pool
        why = self._closed_to_bets(pool, target, now)
        if why:
            raise MarketError(f"place_bet_in_betting_pool: {why}")
        available, exposure = self._balance(user)
        if amount > available:
            raise MarketError("insufficient funds")
        bet = Bet(self._new_id("bet"), user, pool.pool_id, target, amount, now)
        self.available[user] = available - amount
        self.exposure[user] = exposure + amount
        self.bets[bet.bet_id] = bet
        pool.bets.append(bet)
        pushes = []
        if pool.game_id is not None:
            pushes.append(Out(361, {
                "pool_id": pool.pool_id, "target_level": 1,
                "distribution": self._distribution(pool, with_bets=False),
                "new_bets": [self._bet_fields(bet)]}, Audience("game", pool.game_id)))
        # Like the real server, a balance change is followed by a 815 push to the user.
        pushes.append(Out(815, self.balance_fields(user), Audience("user", user)))
        return 356, {"bet_id": bet.bet_id, "pool_id": r.pool_id, "target": target,
                     "amount": format(amount, "f")}, pushes

    def _closed_to_bets(self, pool: Pool, target: str, now: int) -> str | None:
        if pool.resolved_at is not None:
            return f"pool {pool.pool_id!r} is resolved"
        if pool.blocked:
            return f"betting in pool {pool.pool_id!r} is blocked"
        if now < pool.start_at:
            return f"pool {pool.pool_id!r} opens at {pool.start_at}"
        if pool.stop_accepting_bets_at is not None and now >= pool.stop_accepting_bets_at:
            return f"pool {pool.pool_id!r} stopped accepting bets"
        if pool.game_id is not None and self.games[pool.game_id].status != "open":
            return f"game {pool.game_id!r} is not open"
        if pool.bettable and target not in pool.bettable:
            return f"target {target!r} is not one of {pool.bettable}"
        return None

    # -- events and resolution ---------------------------------------------------------------

    def _event(self, user: str, r: api.RegisterGameEvent, joined: set[str]) -> _Result:
        game = self._game_admin(user, r.game_id, "register a game event")
        if game.status != "open":
            raise MarketError(f"game {game.game_id!r} is not open")
        if game.actions and r.action_id not in game.actions:
            raise MarketError(f"action {r.action_id!r} is not an action of game {game.game_id!r}")
        if game.targets and not any(_matches(t, r.target_id) or t == r.target_id
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
        pushes = [Out(366, fields, Audience("game", game.game_id, user))]
        for pool in self._pools_of(game.game_id):
            if pool.resolved_at is not None or pool.start_at > at:
                continue
            if pool.action_id is not None and pool.action_id != r.action_id:
                continue
            if pool.binary:
                if not pool.targets or any(_matches(t, r.target_id) for t in pool.targets):
                    pushes += self._resolve(pool, "yes", at)
                continue
            winner = next((t for t in pool.targets if _matches(t, r.target_id)), None)
            if winner is not None:
                pushes += self._resolve(pool, winner, at)
        return 366, fields, pushes

    @staticmethod
    def _expiry_target(pool: Pool) -> str:
        """A time-based pool at ``finish_at``: binary pools resolve "no", parimutuel "none"."""
        return "no" if pool.binary else "none"

    def _resolve(self, pool: Pool, winning: str, at: int, res: int = 362) -> list[Out]:
        """Pay the pool out (``docs/market.md``) and build the 362 or 363 and the 815s.

        Bets placed after ``at`` (the event) came too late: returned, and their users listed
        in ``invalidated_bettors``. Winners share the whole pool pro rata to their winning
        stakes, in cents, rounded down; the remainder goes to ``house``. No winning stake
        (or no money): every stake is returned (``is_money_return``).
        """
        now = self._clock()
        valid = [b for b in pool.bets if b.placed_at <= at]
        late = [b for b in pool.bets if b.placed_at > at]
        total = sum(_cents(b.amount) for b in valid)
        win_cents = sum(_cents(b.amount) for b in valid if b.target == winning)
        paid: dict[str, int] = {}
        winners: dict[str, Decimal] = {}
        losers: dict[str, Decimal] = {}
        money_return = total == 0 or win_cents == 0
        for bet in late + (valid if money_return else []):
            paid[bet.bet_id] = _cents(bet.amount)
        if not money_return:
            for bet in valid:
                if bet.target == winning:
                    paid[bet.bet_id] = total * _cents(bet.amount) // win_cents
                    winners[bet.user_id] = winners.get(bet.user_id, Decimal(0)) + \
                        Decimal(paid[bet.bet_id]) / 100
                else:
                    paid[bet.bet_id] = 0
                    losers[bet.user_id] = losers.get(bet.user_id, Decimal(0)) + bet.amount
            self.house += Decimal(total - sum(paid[b.bet_id] for b in valid)) / 100
        users: list[str] = []
        for bet in pool.bets:
            back = Decimal(paid[bet.bet_id]) / 100
            self.exposure[bet.user_id] -= bet.amount
            self.available[bet.user_id] += back
            pool.payouts[bet.user_id] = pool.payouts.get(bet.user_id, Decimal(0)) + back
            if bet.user_id not in users:
                users.append(bet.user_id)
        pool.resolved_at, pool.winning_target = now, winning
        pushes: list[Out] = []
        if pool.game_id is not None:
            fields: dict[str, Any] = {
                "pool_id": pool.pool_id, "game_id": pool.game_id, "winning_target": winning,
                "description": pool.description,
                "winners": {u: _money(v) for u, v in winners.items()},
                "losers": {u: _money(v) for u, v in losers.items()},
                "invalidated_bettors": sorted({b.user_id for b in late}),
                "is_money_return": money_return, "resolved_at": now}
            if res == 363:
                fields["expired_at"] = now
            pushes.append(Out(res, _out(res, {k: v for k, v in fields.items() if v is not None}),
                              Audience("game", pool.game_id)))
        pushes += [Out(815, self.balance_fields(u), Audience("user", u)) for u in users]
        if pool.recreate_on_end and pool.game_id is not None:
            again = attrs.evolve(pool, pool_id=self._new_id("pool"), bets=[], payouts={},
                                 resolved_at=None, winning_target=None, hot_since=None,
                                 start_at=now, finish_at=None if pool.finish_at is None else
                                 now + pool.finish_at - pool.start_at)
            pushes += self._open_pool(again)
        return pushes

    # -- leaderboards and friends ------------------------------------------------------------

    def _points(self, keep: Callable[[Pool], bool]) -> dict[str, Decimal]:
        """Net winnings (paid back minus staked) over the resolved pools ``keep`` selects."""
        points: dict[str, Decimal] = {}
        for pool in self.pools.values():
            if pool.resolved_at is None or not keep(pool):
                continue
            for bet in pool.bets:
                points[bet.user_id] = points.get(bet.user_id, Decimal(0)) - bet.amount
            for uid, back in pool.payouts.items():
                points[uid] += back
        return points

    def _board(self, user: str, keep: Callable[[Pool], bool], *, start: int | None = None,
               end: int | None = None, counts: tuple[int | None, ...] | None = None
               ) -> dict[str, Any]:
        ranked = sorted(self._points(keep).items(),
                        key=lambda item: (-item[1], self.username(item[0])))
        entries = [{"username": self.username(u), "points": _money(p), "rank": i}
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

    def _game_keep(self, game_id: str | int) -> Callable[[Pool], bool]:
        return lambda p: p.game_id == str(game_id)

    def _source_keep(self, source_id: str | int) -> Callable[[Pool], bool]:
        def keep(p: Pool) -> bool:
            game = self.games.get(p.game_id or "")
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
        if hasattr(r, "top_count"):
            fields.update(self._board(user, keep, counts=(r.top_count, r.surrounding_count,
                                                          r.bottom_count)))
        else:
            fields.update(self._board(user, keep, start=r.start, end=r.end))
        return res, fields, []

    def _prediction(self, bet: Bet, *, with_pool: bool) -> dict[str, Any]:
        out = {"user_id": bet.user_id, "username": self.username(bet.user_id),
               "target": bet.target, "amount": _money(bet.amount), "placed_at": bet.placed_at,
               "bet_id": bet.bet_id}
        if with_pool:
            out["pool_id"] = bet.pool_id
        return out

    def _friends_pool(self, user: str, r: api.GetMyFriendsPredictionsForPool, joined: set[str]
                      ) -> _Result:
        """Friends are every other user (the reference server keeps no friend lists)."""
        pool = self._pool(r.pool_id)
        return 460, {"pool_id": r.pool_id, "predictions": [
            self._prediction(b, with_pool=False) for b in pool.bets if b.user_id != user]}, []

    def _friends_game(self, user: str, r: api.GetMyFriendsPredictionsForGame, joined: set[str]
                      ) -> _Result:
        running: list[dict[str, Any]] = []
        resolved: list[dict[str, Any]] = []
        for pool in self._pools_of(r.game_id):
            into = running if pool.resolved_at is None else resolved
            into += [self._prediction(b, with_pool=True) for b in pool.bets if b.user_id != user]
        return 461, {"game_id": r.game_id,
                     "predictions": {"running": running, "resolved": resolved}}, []

    # -- balances and chat -------------------------------------------------------------------

    def _balance_read(self, user: str, r: Any, joined: set[str]) -> _Result:
        currency = r.currency or CURRENCY
        if currency != CURRENCY:
            raise MarketError(f"unknown currency {currency!r} (the market has {CURRENCY})")
        available, exposure = self._balance(user)
        key, value = {800: ("current_balance", available + exposure),
                      810: ("available_balance", available),
                      840: ("exposure", exposure)}[r.OP]
        return r.OP, {key: _money(value), "currency": currency}, []

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
        n = next(self._push_seq)
        now = self._clock()
        if res == 366:
            return {"game_id": game_id, "action_id": "goal", "target_id": f"t{n % 2}",
                    "target_display_name": f"Team {n % 2}", "current_count": {"t0": n, "t1": 0},
                    "happened_at": now}
        if res == 362:
            return {"pool_id": f"push-pool-{n}", "game_id": game_id, "winning_target": "t0",
                    "description": "resolved by the reference server", "winners": {},
                    "losers": {}, "invalidated_bettors": [], "is_money_return": False,
                    "resolved_at": now}
        if res == 815:
            return self.balance_fields(user)
        raise ValueError(f"the push source makes 362, 366 and 815, not {res}")

    def push_stream(self, game_id: str, user: str, start: int = 0
                    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Endless synthetic pushes for one game, cycling through 366, 362, 815."""
        for kind in itertools.islice(itertools.cycle((366, 362, 815)), start, None):
            yield kind, self.make_push(kind, game_id, user)
