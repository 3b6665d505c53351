"""What the market mirror holds and reports: frozen views of its state and its changes.

The mirror (``mirror.py``) folds events into these records; a reader only ever sees frozen
values, so a view handed out stays true to the moment it was taken, whoever applies the
next event. Values the mirror could not learn from what it saw are ``None`` (unknown),
never zero: a bot that bets on a zero it made up loses money.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

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
)

EMPTY: Mapping[Any, Any] = MappingProxyType({})


def builder(cls: type) -> Callable[..., Any]:
    """A positional constructor for the frozen slotted attrs class ``cls`` (fields in
    order), as attrs' ``__init__`` would fill it, without its keyword handling: the mirror
    builds a few records per push and must cost less than decoding it.

    The record is made as an instance of a private subclass of ``cls`` that adds nothing
    to its layout but ordinary attribute assignment, its slots filled by plain stores, then
    given its class: a slot store costs the interpreter a few nanoseconds where a frozen
    class's costs a call of the slot's descriptor (~55 ns), and the class is set once. The
    result is an instance of ``cls`` like any other (frozen, compared, hashed and shown as
    ``cls`` does); the subclass is never handed out. Should an interpreter refuse the class
    change, the slots are filled through their descriptors. A class holding more than its
    fields (a hash cache, a ``__dict__``) is refused: attrs' ``__init__`` must fill it."""
    names = [a.name for a in attrs.fields(cls)]
    slots = [slot for k in cls.__mro__ for slot in k.__dict__.get("__slots__", ())
             if slot != "__weakref__"]
    if sorted(slots) != sorted(names) or cls.__dictoffset__:
        raise TypeError(f"{cls.__name__} holds more than its fields: build it with attrs")
    try:
        return _twin_builder(cls, names)
    except TypeError:  # the class change refused
        pass
    namespace: dict[str, Any] = {"_make_": object.__new__, "_cls_": cls}
    lines = [f"def build({', '.join(names)}):", "    _o_ = _make_(_cls_)"]
    for name in names:
        namespace[f"s_{name}"] = next(k.__dict__[name] for k in cls.__mro__
                                      if name in k.__dict__).__set__
        lines.append(f"    s_{name}(_o_, {name})")
    lines.append("    return _o_")
    exec("\n".join(lines), namespace)
    return namespace["build"]  # type: ignore[no-any-return]


def _twin_builder(cls: type, names: list[str]) -> Callable[..., Any]:
    """``builder``'s fast path (its docstring), or ``TypeError`` if the interpreter refuses
    to change the class of the record built."""
    twin = type(f"_{cls.__name__}Unfrozen", (cls,), {
        "__slots__": (), "__module__": cls.__module__,
        # plain assignment (attrs' frozen hooks replaced by object's) and construction
        "__setattr__": object.__setattr__, "__delattr__": object.__delattr__,
        "__init__": object.__init__})
    namespace: dict[str, Any] = {"_twin_": twin, "_cls_": cls}
    lines = [f"def build({', '.join(names)}):", "    _o_ = _twin_()"]
    lines += [f"    _o_.{name} = {name}" for name in names]
    lines += ["    _o_.__class__ = _cls_", "    return _o_"]
    exec("\n".join(lines), namespace)
    build: Callable[..., Any] = namespace["build"]
    probe = build(*[None] * len(names))  # raises TypeError if the layouts differ
    if type(probe) is not cls:
        raise TypeError(f"{cls.__name__}: the twin did not become it")
    return build


class PoolStatus(enum.Enum):
    """Where a pool is in its life. A blocked pool that is also hot is ``BLOCKED``: what
    matters to a bettor first is that it takes no bets."""

    OPEN = "open"
    HOT = "hot"
    BLOCKED = "blocked"
    RESOLVED = "resolved"
    EXPIRED = "expired"

    @property
    def ended(self) -> bool:
        return self is PoolStatus.RESOLVED or self is PoolStatus.EXPIRED


class BetState(enum.Enum):
    """A bet of mine: its stake in exposure (``PLACED``), or how its pool settled it.

    ``SETTLED`` means the pool resolved but the push does not say what this bet earned:
    some of my bets in it were returned as too late and the push names users, not bets.
    """

    PLACED = "placed"
    WON = "won"
    LOST = "lost"
    RETURNED = "returned"
    SETTLED = "settled"


