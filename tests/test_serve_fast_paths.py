"""Paths added so a replay is served at full speed: each must give what the plain path
gives. Frames written a batch at a time are the bytes ``send_text`` writes; the odds in
integer cents are the ``Decimal`` ones; settling with remembered cents moves the same
money; a replay that skips the balance pushes nobody hears sends every other push
unchanged and moves the same money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.protocol import State
from websockets.server import ServerProtocol

from instamrkt_proto import ClientConfig, LocalProtocolError
from instamrkt_proto.codec import encode_response
from instamrkt_proto.recording import encode_header, encode_record
from instamrkt_transports.market import Market, Out
from instamrkt_transports.market.ledger import CENT, Ledger, money, new_money
from instamrkt_transports.market.records import Bet, Pool, new_bet
from instamrkt_transports.market.replay import Backtest, VirtualClock, load_timeline
from instamrkt_transports.market.timeline import _money
from instamrkt_transports.market.views import distribution, odds
from instamrkt_transports.server.connection import text_frames

T0 = 1_800_000_000_000


# -- frames -------------------------------------------------------------------------------

def _library_frames(messages: list[bytes]) -> bytes:
    proto = ServerProtocol(state=State.OPEN)
    for data in messages:
        proto.send_text(data)
    return b"".join(proto.data_to_send())


@pytest.mark.parametrize("sizes", [[0], [1], [125], [126], [127], [1000], [65535],
                                   [3, 125, 126, 65535, 0, 40]])
def test_a_batch_of_frames_is_the_bytes_send_text_writes(sizes: list[int]) -> None:
    messages = [(b'{"x":"%s"}' % (b"e" * max(0, n - 8)))[:n] for n in sizes]
    assert [len(m) for m in messages] == sizes
    frames = text_frames(ServerProtocol(state=State.OPEN), messages)
    assert frames == _library_frames(messages)


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_any_batch_of_short_messages_frames_as_send_text_does(messages: list[bytes]) -> None:
    assert text_frames(ServerProtocol(state=State.OPEN), messages) == \
        _library_frames(messages)


def test_anything_unusual_goes_through_the_library() -> None:
    big = [b"x" * 65536]  # an 8-byte length: left to send_text
    assert text_frames(ServerProtocol(state=State.OPEN), big) is None
    assert text_frames(ServerProtocol(state=State.OPEN), [b"ok", *big]) is None
    closing = ServerProtocol(state=State.OPEN)
    closing.send_close(1000, "bye")
    assert text_frames(closing, [b"late"]) is None
    compressed = ServerProtocol(state=State.OPEN)
    compressed.extensions = [PerMessageDeflate(False, False, 15, 15)]
    assert text_frames(compressed, [b"zip me"]) is None
    fragmented = ServerProtocol(state=State.OPEN)
    fragmented.send_text(b"first half", fin=False)
    assert text_frames(fragmented, [b"next"]) is None
    assert text_frames(ServerProtocol(state=State.CONNECTING), [b"early"]) is None


# -- odds and distributions ---------------------------------------------------------------

def _decimal_odds(total_cents: int, backing_cents: int) -> str:
    return str((Decimal(total_cents) / 100 / (Decimal(backing_cents) / 100)).quantize(CENT))


@given(st.integers(1, 10**19), st.data())
def test_odds_in_integers_are_the_decimal_odds(total: int, data: st.DataObject) -> None:
    backing = data.draw(st.integers(1, total))
    assert odds(total, backing) == _decimal_odds(total, backing)


@pytest.mark.parametrize(("total", "backing"), [
    (1, 1), (3, 2), (5, 2), (125, 100), (135, 100), (1005, 1000), (1015, 1000),
    (2, 3), (10**19 - 1, 3), (10**19 - 1, 10**19 - 2), (7, 7)])
def test_odds_on_and_near_rounding_ties(total: int, backing: int) -> None:
    total, backing = max(total, backing), min(total, backing)
    assert odds(total, backing) == _decimal_odds(total, backing)


def _summed_distribution(pool: Pool) -> list[dict[str, Any]]:
    """The distribution read by summing the bets (the rule, written plainly)."""
    total = sum((b.amount for b in pool.bets), Decimal(0))
    backed: dict[str, Decimal] = {}
    people: dict[str, set[str]] = {}
    for bet in pool.bets:
        backed[bet.target] = backed.get(bet.target, Decimal(0)) + bet.amount
        people.setdefault(bet.target, set()).add(bet.user_id)
    targets = pool.bettable + sorted(backed.keys() - pool.bettable)
    entries = []
    for target in targets:
        money = backed.get(target)
        entry: dict[str, Any] = {"target_id": target, "display_name": target,
                                 "backing_people": len(people.get(target, ())),
                                 "backing_money": 0}
        if money is not None:
            entry["backing_money"] = int(money) if money == money.to_integral_value() \
                else format(money, "f")
            if money:
                entry["to_win_if_backed"] = str((total / money).quantize(CENT))
        entries.append(entry)
    return entries


_AMOUNTS = st.sampled_from([Decimal(s) for s in (
    "1", "1.00", "0.5", "2.50", "0.01", "10", "1E+1", "3.33", "0.001", "0", "7.1")])


@given(st.lists(st.tuples(st.sampled_from(["reds", "blues", "none", "other"]),
                          st.sampled_from(["u1", "u2", "u3"]), _AMOUNTS), max_size=30))
def test_a_distribution_read_bet_by_bet_is_the_one_summed_from_the_bets(
        bets: list[tuple[str, str, Decimal]]) -> None:
    """Including amounts the market refuses (sub-cent, zero), which bets built by hand may
    hold: the integer sums give way to the Decimal ones."""
    pool = Pool(pool_id="p", game_id="g", targets=["reds", "blues", "none"])
    for i, (target, user, amount) in enumerate(bets):
        pool.bets.append(Bet(f"b{i}", user, "p", target, amount, T0))
        assert orjson.dumps(distribution(pool, with_bets=False)) == \
            orjson.dumps(_summed_distribution(pool))


# -- settling -----------------------------------------------------------------------------

def _settled_plainly(bets: list[Bet], winning: str, at: int
                     ) -> tuple[dict[str, Decimal], dict[str, Decimal], dict[str, Decimal],
                                Decimal]:
    """returned, winners, losers and the house's share, by the payout rule."""
    valid = [b for b in bets if b.placed_at <= at]
    total = sum(int(b.amount * 100) for b in valid)
    win = sum(int(b.amount * 100) for b in valid if b.target == winning)
    returned: dict[str, Decimal] = {}
    winners: dict[str, Decimal] = {}
    losers: dict[str, Decimal] = {}
    paid_to_valid = 0
    for bet in bets:
        cents = int(bet.amount * 100)
        if bet.placed_at > at or total == 0 or win == 0:
            back = cents
        elif bet.target == winning:
            back = total * cents // win
            winners[bet.user_id] = winners.get(bet.user_id, Decimal(0)) + \
                Decimal(back) / 100 - bet.amount
        else:
            back = 0
            losers[bet.user_id] = losers.get(bet.user_id, Decimal(0)) + bet.amount
        if bet.placed_at <= at:
            paid_to_valid += back
        returned[bet.user_id] = returned.get(bet.user_id, Decimal(0)) + Decimal(back) / 100
    house = total - paid_to_valid
    return returned, winners, losers, Decimal(house) / 100


