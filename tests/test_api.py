"""The typed API (``instamrkt_proto.api``): the table, requests, models, the wire, the clients."""

from __future__ import annotations

import queue
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from core_helpers import WALL0, make, silent
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from instamrkt_proto import (
    DEFAULT_OPCODES,
    DEFAULT_RESPONSE_CODES,
    ECHO_KEYS,
    IDEMPOTENT,
    REPLIES,
    LocalProtocolError,
    LoggedOn,
    Push,
    RemoteProtocolError,
    Response,
    ServerError,
    UndecodableReply,
    api,
)
from instamrkt_proto import _codegen as codegen
from instamrkt_proto._models import camel
from instamrkt_proto._table import OPS, RESPONSES
from instamrkt_proto.testing import decode_model, model_messages, models, request_objects
from instamrkt_transports import anyio as anyio_client
from instamrkt_transports import blocking, threaded

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")

# The correlation tables as they stood, audited against the docs, before they were derived
# from the API table: the derivation must reproduce them exactly.
AUDITED_ECHO_KEYS = {
    333: "game_id", 334: "game_id", 336: "source_id", 341: "game_id", 342: "game_id",
    343: "game_id", 345: "source_id", 350: "game_id", 3402: "game_id", 3461: "source_id",
    3535: "game_id", 353: "game_id", 354: "game_id", 355: "game_id", 356: "pool_id",
    360: "pool_id", 366: "game_id", 367: "pool_id", 368: "pool_id", 369: "pool_id",
    370: "game_id", 371: "game_id", 451: "game_id", 453: "game_id", 454: "source_id",
    4517: "source_id", 460: "pool_id", 461: "game_id", 617: "game_id", 640: "game_id",
    645: "game_id",
    340: "source_id", 3401: "source_id",  # since: the docs' examples and tables carry it
}
AUDITED_IDEMPOTENT = {1, 2, 611, 372, 380, 3811, 610, 387, 388, 389, 390, 393, 450, 4505, 452,
                      451, 4515, 453, 4516, 4517, 454, 460, 461, 800, 810, 840}
AUDITED_ALTERNATIVES = {100: {100, 110, 112}, 616: {640, 645}, 4505: {4505, 450},
                        452: {450, 452}, 4515: {4515, 450}, 453: {451, 453},
                        375: {341, 368}}  # since: 368 when manual pools are pending


# -- the table ------------------------------------------------------------------------------


def test_every_documented_op_has_its_request_class_and_docs_entry() -> None:
    assert len(DEFAULT_OPCODES) == 48 and set(api.REQUESTS) == set(DEFAULT_OPCODES.values())
    for name, op in DEFAULT_OPCODES.items():
        cls = getattr(api, camel(name))
        assert api.REQUESTS[op] is cls and (op, name) == (cls.OP, cls.NAME)
        assert REPLIES[op] == cls.REPLIES and (op in IDEMPOTENT) == cls.READ
        assert f"### {op} `{name}`: `api.{cls.__name__}`" in DOCS
        entry = DOCS[DOCS.index(f"### {op} `{name}`"):]
        entry = entry[:entry.index("\n### ")]
        assert f"- Moves money: {'no' if cls.READ else 'yes'}" in entry
        assert "(res " + " or ".join(str(r) for r in cls.SPEC.replies) + ")" in entry
        assert set(cls.SPEC.replies) == REPLIES[op]
        for param in cls.SPEC.params:
            assert f"`{param.name}`" in entry
        for reply in cls.REPLY_TYPES:  # the runtime copy of the type argument
            assert any(isinstance(reply, type) and issubclass(reply, base)
                       for base in (Response, api.Payload))


def test_every_documented_code_has_its_model_and_docs_entry() -> None:
    assert "bet_pool_expired" in DEFAULT_RESPONSE_CODES  # the doc's typo, fixed
    for name, res in DEFAULT_RESPONSE_CODES.items():
        model = getattr(api, camel(name))
        assert api.MODELS[res] is model
        assert f"### {res} `{name}`: `api.{camel(name)}`" in DOCS
        spec = next(s for s in RESPONSES if s.res == res)
        if spec.reply and spec.push:
            assert issubclass(getattr(api, model.__name__ + "Reply"), Response)
            assert issubclass(getattr(api, model.__name__ + "Push"), Push)
        elif spec.reply:
            assert issubclass(model, Response)
        else:
            assert issubclass(model, Push) and not issubclass(model, Response)
    assert api.LogonSuccess is api.LogonFailAlreadyLoggedIn is LoggedOn
    assert api.Opcodes is api.OpcodeTable and api.LogonFail is api.LogonFailed