class StaleKind(enum.Enum):
    """What the mirror cannot vouch for until a read refreshes it."""

    BALANCE = "balance"          # current / available balance: 800 and 810 (or one 815)
    GAME = "game"                # a game's details: 372
    GAME_POOLS = "game_pools"    # a game's open pools, their status and money: 387
    MY_POOLS = "my_pools"        # my stakes in a game's running pools: 389
    POOL = "pool"                # one pool (status, distribution, my stake)


@attrs.frozen(slots=True, cache_hash=True)
class StaleKey:
    """One thing to re-read: ``kind`` and the game or pool id it concerns (None for the
    balance)."""

    kind: StaleKind
    id: str | None = None


@attrs.frozen(slots=True, kw_only=True)
class Balance:
    """My money in ``currency``, each part ``None`` while unknown.

    ``current = available + exposure`` (the API's definition), so the mirror derives the
    third part when it has read two of them at the same point of the stream.
    """

    current: Decimal | None = None
    available: Decimal | None = None
    exposure: Decimal | None = None
    currency: str | None = None


@attrs.frozen(slots=True, kw_only=True)
class GameView:
    """A game the mirror knows: joined (its pushes arrive) or only read.

    ``details`` is the last 342 (reply or push) as the server sent it, ``counts`` the
    per-action target counts (342's ``game_state``, then each 366's ``current_count``),
    ``last_event`` the last 366. Past events are those of ``details``: the mirror keeps no
    growing history, so its memory does not grow with the events it sees.
    """

    game_id: str
    joined: bool = False
    closed: bool = False
    details: Any = None  # api.GameDetails | None (typed as Any: the core's api imports late)
    counts: Mapping[str, Mapping[str, int]] = EMPTY
    blocked_actions: frozenset[str] = frozenset()
    last_event: Any = None  # api.NewGameEvent | None


@attrs.frozen(slots=True, kw_only=True)
class PoolView:
    """A pool as the server last described it, with what I have at stake in it.

    ``distribution`` maps each target to the money backing it and ``to_win_if_backed`` to
    the server's payout ratio, both from the last distribution or pool image. ``my_stakes``
    maps target to my stake (from my bets, or the server's ``user_backed``); ``my_bets`` are
    the ids of my bets the mirror saw; ``my_payout`` is what the pool paid me back (stake
    included), set when it resolves and known.
    """

    pool_id: str
    game_id: str | None = None
    description: str | None = None
    type: int | None = None
    action_id: str | None = None
    status: PoolStatus = PoolStatus.OPEN
    is_blocked: bool = False
    is_hot: bool = False
    targets: tuple[str, ...] = ()
    distribution: Mapping[str, Decimal] = EMPTY
    to_win_if_backed: Mapping[str, Decimal] = EMPTY
    participants: int | None = None
    start_at: int | None = None
    finish_at: int | None = None
    stop_accepting_bets_at: int | None = None
    resolved_at: int | None = None
    winning_target: str | None = None
    my_stakes: Mapping[str, Decimal] = EMPTY
    my_bets: tuple[str, ...] = ()
    my_payout: Decimal | None = None

    @property
    def total(self) -> Decimal:
        """All the money in the pool: the sum of its distribution (a view, not state)."""
        return sum(self.distribution.values(), Decimal(0))

    @property
    def my_stake(self) -> Decimal:
        return sum(self.my_stakes.values(), Decimal(0))

    def implied_payout(self, target: str, stake: Decimal) -> Decimal | None:
        """What ``stake`` more on ``target`` would pay back per unit if it won now (the
        parimutuel ratio with the stake added; ``None`` if the distribution is unknown)."""
        if target not in self.distribution or stake <= 0:
            return None
        return (self.total + stake) / (self.distribution[target] + stake)


@attrs.frozen(slots=True, kw_only=True)
class BetView:
    """A bet of mine. ``payout`` is what it paid back, when that follows from the push
    (``None`` while placed, or when several of my bets share the pool's winnings)."""

    bet_id: str | None
    pool_id: str
    target: str | None = None
    amount: Decimal | None = None
    placed_at: int | None = None
    state: BetState = BetState.PLACED
    payout: Decimal | None = None