@given(st.lists(st.tuples(st.sampled_from(["reds", "blues"]), st.sampled_from(["u1", "u2"]),
                          st.sampled_from([Decimal(s) for s in ("1", "1.00", "0.5", "2.35",
                                                                "0.01", "3", "0")]),
                          st.booleans()), max_size=25),
       st.sampled_from(["reds", "blues", "none"]))
def test_settling_moves_the_money_the_payout_rule_says(
        bets: list[tuple[str, str, Decimal, bool]], winning: str) -> None:
    ledger = Ledger(1000)
    placed = []
    for i, (target, user, amount, late) in enumerate(bets):
        ledger.stake(user, amount)
        placed.append(Bet(f"b{i}", user, "p", target, amount, T0 + (5 if late else 0)))
    settled = ledger.settle(placed, winning, T0)
    returned, winners, losers, house = _settled_plainly(placed, winning, T0)
    # str: the same values written the same way, in the same order (a 362 writes them)
    assert [(u, str(v)) for u, v in settled.returned.items()] == \
        [(u, str(v)) for u, v in returned.items()]
    assert [(u, str(v)) for u, v in settled.winners.items()] == \
        [(u, str(v)) for u, v in winners.items()]
    assert [(u, str(v)) for u, v in settled.losers.items()] == \
        [(u, str(v)) for u, v in losers.items()]
    assert settled.invalidated == sorted({u for _t, u, _a, late in bets if late})
    assert ledger.house == house
    assert ledger.total() == ledger.minted
    assert all(v == 0 for v in ledger.exposure.values())


