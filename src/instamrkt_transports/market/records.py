"""The reference market's vocabulary: the records it keeps and the shapes it answers in.

The market (``market.py``), its pools (``pools.py``), its money (``ledger.py``) and the
wire views (``views.py``) all speak of games, pools and bets; most of them also refuse
with ``MarketError`` or build fields that must match the API table. Keeping these shapes
here, below all of them, lets each be read on its own and use the others' terms without an
import cycle.
Nothing here holds more state than one record: the market keeps the sources and games, the
pool book the pools and bets, the ledger the balances.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from instamrkt_proto._table import EXTRA_CODES, RESPONSES

__all__ = ("BINARY_EVENT", "BINARY_TARGETS", "BINARY_TIME", "CURRENCY", "PARIMUTUEL_EVENT",
           "PARIMUTUEL_TIME", "Audience", "Bet", "Game", "MarketError", "Out", "Pool",
           "Source", "Tally", "checked", "new_bet")

CURRENCY = "DON"
PARIMUTUEL_EVENT, PARIMUTUEL_TIME, BINARY_EVENT, BINARY_TIME = 1, 2, 3, 4
BINARY_TARGETS = ("yes", "no")
_BINARY_TYPES = frozenset((BINARY_EVENT, BINARY_TIME))
_FIELDS = {spec.res: frozenset(f.name for f in spec.fields) for spec in RESPONSES}
_FIELDS.update({res: _FIELDS[450] for res in EXTRA_CODES})  # 452, 453: leaderboards


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


def checked(res: int, fields: dict[str, Any]) -> dict[str, Any]:
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


_BET_SLOTS = tuple(Bet.__dict__[f.name].__set__ for f in attrs.fields(Bet))
_new_object = object.__new__


def new_bet(bet_id: str, user_id: str, pool_id: str, target: str, amount: Decimal,
            placed_at: int) -> Bet:
    """``Bet(bet_id, user_id, pool_id, target, amount, placed_at)``, for the bets the
    market places: a frozen class's ``__init__`` sets each field through
    ``object.__setattr__``; setting the slots directly makes the same bet (``Bet`` has no
    defaults, converters or validators to skip) at two thirds of the cost, paid by every
    bet of a replay."""
    bet = _new_object(Bet)
    set_id, set_user, set_pool, set_target, set_amount, set_at = _BET_SLOTS
    set_id(bet, bet_id)
    set_user(bet, user_id)
    set_pool(bet, pool_id)
    set_target(bet, target)
    set_amount(bet, amount)
    set_at(bet, placed_at)
    return bet


class Tally:
    """Running sums over a pool's bets: its total, and each target's money and backers.

    Every bet pushes the pool's distribution (361), so reading these by summing the bets
    would cost each bet the whole pool; kept up to date they cost it one addition. Exact
    (``Decimal`` cents added in bet order, as a sum over the bets would). The same sums
    are kept in integer cents (``total_cents``, ``cents``) while every amount is a
    positive whole number of cents (``exact``), as the market's bets always are: the odds
    of a 361 are then integer arithmetic rather than a ``Decimal`` division per target.
    """

    __slots__ = ("backers", "bets", "cents", "counted", "exact", "money", "total",
                 "total_cents", "users")

    def __init__(self, bets: list[Bet]) -> None:
        self.bets = bets  # the list summed: a pool given another list is summed afresh
        self.counted = 0
        self.total = Decimal(0)
        self.money: dict[str, Decimal] = {}  # target -> backing money
        self.backers: dict[str, set[str]] = {}  # target -> users backing it
        self.users: set[str] = set()  # everyone who bet in the pool
        self.exact = True  # every amount so far a positive whole number of cents
        self.total_cents = 0
        self.cents: dict[str, int] = {}  # target -> backing money in cents, while exact

    def add(self, bet: Bet) -> None:
        self.counted += 1
        amount = bet.amount
        self.total += amount
        target, user = bet.target, bet.user_id
        cents = _CENTS.get(amount)
        if cents is None:
            cents = _whole_cents(amount)
        backing = self.money.get(target)
        if backing is None:
            self.money[target] = amount
            self.backers[target] = {user}
        else:
            self.money[target] = backing + amount
            self.backers[target].add(user)
        if cents:
            self.cents[target] = self.cents.get(target, 0) + cents
            self.total_cents += cents
        else:
            self.exact = False
        self.users.add(user)


def _whole_cents(amount: Decimal) -> int:
    """``amount`` in cents when a positive whole number of them (remembered: bets repeat a
    few amounts), else 0."""
    cents = amount * 100
    if not (cents.is_finite() and cents > 0 and cents == cents.to_integral_value()):
        return 0
    if len(_CENTS) >= 4096:
        _CENTS.clear()
    number = _CENTS[amount] = int(cents)  # equal amounts are equal cents, whatever their text
    return number


_CENTS: dict[Decimal, int] = {}


@attrs.define(slots=True, kw_only=True)
class Pool:
    pool_id: str
    game_id: str
    type: int = PARIMUTUEL_EVENT
    description: str | None = None
    action_id: str | None = None
    targets: list[str] = attrs.field(factory=list)
    start_at: int = 0
    finish_at: int | None = None
    stop_accepting_bets_at: int | None = None
    recreate_on_end: bool = False
    blocked: bool = False
    hot_since: int | None = None  # set when the suggestion is due (not before)
    bets: list[Bet] = attrs.field(factory=list)
    resolved_at: int | None = None
    winning_target: str | None = None
    payouts: dict[str, Decimal] = attrs.field(factory=dict)  # user -> money paid back
    _tally: Tally | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @property
    def binary(self) -> bool:
        return self.type in _BINARY_TYPES

    @property
    def bettable(self) -> list[str]:
        """What a bet may back: yes/no for binary pools, else the pool's targets."""
        # read twice by every bet: the test inlined rather than asked of ``binary``
        return list(BINARY_TARGETS) if self.type in _BINARY_TYPES else self.targets

    @property
    def total(self) -> Decimal:
        return self.tally().total

    def tally(self) -> Tally:
        """The running sums over ``bets``, brought up to date with the bets appended since
        the last read (``bets`` only ever grows; another list, or a shorter one, is summed
        afresh)."""
        tally, bets = self._tally, self.bets
        if tally is None or tally.bets is not bets or tally.counted > len(bets):
            tally = self._tally = Tally(bets)
        if tally.counted < len(bets):
            for bet in bets[tally.counted:]:
                tally.add(bet)
        return tally