def test_reply_types_follow_the_replies() -> None:
    assert (LoggedOn,) == api.Logon.REPLY_TYPES
    admin = api.BecomeAnAdminForGame.REPLY_TYPES
    assert admin == (api.BecomeAnAdminForGameSuccess, api.BecomeAnAdminForGameFail)
    assert (api.Leaderboard,) == api.GetUserTailoredLeaderboard.REPLY_TYPES
    assert (api.LeaderboardForGame,) == api.GetLeaderboardForGame.REPLY_TYPES
    assert issubclass(api.LeaderboardTailored, api.Leaderboard)
    assert (api.NewGameEvent,) == api.RegisterGameEvent.REPLY_TYPES


def test_correlation_tables_derive_from_the_table_unchanged() -> None:
    assert dict(ECHO_KEYS) == AUDITED_ECHO_KEYS
    assert IDEMPOTENT == AUDITED_IDEMPOTENT
    for op, replies in REPLIES.items():
        assert replies == AUDITED_ALTERNATIVES.get(op, replies)
        if op not in AUDITED_ALTERNATIVES:
            assert len(replies) == 1
    assert [op.op for op in OPS] == list(DEFAULT_OPCODES.values())


def test_generated_api_and_docs_are_up_to_date() -> None:
    assert (ROOT / "src" / "instamrkt_proto" / "api.py").read_text() == codegen.render_api()
    assert codegen.render_docs() == DOCS, "run: python -m instamrkt_proto._codegen"
    assert codegen.main(["--check"]) == 0


# -- requests -------------------------------------------------------------------------------


def test_money_goes_out_as_exact_decimal_text() -> None:
    for amount, text in [(Decimal("1.50"), "1.50"), (5, "5"), ("0.1", "0.1"),
                         (Decimal("1E+2"), "100"), (" 2.25 ", "2.25")]:
        bet = api.PlaceBetInBettingPool(pool_id="p", target="t", amount=amount)
        assert bet.params() == {"pool_id": "p", "target": "t", "amount": text}
    assert api.GetMyCurrentBalance().params() == {}  # unset: the server's default applies
    assert api.TextMessage(text="hi", targets=["g1", "g2"]).params() == {
        "text": "hi", "targets": ["g1", "g2"]}


@pytest.mark.parametrize(("params", "field"), [
    ({"pool_id": "p", "target": "t", "amount": 1.5}, "amount"),
    ({"pool_id": "p", "target": "t", "amount": Decimal("NaN")}, "amount"),
    ({"pool_id": "p", "target": "t", "amount": "inf"}, "amount"),
    ({"pool_id": "p", "target": "t", "amount": "five"}, "amount"),
    ({"pool_id": "p", "target": "t", "amount": True}, "amount"),
    ({"pool_id": "p", "target": "t"}, "amount"),
    ({"pool_id": "p", "target": "t", "amount": "1", "amout": "1"}, "amout"),
    ({"pool_id": 1.0, "target": "t", "amount": "1"}, "pool_id"),
    ({"pool_id": "p", "target": 7, "amount": "1"}, "target"),
])
def test_bad_parameters_fail_before_the_wire(params: dict[str, Any], field: str) -> None:
    with pytest.raises(LocalProtocolError, match=rf"place_bet_in_betting_pool: .*'{field}'"):
        api.PlaceBetInBettingPool(**params)


def test_other_kinds_are_checked_too() -> None:
    with pytest.raises(LocalProtocolError, match=r"get_leaderboard: parameter 'start'"):
        api.GetLeaderboard(start="0")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match=r"keyword-only"):
        api.JoinGame("g")  # type: ignore[misc]
    with pytest.raises(LocalProtocolError, match=r"block_betting_in_betting_pool.*'block_at'"):
        api.BlockBettingInBettingPool(pool_id="p", block_at=1.5)  # type: ignore[arg-type]


