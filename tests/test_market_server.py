"""The reference market over real websockets, with the library's own blocking client."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from instamrkt_proto import Push, api
from instamrkt_proto._table import OPS
from instamrkt_transports import ServerError, blocking

ADMIN, ALICE, BOB = "1", "2", "3"
USERS = {ADMIN: "admin-key", ALICE: "alice-key", BOB: "bob-key"}


def next_push(client: Any, kind: type, limit: float = 5.0) -> Any:
    """The next push of type ``kind``, skipping other events (bounded wait)."""
    while True:
        event = client.next_event(timeout=limit)
        assert event is not None, f"no {kind.__name__} within {limit} s"
        if isinstance(event, kind):
            assert isinstance(event, Push)
            return event


@pytest.fixture
def server(instamrkt_server_factory: Any) -> Any:
    return instamrkt_server_factory(USERS)


def make_game(admin: Any) -> tuple[str, str]:
    source = admin.call(api.OpenGameSource(source_name="example.org")).source_id
    game = admin.call(api.CreateAndOpenGame(source_id=source, game_name="Argentina - Brazil",
                                            actions="goal", targets="arg,bra")).game_id
    return str(source), str(game)


def test_two_users_bet_an_event_resolves_the_pool(server: Any) -> None:
    creds = server.credentials_for
    with blocking.connect(server.url, creds(ADMIN), timeout=10) as admin, \
            blocking.connect(server.url, creds(ALICE), timeout=10) as alice, \
            blocking.connect(server.url, creds(BOB), timeout=10) as bob:
        _source, game = make_game(admin)
        for client in (alice, bob):
            client.call(api.JoinGame(game_id=game))
        created = admin.call(api.CreateAndOpenBettingPool(
            game_id=game, type=1, action_id="goal", targets=["arg", "bra"],
            description="Who scores next?"))
        pool = str(created.pool_id)
        assert next_push(alice, api.NewBettingPool).pool_id == pool
        alice.call(api.PlaceBetInBettingPool(pool_id=pool, target="bra", amount=Decimal("30")))
        assert next_push(alice, api.BalanceUpdate).available_balance == Decimal(970)
        bob.call(api.PlaceBetInBettingPool(pool_id=pool, target="arg", amount=Decimal("12.5")))
        assert next_push(bob, api.BalanceUpdate).available_balance == Decimal("987.5")
        assert bob.call(api.GetMyExposure()).exposure == Decimal("12.5")
        event = admin.call(api.RegisterGameEvent(game_id=game, action_id="goal",
                                                 target_id="bra"))
        assert event.current_count == {"bra": 1}
        for client in (alice, bob):
            resolved = next_push(client, api.BetPoolResolved)
            assert (resolved.pool_id, resolved.winning_target) == (pool, "bra")
            # The documented rule: winners share the whole pool (42.50) pro rata; the push
            # reports net winnings, as the docs' example (42.50 paid - 30 staked).
            assert resolved.winners == {ALICE: Decimal("12.5")}
            assert resolved.losers == {BOB: Decimal("12.5")}
        assert next_push(alice, api.BalanceUpdate).current_balance == Decimal("1012.5")
        lost = next_push(bob, api.BalanceUpdate)
        assert lost.current_balance == lost.available_balance == Decimal("987.5")
        assert bob.call(api.GetMyExposure()).exposure == 0
        assert alice.call(api.GetMyCurrentBalance()).current_balance == Decimal("1012.5")
    market = server.market
    assert market.total_money() == market.minted == 3000
    assert market.exposure[BOB] == 0 and market.house == 0


def test_every_op_in_the_table_is_answered(server: Any) -> None:
    with blocking.connect(server.url, server.credentials_for(ADMIN), timeout=10) as admin:
        source, game = make_game(admin)
        pool = str(admin.call(api.CreateAndOpenBettingPool(
            game_id=game, action_id="goal", targets="arg,bra")).pool_id)
        ids = {"source_id": source, "game_id": game, "pool_id": pool, "action_id": "goal",
               "target_id": "arg", "target": "arg", "amount": "1", "username": ALICE,
               "text": "hi", "source_name": "other.org", "game_name": "g2", "targets": "arg,bra"}
        upcoming = admin.call(api.CreateGame(source_id=source, game_name="later")).game_id
        answered = {}
        for spec in OPS:
            if spec.op in (366, 375):  # closing would end the walk; tested elsewhere
                continue
            params = {p.name: ids[p.name] for p in spec.params
                      if p.required or p.name in ("targets", "action_id")}
            if spec.op == 3702:
                params["game_id"] = upcoming
            try:
                answered[spec.op] = admin.send(spec.op, params, timeout=10).res
            except ServerError as exc:  # a refusal by the market is an answer too
                assert "unknown op" not in exc.text and "not implemented" not in exc.text
                answered[spec.op] = 666
        answered[375] = admin.call(api.CloseGame(game_id=game)).res
        answered[366] = admin.call(api.CloseGameSource(source_id=source)).res
    assert {spec.op for spec in OPS} - set(answered) == {1, 2, 100} - set(answered)
    assert all(res in spec.replies for spec in OPS if (res := answered[spec.op]) != 666)
    # Refused only because the event before them resolved the only pool.
    assert [op for op, res in answered.items() if res == 666] == [392, 3961]


@pytest.mark.parametrize("case", ["not source admin", "not game admin", "unknown game",
                                  "unknown pool", "bet into an unknown pool", "missing field",
                                  "bad field",
                                  "insufficient funds", "blocked pool", "resolved pool"])
def test_each_documented_error_is_a_666_with_a_useful_text(server: Any, case: str) -> None:
    creds = server.credentials_for
    with blocking.connect(server.url, creds(ADMIN), timeout=10) as admin, \
            blocking.connect(server.url, creds(ALICE), timeout=10) as alice:
        source, game = make_game(admin)
        pool = str(admin.call(api.CreateAndOpenBettingPool(
            game_id=game, action_id="goal", targets="arg,bra")).pool_id)
        calls: dict[str, tuple[Any, Any, str]] = {
            # (not create_and_open_game: alice may still be reading the 340 that the
            # admin's game broadcast, and 340 would then pass for her reply: no request ids)
            "not source admin": (alice, api.CloseGameSource(source_id=source),
                                 "not authorized to close this game source"),
            "not game admin": (alice, api.CloseGame(game_id=game),
                               "not authorized to close this game"),
            "unknown game": (admin, api.RegisterGameEvent(game_id="nope", action_id="goal",
                                                          target_id="arg"), "unknown game"),
            "unknown pool": (alice, api.GetBettingPoolBetsDistribution(pool_id="nope"),
                             "unknown betting pool"),
            "bet into an unknown pool": (alice, api.PlaceBetInBettingPool(
                pool_id="nope", target="arg", amount=1), "unknown betting pool 'nope'"),
            "missing field": (alice, None, "'target' is required"),
            "bad field": (alice, None, "'amount': not a number"),
            "insufficient funds": (alice, api.PlaceBetInBettingPool(
                pool_id=pool, target="arg", amount=1001), "insufficient funds"),
            "blocked pool": (alice, api.PlaceBetInBettingPool(pool_id=pool, target="arg",
                                                              amount=1), "is blocked"),
            "resolved pool": (alice, api.PlaceBetInBettingPool(pool_id=pool, target="arg",
                                                               amount=1), "is resolved"),
        }
        if case == "blocked pool":
            admin.call(api.BlockBettingInBettingPool(pool_id=pool))
        if case == "resolved pool":
            admin.call(api.RegisterGameEvent(game_id=game, action_id="goal", target_id="bra"))
        client, request, text = calls[case]
        with pytest.raises(ServerError) as refused:
            if case == "missing field":
                client.request("place_bet_in_betting_pool", pool_id=pool, amount="1")
            elif case == "bad field":
                client.request("place_bet_in_betting_pool", pool_id=pool, target="arg",
                               amount="lots")
            else:
                client.call(request)
        assert text in refused.value.text
        assert alice.call(api.GetMyAvailableBalance()).available_balance == 1000  # nothing charged


def test_the_server_runs_the_market_timers_a_future_hot_pool_arrives_at_its_time(
        server: Any) -> None:
    creds = server.credentials_for
    with blocking.connect(server.url, creds(ADMIN), timeout=10) as admin, \
            blocking.connect(server.url, creds(ALICE), timeout=10) as alice:
        _source, game = make_game(admin)
        alice.call(api.JoinGame(game_id=game))
        pool = str(admin.call(api.CreateAndOpenBettingPool(
            game_id=game, action_id="goal", targets="arg,bra")).pool_id)
        next_push(alice, api.NewBettingPool)
        since = int(time.time() * 1000) + 500
        reply = admin.call(api.SuggestHotBettingPool(pool_id=pool, likely_to_happen_at=since))
        assert (reply.pool_id, reply.hot_since) == (pool, since)
        # nobody sends anything: the server's ticker runs the market's timetable
        hot = next_push(alice, api.HotBettingPoolSuggested)
        assert time.time() * 1000 >= since and (hot.pool_id, hot.hot_since) == (pool, since)
        pools = alice.call(api.ListAllBettingPoolsForGame(game_id=game)).pools_list
        assert [p.is_hot for p in pools] == [True]
    assert server.market.total_money() == server.market.minted
