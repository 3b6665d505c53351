"""Property tests of the market mirror: random interleavings of replies, pushes and gaps.

Events are the test kit's models (``instamrkt_proto.testing.models``) with their ids drawn
from a small universe (two games, three pools, "me" and another user), so that they hit
each other: bets in pools the mirror knows and does not know, images after pushes and
pushes after images, resolutions of pools with and without my stakes, gaps anywhere.

The reference fold below is a second, plain statement of the rules of ``docs/mirror.md``
(dicts and ifs, no views, no changes); the mirror must end in the same state, and after
every gap the balance and every pool that has not ended must be stale.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from instamrkt_proto import PushesDropped, Reconnected, api
from instamrkt_proto.mirror import (
    BetState,
    Change,
    MarketMirror,
    PoolStatus,
    StaleKey,
    StaleKind,
    resolved_payout,
)
from instamrkt_proto.testing import models

GAMES = ("g1", "g2")
POOLS = ("p1", "p2", "p3")
USERS = ("me", "other")
TARGETS = ("a", "b", "none")
BETS = ("b1", "b2", "b3", "b4", "b5")
ME = "me"
ZERO = Decimal(0)

money = st.decimals(min_value=0, max_value=100, places=2)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=50, places=2)
stakes = st.dictionaries(st.sampled_from(TARGETS), amounts, max_size=2)


@st.composite
def entries(draw: st.DrawFn) -> tuple[api.DistributionEntry, ...]:
    targets = draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=3, unique=True))
    return tuple(api.DistributionEntry(target_id=t, backing_money=draw(money))
                 for t in targets)


@st.composite
def pool_image(draw: st.DrawFn, game: str) -> api.Pool:
    return api.Pool(pool_id=draw(st.sampled_from(POOLS)), game_id=game,
                    is_blocked=draw(st.booleans()), is_hot=draw(st.booleans()),
                    distribution=draw(entries()), user_backed=draw(stakes))


def evolved(res: int, reply: bool | None = None, **fixed: Any) -> st.SearchStrategy[Any]:
    """The kit's model for ``res`` with the fields that link events drawn from the
    universe (each value of ``fixed`` a strategy)."""
    return st.tuples(models(res, reply=reply), st.fixed_dictionaries(fixed)).map(
        lambda pair: attrs.evolve(pair[0], **pair[1]))


games = st.sampled_from(GAMES)
pools = st.sampled_from(POOLS)
users_money = st.dictionaries(st.sampled_from(USERS), money, max_size=2)

events = st.one_of(
    evolved(333, game_id=games),
    evolved(352, pool_id=pools, game_id=games, distribution=entries(),
            is_blocked=st.booleans(), is_hot=st.booleans(), resolved_at=st.none(),
            winning_target=st.none(), user_backed=st.just({})),
    evolved(361, pool_id=pools, distribution=entries(), new_bets=st.lists(st.builds(
        api.Bet, bet_id=st.sampled_from(BETS), user_id=st.sampled_from(USERS),
        amount=amounts, target=st.sampled_from(TARGETS)), max_size=2).map(tuple)),
    evolved(362, pool_id=pools, winning_target=st.sampled_from(TARGETS), winners=users_money,
            losers=users_money, invalidated_bettors=st.lists(
                st.sampled_from(USERS), max_size=1).map(tuple),
            is_money_return=st.booleans()),
    evolved(363, pool_id=pools, winning_target=st.just("none"), winners=st.just({}),
            losers=users_money, invalidated_bettors=st.just(()), is_money_return=st.booleans()),
    evolved(367, pool_id=pools),
    evolved(368, pool_id=pools),
    evolved(369, pool_id=pools),
    evolved(815, current_balance=money, available_balance=money, currency=st.just("DON")),
    evolved(800, current_balance=money, currency=st.just("DON")),
    evolved(810, available_balance=money, currency=st.just("DON")),
    evolved(840, exposure=money, currency=st.just("DON")),
    games.flatmap(lambda g: evolved(3535, game_id=st.just(g), pools_list=st.lists(
        pool_image(g), max_size=2, unique_by=lambda p: p.pool_id).map(tuple))),
    games.flatmap(lambda g: evolved(354, game_id=st.just(g), pools_list=st.lists(
        pool_image(g), max_size=2, unique_by=lambda p: p.pool_id).map(tuple))),
    evolved(356, pool_id=pools, bet_id=st.sampled_from(BETS), target=st.sampled_from(TARGETS),
            amount=amounts),
    st.builds(Reconnected, disconnected_at=st.just(1.0), reconnected_at=st.just(2.0),
              attempts=st.just(1), relogged_on=st.just(True),
              rejoined=st.lists(games, unique=True).map(tuple)),
    st.builds(PushesDropped, count=st.integers(1, 5)),
)


# -- the reference fold --------------------------------------------------------------------


def key(kind: StaleKind, ident: str | None = None) -> StaleKey:
    return StaleKey(kind, ident)


class Reference:
    """The rules, plainly: state as dicts, one branch per kind of event."""

    def __init__(self) -> None:
        self.joined: dict[str, bool] = {}
        self.pools: dict[str, dict[str, Any]] = {}
        self.bets: dict[str, dict[str, Any]] = {}
        self.balance: list[Decimal | None] = [None, None, None]
        self.stale: set[StaleKey] = {key(StaleKind.BALANCE)}
        self.pending = {"current", "available"}
        self.missing: set[str] = set()

    def mark(self, keys: list[StaleKey]) -> None:
        new = set(keys) - self.stale
        if key(StaleKind.BALANCE) in new:
            self.pending = {"current", "available"}
        self.stale |= new

    def pool_stale(self, pool_id: str) -> bool:
        game = self.pools[pool_id]["game"]
        return key(StaleKind.POOL, pool_id) in self.stale or (game is not None and (
            key(StaleKind.GAME_POOLS, game) in self.stale
            or key(StaleKind.MY_POOLS, game) in self.stale))

    def forget(self, pool_id: str) -> None:
        del self.pools[pool_id]
        self.missing.discard(pool_id)
        self.stale.discard(key(StaleKind.POOL, pool_id))

    def live(self, blocked: bool, hot: bool) -> PoolStatus:
        return PoolStatus.BLOCKED if blocked else PoolStatus.HOT if hot else PoolStatus.OPEN

    def image(self, image: Any, game: str) -> None:
        old = self.pools.get(image.pool_id)
        same = old is not None and not old["status"].ended  # images here are open pools
        dist = {e.target_id: e.backing_money for e in image.distribution}
        raw = image.raw if isinstance(image, api.Pool) else image.fields
        bets = old["bets"] if same and old else [
            b for b, v in self.bets.items()
            if v["pool"] == image.pool_id and v["state"] is BetState.PLACED]
        if image.user_backed or "user_backed" in raw:
            mine = dict(image.user_backed)
        elif same and old:
            mine = old["stakes"]
        else:  # a pool first seen: my stakes are the bets I placed in it before
            mine = {}
            for bet_id in bets:
                bet = self.bets[bet_id]
                mine[bet["target"]] = mine.get(bet["target"], ZERO) + bet["amount"]
        self.pools[image.pool_id] = {
            "game": image.game_id or game, "status": self.live(bool(image.is_blocked),
                                                              bool(image.is_hot)),
            "blocked": bool(image.is_blocked), "hot": bool(image.is_hot), "dist": dist,
            "stakes": mine, "bets": list(bets), "payout": old["payout"] if same and old
            else None}
        self.missing.discard(image.pool_id)

    def add_bet(self, bet_id: str, pool_id: str, target: str, amount: Decimal) -> None:
        if bet_id in self.bets:
            return
        self.bets[bet_id] = {"pool": pool_id, "target": target, "amount": amount,
                             "state": BetState.PLACED}
        pool = self.pools.get(pool_id)
        if pool is None or pool["status"].ended:
            return
        pool["stakes"] = dict(pool["stakes"])
        pool["stakes"][target] = pool["stakes"].get(target, ZERO) + amount
        pool["bets"] = [*pool["bets"], bet_id]

    def apply(self, ev: Any) -> None:
        if isinstance(ev, (Reconnected, PushesDropped)):
            if isinstance(ev, Reconnected):
                for game in self.joined:
                    self.joined[game] = game in ev.rejoined
            keys = [key(StaleKind.BALANCE)]
            for game in self.joined:
                keys += [key(StaleKind.GAME, game), key(StaleKind.GAME_POOLS, game),
                         key(StaleKind.MY_POOLS, game)]
            keys += [key(StaleKind.POOL, p) for p, v in self.pools.items()
                     if not v["status"].ended]
            self.mark(keys)
        elif isinstance(ev, api.GameJoined):
            if not self.joined.get(ev.game_id, False):
                self.joined[ev.game_id] = True
                self.mark([key(StaleKind.GAME, ev.game_id), key(StaleKind.GAME_POOLS, ev.game_id),
                           key(StaleKind.MY_POOLS, ev.game_id)])
        elif isinstance(ev, api.NewBettingPool):
            self.image(ev, ev.game_id)
        elif isinstance(ev, (api.AllBettingPoolsForGame, api.YourRunningPoolsForGame)):
            listed = {p.pool_id for p in ev.pools_list}
            for image in ev.pools_list:
                self.image(image, ev.game_id)
            cleared = {key(StaleKind.POOL, p) for p in listed}
            everything = isinstance(ev, api.AllBettingPoolsForGame)
            cleared.add(key(StaleKind.GAME_POOLS if everything else StaleKind.MY_POOLS,
                            ev.game_id))
            for pool_id, pool in list(self.pools.items()):
                if pool["game"] != ev.game_id or pool_id in listed or pool["status"].ended:
                    continue
                if pool["stakes"]:
                    self.missing.add(pool_id)
                    self.mark([key(StaleKind.POOL, pool_id)])
                elif everything:
                    self.forget(pool_id)
            self.stale -= cleared
        elif isinstance(ev, api.BettingPoolBetsDistributionUpdate):
            for bet in ev.new_bets:
                if bet.user_id == ME:
                    self.add_bet(bet.bet_id, ev.pool_id, bet.target, bet.amount)
            if ev.pool_id in self.pools:
                self.pools[ev.pool_id]["dist"] = {e.target_id: e.backing_money
                                                  for e in ev.distribution}
        elif isinstance(ev, api.BetPlacedInBettingPool):
            self.add_bet(ev.bet_id, ev.pool_id, ev.target, ev.amount)
        elif isinstance(ev, (api.BettingInPoolBlocked, api.BettingInPoolAllowed,
                             api.HotBettingPoolSuggested)):
            pool = self.pools.get(ev.pool_id)
            if pool is not None and not pool["status"].ended:
                if isinstance(ev, api.HotBettingPoolSuggested):
                    pool["hot"] = True
                else:
                    pool["blocked"] = isinstance(ev, api.BettingInPoolBlocked)
                pool["status"] = self.live(pool["blocked"], pool["hot"])
        elif isinstance(ev, (api.BetPoolResolved, api.BetPoolExpired)):
            self.resolve(ev)
        elif isinstance(ev, api.BalanceUpdate):
            self.balance = [ev.current_balance, ev.available_balance,
                            ev.current_balance - ev.available_balance]
            self.pending = set()
            self.stale.discard(key(StaleKind.BALANCE))
        elif isinstance(ev, (api.YourCurrentBalance, api.YourAvailableBalance,
                             api.YourExposure)):
            current, available, exposure = self.balance
            if isinstance(ev, api.YourCurrentBalance):
                current, part = ev.current_balance, "current"
                exposure = exposure if available is None else current - available
            elif isinstance(ev, api.YourAvailableBalance):
                available, part = ev.available_balance, "available"
                exposure = exposure if current is None else current - available
            else:
                exposure, part = ev.exposure, "exposure"
                if current is not None:
                    available = current - exposure
                elif available is not None:
                    current = available + exposure
            self.balance = [current, available, exposure]
            self.pending.discard(part)
            if not self.pending:
                self.stale.discard(key(StaleKind.BALANCE))

    def resolve(self, ev: Any) -> None:
        pool = self.pools.get(ev.pool_id)
        if pool is None or pool["status"].ended:
            return
        stake = sum(pool["stakes"].values(), ZERO)
        won, lost = ev.winners.get(ME), ev.losers.get(ME)
        invalid = ME in ev.invalidated_bettors
        payout = None
        if stake or won is not None or lost is not None or invalid:
            payout = resolved_payout(stake, won or ZERO, lost or ZERO)
        pool["status"] = PoolStatus.EXPIRED if isinstance(ev, api.BetPoolExpired) \
            else PoolStatus.RESOLVED
        pool["payout"] = payout
        for bet_id in pool["bets"]:
            bet = self.bets[bet_id]
            if ev.is_money_return:
                bet["state"] = BetState.RETURNED
            elif invalid:
                bet["state"] = BetState.SETTLED
            elif bet["target"] == ev.winning_target:
                bet["state"] = BetState.WON
            else:
                bet["state"] = BetState.LOST
        self.stale.discard(key(StaleKind.POOL, ev.pool_id))
        self.missing.discard(ev.pool_id)
        if not pool["bets"] and not pool["stakes"]:
            self.forget(ev.pool_id)


def state_of(mirror: MarketMirror) -> dict[str, Any]:
    snap = mirror.snapshot()
    return {
        "balance": [snap.balance.current, snap.balance.available, snap.balance.exposure],
        "joined": {g: v.joined for g, v in snap.games.items()},
        "pools": {p: (v.game_id, v.status, dict(v.distribution), dict(v.my_stakes),
                      list(v.my_bets), v.my_payout) for p, v in snap.pools.items()},
        "bets": {b: v.state for b, v in snap.my_bets.items()},
        "stale": set(snap.stale),
    }


def state_of_reference(ref: Reference) -> dict[str, Any]:
    return {
        "balance": list(ref.balance),
        "joined": dict(ref.joined),
        "pools": {p: (v["game"], v["status"], v["dist"], v["stakes"], v["bets"], v["payout"])
                  for p, v in ref.pools.items()},
        "bets": {b: v["state"] for b, v in ref.bets.items()},
        "stale": set(ref.stale),
    }


@settings(max_examples=400, deadline=None)
@given(st.lists(events, max_size=40))
def test_the_mirror_equals_the_reference_fold(sequence: list[Any]) -> None:
    mirror, ref = MarketMirror(ME), Reference()
    for event in sequence:
        changes = mirror.apply(event)
        assert all(isinstance(c, Change) for c in changes)
        ref.apply(event)
        assert state_of(mirror) == state_of_reference(ref), event
        if isinstance(event, (Reconnected, PushesDropped)):
            stale = mirror.stale
            assert StaleKey(StaleKind.BALANCE) in stale
            for pool_id, pool in mirror.pools.items():
                if not pool.status.ended:
                    assert StaleKey(StaleKind.POOL, pool_id) in stale
                    assert mirror.is_stale(pool_id)
            for game_id in mirror.games:
                assert StaleKey(StaleKind.GAME_POOLS, game_id) in stale
            assert mirror.resync_requests()


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=30))
def test_the_reads_it_asks_for_are_the_ones_that_clear_what_is_stale(sequence: list[Any]
                                                                     ) -> None:
    mirror = MarketMirror(ME)
    for event in sequence:
        mirror.apply(event)
    kinds = {type(r) for r in mirror.resync_requests()}
    stale = mirror.stale
    if StaleKey(StaleKind.BALANCE) in stale:
        assert kinds & {api.GetMyCurrentBalance, api.GetMyAvailableBalance}
    for k in stale:
        if k.kind is StaleKind.GAME_POOLS:
            assert api.ListAllBettingPoolsForGame(game_id=k.id or "") in \
                mirror.resync_requests()
        if k.kind is StaleKind.MY_POOLS:
            assert api.ListMyRunningPoolsForGame(game_id=k.id or "") in \
                mirror.resync_requests()


@settings(max_examples=300, deadline=None)
@given(st.lists(models(), max_size=20))
def test_any_model_of_any_code_is_applied_without_an_error(sequence: list[Any]) -> None:
    mirror = MarketMirror(ME)
    for event in sequence:
        for change in mirror.apply(event):
            assert isinstance(change, Change)
    assert mirror.metrics.events == len(sequence)
    assert mirror.snapshot().pools == mirror.pools


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=40))
def test_update_folds_to_the_same_state_as_apply(sequence: list[Any]) -> None:
    """The clients fold with ``update`` (no change records): the state must not differ."""
    applied, updated = MarketMirror(ME), MarketMirror(ME)
    for event in sequence:
        applied.apply(event)
        updated.update(event)
        assert updated.snapshot() == applied.snapshot()
    a, u = applied.metrics, updated.metrics
    assert (a.events, a.ignored, a.mismatches, a.gaps, a.resyncs) == (
        u.events, u.ignored, u.mismatches, u.gaps, u.resyncs)


@settings(max_examples=100, deadline=None)
@given(st.lists(events, max_size=40))
def test_the_same_events_give_the_same_mirror_and_the_same_changes(sequence: list[Any]
                                                                   ) -> None:
    first, second = MarketMirror(ME), MarketMirror(ME)
    assert [first.apply(e) for e in sequence] == [second.apply(e) for e in sequence]
    assert first.snapshot() == second.snapshot()