@settings(suppress_health_check=[HealthCheck.too_slow])  # building the strategies, once
@given(request_objects())
def test_requests_survive_the_wire_as_the_server_reads_them(request: api.Request[Any]) -> None:
    sent = orjson.loads(orjson.dumps(request.params()))
    assert api.request_from_wire(request.OP, sent) == request


# -- models ---------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(model_messages())
def test_models_round_trip_through_the_wire(pair: tuple[Any, bytes]) -> None:
    """Encoded as a server sends it, exactly or in the docs' lenient forms, a model decodes
    back equal."""
    model, data = pair
    got = decode_model(data, request_id=getattr(model, "request_id", None),
                       op=getattr(model, "op", None))
    assert got.decode_error is None
    assert got == model


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_code_has_a_strategy_and_round_trips_exactly(data: st.DataObject) -> None:
    for res in sorted(api.MODELS):
        if res in (1, 2, 100, 110, 112, 666):
            continue
        model, message = data.draw(model_messages(res, lenient=False))
        assert decode_model(message, request_id=getattr(model, "request_id", None)) == model


@given(models(815))
def test_balance_update_is_a_push_with_decimal_money(model: Any) -> None:
    assert isinstance(model, api.BalanceUpdate) and isinstance(model, Push)
    assert isinstance(model.current_balance, Decimal)


def _push(res: int, **fields: Any) -> Any:
    return decode_model(orjson.dumps({"response_header": {}, "res": res, **fields}))


def test_lenient_decoding_of_the_docs_inconsistent_forms() -> None:
    pool = _push(362, pool_id="7d48", game_id=17, winning_target="brazil",
                 winners={"3": 10.0}, losers={"1": "7.5", "2": 3}, invalidated_bettors=[4, "u-5"],
                 is_money_return="False", resolved_at=1421933670, extra={"kept": True})
    assert isinstance(pool, api.BetPoolResolved) and pool.decode_error is None
    assert pool.game_id == "17" and pool.resolved_at == 1421933670000  # seconds -> ms
    assert pool.winners == {"3": Decimal("10")}
    assert pool.losers == {"1": Decimal("7.5"), "2": Decimal(3)}
    assert pool.invalidated_bettors == ("4", "u-5") and pool.is_money_return is False
    assert pool.fields["extra"] == {"kept": True}  # unknown fields are kept
    listing = decode_model(orjson.dumps({"res": 355, "game_id": "g", "pools_list": [
        {"pool_id": "p", "pool_type": 1, "start_at": "1421933670629", "finish_at": "None",
         "amount_total": 1.0, "user_backed": {"brazil": 1.0}, "distribution": [
             {"target_id": "brazil", "backing_money": 1.0, "bets": [
                 {"bet_id": "b", "placed_at": 1421937458, "amount": 1.0, "user_id": 1}]}]}]}),
        request_id=1)
    assert isinstance(listing, api.YourResolvedPoolsForGame)
    (p,) = listing.pools_list
    assert (p.type, p.start_at, p.finish_at) == (1, 1421933670629, None)  # pool_type, "None"
    (bet,) = p.distribution[0].bets
    assert (bet.amount, bet.placed_at, bet.user_id) == (Decimal("1.0"), 1421937458000, "1")
    assert p.user_backed == {"brazil": Decimal(1)} and p.raw["pool_type"] == 1


def test_a_payload_that_does_not_fit_arrives_generic_with_the_reason() -> None:
    h = make(peer=silent)
    h.connect()
    bad, good = h.receive({"res": 815, "current_balance": "lots"}), h.receive(
        {"res": 815, "current_balance": "1.5", "available_balance": 1})
    assert type(bad[0]) is Push and bad[0].fields == {"current_balance": "lots"}
    assert bad[0].decode_error == "res 815: field 'current_balance': not a number"
    assert isinstance(good[0], api.BalanceUpdate) and good[0].current_balance == Decimal("1.5")
    rid = h.request("get_my_current_balance")
    (reply,) = h.receive({"res": 800})
    assert type(reply) is Response and reply.request_id == rid
    assert reply.decode_error == "res 800: field 'current_balance': missing"
    assert h.conn.metrics(h.clock.now).undecodable == 2
    with pytest.raises(UndecodableReply, match="missing") as caught:
        api.GetMyCurrentBalance().reply(reply)
    assert isinstance(caught.value, RemoteProtocolError) and caught.value.response is reply
    (unknown,) = h.receive({"res": 12345, "x": 1})
    assert type(unknown) is Push and unknown.decode_error is None


