"""A market driven directly by typed calls, for the market's tests: a clock moved by hand,
a driver that speaks as a user, a game with its admin, and the money invariants."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from instamrkt_proto import api
from instamrkt_transports.rehearsal import Market, Out

T0 = 1_700_000_000_000
ADMIN, ALICE, BOB, CAROL = "1", "2", "3", "4"


class Clock:
    """An injected clock (epoch ms) the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def wire(request: api.Request[Any]) -> dict[str, Any]:
    """A typed request's parameters as they arrive on the wire."""
    return dict(request.params())


class Driver:
    """Typed calls against a market, as a user; keeps each user's joined games."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.joined: dict[str, set[str]] = {}

    def raw(self, user: str, request: api.Request[Any]) -> tuple[int, dict[str, Any], list[Out]]:
        return self.market.handle(user, request.OP, wire(request),
                                  self.joined.setdefault(user, set()))

    def error(self, user: str, request: api.Request[Any]) -> str:
        res, fields, _pushes = self.raw(user, request)
        assert res == 666, (res, fields)
        return str(fields["text"])


def setup_game(clock: Clock | None = None) -> tuple[Market, Driver, str]:
    market = Market(clock or Clock(), initial_balance=100)
    for uid, name in ((ADMIN, "admin"), (ALICE, "alice"), (BOB, "bob"), (CAROL, "carol")):
        market.add_user(uid, name)
    d = Driver(market)
    res, fields, _ = d.raw(ADMIN, api.OpenGameSource(source_name="example.org"))
    assert res == 335
    source = fields["source_id"]
    res, fields, _ = d.raw(ADMIN, api.CreateAndOpenGame(
        source_id=source, game_name="Argentina - Brazil", actions=["goal", "corner"],
        targets=["arg", "bra", "bra:neymar"]))
    assert res == 340
    return market, d, fields["game_id"]


def pool(d: Driver, game: str, kind: int = 1, **extra: Any) -> str:
    extra.setdefault("action_id", "goal")
    if kind in (1, 2):
        extra.setdefault("targets", ["arg", "bra"])
    res, fields, pushes = d.raw(ADMIN, api.CreateAndOpenBettingPool(game_id=game, type=kind,
                                                                    description="next goal?",
                                                                    **extra))
    assert res == 350, fields
    assert [p.res for p in pushes] == [352]
    return str(fields["pool_id"])


def bet(d: Driver, user: str, pool_id: str, target: str, amount: str) -> None:
    res, fields, _ = d.raw(user, api.PlaceBetInBettingPool(pool_id=pool_id, target=target,
                                                           amount=Decimal(amount)))
    assert res == 356, fields


def check_money(market: Market) -> None:
    assert market.total_money() == market.minted
    for user in market.available:
        available, exposure = market.available[user], market.exposure.get(user, Decimal(0))
        assert available >= 0 and exposure >= 0
        assert market.current(user) == available + exposure
    assert market.house >= 0
