"""The reference market as a state machine: several users and admins, every op that moves
money, and the clock, in any order hypothesis finds.

The test keeps its own model of the money (every accepted bet, every balance) and holds the
market to it after every step:

* money is conserved: every balance plus the house is all the money ever minted;
* every accepted bet is visible in its bettor's reads (389, with the amount it backed) until
  its pool resolves or expires;
* every resolution (362, 363: by an event, by ``finish_at``, by closing the game with 375
  or by its ``close_at``, or by closing its source with 366) pays exactly the docs'
  parimutuel rule, to the cent: the valid stakes (placed by the event's ``happened_at``)
  form the pool, each winning bet is paid ``pool_cents * stake_cents // winning_cents``
  (rounded down per bet; the remainder goes to the house), losing bets are paid nothing,
  late bets are returned, and a pool nobody backed the winner of (or with no money)
  returns every stake; ``winners`` reports net winnings and ``losers`` the stakes lost;
* every unresolved pool shows its accepted bets summed, in its distribution (393, and the
  361 each bet pushes) and in the pool lists (amount total, participants): the market keeps
  these as running sums, which must never drift from the bets;
* history stays bounded (events per game, resolved pools per game, closed games).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from market_helpers import Clock

from instamrkt_proto import api
from instamrkt_transports.rehearsal import Market, Out

ADMIN, DEPUTY = "admin", "deputy"  # the source's admin, and a game admin appointed by it
USERS = ("alice", "bob", "carol")
EVENTS_KEPT, RESOLVED_KEPT, CLOSED_KEPT = 4, 3, 2
CENTS = Decimal("0.01")

amounts = st.decimals(min_value=CENTS, max_value=Decimal(40), places=2)


class MarketMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.market = Market(self.clock, initial_balance=100, events_kept=EVENTS_KEPT,
                             resolved_pools_kept=RESOLVED_KEPT, closed_games_kept=CLOSED_KEPT)
        for user in (ADMIN, DEPUTY, *USERS):
            self.market.add_user(user, user)
        # the model: every balance, and the bets of each unresolved pool
        self.available = {u: Decimal(100) for u in (ADMIN, DEPUTY, *USERS)}
        self.house = Decimal(0)
        self.open_bets: dict[str, list[tuple[str, str, Decimal, int]]] = defaultdict(list)
        self.pool_game: dict[str, str] = {}
        self.pushes: list[Out] = []  # of the last call
        self.source = self.call(ADMIN, api.OpenGameSource(source_name="s"))[1]["source_id"]
        self.game = ""
        self.new_game()

    # -- driving the market, and checking what it pushes --------------------------------------

    def call(self, user: str, request: api.Request[Any], at: int | None = None
             ) -> tuple[int, dict[str, Any]]:
        res, fields, pushes = self.market.handle(user, request.OP, dict(request.params()),
                                                 set())
        self.check_pushes(pushes, at)
        self.pushes = pushes
        return res, fields

    @staticmethod
    def backing(entries: list[dict[str, Any]]) -> dict[str, tuple[Decimal, int]]:
        """A distribution as target -> (backing money, backing people), backed targets only."""
        return {e["target_id"]: (Decimal(str(e["backing_money"])), e["backing_people"])
                for e in entries if e["backing_money"]}

    def model_backing(self, pool_id: str) -> dict[str, tuple[Decimal, int]]:
        money: dict[str, Decimal] = defaultdict(Decimal)
        people: dict[str, set[str]] = defaultdict(set)
        for user, target, amount, _placed in self.open_bets.get(pool_id, []):
            money[target] += amount
            people[target].add(user)
        return {t: (money[t], len(people[t])) for t in money}

    def check_pushes(self, pushes: list[Out], at: int | None) -> None:
        """Learn new pools (352) and hold each resolution (362, 363) to the rule; ``at``:
        the ``happened_at`` of the event that caused the 362s (None: every bet counts)."""
        for out in pushes:
            if out.res == 352:
                self.pool_game[out.fields["pool_id"]] = out.fields["game_id"]
            elif out.res in (362, 363):
                self.settle(out.fields, at if out.res == 362 else None)

    def settle(self, fields: dict[str, Any], at: int | None) -> None:
        bets = self.open_bets.pop(fields["pool_id"], [])
        valid = [b for b in bets if at is None or b[3] <= at]
        late = [b for b in bets if at is not None and b[3] > at]
        total = sum(int(b[2] * 100) for b in valid)
        winning = sum(int(b[2] * 100) for b in valid if b[1] == fields["winning_target"])
        winners: dict[str, Decimal] = defaultdict(Decimal)
        losers: dict[str, Decimal] = defaultdict(Decimal)
        paid_total = 0
        if total == 0 or winning == 0:
            assert fields["is_money_return"] is True
            for user, _target, amount, _placed in bets:
                self.available[user] += amount
        else:
            assert fields["is_money_return"] is False
            for user, target, amount, _placed in valid:
                if target == fields["winning_target"]:
                    paid = total * int(amount * 100) // winning
                    paid_total += paid
                    self.available[user] += Decimal(paid) / 100
                    winners[user] += Decimal(paid) / 100 - amount
                else:
                    losers[user] += amount
            for user, _target, amount, _placed in late:
                self.available[user] += amount
            self.house += Decimal(total - paid_total) / 100
        assert {u: Decimal(str(v)) for u, v in fields["winners"].items()} == winners
        assert {u: Decimal(str(v)) for u, v in fields["losers"].items()} == losers
        assert fields["invalidated_bettors"] == sorted({b[0] for b in late})

    def open_pools(self) -> list[Any]:
        return [p for p in self.market.pools.values()
                if p.game_id == self.game and p.resolved_at is None]

    # -- rules ---------------------------------------------------------------------------------

    def new_game(self, close_at: int | None = None) -> None:
        res, fields = self.call(ADMIN, api.CreateAndOpenGame(
            source_id=self.source, game_name="g", actions="goal,corner", targets="arg,bra",
            close_at=close_at))
        assert res == 340
        self.game = fields["game_id"]
        res, _f = self.call(ADMIN, api.AppointAdminForGameByUsername(game_id=self.game,
                                                                     username=DEPUTY))
        assert res == 617

    @rule(admin=st.sampled_from((ADMIN, DEPUTY)), kind=st.integers(1, 4),
          action=st.sampled_from(("goal", "corner")), life=st.integers(1, 30_000),
          stop=st.none() | st.integers(0, 30_000), recreate=st.booleans())
    def create_pool(self, admin: str, kind: int, action: str, life: int, stop: int | None,
                    recreate: bool) -> None:
        self.game_is_open()
        now = self.clock.now
        res, fields = self.call(admin, api.CreateAndOpenBettingPool(
            game_id=self.game, type=kind, action_id=action,
            targets=["arg", "bra"] if kind in (1, 2) else ["bra"],
            finish_at=now + life if kind in (2, 4) else None,
            stop_accepting_bets_at=None if stop is None else now + stop,
            recreate_on_end=recreate))
        assert res == 350, fields

    @rule(user=st.sampled_from(USERS), index=st.integers(0, 9),
          backing=st.sampled_from(("arg", "bra", "none", "yes", "no", "nope")), amount=amounts)
    def bet(self, user: str, index: int, backing: str, amount: Decimal) -> None:
        pools = self.open_pools()
        if not pools:
            return
        pool = pools[index % len(pools)]
        res, fields = self.call(user, api.PlaceBetInBettingPool(pool_id=pool.pool_id,
                                                                target=backing, amount=amount))
        if res == 356:  # accepted: it moved money, and it is now the model's to follow
            self.available[user] -= amount
            self.open_bets[pool.pool_id].append((user, backing, amount, self.clock.now))
            self.pool_game[pool.pool_id] = pool.game_id
            pushed = [out.fields for out in self.pushes if out.res == 361]
            assert len(pushed) == 1 and pushed[0]["pool_id"] == pool.pool_id
            assert self.backing(pushed[0]["distribution"]) == self.model_backing(pool.pool_id)
        else:
            assert res == 666 and fields["text"]

    @rule(user=st.sampled_from(USERS), amount=amounts)
    def bet_into_an_unknown_pool(self, user: str, amount: Decimal) -> None:
        res, fields = self.call(user, api.PlaceBetInBettingPool(pool_id="pool-999999",
                                                                target="arg", amount=amount))
        assert res == 666 and "unknown betting pool" in fields["text"]

    @rule(admin=st.sampled_from((ADMIN, DEPUTY)), action=st.sampled_from(("goal", "corner")),
          hit=st.sampled_from(("arg", "bra", "none")), back=st.none() | st.integers(0, 5000))
    def event(self, admin: str, action: str, hit: str, back: int | None) -> None:
        self.game_is_open()
        happened = None if back is None else self.clock.now - back
        res, _f = self.call(admin, api.RegisterGameEvent(
            game_id=self.game, action_id=action, target_id=hit, happened_at=happened),
            at=self.clock.now if happened is None else happened)
        assert res == 366

    @rule(ms=st.integers(1, 20_000))
    def time_passes(self, ms: int) -> None:
        self.clock.now += ms
        self.check_pushes(self.market.tick(), None)

    @rule(index=st.integers(0, 9), blocked=st.booleans(), later=st.none() | st.integers(1, 9000))
    def block_or_allow_pool(self, index: int, blocked: bool, later: int | None) -> None:
        pools = self.open_pools()
        if not pools:
            return
        at = None if later is None else self.clock.now + later
        pool_id = pools[index % len(pools)].pool_id
        request: api.Request[Any] = api.BlockBettingInBettingPool(pool_id=pool_id, block_at=at) \
            if blocked else api.AllowBettingInBettingPool(pool_id=pool_id, allow_at=at)
        assert self.call(DEPUTY, request)[0] == (368 if blocked else 369)

    @rule(action=st.sampled_from(("goal", "corner")), blocked=st.booleans(),
          later=st.none() | st.integers(1, 9000))
    def block_or_allow_action(self, action: str, blocked: bool, later: int | None) -> None:
        at = None if later is None else self.clock.now + later
        request: api.Request[Any] = api.BlockBettingForGameAndAction(
            game_id=self.game, action_id=action, block_at=at) if blocked else \
            api.AllowBettingForGameAndAction(game_id=self.game, action_id=action, allow_at=at)
        assert self.call(ADMIN, request)[0] == (370 if blocked else 371)

    @rule(index=st.integers(0, 9), later=st.none() | st.integers(1, 9000))
    def suggest_hot(self, index: int, later: int | None) -> None:
        pools = self.open_pools()
        if pools:
            at = None if later is None else self.clock.now + later
            assert self.call(DEPUTY, api.SuggestHotBettingPool(
                pool_id=pools[index % len(pools)].pool_id, likely_to_happen_at=at))[0] == 367

    @rule(by_time=st.none() | st.integers(1, 30_000))
    def close_game_and_open_the_next(self, by_time: int | None) -> None:
        """Close the game now (375), or open the next one with a ``close_at`` (the clock
        closes it, in a tick); the game after it opens when a rule needs one."""
        if self.game_is_open():
            manual = {p.pool_id: p.action_id for p in self.open_pools() if p.binary}
            res, fields = self.call(DEPUTY, api.CloseGame(game_id=self.game))
            if manual:  # the docs: no 341 while manual pools remain; each is blocked (368)
                assert res == 368 and fields["pool_id"] in manual, (res, fields)
                assert self.market.games[self.game].status == "open"
                assert all(self.market.pools[p].blocked for p in manual)
                for action in sorted({a for a in manual.values() if a is not None}):
                    self.call(DEPUTY, api.RegisterGameEvent(
                        game_id=self.game, action_id=action, target_id="none"),
                        at=self.clock.now)  # answered by hand: "no"
                if any(a is None for a in manual.values()):
                    self.call(DEPUTY, api.RegisterGameEvent(
                        game_id=self.game, action_id="goal", target_id="none"),
                        at=self.clock.now)
                res, fields = self.call(DEPUTY, api.CloseGame(game_id=self.game))
            assert res == 341, (res, fields)
        self.new_game(None if by_time is None else self.clock.now + by_time)

    @rule()
    def close_the_source_and_open_another(self) -> None:
        """366: every open pool of the source's games resolves (binary pools `no`,
        parimutuel `none`) and the games close; then a new source and game."""
        res, fields = self.call(ADMIN, api.CloseGameSource(source_id=self.source))
        assert res == 336, fields
        assert self.market.games[self.game].status == "closed"
        assert not self.open_pools()
        self.source = self.call(ADMIN, api.OpenGameSource(source_name="s"))[1]["source_id"]
        self.new_game()

    def game_is_open(self) -> bool:
        """Open a new game if the current one closed by its ``close_at``; False if so."""
        if self.market.games[self.game].status == "open":
            return True
        self.new_game()
        return False

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def money_is_conserved_and_matches_the_model(self) -> None:
        market = self.market
        assert market.total_money() == market.minted == 100 * (2 + len(USERS))
        assert market.house == self.house
        for user, available in self.available.items():
            staked = sum((b[2] for bets in self.open_bets.values() for b in bets
                          if b[0] == user), Decimal(0))
            assert (market.available[user], market.exposure.get(user, Decimal(0))) == (
                available, staked), user

    @invariant()
    def every_open_bet_is_in_its_bettors_reads(self) -> None:
        backed: dict[tuple[str, str], dict[str, dict[str, Decimal]]] = defaultdict(dict)
        for pool_id, bets in self.open_bets.items():
            for user, target, amount, _placed in bets:
                mine = backed[user, self.pool_game[pool_id]].setdefault(pool_id, {})
                mine[target] = mine.get(target, Decimal(0)) + amount
        for (user, game), pools in backed.items():
            res, fields, _ = self.market.handle(user, 389, {"game_id": game}, set())
            assert res == 354
            read = {p["pool_id"]: {t: Decimal(str(v)) for t, v in p["user_backed"].items()}
                    for p in fields["pools_list"]}
            assert read == pools

    @invariant()
    def every_open_pool_shows_its_bets_summed(self) -> None:
        for pool in [p for p in self.market.pools.values() if p.resolved_at is None]:
            bets = self.open_bets.get(pool.pool_id, [])
            expected = self.model_backing(pool.pool_id)
            res, fields, _ = self.market.handle(ADMIN, 393, {"pool_id": pool.pool_id}, set())
            assert res == 360
            entries = fields["distribution"]
            assert self.backing(entries) == expected
            assert sorted(Decimal(str(b["amount"])) for e in entries for b in e["bets"]) == \
                sorted(b[2] for b in bets)
            for entry in entries:
                backed = sum((Decimal(str(b["amount"])) for b in entry["bets"]), Decimal(0))
                assert Decimal(str(entry["backing_money"])) == backed
                if backed:  # the odds: the whole pool over the money on this target
                    total = sum((b[2] for b in bets), Decimal(0))
                    assert entry["to_win_if_backed"] == format(
                        (total / backed).quantize(CENTS), "f")
            res, fields, _ = self.market.handle(ADMIN, 387, {"game_id": pool.game_id}, set())
            assert res == 3535
            listed = next(p for p in fields["pools_list"] if p["pool_id"] == pool.pool_id)
            assert Decimal(str(listed["amount_total"])) == sum((b[2] for b in bets), Decimal(0))
            assert listed["participants"] == len({b[0] for b in bets})
            assert self.backing(listed["distribution"]) == expected

    @invariant()
    def history_is_bounded(self) -> None:
        games = self.market.games
        assert sum(g.status == "closed" for g in games.values()) <= CLOSED_KEPT
        for game in games.values():
            assert len(game.events) <= EVENTS_KEPT
            resolved = [p for p in self.market.pools.values()
                        if p.game_id == game.game_id and p.resolved_at is not None]
            assert len(resolved) <= RESOLVED_KEPT


MarketMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=50,
                                           deadline=None)
TestMarketMachine = MarketMachine.TestCase
