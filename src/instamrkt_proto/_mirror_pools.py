"""The market mirror's pools: the record it changes in place, the read-only views it hands
out, and what is computed from a pool's distribution.

A pool is the mirror's busiest state (every 361, 362 and 368 touches one), so it is kept
as a mutable slotted record and frozen into a ``PoolView`` only when someone reads it:
building a view per push would cost more than decoding the push. The helpers here are the
only places that read a distribution's entries or the ``winners`` and ``losers`` of a
resolution, so the wire's meaning of them is decided once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

from . import api
from ._mirror_records import EMPTY, PoolStatus, PoolView, builder

__all__ = ("Pool", "PoolViews", "distribution", "live_status", "may_be_mine", "proxy",
           "raw_fields", "resolved_payout")

_ZERO = Decimal(0)


def resolved_payout(stake: Decimal, won: Decimal, lost: Decimal) -> Decimal:
    """What a resolved pool paid me back, from my ``stake`` in it and the 362/363 entries.

    The one place the mirror interprets ``winners`` and ``losers``: as the API docs'
    example has them, ``winners[me]`` is my NET winnings (payout minus winning stake) and
    ``losers[me]`` the stake I lost, so the payout is my whole stake, less what I lost,
    plus what I won. Stakes returned (a money return, a bet placed too late) are in
    neither map and come back whole.
    """
    return stake - lost + won


def live_status(blocked: bool, hot: bool) -> PoolStatus:
    return PoolStatus.BLOCKED if blocked else PoolStatus.HOT if hot else PoolStatus.OPEN


def proxy(mapping: dict[Any, Any]) -> Mapping[Any, Any]:
    """A read-only face for ``mapping``; the empty ones share one, as most maps are."""
    return MappingProxyType(mapping) if mapping else EMPTY


def distribution(entries: Sequence[api.DistributionEntry]
                 ) -> tuple[tuple[str, ...], Mapping[str, Decimal], Mapping[str, Decimal]]:
    """(targets, money per target, payout ratio per target) from distribution entries;
    an entry without a money figure names a target whose backing is unknown."""
    targets: list[str] = []
    money: dict[str, Decimal] = {}
    ratio: dict[str, Decimal] = {}
    for entry in entries:
        target = entry.target_id
        if target is None:
            continue
        targets.append(target)
        if entry.backing_money is not None:
            money[target] = entry.backing_money
        if entry.to_win_if_backed is not None:
            ratio[target] = entry.to_win_if_backed
    return tuple(targets), proxy(money), proxy(ratio)


def raw_fields(model: Any) -> Mapping[str, Any]:
    """The fields a pool image came with: whether a key was sent at all tells an empty
    value from one the server did not send."""
    raw = getattr(model, "raw", None)
    return raw if raw is not None else model.fields  # type: ignore[no-any-return]


def may_be_mine(fields: Mapping[str, Any], me: str) -> bool:
    """Whether a 361's raw ``new_bets`` name me: skips structuring the bets of others (most
    of a busy game's pushes). Without raw fields (a model built in code): maybe."""
    raw = fields.get("new_bets")
    if type(raw) is not list:
        return True
    if len(raw) == 1:  # the usual push: one bet
        bet = raw[0]
        return type(bet) is not dict or str(bet.get("user_id")) == me
    return any(type(bet) is not dict or str(bet.get("user_id")) == me for bet in raw)


_new_pool_view = builder(PoolView)


class Pool:
    """A pool as the mirror keeps it: the fields of ``PoolView``, changed in place (a push
    touches two or three of them), and the frozen view built when someone reads it."""

    __slots__ = ("action_id", "description", "distribution", "finish_at", "game_id",
                 "is_blocked", "is_hot", "my_bets", "my_payout", "my_stake", "my_stakes",
                 "participants",
                 "pool_id", "resolved_at", "start_at", "status", "stop_accepting_bets_at",
                 "targets", "to_win_if_backed", "type", "view", "winning_target")

    def __init__(self, pool_id: str) -> None:
        self.pool_id = pool_id
        self.game_id: str | None = None
        self.description: str | None = None
        self.type: int | None = None
        self.action_id: str | None = None
        self.status = PoolStatus.OPEN
        self.is_blocked = self.is_hot = False
        self.targets: tuple[str, ...] = ()
        self.distribution: Mapping[str, Decimal] = EMPTY
        self.to_win_if_backed: Mapping[str, Decimal] = EMPTY
        self.participants: int | None = None
        self.start_at: int | None = None
        self.finish_at: int | None = None
        self.stop_accepting_bets_at: int | None = None
        self.resolved_at: int | None = None
        self.winning_target: str | None = None
        self.my_stakes: Mapping[str, Decimal] = EMPTY
        self.my_stake = _ZERO  # sum(my_stakes.values(), _ZERO), set with it (set_stakes)
        self.my_bets: tuple[str, ...] = ()
        self.my_payout: Decimal | None = None
        self.view: PoolView | None = None

    def build(self) -> PoolView:
        return _new_pool_view(  # type: ignore[no-any-return]
            self.pool_id, self.game_id, self.description, self.type, self.action_id,
            self.status, self.is_blocked, self.is_hot, self.targets, self.distribution,
            self.to_win_if_backed, self.participants, self.start_at, self.finish_at,
            self.stop_accepting_bets_at, self.resolved_at, self.winning_target,
            self.my_stakes, self.my_bets, self.my_payout)

    def frozen(self) -> PoolView:
        """The view, built once per change (only the applying thread may call this)."""
        view = self.view
        if view is None:
            view = self.view = self.build()
        return view

    def set_stakes(self, stakes: Mapping[str, Decimal]) -> None:
        """``my_stakes`` and their sum, kept with them: a resolution reads the sum, and
        summing there would cost a 362 more than bets, which are far fewer."""
        self.my_stakes = stakes
        self.my_stake = sum(stakes.values(), _ZERO)


class Generations(Protocol):
    """What ``PoolViews`` needs of the mirror: its count of applies, odd while one runs,
    so a view built in another thread is known to be whole."""

    _gen: int


class PoolViews(Mapping[str, PoolView]):
    """``MarketMirror.pools``: the live pools, each read as its frozen view.

    A view is built from the pool's fields when first read after a change, and kept. Built
    in a thread other than the one applying events, it is kept only if no event was applied
    meanwhile (the mirror's generation count did not move), so a half-changed pool is never
    kept, nor handed out.
    """

    __slots__ = ("_mirror", "_pools")

    def __init__(self, mirror: Generations, pools: dict[str, Pool]) -> None:
        self._mirror = mirror
        self._pools = pools

    def __getitem__(self, pool_id: str) -> PoolView:
        pool = self._pools[pool_id]
        mirror = self._mirror
        while True:
            gen = mirror._gen
            if gen & 1:  # an event is being applied in another thread
                continue
            view = pool.view
            if view is None:
                view = pool.build()
                if mirror._gen != gen:
                    continue
                pool.view = view
                if mirror._gen != gen:  # an apply began before the view was kept
                    pool.view = None
                    continue
            elif mirror._gen != gen:
                continue
            return view

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._pools))  # a copy: another thread may be adding a pool

    def __len__(self) -> int:
        return len(self._pools)

    def __contains__(self, pool_id: object) -> bool:
        return pool_id in self._pools