def test_a_code_that_is_reply_and_push_is_both_a_model_and_its_role() -> None:
    h = make(peer=silent)
    h.connect()
    (pushed,) = h.receive({"res": 366, "game_id": "g", "happened_at": WALL0})
    assert isinstance(pushed, api.NewGameEventPush) and isinstance(pushed, api.NewGameEvent)
    assert isinstance(pushed, Push) and not isinstance(pushed, Response)
    h.request("register_game_event", game_id="g", action_id="goal", target_id="t")
    (reply,) = h.receive({"res": 366, "game_id": "g", "current_count": {"t": "2"}})
    assert isinstance(reply, api.NewGameEventReply) and isinstance(reply, api.NewGameEvent)
    assert isinstance(reply, Response) and reply.current_count == {"t": 2}
    assert api.RegisterGameEvent(game_id="g", action_id="goal", target_id="t").reply(reply)


@example(b'{"res": 450, "leaderboard": [{"points": "x"}]}')
@given(st.binary(max_size=64))
def test_nested_lists_fail_only_when_read(data: bytes) -> None:
    try:
        board = decode_model(data, request_id=1, op=450)
    except RemoteProtocolError:
        return  # not routable at all
    if isinstance(board, api.Leaderboard):
        try:
            list(board.leaderboard)
        except RemoteProtocolError as exc:
            assert "leaderboard[" in str(exc)


def test_generic_request_accepts_decimal() -> None:
    h = make(peer=silent)
    h.connect()
    h.request("place_bet_in_betting_pool", pool_id="p", target="t", amount=Decimal("2.50"))
    assert h.sent[-1].params["amount"] == "2.50"
    with pytest.raises(LocalProtocolError, match="not a finite number"):
        h.request("place_bet_in_betting_pool", pool_id="p", target="t", amount=Decimal("NaN"))


# -- against the reference server -----------------------------------------------------------


def _next(client: Any, kind: type, limit: float = 10.0) -> Any:
    """The next event of ``kind`` (lifecycle events before it are skipped)."""
    while True:
        event = client.next_event(timeout=limit)
        assert event is not None, f"no {kind.__name__} within {limit} s"
        if isinstance(event, (Push, kind)):
            assert isinstance(event, kind), event
            return event


def _a_pool(call: Any) -> str:
    """A pool to bet into (on t0 or t1), in a game of a source this user opens: the
    reference market refuses a bet into a pool nobody created, as the real one does."""
    source = call(api.OpenGameSource(source_name="example.org")).source_id
    game = call(api.CreateAndOpenGame(source_id=source, game_name="g", targets="t0,t1")).game_id
    return str(call(api.CreateAndOpenBettingPool(game_id=game, targets="t0,t1")).pool_id)


def _bad_calls_fail_locally(call: Any) -> None:
    with pytest.raises(LocalProtocolError, match="amount"):
        call(api.PlaceBetInBettingPool(pool_id="p", target="t", amount=2.5))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="amout"):
        call(api.PlaceBetInBettingPool(pool_id="p", target="t", amout="1"))  # type: ignore[call-arg]


