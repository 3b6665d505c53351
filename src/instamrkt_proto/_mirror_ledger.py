"""The market mirror's ledger: who "I" am, my bets, my balance, and the check that the
server's payouts and balances agree with them.

What I staked, what each pool paid me back and what the balance must show after it are
one piece of arithmetic: a resolution's payout is checked against my stakes, and the
balance it implies is queued until the 815 that must show it. Keeping my bets, my balance
and that queue apart from the market (games, pools) decides in one place what I hold and
when the mirror disagrees with the server about it. The ledger keeps no map of pools: the
mirror hands it the pool record it needs, read for my stakes and bets in it; when a pool
ends, the ledger sets my payout on it and reports the end (the record carries my stake and
payout), so that a 362 costs one call into it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from . import api
from ._mirror_pools import Pool
from ._mirror_records import (
    DISCARD,
    Balance,
    BalanceChanged,
    BetChanged,
    BetState,
    BetView,
    Change,
    Ignored,
    MirrorMismatch,
    PoolResolved,
    PoolStatus,
    PoolStatusChanged,
    builder,
)
from ._mirror_stale import BALANCE, Staleness

__all__ = ("Ledger",)

_ZERO = Decimal(0)
_PLACED, _WON, _LOST, _RETURNED, _SETTLED = (BetState.PLACED, BetState.WON, BetState.LOST,
                                             BetState.RETURNED, BetState.SETTLED)

_new_balance = builder(Balance)
_new_bet = builder(BetView)
_balance_changed = builder(BalanceChanged)
_bet_changed = builder(BetChanged)
_status_changed = builder(PoolStatusChanged)
_pool_resolved = builder(PoolResolved)


class Ledger:
    """``me``, my bets by key, my balance in ``currency`` and the balances queued for the
    next 815, with the counts of what it ignored (a balance in another currency) and of
    the mismatches it found.

    ``bets`` is changed in place only, never rebound: the mirror hands it out read-only
    (``my_bets``). ``staleness`` is the mirror's: no check runs on a stale pool or balance,
    and a balance read or push is what clears the balance's staleness.
    """

    __slots__ = ("balance", "bets", "currency", "expect", "ignored", "me", "mismatches",
                 "stale", "staleness", "unnamed")

    def __init__(self, me: str | None, currency: str | None, staleness: Staleness) -> None:
        self.me = me
        self.currency = currency
        self.bets: dict[str, BetView] = {}
        self.balance = Balance(currency=currency)
        self.expect: deque[tuple[str, Decimal, Decimal]] = deque()  # (pool, cur, avail)
        self.unnamed = 0
        self.ignored = self.mismatches = 0
        self.staleness = staleness
        self.stale = staleness.keys  # its set, tested without a hop; only it changes it

    def _mismatch(self, subject: str, pool_id: str | None, expected: Decimal,
                  actual: Decimal, out: list[Change]) -> None:
        self.mismatches += 1
        out.append(MirrorMismatch(subject=subject, pool_id=pool_id, expected=expected,
                                  actual=actual))

    def gap(self) -> None:
        """Pushes were lost: the 815s the queued balances wait for may be among them."""
        self.expect.clear()

    # -- my bets -------------------------------------------------------------------------

    def learn(self, bet: api.Bet) -> str | None:
        """``me`` once known, else learnt from ``bet`` if my own bet reply announced it."""
        if self.me is None and bet.bet_id in self.bets and bet.user_id is not None:
            self.me = bet.user_id
        return self.me

    def add(self, bet_id: str | None, pool_id: str, target: str | None,
            amount: Decimal | None, placed_at: int | None, cause: str,
            out: list[Change]) -> str | None:
        """A bet of mine, once per id: its key (``None`` if already known); a bet without
        an id is keyed ``unnamed-N``."""
        if bet_id is None:
            self.unnamed += 1
            key = f"unnamed-{self.unnamed}"
        elif bet_id in self.bets:
            return None
        else:
            key = bet_id
        bet = _new_bet(bet_id, pool_id, target, amount, placed_at, _PLACED, None)
        self.bets[key] = bet
        out.append(_bet_changed(bet, cause))
        return key

    def placed_in(self, pool_id: str) -> tuple[tuple[str, ...], dict[str, Decimal]]:
        """My bets still placed in ``pool_id`` (keys), and their stakes by target."""
        keys = tuple(k for k, b in self.bets.items()
                     if b.pool_id == pool_id and b.state is _PLACED)
        stakes: dict[str, Decimal] = {}
        for key in keys:
            bet = self.bets[key]
            if bet.target is not None and bet.amount is not None:
                stakes[bet.target] = stakes.get(bet.target, _ZERO) + bet.amount
        return keys, stakes

    def ended_unseen(self, keys: Iterable[str], out: list[Change]) -> None:
        """A list says the pool of these bets ended while the mirror did not look: it says
        what the pool paid, not each bet, so a bet still placed is ``SETTLED``."""
        for key in keys:
            placed = self.bets.get(key)
            if placed is not None and placed.state is _PLACED:
                self.bets[key] = settled = _new_bet(
                    placed.bet_id, placed.pool_id, placed.target, placed.amount,
                    placed.placed_at, _SETTLED, None)
                out.append(_bet_changed(settled, "pool list"))

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.bets.pop(key, None)

    # -- a pool's end --------------------------------------------------------------------

    def pool_ended(self, pool: Pool, old: PoolStatus,
                   event: api.BetPoolResolved | api.BetPoolExpired, out: list[Change]) -> None:
        """``pool`` ended (the mirror has set its status, from ``old``, and its outcome):
        my payout checked against my stakes (a mismatch is reported, and the balance the
        next 815 must show queued) and set on the pool (its view dropped), the end
        reported with my stake and payout, my bets settled.

        A game's end pushes one per pool and a 362 is cheap to decode; the mirror's work on
        it must cost at most half of that decode, hence one function, locals over
        attributes and no change record built for ``update``."""
        winning, pool_id, status = event.winning_target, pool.pool_id, pool.status
        stakes = pool.my_stakes
        stake = pool.my_stake
        me = self.me
        won = lost = None
        invalid = refund = False
        payout: Decimal | None = None
        if me is not None:
            won, lost = event.winners.get(me), event.losers.get(me)
            invalid = me in event.invalidated_bettors
            refund = bool(event.is_money_return)
        if me is not None and (stake or won is not None or lost is not None or invalid):
            # check the push against my stakes; queue the balance the next 815 must show
            stale = self.stale
            checkable = not stale or not self.staleness.is_stale(pool_id)
            won_ = won or _ZERO
            lost_ = lost or _ZERO
            if checkable:
                if not stake:
                    if won or lost:
                        self._mismatch("stake", pool_id, _ZERO, won_ + lost_, out)
                elif not invalid and not refund:
                    expected = _ZERO  # what I staked on the targets that lost
                    for target, amount in stakes.items():
                        if target != winning:
                            expected += amount
                    if expected != lost_:
                        self._mismatch("lost_stake", pool_id, expected, lost_, out)
            payout = stake - lost_ + won_  # resolved_payout(stake, won_, lost_)
            if payout < _ZERO:
                self._mismatch("payout", pool_id, _ZERO, payout, out)
            expect = self.expect
            current: Decimal | None
            available: Decimal | None
            if expect:
                _, current, available = expect[-1]
            else:
                balance = self.balance
                current, available = balance.current, balance.available
            if checkable and current is not None and available is not None and \
                    BALANCE not in stale:
                expect.append((pool_id, current - stake + payout, available + payout))
        pool.my_payout, pool.view = payout, None
        if out is not DISCARD:
            out.append(_status_changed(pool_id, old, status))
            out.append(_pool_resolved(pool_id, pool.game_id, status, winning, stake, payout))
        keys = pool.my_bets
        if len(keys) == 1 and not refund and not invalid:  # the usual case: one bet
            key = keys[0]
            bet = self.bets.get(key)
            if bet is not None:
                placed = bet.amount
                if bet.target == winning:
                    state = _WON  # the sole bet on the winner: it holds my whole stake on it
                    paid = placed + (won or _ZERO) if placed and \
                        stakes.get(winning or "") == placed else None
                else:
                    state, paid = _LOST, _ZERO
                self.bets[key] = settled = _new_bet(bet.bet_id, bet.pool_id, bet.target,
                                                    placed, bet.placed_at, state, paid)
                if out is not DISCARD:
                    out.append(_bet_changed(settled, "pool ended"))
        elif keys:
            self._settle(pool, winning, won, invalid, refund, out)

    def _settle(self, pool: Pool, winning: str | None, won: Decimal | None,
                invalid: bool, refund: bool, out: list[Change]) -> None:
        bets = self.bets
        keys = pool.my_bets
        sole_winner: bool | None = None  # whether one bet holds my whole winning stake
        report = out is not DISCARD
        for key in keys:
            bet = bets.get(key)
            if bet is None:
                continue
            amount = bet.amount
            if refund:
                state, payout = _RETURNED, amount
            elif invalid:
                state, payout = _SETTLED, None
            elif bet.target == winning:
                state = _WON
                if sole_winner is None:
                    sole_winner = amount is not None and (
                        len(keys) == 1 or sum(1 for k in keys if k in bets
                                              and bets[k].target == winning) == 1
                    ) and pool.my_stakes.get(winning or "") == amount
                payout = amount + (won or _ZERO) if sole_winner and amount else None
            else:
                state, payout = _LOST, _ZERO
            bets[key] = settled = _new_bet(bet.bet_id, bet.pool_id, bet.target, amount,
                                           bet.placed_at, state, payout)
            if report:
                out.append(_bet_changed(settled, "pool ended"))

    # -- my balance ----------------------------------------------------------------------

    def _foreign(self, currency: str | None, res: int, out: list[Change]) -> bool:
        """A balance in another currency than the mirror's (learning it the first time)."""
        if currency is None:
            return False
        if self.currency is None:
            self.currency = currency
            return False
        if currency != self.currency:
            self.ignored += 1
            out.append(Ignored(res=res, reason=f"balance in {currency}"))
            return True
        return False

    def balance_update(self, event: api.BalanceUpdate, out: list[Change]) -> None:
        """815: the whole balance, checked against the balances queued by pools' ends."""
        currency = event.currency
        if currency != self.currency and self._foreign(currency, 815, out):
            return
        current, available = event.current_balance, event.available_balance
        expect = self.expect
        if expect:
            for index, (_pool, cur, avail) in enumerate(expect):
                if cur == current and avail == available:
                    for _ in range(index + 1):
                        expect.popleft()
                    break
            else:
                pool_id, cur, avail = expect[0]
                if cur != current:
                    self._mismatch("current_balance", pool_id, cur, current, out)
                if avail != available:
                    self._mismatch("available_balance", pool_id, avail, available, out)
                expect.clear()
        old = self.balance
        if current != old.current or available != old.available or \
                old.currency is not self.currency or old.exposure is None:
            new = self.balance = _new_balance(current, available, current - available,
                                              self.currency)
            if out is not DISCARD:
                out.append(_balance_changed(old, new, "balance_update"))
        if self.stale and BALANCE in self.stale:
            self.staleness.balance_pushed(out)

    def balance_read(self, event: Any, out: list[Change]) -> None:
        """800/810/840: one part read; the third follows from current = available +
        exposure when the other is known."""
        if self._foreign(event.currency, event.res, out):
            return
        old = self.balance
        current, available, exposure = old.current, old.available, old.exposure
        if isinstance(event, api.YourCurrentBalance):
            current, part = event.current_balance, "current"
            if available is not None:
                exposure = current - available
        elif isinstance(event, api.YourAvailableBalance):
            available, part = event.available_balance, "available"
            if current is not None:
                exposure = current - available
        else:
            exposure, part = event.exposure, "exposure"
            if current is not None:
                available = current - exposure
            elif available is not None:
                current = available + exposure
        self.expect.clear()
        new = Balance(current=current, available=available, exposure=exposure,
                      currency=self.currency)
        if new != old:
            self.balance = new
            out.append(BalanceChanged(old=old, new=new, cause=event.name or part))
        self.staleness.balance_read(part, out)