# -- balance pushes nobody hears ----------------------------------------------------------

BOT = "7"


def _recording(path: Any, bets: int = 600, per_pool: int = 50) -> None:
    lines = [encode_header(created=T0, user_id=BOT, config=ClientConfig(), library="t")]

    def message(at: int, res: int, **fields: Any) -> bytes:
        return encode_record("in", 1.0, at, 1, {"d": orjson.dumps(
            {"response_header": {"t": at}, "res": res, **fields}).decode()})

    for i in range(bets):
        at, pool_id = T0 + 1 + i // 7, f"p-{i // per_pool}"
        if i % per_pool == 0:
            lines.append(message(at, 352, pool_id=pool_id, game_id="g-1", type=1,
                                 action_id="goal", description=pool_id, start_at=at,
                                 distribution=[{"target_id": "reds"},
                                               {"target_id": "blues"}]))
            # and a pool the clock ends (363) while the next pools take bets
            lines.append(message(at, 352, pool_id=f"t-{i}", game_id="g-1", type=2,
                                 action_id="corner", description="time", start_at=at,
                                 finish_at=at + 5, distribution=[{"target_id": "reds"},
                                                                 {"target_id": "blues"}]))
            lines.append(message(at, 361, pool_id=f"t-{i}", new_bets=[{
                "bet_id": f"tb{i}", "user_id": "100", "amount": "2", "placed_at": at,
                "target": "none"}]))
        amount = ["1", "2.50", "0.75", "3"][i % 4]
        lines.append(message(at, 361, pool_id=pool_id, new_bets=[{
            "bet_id": f"b{i}", "user_id": str(100 + i % 9), "amount": amount,
            "placed_at": at, "target": "reds" if i % 3 else "blues"}]))
        if i % per_pool == per_pool - 1:
            lines.append(message(at, 366, game_id="g-1", action_id="goal",
                                 target_id="reds" if i % 2 else "blues", happened_at=at))
    path.write_bytes(b"".join(lines))


def _played(path: Any, heard: Any) -> tuple[list[Out], Market]:
    timeline = load_timeline(path)
    clock = VirtualClock(timeline.start)
    market = Market(clock, 1000)
    market.add_user(BOT)
    market.balance_pushes_for(heard)
    backtest = Backtest(market, clock, timeline, 1000)
    backtest.start()
    pushes: list[Out] = []
    game = backtest.game_ids["g-1"]
    pool = next(iter(backtest.pool_ids.values()))
    for res, _fields, more in (market.handle(BOT, 392, {"pool_id": pool, "target": "reds",
                                                        "amount": 4}, {game}),):
        assert res == 356
        pushes += more
    while not backtest.finished:
        pushes += backtest.play_next(64)
    return pushes, market


def test_a_replay_skipping_unheard_balances_sends_every_other_push_unchanged(
        tmp_path: Any) -> None:
    path = tmp_path / "bets.jsonl"
    _recording(path)
    everyone, plain = _played(path, None)
    only_bot, skipping = _played(path, lambda user: user == BOT)
    heard = [p for p in everyone if p.res != 815 or p.to.key == BOT]
    assert len(heard) < len(everyone) - 100  # the recorded bettors' 815s: left out
    assert orjson.dumps([(p.res, p.fields, p.to.kind, p.to.key, p.to.exclude)
                         for p in heard]) == \
        orjson.dumps([(p.res, p.fields, p.to.kind, p.to.key, p.to.exclude) for p in only_bot])
    assert any(p.res == 815 and p.to.key == BOT for p in only_bot)  # the bot's own: kept
    for market in (plain, skipping):
        assert market.total_money() == market.minted
    assert dict(plain.available) == dict(skipping.available)
    assert dict(plain.exposure) == dict(skipping.exposure)
    assert plain.house == skipping.house


