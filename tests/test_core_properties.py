"""Property tests: any input gives events (never an exception), codec round trips."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from core_helpers import make, silent
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from instamrkt_proto import (
    DEFAULT_OPCODES,
    ECHO_KEYS,
    Event,
    LoggedOn,
    LogonFailed,
    OpcodeTable,
    Pong,
    ProtocolError,
    Push,
    RequestFailed,
    Response,
    State,
    UncorrelatedError,
)
from instamrkt_proto.codec import (
    decode_request,
    decode_server_message,
    encode_request,
    encode_response,
    lenient_int,
)
from instamrkt_proto.testing import json_values, requests, server_messages

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _connected_with_outstanding() -> Any:
    h = make(peer=silent)
    h.connect()
    h.request("ping")
    h.request("get_opcodes")
    h.request("logon")
    h.request("join_game", game_id=1)
    h.request(392, pool_id="p", target="a", amount="1")
    h.request(800)
    return h


@SETTINGS
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), server_messages()))
@example(b'{"res": 1, "response_header": {"t": []}}')
@example(b'{"res": 1, "response_header": {"t": {"a": 1}}}')
@example(b'{"res": 2, "opcodes": [], "response_codes": null}')
@example(b'{"res": 666, "text": {"nested": true}}')
@example(b'{"res": 333, "game_id": [1]}')
@example(b'{"res": 333}')
def test_receive_message_never_raises(data: bytes | str) -> None:
    h = _connected_with_outstanding()
    events = h.receive(data)
    assert all(isinstance(e, Event) for e in events)
    assert h.conn.state in (State.OPEN, State.LOGGING_ON, State.LOGGED_ON)


@SETTINGS
@given(st.lists(st.one_of(st.binary(max_size=50), server_messages()), max_size=8))
def test_a_stream_of_anything_never_raises(messages: list[bytes]) -> None:
    h = _connected_with_outstanding()
    for data in messages:
        h.clock.advance(1.0)
        h.receive(data)
        h.advance(0.5)
    assert h.conn.state is not State.CLOSED


@SETTINGS
@given(server_messages())
@example(b'{"response_header": {}, "res": 333}')
@example(b'{"res": 356, "pool_id": "p"}')
@example(b'{"res": 356, "pool_id": "another pool"}')
@example(b'{"res": 356, "bet_id": "b"}')
@example(b'{"res": 333, "game_id": "1"}')
@example(b'{"res": 333, "game_id": 2}')
def test_server_messages_decode_whole(data: bytes) -> None:
    obj = orjson.loads(data)
    message = decode_server_message(data)
    assert message.res == obj["res"]
    expected = {k: v for k, v in obj.items() if k not in ("res", "response_header")}
    assert message.fields == expected
    header = obj.get("response_header") or {}
    assert message.t == (int(header["t"]) if "t" in header else None)
    # and the core turns it into exactly one event of the expected kind
    h = _connected_with_outstanding()
    (event,) = h.receive(data)
    kinds: dict[int, tuple[type[Event], ...]] = {
        1: (Pong,), 2: (OpcodeTable, RequestFailed), 100: (LoggedOn,), 112: (LoggedOn,),
        110: (LogonFailed,), 666: (UncorrelatedError,), 800: (Response,),
        333: (_echo_kind(message.fields, "game_id", 1),),
        356: (_echo_kind(message.fields, "pool_id", "p"),),
    }
    expected = kinds.get(message.res, (Push,))
    assert isinstance(event, expected), (event, expected)
    assert not isinstance(event, ProtocolError)


def _echo_kind(fields: dict[str, Any], key: str, sent: Any) -> type[Event]:
    """join_game(game_id=1) and place_bet(pool_id="p") are outstanding (ECHO_KEYS): a reply
    answers its request unless the key it echoes names another game or pool (a number and
    its decimal text name the same one); then it is a push."""
    assert ECHO_KEYS[333] == "game_id" and ECHO_KEYS[356] == "pool_id"
    if key not in fields:
        return Response
    echoed = fields[key]
    return Response if echoed == sent or str(echoed) == str(sent) else Push


@SETTINGS
@given(requests(), st.integers(min_value=0, max_value=2**53), st.text(max_size=20))
def test_request_round_trip(request: tuple[int | str, dict[str, Any]], t: int, key: str) -> None:
    op = request[0] if isinstance(request[0], int) else DEFAULT_OPCODES[request[0]]
    key = f"KEY<{key}>"
    data = encode_request(op, request[1], session_key=key, t=t)
    decoded = decode_request(data)
    assert decoded.op == op and decoded.t == t and decoded.params == request[1]
    assert decoded.header == {"session_key": key, "t": t, "api_version": 1.0}
    assert key not in repr(decoded)


@SETTINGS
@given(requests())
def test_send_request_puts_the_same_bytes_on_the_wire(request: tuple[Any, Any]) -> None:
    h = make(peer=silent)
    h.connect()
    op, params = request
    h.conn.send_request(op, params, now=h.clock.now)
    (data,) = h.conn.data_to_send()
    number = h.conn.opcode(op)
    assert data == encode_request(number, params, session_key=h.conn.credentials.session_key,
                                  t=h.clock.wall_ms)


@SETTINGS
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1),
       st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("res", "response_header")),
                       json_values(), max_size=5),
       st.one_of(st.none(), st.integers(min_value=0, max_value=2**62)))
def test_response_round_trip(res: int, fields: dict[str, Any], t: int | None) -> None:
    message = decode_server_message(encode_response(res, fields, t=t))
    assert (message.res, message.t, message.fields) == (res, t, fields)


@SETTINGS
@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_lenient_int_accepts_int_spellings(n: int) -> None:
    assert lenient_int(n) == n
    assert lenient_int(str(n)) == n
    assert lenient_int(f" {n} ") == n
    if abs(n) < 2**53:
        assert lenient_int(float(n)) == n
        assert lenient_int(f"{n}.0") == n


@SETTINGS
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False).filter(
    lambda f: not f.is_integer()), st.booleans(), st.lists(st.integers(), max_size=1),
    st.text(max_size=8).filter(lambda s: s.strip() not in ("", "None") and not _numeric(s))))
def test_lenient_int_rejects_everything_else(value: Any) -> None:
    with pytest.raises(ValueError):
        lenient_int(value)


def _numeric(text: str) -> bool:
    """Text ``lenient_int`` reads as an integer: it strips every kind of white space first,
    ``str.strip``'s (which includes ``"\\x1f"``), not ``int``'s or ``float``'s own."""
    try:
        return float(text.strip()).is_integer()
    except ValueError:
        return False


def test_lenient_int_nulls() -> None:
    assert lenient_int(None) is None
    assert lenient_int("None") is None
    assert lenient_int("") is None