def test_a_bot_with_call_on_the_blocking_client(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    with blocking.connect(srv.url, srv.credentials, timeout=10) as client:
        assert client.call(api.Logon()).already_logged_in is False
        joined = client.call(api.JoinGame(game_id="g-1"))
        assert isinstance(joined, api.GameJoined) and joined.game_id == "g-1"
        balance = client.call(api.GetMyCurrentBalance())
        assert balance.current_balance == Decimal(1000)
        assert isinstance(balance.current_balance, Decimal)
        received = dict(srv.stats.received)
        _bad_calls_fail_locally(client.call)
        assert dict(srv.stats.received) == received  # nothing reached the server
        pool = _a_pool(client.call)
        bet = client.call(api.PlaceBetInBettingPool(pool_id=pool, target="t0",
                                                    amount=Decimal("2.50")))
        assert isinstance(bet, api.BetPlacedInBettingPool)
        assert (bet.pool_id, bet.amount, bet.bet_id) == (pool, Decimal("2.50"), "bet-1")
        update = _next(client, api.BalanceUpdate)
        assert update.available_balance == Decimal("997.50")
        assert update.current_balance == Decimal(1000)
        srv.burst("g-1", 3)
        assert isinstance(_next(client, api.NewGameEvent), api.NewGameEventPush)
        assert _next(client, api.BetPoolResolved).game_id == "g-1"
        assert _next(client, api.BalanceUpdate).available_balance == Decimal("997.5")
    assert srv.stats.received[392] == 1


def test_a_bot_with_call_on_the_threaded_client(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    events: queue.Queue[Any] = queue.Queue()
    with threaded.connect(srv.url, srv.credentials, timeout=10, on_event=events.put) as client:
        client.call(api.Logon())
        client.call(api.JoinGame(game_id="g-2"))
        future = client.call_async(api.GetMyAvailableBalance())
        assert future.result(10).available_balance == Decimal(1000)
        received = dict(srv.stats.received)
        _bad_calls_fail_locally(client.call_async)
        assert dict(srv.stats.received) == received
        pool = _a_pool(lambda request: client.call_async(request).result(10))
        bet = client.call_async(api.PlaceBetInBettingPool(pool_id=pool, target="t0", amount=3))
        assert bet.result(10).amount == 3
        update = events.get(timeout=10)
        while not isinstance(update, Push):
            update = events.get(timeout=10)
        assert isinstance(update, api.BalanceUpdate)
        assert update.available_balance == Decimal(997)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_bot_with_call_on_the_anyio_client(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with anyio_client.connect(srv.url, srv.credentials, timeout=10) as client:
        await client.call(api.Logon())
        await client.call(api.JoinGame(game_id="g-3"))
        balance = await client.call(api.GetMyCurrentBalance(currency="DON"))
        assert balance.current_balance == 1000 and balance.currency == "DON"
        source = (await client.call(api.OpenGameSource(source_name="example.org"))).source_id
        game = (await client.call(api.CreateAndOpenGame(source_id=source, game_name="g",
                                                        targets="t0,t1"))).game_id
        pool = str((await client.call(api.CreateAndOpenBettingPool(game_id=game,
                                                                   targets="t0,t1"))).pool_id)
        bet = await client.call(api.PlaceBetInBettingPool(pool_id=pool, target="t0",
                                                          amount="0.25"))
        assert bet.amount == Decimal("0.25")
        with anyio.fail_after(10):
            update = await client.next_event()
            while not isinstance(update, Push):
                update = await client.next_event()
        assert isinstance(update, api.BalanceUpdate)
        assert update.available_balance == Decimal("999.75")
        board = await client.call(api.GetUserTailoredLeaderboard())
        assert isinstance(board, api.Leaderboard) and list(board.leaderboard) == []
        with pytest.raises(LocalProtocolError, match="float"):
            await client.call(api.PlaceBetInBettingPool(
                pool_id="p", target="t", amount=0.1))  # type: ignore[arg-type]
    assert srv.stats.received[392] == 1


def test_the_server_reads_requests_through_the_table(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    with blocking.connect(srv.url, srv.credentials, timeout=10) as client:
        with pytest.raises(ServerError, match="'amount': not a number"):
            client.request("place_bet_in_betting_pool", pool_id="p", target="t",
                           amount="lots")
        with pytest.raises(ServerError, match="'pool_id' is required"):
            client.request("place_bet_in_betting_pool", target="t", amount="1")


def test_readme_typed_api_example(instamrkt_server: Any,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The README's "Typed API" bot, run against the reference server."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Typed API"):]
    section = section[:section.index("\n## ", 1)]
    (code,) = re.findall(r"```python\n(.+?)\n```", section, flags=re.S)
    srv = instamrkt_server
    with blocking.connect(srv.url, srv.credentials, timeout=10) as admin:
        pool = _a_pool(admin.call)  # the README's "p-1": a pool the reference market knows
    code = code.replace('"wss://instamrkt.com:9999"', repr(srv.url))
    code = code.replace('"p-1"', repr(pool))
    exec(compile(code, "README.md", "exec"), {"creds": srv.credentials})
    out = capsys.readouterr().out
    assert "balance 1000" in out and f"bet bet-1 on {pool}" in out and "now 995" in out
    assert srv.stats.received[392] == 1