def test_replayed_bets_push_what_the_bet_request_pushes(tmp_path: Any,
                                                        monkeypatch: Any) -> None:
    """A replayed bet skips reading the wire, the tick of a millisecond already ticked and
    the checks already passed by its amount: the pushes and the money are those of the
    plain request (op 392), which ticks and checks everything, time pools expiring
    between the bets included."""
    path = tmp_path / "bets.jsonl"
    _recording(path)
    fast, fast_market = _played(path, None)

    def as_a_request(self: Market, user: str, pool_id: str, target: str,
                     amount: Decimal) -> Any:
        res, fields, pushes = self.handle(user, 392, {"pool_id": pool_id, "target": target,
                                                      "amount": str(amount)}, set())
        return (fields["text"] if res == 666 else None), pushes

    monkeypatch.setattr(Market, "scripted_bet", as_a_request)
    plain, plain_market = _played(path, None)
    assert any(p.res == 363 for p in plain)
    assert orjson.dumps([(p.res, p.fields, p.to.kind, p.to.key, p.to.exclude)
                         for p in fast]) == \
        orjson.dumps([(p.res, p.fields, p.to.kind, p.to.key, p.to.exclude) for p in plain])
    assert dict(fast_market.available) == dict(plain_market.available)
    assert fast_market.house == plain_market.house


def test_a_scripted_bet_is_the_bet_request_without_its_answer() -> None:
    """Placed or refused (unknown pool, bad amounts, no funds, a resolved pool), a scripted
    bet moves the money and pushes what the request does, and refuses with its text."""
    def market_with_pool() -> tuple[Market, str]:
        market = Market(lambda: T0, 10)
        source = market.handle("a", 365, {"source_name": "s"}, set())[1]["source_id"]
        game = market.handle("a", 370, {"source_id": source, "game_name": "g",
                                        "actions": "goal", "targets": "reds,blues"},
                             set())[1]["game_id"]
        pool = market.handle("a", 385, {"game_id": game, "description": "who",
                                        "action_id": "goal", "targets": "reds,blues"},
                             set())[1]["pool_id"]
        return market, pool

    bets = [("u1", "reds", "1"), ("u2", "blues", "2.50"), ("u1", "reds", "0"),
            ("u1", "reds", "0.001"), ("u3", "reds", "11"), ("u3", "green", "1"),
            ("u3", "none", "9.99"), ("u1", "nope", "1"), ("u2", "reds", "1E+0")]
    scripted, market_s = market_with_pool()
    requested, market_r = market_with_pool()
    for user, target, amount in bets:
        pool_s = pool_r = "pool-9" if target == "nope" else None
        refused, pushes = scripted.scripted_bet(user, pool_s or market_s, target,
                                                Decimal(amount))
        res, fields, plain = requested.handle(user, 392, {
            "pool_id": pool_r or market_r, "target": target, "amount": str(Decimal(amount))},
            set())
        assert refused == (fields["text"] if res == 666 else None)
        assert [(p.res, p.fields, p.to) for p in pushes] == \
            [(p.res, p.fields, p.to) for p in plain]
    for market in (scripted, requested):  # and once the pool is resolved
        game = next(iter(market.games))
        market.handle("a", 395, {"game_id": game, "action_id": "goal",
                                 "target_id": "reds"}, set())
    refused, _ = scripted.scripted_bet("u1", market_s, "reds", Decimal(1))
    assert refused == requested.handle("u1", 392, {"pool_id": market_r, "target": "reds",
                                                   "amount": "1"}, set())[1]["text"]
    assert dict(scripted.available) == dict(requested.available)
    assert dict(scripted.exposure) == dict(requested.exposure)
    assert scripted.house == requested.house


@given(st.text(max_size=5), st.text(max_size=5), st.text(max_size=5), st.text(max_size=5),
       st.decimals(allow_nan=False), st.integers())
def test_a_bet_made_through_its_slots_is_the_bet_made_by_its_class(
        bet_id: str, user: str, pool: str, target: str, amount: Decimal, at: int) -> None:
    made = new_bet(bet_id, user, pool, target, amount, at)
    plain = Bet(bet_id, user, pool, target, amount, at)
    assert type(made) is Bet
    assert made == plain
    assert hash(made) == hash(plain)
    assert repr(made) == repr(plain)
    assert attrs.asdict(made) == attrs.asdict(plain)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.amount = Decimal(0)  # type: ignore[misc]


