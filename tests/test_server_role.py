"""The sans-IO server role: handshake verdicts, self-answered ops, application replies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instamrkt_proto import (
    DEFAULT_OPCODES,
    DEFAULT_RESPONSE_CODES,
    Credentials,
    LocalProtocolError,
    connection_url,
    digest,
)
from instamrkt_proto.codec import decode_server_message, encode_request
from instamrkt_proto.server import (
    BadRequest,
    RequestAnswered,
    RequestReceived,
    ServerConnection,
    ServerState,
)

KEY = "s3cret-session-key"
USERS = {"42": KEY}
T0 = 1_700_000_000_000


def clock() -> int:
    return T0


def make(users: Any = USERS, **kwargs: Any) -> ServerConnection:
    return ServerConnection(users, wall_clock=clock, **kwargs)


def opened(**kwargs: Any) -> ServerConnection:
    conn = make(**kwargs)
    assert conn.accept(f"/?id=42&n=7&h={digest('42', '7', KEY)}").accepted
    return conn


def request(op: int, **params: Any) -> bytes:
    return encode_request(op, params, session_key=KEY, t=T0 - 5)


def replies(conn: ServerConnection) -> list[tuple[int, dict[str, Any], int | None]]:
    out = []
    for data in conn.data_to_send():
        message = decode_server_message(data)
        out.append((message.res, message.fields, message.t))
    return out


# -- handshake ------------------------------------------------------------------------------


def test_accepts_good_digest_from_connection_url() -> None:
    url = connection_url("ws://localhost:1", Credentials("42", KEY), 99)
    conn = make()
    verdict = conn.accept(url.split("localhost:1", 1)[1])
    assert (verdict.status, verdict.user_id, verdict.accepted) == (101, "42", True)
    assert conn.state is ServerState.OPEN
    assert conn.user_id == "42"


def test_accepts_bare_query_and_uppercase_digest() -> None:
    verdict = make().accept(f"id=42&n=1&h={digest('42', '1', KEY).upper()}")
    assert verdict.status == 101


@pytest.mark.parametrize("query", ["", "/", "/?id=42&n=1", "/?id=42&h=ab", "/?n=1&h=ab",
                                   "/?id=&n=1&h=ab", "/?id=42&id=43&n=1&h=ab"])
def test_missing_or_repeated_params_are_400(query: str) -> None:
    conn = make()
    verdict = conn.accept(query)
    assert verdict.status == 400
    assert conn.state is ServerState.REJECTED


def test_unknown_user_and_bad_digest_are_the_same_403() -> None:
    bad = make().accept("/?id=42&n=1&h=" + "0" * 64)
    unknown = make().accept(f"/?id=43&n=1&h={digest('43', '1', KEY)}")
    non_ascii = make().accept("/?id=42&n=1&h=%C3%A9")
    assert bad.status == unknown.status == non_ascii.status == 403
    assert bad.reason == unknown.reason
    assert KEY not in repr(bad) and digest("42", "1", KEY) not in repr(bad)


def test_callable_user_lookup() -> None:
    conn = make(users=lambda uid: KEY if uid == "9" else None)
    assert conn.accept(f"?id=9&n=x&h={digest('9', 'x', KEY)}").accepted
    assert make(users=lambda uid: None).accept("?id=9&n=x&h=00").status == 403


def test_accept_twice_or_messages_before_accept_is_local_error() -> None:
    conn = make()
    with pytest.raises(LocalProtocolError):
        conn.receive_message(request(1))
    conn.accept("")
    with pytest.raises(LocalProtocolError):
        conn.accept("")
    with pytest.raises(LocalProtocolError):
        conn.receive_message(request(1))


# -- self-answered ops ----------------------------------------------------------------------


def test_ping_opcodes_and_header_time_with_skew() -> None:
    conn = opened(clock_skew_ms=250)
    conn.receive_message(request(1))
    conn.receive_message(request(2))
    (pong, table) = replies(conn)
    assert pong == (1, {}, T0 + 250)
    assert table[0] == 2
    assert table[1]["opcodes"] == dict(DEFAULT_OPCODES)
    assert table[1]["response_codes"] == dict(DEFAULT_RESPONSE_CODES)
    events = conn.events_received()
    assert [type(e) for e in events] == [RequestAnswered, RequestAnswered]
    assert [(e.seq, e.op, e.res, e.t) for e in events] == [(1, 1, 1, T0 - 5), (2, 2, 2, T0 - 5)]


def test_logon_then_already_logged_on() -> None:
    conn = opened()
    conn.receive_message(request(100))
    conn.receive_message(request(100))
    assert [r[0] for r in replies(conn)] == [100, 112]
    assert conn.state is ServerState.LOGGED_ON


def test_refused_logon_is_110_and_can_be_retried() -> None:
    refused = {"42"}
    conn = opened(refuse_logon=lambda uid: uid in refused)
    conn.receive_message(request(100))
    refused.clear()
    conn.receive_message(request(100))
    assert [r[0] for r in replies(conn)] == [110, 100]


def test_require_logon_gates_other_ops() -> None:
    conn = opened(require_logon=True)
    conn.receive_message(request(363, game_id="g"))
    conn.receive_message(request(1))
    conn.receive_message(request(100))
    conn.receive_message(request(363, game_id="g"))
    res = replies(conn)
    assert res[0] == (666, {"text": "op 363 (join_game) requires logon"}, T0)
    assert [r[0] for r in res[1:]] == [1, 100]
    assert isinstance(conn.events_received()[-1], RequestReceived)


# -- application requests -------------------------------------------------------------------


def test_request_event_and_ordered_replies() -> None:
    conn = opened()
    conn.receive_message(request(363, game_id="g1"))
    conn.receive_message(request(364, game_id="g1"))
    first, second = conn.events_received()
    assert isinstance(first, RequestReceived) and isinstance(second, RequestReceived)
    assert (first.seq, first.op, first.name, dict(first.params)) == (
        1, 363, "join_game", {"game_id": "g1"})
    assert conn.pending == 2
    conn.reply(333, game_id="g1")
    conn.error("no such game")
    assert conn.pending == 0
    assert replies(conn) == [(333, {"game_id": "g1"}, T0), (666, {"text": "no such game"}, T0)]


def test_reply_without_request_is_misuse_but_push_is_fine() -> None:
    conn = opened()
    with pytest.raises(LocalProtocolError):
        conn.reply(333)
    conn.push(815, current_balance=1)
    assert replies(conn) == [(815, {"current_balance": 1}, T0)]


def test_a_shared_push_is_encoded_once_per_header_time_and_reads_as_push() -> None:
    """One push to many connections: each gets what ``push`` would send it, and
    connections whose header time agrees share one encoding (the same bytes object)."""
    conns = [opened(), opened(), opened(clock_skew_ms=250)]
    encoded: dict[int, bytes] = {}
    for conn in conns:
        conn.push_shared(815, {"current_balance": 1, "currency": "DON"}, encoded)
    sent = [conn.data_to_send() for conn in conns]
    assert sorted(encoded) == [T0, T0 + 250]
    assert sent[0][0] is sent[1][0] and sent[0][0] is not sent[2][0]
    plain = opened(clock_skew_ms=250)
    plain.push(815, current_balance=1, currency="DON")
    assert sent[2] == plain.data_to_send()
    assert replies(conns[0]) == [] and decode_server_message(sent[0][0]).t == T0
    with pytest.raises(LocalProtocolError):  # the same checks as push
        conns[0].push_shared(815, {"value": object()}, {})
    conns[0].close()
    with pytest.raises(LocalProtocolError):
        conns[0].push_shared(815, {}, encoded)


def test_reply_rejects_reserved_and_unserialisable_fields() -> None:
    conn = opened()
    conn.receive_message(request(800))
    with pytest.raises(LocalProtocolError):
        conn.reply(800, response_header={})
    with pytest.raises(LocalProtocolError):
        conn.reply(800, value=object())
    assert conn.pending == 1


def test_unknown_op_and_custom_table() -> None:
    conn = opened(opcodes={"ping": 1, "custom": 5000})
    conn.receive_message(request(363))
    conn.receive_message(request(5000))
    assert replies(conn) == [(666, {"text": "unknown op 363"}, T0)]
    answered, received = conn.events_received()
    assert isinstance(answered, RequestAnswered) and answered.res == 666
    assert isinstance(received, RequestReceived) and received.name == "custom"


@pytest.mark.parametrize(("data", "why"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON list, not an object"),
    (b'{"op": "1", "header": {}}', "'op' must be an int"),
    (b'{"op": 1}', "no 'header' object"),
    (b'{"op": 1, "header": []}', "no 'header' object"),
    ("\ud800", "not valid JSON"),
    (b"\xff", "not valid JSON"),
])
def test_malformed_requests_get_666(data: bytes | str, why: str) -> None:
    conn = opened()
    conn.receive_message(data)
    ((res, fields, _t),) = replies(conn)
    assert res == 666
    assert fields["text"].startswith("malformed request: ") and why in fields["text"]
    (event,) = conn.events_received()
    assert isinstance(event, BadRequest) and event.size == len(data)


def test_secrets_never_in_repr_or_events() -> None:
    conn = opened()
    conn.receive_message(request(800))
    text = repr(conn) + repr(conn.events_received())
    assert KEY not in text


def test_close_stops_input() -> None:
    conn = opened()
    conn.receive_message(request(800))
    conn.close()
    assert conn.pending == 0
    with pytest.raises(LocalProtocolError):
        conn.receive_message(request(1))
    with pytest.raises(LocalProtocolError):
        conn.push(815)


# -- properties -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=64), st.text(max_size=64),
                 json_values.map(orjson.dumps)))
def test_never_raises_and_answers_every_message(data: bytes | str) -> None:
    conn = opened()
    conn.receive_message(data)
    events = conn.events_received()
    out = conn.data_to_send()
    # Exactly one of: an answer already sent, or one request for the application.
    assert len(events) == 1
    assert len(out) == (0 if isinstance(events[0], RequestReceived) else 1)


ops = st.sampled_from(sorted(set(DEFAULT_OPCODES.values()))) | st.integers(-5, 10_000)
params = st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k not in
                                                                 ("op", "header")),
                         json_values, max_size=3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(ops, params), min_size=1, max_size=15))
def test_every_well_formed_request_gets_exactly_one_reply(
        batch: list[tuple[int, dict[str, Any]]]) -> None:
    conn = opened()
    sent = 0
    for op, extra in batch:
        conn.receive_message(request(op, **extra))
        for event in conn.events_received():
            if isinstance(event, RequestReceived):
                conn.reply(op + 1_000_000, echo=event.seq)
        sent += len(conn.data_to_send())
    assert sent == len(batch)
    assert conn.pending == 0