@attrs.frozen(slots=True, kw_only=True)
class MirrorSnapshot:
    """A consistent copy of the whole mirror at one point of the event stream."""

    user_id: str | None
    games: Mapping[str, GameView]
    pools: Mapping[str, PoolView]
    my_bets: Mapping[str, BetView]
    balance: Balance
    stale: frozenset[StaleKey]


@attrs.frozen(slots=True, kw_only=True)
class MirrorMetrics:
    """Counters for a dashboard; ``mismatches`` above zero means the mirror's arithmetic
    disagreed with the server (each one was reported as a ``MirrorMismatch``)."""

    events: int = 0
    changes: int = 0
    ignored: int = 0
    mismatches: int = 0
    gaps: int = 0
    resyncs: int = 0


# -- changes --------------------------------------------------------------------------------


@attrs.frozen(slots=True, kw_only=True)
class Change:
    """Base of what ``MarketMirror.apply`` reports: one record per thing that changed."""


@attrs.frozen(slots=True, kw_only=True)
class GameChanged(Change):
    """A game was joined, left, read, closed or had an event; ``game`` is None once the
    mirror forgot it (left)."""

    game_id: str
    game: GameView | None
    cause: str


@attrs.frozen(slots=True, kw_only=True)
class PoolAdded(Change):
    pool: PoolView


@attrs.frozen(slots=True, kw_only=True)
class PoolRemoved(Change):
    """The mirror forgot a pool: resolved with nothing of mine in it, gone from a list
    read, or its game was left."""

    pool_id: str
    cause: str


@attrs.frozen(slots=True, kw_only=True)
class PoolStatusChanged(Change):
    pool_id: str
    old: PoolStatus
    new: PoolStatus


@attrs.frozen(slots=True, kw_only=True)
class DistributionChanged(Change):
    pool_id: str
    old: Mapping[str, Decimal]
    new: Mapping[str, Decimal]


@attrs.frozen(slots=True, kw_only=True)
class PoolResolved(Change):
    """A pool ended: ``status`` is ``RESOLVED`` (362) or ``EXPIRED`` (363). ``my_payout``
    is what it paid me back (stake included) if I was in it, else None; ``my_stake`` what
    the mirror recorded I had staked. The pool stays in ``pools`` while it holds bets of
    mine; otherwise the mirror forgets it right after this change."""

    pool_id: str
    game_id: str | None
    status: PoolStatus
    winning_target: str | None
    my_stake: Decimal
    my_payout: Decimal | None


@attrs.frozen(slots=True, kw_only=True)
class StakeChanged(Change):
    """The server's image of my stakes in a pool (``user_backed``, or a distribution read
    with its bets) replaced the mirror's."""

    pool_id: str
    old: Mapping[str, Decimal]
    new: Mapping[str, Decimal]


@attrs.frozen(slots=True, kw_only=True)
class BetChanged(Change):
    bet: BetView
    cause: str


@attrs.frozen(slots=True, kw_only=True)
class BalanceChanged(Change):
    old: Balance
    new: Balance
    cause: str


@attrs.frozen(slots=True, kw_only=True)
class MarkedStale(Change):
    keys: frozenset[StaleKey]
    cause: str


@attrs.frozen(slots=True, kw_only=True)
class Resynced(Change):
    keys: frozenset[StaleKey]


@attrs.frozen(slots=True, kw_only=True)
class MirrorMismatch(Change):
    """The mirror's arithmetic disagreed with what the server sent.

    ``subject`` names the quantity (``lost_stake``, ``stake``, ``payout``,
    ``current_balance``, ``available_balance``); the server's value is the one kept, and
    this record is the trace that the mirror had it wrong (or the server did).
    """

    subject: str
    pool_id: str | None
    expected: Decimal
    actual: Decimal


@attrs.frozen(slots=True, kw_only=True)
class Ignored(Change):
    """An event the mirror could not place (a push for a pool or game it does not know):
    it created nothing from it."""

    res: int | None
    reason: str


class _Discard(list[Change]):
    """Where ``MarketMirror.update`` sends changes: nowhere (the hot paths skip building
    them)."""

    __slots__ = ()

    def append(self, change: Change) -> None:
        pass


DISCARD: list[Change] = _Discard()