def test_a_recording_s_equal_amounts_and_names_are_shared_objects(tmp_path: Any) -> None:
    """Read once per text: the same values (and exponents, so the same texts on the wire)
    as read bet by bet, in one object for equal texts."""
    path = tmp_path / "bets.jsonl"
    _recording(path)
    steps = [s for s in load_timeline(path).steps if s.kind == "bet"]
    amounts = {s.data["amount"] for s in steps}
    assert {str(a) for a in amounts} == {"1", "2", "2.50", "0.75", "3"}
    by_text: dict[str, set[int]] = {}
    for step in steps:
        for key in ("amount", "user", "target"):
            by_text.setdefault(f"{key}={step.data[key]}", set()).add(id(step.data[key]))
    assert all(len(ids) == 1 for ids in by_text.values())


@pytest.mark.parametrize("value", ["2.50", "2.5", 2.5, 3, "1E+1", "0.001"])
def test_a_recorded_amount_reads_as_its_decimal(value: Any) -> None:
    assert str(_money(value)) == str(Decimal(str(value)))
    assert _money(value) is _money(value)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "Infinity", "x", None, ""])
def test_a_recorded_amount_that_is_no_stake_reads_as_none(value: Any) -> None:
    assert _money(value) is None
    assert _money(value) is None


# -- money on the wire --------------------------------------------------------------------

@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_money_text_is_the_plain_decimal_text(amount: Decimal) -> None:
    expected = int(amount) if amount == amount.to_integral_value() else format(amount, "f")
    assert money(amount) == expected


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_new_money_is_money(amount: Decimal) -> None:
    assert new_money(amount) == money(amount)
    assert type(new_money(amount)) is type(money(amount))


@pytest.mark.parametrize("text", ["0.5", "0.50", "-0.02", "1E-7", "-1.0E-6", "0.0000010",
                                  "12.345", "1234567890123.5"])
def test_money_text_of_small_and_long_fractions(text: str) -> None:
    assert money(Decimal(text)) == format(Decimal(text), "f")
    assert new_money(Decimal(text)) == format(Decimal(text), "f")


def test_a_response_with_a_reserved_field_name_is_refused_as_before() -> None:
    clashing: list[dict[str, Any]] = [{"res": 1}, {"response_header": {}},
                                      {"res": 1, "response_header": 2}]
    for fields in clashing:
        with pytest.raises(LocalProtocolError, match="are reserved"):
            encode_response(361, fields, t=T0)
    assert encode_response(361, {"pool_id": "p"}, t=T0) == orjson.dumps(
        {"response_header": {"t": T0}, "res": 361, "pool_id": "p"})


# -- the clock ----------------------------------------------------------------------------

def test_games_close_at_their_close_at_in_turn_whatever_their_order() -> None:
    now = [T0]
    market = Market(lambda: now[0])
    _, fields, _ = market.handle("a", 365, {"source_name": "s"}, set())
    source = fields["source_id"]
    late = market.handle("a", 370, {"source_id": source, "game_name": "late",
                                    "close_at": T0 + 300}, set())[1]["game_id"]
    upcoming = market.handle("a", 3701, {"source_id": source, "game_name": "up",
                                         "close_at": T0 + 200}, set())[1]["game_id"]
    early = market.handle("a", 370, {"source_id": source, "game_name": "early",
                                     "close_at": T0 + 100}, set())[1]["game_id"]
    assert market.tick() == []
    now[0] = T0 + 150
    assert [(p.res, p.fields) for p in market.tick()] == [(341, {"game_id": early})]
    market.handle("a", 3702, {"game_id": upcoming}, set())  # opened: its close_at counts
    now[0] = T0 + 250
    assert [(p.res, p.fields) for p in market.tick()] == [(341, {"game_id": upcoming})]
    now[0] = T0 + 300
    assert [(p.res, p.fields) for p in market.tick()] == [(341, {"game_id": late})]
    assert market.tick() == []
    assert {g.status for g in market.games.values()} == {"closed"}
