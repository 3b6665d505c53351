"""The reference market's money, in one class that is the only code able to change a balance.

``docs/market.md`` promises that money adds up: every user's balance plus the house always
equals ``minted``. Keeping the balances behind this narrow interface makes that a property
of this module alone: money is minted only when an account opens (``open``), and moves only
by ``stake`` (a bet: available to exposure) and ``settle`` (a resolved pool: exposure back
to available, the rounding remainder to the house). The pools (``pools.py``) decide *when*
money moves (which bet, which pool, which winning target); the ledger decides *how much*,
in whole cents, by the payout rules of ``docs/market.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from .records import CURRENCY, Bet, MarketError, checked

__all__ = ("CENT", "Ledger", "Settlement", "money", "new_money")

CENT = Decimal("0.01")
_ZERO = Decimal(0)


def money(amount: Decimal) -> int | str:
    """Money on the wire: a JSON number when integral (as the docs' examples), else the
    exact decimal text (as the docs' place_bet example)."""
    number = _WHOLE.get(amount)  # every bet writes a few amounts, mostly whole ones
    if number is not None:
        return number
    if amount != amount.to_integral_value():
        return _fraction_text(amount)
    if len(_WHOLE) >= 4096:
        _WHOLE.clear()
    number = _WHOLE[amount] = int(amount)
    return number


def new_money(amount: Decimal) -> int | str:
    """``money(amount)`` for an amount just computed, as a winner's net winnings: looking
    it up among the whole amounts would hash it first, which costs a new ``Decimal`` (of a
    fraction, as winnings mostly are) twice what writing it does."""
    if amount != amount.to_integral_value():
        return _fraction_text(amount)
    return money(amount)


def _fraction_text(amount: Decimal) -> str:
    """``format(amount, "f")``: not cached (12.5 and 12.50 are equal, not written alike).
    ``str`` writes the same text at a third of the cost, unless it picks an exponent
    (below 1E-6)."""
    text = str(amount)
    return format(amount, "f") if "E" in text else text


_WHOLE: dict[Decimal, int] = {}  # whole amounts already written: any equal one reads alike


# sent with every bet: the names checked here once, not at every push
checked(815, dict.fromkeys(("current_balance", "available_balance", "currency")))


def _cents(amount: Decimal) -> int:
    """``int(amount * 100)``, remembered: a pool's bets repeat a few amounts, and settling
    reads each bet's several times."""
    cents = _CENTS_OF.get(amount)
    if cents is None:
        if len(_CENTS_OF) >= 4096:
            _CENTS_OF.clear()
        cents = _CENTS_OF[amount] = int(amount * 100)  # equal amounts: equal cents
    return cents


def _hundredths(cents: int) -> Decimal:
    """``Decimal(cents) / 100``, remembered (payouts repeat too); the same value and
    exponent as computed each time."""
    amount = _HUNDREDTHS.get(cents)
    if amount is None:
        if len(_HUNDREDTHS) >= 4096:
            _HUNDREDTHS.clear()
        amount = _HUNDREDTHS[cents] = Decimal(cents) / 100
    return amount


_CENTS_OF: dict[Decimal, int] = {}
_HUNDREDTHS: dict[int, Decimal] = {}


@attrs.frozen(slots=True)
class Settlement:
    """What resolving a pool did to its bettors' money, for the pushes that announce it."""

    returned: dict[str, Decimal]  # user -> money paid back (stake included), in bet order
    winners: dict[str, Decimal]  # user -> net winnings: paid back on winning stakes - stakes
    losers: dict[str, Decimal]  # user -> stake lost
    invalidated: list[str]  # users with a bet placed too late, sorted
    money_return: bool  # nobody backed the winner (or no money): every stake returned


class Ledger:
    """Every user's account (available balance, exposure, username) and the house.

    An account opens with ``initial_balance`` the first time a user is named or read. The
    balances are read-only views (``available``, ``exposure``); only ``stake`` and ``settle``
    move money, so ``total()`` is always ``minted``.
    """

    def __init__(self, initial_balance: int = 1000) -> None:
        self._initial = initial_balance
        self._available: dict[str, Decimal] = {}
        self._exposure: dict[str, Decimal] = {}
        self._usernames: dict[str, str] = {}
        self._house = Decimal(0)
        self._minted = Decimal(0)

    @property
    def available(self) -> Mapping[str, Decimal]:
        """Available balance by user id, one entry per open account."""
        return MappingProxyType(self._available)

    @property
    def exposure(self) -> Mapping[str, Decimal]:
        """Money staked in unresolved pools, by user id (users who never bet are absent)."""
        return MappingProxyType(self._exposure)

    @property
    def house(self) -> Decimal:
        """The rounding remainders of every payout."""
        return self._house

    @property
    def minted(self) -> Decimal:
        """All money ever created: one ``initial_balance`` per account."""
        return self._minted

    # -- accounts ----------------------------------------------------------------------------

    def open(self, user: str, username: str | None = None) -> None:
        """Open ``user``'s account unless it is open; ``username`` (re)names it."""
        if user not in self._available:
            self._available[user] = Decimal(self._initial)
            self._minted += self._initial
        if username is not None:
            self._usernames[user] = username

    def username(self, user: str) -> str:
        """The name ``user`` was opened with, else the user id itself."""
        return self._usernames.get(user, user)

    def user_named(self, username: str) -> str | None:
        """The first account (in opening order) going by ``username``, if any."""
        return next((u for u in self._available if self.username(u) == username), None)

    def balances(self, user: str) -> tuple[Decimal, Decimal]:
        """``user``'s available balance and exposure (opening the account if need be)."""
        self.open(user)
        return self._available[user], self._exposure.get(user, Decimal(0))

    def current(self, user: str) -> Decimal:
        available, exposure = self.balances(user)
        return available + exposure

    def total(self) -> Decimal:
        """Every balance plus the house: always ``minted``."""
        return sum((self.current(u) for u in list(self._available)), Decimal(0)) + self._house

    def balance_fields(self, user: str) -> dict[str, Any]:
        """``user``'s balance as the fields of a 815 (balance_update), its names
        checked against the table once, at import."""
        available, exposure = self.balances(user)
        return {"current_balance": money(available + exposure),
                "available_balance": money(available), "currency": CURRENCY}

    # -- moving money ------------------------------------------------------------------------

    def stake(self, user: str, amount: Decimal) -> None:
        """Move ``amount`` of ``user``'s available balance into exposure (a bet)."""
        available = self._available.get(user)
        if available is None:  # every bet comes here: the account read once, not thrice
            self.open(user)
            available = self._available[user]
        if amount > available:
            raise MarketError("insufficient funds")
        self._available[user] = available - amount
        self._exposure[user] = self._exposure.get(user, _ZERO) + amount

    def settle(self, bets: Sequence[Bet], winning: str, at: int) -> Settlement:
        """Resolve the stakes ``bets`` of one pool to ``winning`` at ``at``: every stake
        leaves exposure, and what it earns goes to available balance.

        Bets placed after ``at`` came too late: returned. Winners share the whole pool pro
        rata to their winning stakes, in cents, rounded down; the remainder goes to the house.
        No winning stake (or no money): every stake is returned. ``winners`` reports net
        winnings (as the docs' 362 example: payout minus the winning stake).
        """
        known = _CENTS_OF.get  # each stake read once, mostly from the remembered
        stakes: list[int] = []
        total = win_cents = 0
        any_late = False
        for bet in bets:
            stake = known(bet.amount)
            if stake is None:
                stake = _cents(bet.amount)
            stakes.append(stake)
            if bet.placed_at <= at:
                total += stake
                if bet.target == winning:
                    win_cents += stake
            else:
                any_late = True
        money_return = total == 0 or win_cents == 0
        winners: dict[str, Decimal] = {}
        losers: dict[str, Decimal] = {}
        returned: dict[str, Decimal] = {}
        exposure, available = self._exposure, self._available
        written = _HUNDREDTHS.get
        paid_in_time = 0
        # One pass, in bet order: each dict sees its additions in the order it always did.
        for bet, stake in zip(bets, stakes, strict=True):
            user = bet.user_id
            won = False
            if money_return or bet.placed_at > at:
                back = stake  # every stake back (no winning stake), or too late: returned
            elif bet.target == winning:
                back = total * stake // win_cents
                paid_in_time += back
                won = True
            else:
                back = 0
                losers[user] = losers.get(user, _ZERO) + bet.amount
            back_money = written(back)
            if back_money is None:
                back_money = _hundredths(back)
            if won:
                winners[user] = winners.get(user, _ZERO) + back_money - bet.amount
            exposure[user] -= bet.amount
            available[user] += back_money
            returned[user] = returned.get(user, _ZERO) + back_money
        if not money_return:
            self._house += Decimal(total - paid_in_time) / 100
        late = sorted({b.user_id for b in bets if b.placed_at > at}) if any_late else []
        return Settlement(returned, winners, losers, late, money_return)
