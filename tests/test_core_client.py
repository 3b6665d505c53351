"""ClientConnection driven by hand on a fake clock: wire bytes, auth, names, replies, limits."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from core_helpers import SECRET, WALL0, make, silent

from instamrkt_proto import (
    ClientConfig,
    ClientConnection,
    Closed,
    CloseTransport,
    Connected,
    Connecting,
    Credentials,
    LateReply,
    LocalProtocolError,
    LoggedOn,
    LogonFailed,
    MessageTooBig,
    OpcodeTable,
    OutcomeUnknown,
    Pong,
    ProtocolError,
    Push,
    RateLimit,
    RequestFailed,
    RequestLimitExceeded,
    RequestTimeout,
    Response,
    ServerError,
    State,
    UncorrelatedError,
    api,
    connection_url,
    digest,
)
from instamrkt_proto.codec import decode_request
from instamrkt_proto.testing import FakeClock, SequenceRandom

KNOWN_DIGEST = hashlib.sha256(b"11422006034742abc").hexdigest()


# -- auth and URL ---------------------------------------------------------------------------


def test_digest_known_vector() -> None:
    assert digest("1", "1422006034742", "abc") == KNOWN_DIGEST
    assert digest(1, 1422006034742, "abc") == KNOWN_DIGEST
    assert Credentials(1, "abc").digest("1422006034742") == KNOWN_DIGEST


def test_digest_encodes_utf8() -> None:
    expected = hashlib.sha256("ü1é".encode() + "kéy".encode()).hexdigest()
    assert digest("ü", "1é", "kéy") == expected


def test_int_user_id_is_text() -> None:
    creds = Credentials(17, "abc")
    assert creds.user_id == "17"
    with pytest.raises(TypeError):
        Credentials(True, "abc")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        Credentials("1", "")


def test_credentials_repr_hides_key() -> None:
    creds = Credentials("1", "abc-very-secret")
    assert "abc-very-secret" not in repr(creds)
    assert "abc-very-secret" not in str(creds)
    assert "'1'" in repr(creds)


def test_connection_url_known_vector_and_empty_path() -> None:
    url = connection_url("wss://instamrkt.com:9999", Credentials("1", "abc"), "1422006034742")
    assert url == f"wss://instamrkt.com:9999/?id=1&n=1422006034742&h={KNOWN_DIGEST}"


def test_connection_url_keeps_query_and_encodes() -> None:
    creds = Credentials("a b&c", "abc")
    url = connection_url("ws://host/api?x=1", creds, "n/1")
    parts = urlsplit(url)
    assert parts.path == "/api"
    assert parts.query.startswith("x=1&")
    assert "a+b%26c" in parts.query and "n%2F1" in parts.query
    query = parse_qs(parts.query)
    h = digest("a b&c", "n/1", "abc")
    assert query == {"x": ["1"], "id": ["a b&c"], "n": ["n/1"], "h": [h]}


@pytest.mark.parametrize("base", ["http://host", "wss://", "ftp://x/y"])
def test_connection_url_rejects_bad_base(base: str) -> None:
    with pytest.raises(LocalProtocolError):
        connection_url(base, Credentials("1", "abc"), "1")


def test_connecting_carries_url_with_nonce_from_wall_clock() -> None:
    h = make(user_id=1)
    events = h.connect()
    assert events == [Connecting(url=events[0].url, attempt=0), Connected()]  # type: ignore[attr-defined]
    assert isinstance(events[0], Connecting)
    expected = f"wss://instamrkt.test:9999/?id=1&n={WALL0}&h=" + digest("1", str(WALL0), SECRET)
    assert events[0].url == expected
    assert SECRET not in repr(events[0])
    assert digest("1", str(WALL0), SECRET) not in repr(events[0])
    assert "h=%2A%2A%2A" in events[0].redacted_url or "h=***" in events[0].redacted_url
    assert h.conn.state is State.OPEN


def test_nonce_factory_is_used() -> None:
    clock = FakeClock()
    conn = ClientConnection("wss://h", Credentials("1", "abc"), wall_clock=clock.wall,
                            random=SequenceRandom(), nonce_factory=lambda wall: f"n{wall}")
    conn.connect(clock.now)
    (event,) = conn.events_received()
    assert isinstance(event, Connecting)
    assert f"n=n{clock.wall_ms}&" in event.url


# -- request bytes --------------------------------------------------------------------------


def test_ping_exact_bytes_and_pong_rtt() -> None:
    h = make(peer=silent)
    h.connect()
    rid = h.conn.ping(h.clock.now)
    (data,) = h.conn.data_to_send()
    assert data == (b'{"header":{"session_key":"s3cr3t-SESSION-key","t":1422006034742,'
                    b'"api_version":1.0},"op":1}')
    h.clock.advance(0.25)
    events = h.receive(b'{"response_header":{"t":1422006034900},"res":1}')
    assert events == [Pong(request_id=rid, op=1, res=1, name="pong", rtt=0.25,
                            server_time=1422006034900)]
    assert h.conn.metrics(h.clock.now).rtt == 0.25


def test_header_and_params_at_top_level() -> None:
    h = make(peer=silent)
    h.connect()
    h.request("place_bet_in_betting_pool", pool_id="p1", target="t", amount="5")
    (request,) = h.sent
    assert request.op == 392
    assert request.header == {"session_key": SECRET, "t": WALL0, "api_version": 1.0}
    assert request.params == {"pool_id": "p1", "target": "t", "amount": "5"}
    assert type(request.header["api_version"]) is float


def test_clock_offset_ntp_style() -> None:
    h = make(peer=silent)
    h.connect()
    assert h.conn.clock is None
    h.conn.ping(h.clock.now)
    h.conn.data_to_send()
    h.clock.advance(0.2)  # sent at WALL0, received at WALL0+200; server says WALL0+5100
    h.receive({"res": 1, "t": WALL0 + 5100})
    estimate = h.conn.clock
    assert estimate is not None
    assert estimate.offset == 5000.0
    assert estimate.rtt == 200
    assert estimate.uncertainty == 100.0
    assert estimate.samples == 1


def test_request_by_name_before_opcodes_and_table_extends_names() -> None:
    h = make(peer=silent)
    h.connect()
    h.conn.request("join_game", h.clock.now, game_id=7)
    assert decode_request(h.conn.data_to_send()[0]).op == 363
    with pytest.raises(LocalProtocolError):
        h.conn.request("brand_new_op", h.clock.now)
    rid = h.conn.get_opcodes(h.clock.now)
    h.conn.data_to_send()
    events = h.receive({"res": 2, "opcodes": {"brand_new_op": 9001, "logon": 100},
                        "response_codes": {"brand_new_res": 9002}})
    assert events == [OpcodeTable(request_id=rid, op=2, res=2, name="opcodes",
                                  fields={"opcodes": {"brand_new_op": 9001, "logon": 100},
                                          "response_codes": {"brand_new_res": 9002}},
                                  opcodes={"brand_new_op": 9001, "logon": 100},
                                  response_codes={"brand_new_res": 9002}, server_time=WALL0)]
    assert h.conn.opcode("brand_new_op") == 9001
    assert h.conn.opcode("join_game") == 363  # the documented names stay
    assert h.conn.response_name(9002) == "brand_new_res"
    h.conn.request("brand_new_op", h.clock.now, x=1)
    assert decode_request(h.conn.data_to_send()[0]).op == 9001
    pushed = h.receive({"res": 9002})
    assert pushed == [Push(res=9002, name="brand_new_res", fields={}, server_time=WALL0)]


def test_bad_opcode_table_fails_request() -> None:
    h = make(peer=silent)
    h.connect()
    rid = h.conn.get_opcodes(h.clock.now)
    (event,) = h.receive({"res": 2, "opcodes": {"x": "not a number"}, "response_codes": {}})
    assert isinstance(event, RequestFailed) and event.request_id == rid


# -- logon ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("res", "already"), [(100, False), (112, True)])
def test_logon_success(res: int, already: bool) -> None:
    h = make(peer=silent)
    h.connect()
    rid = h.conn.logon(h.clock.now)
    assert h.conn.state is State.LOGGING_ON
    (event,) = h.receive({"res": res, "session_key": "4"})
    assert event == LoggedOn(request_id=rid, op=100, res=res, already_logged_in=already,
                             name="logon_success" if res == 100 else "logon_fail_already_logged_in",
                             server_time=WALL0, fields={"session_key": "4"})
    assert h.conn.logged_on and h.conn.state is State.LOGGED_ON


def test_logon_refused() -> None:
    h = make(peer=silent)
    h.connect()
    rid = h.conn.logon(h.clock.now)
    (event,) = h.receive({"res": 110})
    assert event == LogonFailed(request_id=rid, op=100, res=110, name="logon_fail",
                                 server_time=WALL0, fields={})
    assert h.conn.state is State.OPEN


# -- correlation ----------------------------------------------------------------------------


def test_666_settles_the_only_request_on_the_wire() -> None:
    h = make(peer=silent)
    h.connect()
    rid = h.request("place_bet_in_betting_pool", pool_id="p", target="a", amount="1")
    (event,) = h.receive({"res": 666, "text": "insufficient funds"})
    assert isinstance(event, RequestFailed) and event.request_id == rid
    assert isinstance(event.error, ServerError)
    assert event.error.text == "insufficient funds" and event.error.op == 392


def test_666_with_two_on_the_wire_is_uncorrelated() -> None:
    h = make(peer=silent)
    h.connect()
    a = h.request("get_my_current_balance")
    b = h.request("join_game", game_id=3)
    assert len(h.sent) == 2
    (event,) = h.receive({"res": 666, "text": "nope"})
    assert event == UncorrelatedError(text="nope", server_time=WALL0, candidates=(a, b))
    # both keep waiting and their own replies still settle them
    assert [e.request_id for e in h.receive({"res": 333, "game_id": 3})] == [b]  # type: ignore[attr-defined]
    assert [e.request_id for e in h.receive({"res": 800, "current_balance": 5})] == [a]  # type: ignore[attr-defined]


def test_666_with_nothing_outstanding_is_uncorrelated() -> None:
    h = make(peer=silent)
    h.connect()
    assert h.receive({"res": 666}) == [UncorrelatedError(text=None, server_time=WALL0)]


def test_same_res_non_idempotent_held_back() -> None:
    h = make(peer=silent)
    h.connect()
    first = h.request(392, pool_id="p", target="a", amount="1")
    second = h.request(392, pool_id="p", target="b", amount="2")
    assert [r.params["target"] for r in h.sent] == ["a"]
    (event,) = h.receive({"res": 356, "bet_id": "b1"})
    assert isinstance(event, Response) and event.request_id == first
    assert [r.params["target"] for r in h.sent] == ["a", "b"]
    (event,) = h.receive({"res": 356, "bet_id": "b2"})
    assert isinstance(event, Response) and event.request_id == second
    assert event.fields == {"bet_id": "b2"}


def test_unrelated_request_overtakes_held_one() -> None:
    h = make(peer=silent)
    h.connect()
    h.request(392, pool_id="p", target="a", amount="1")
    h.request(392, pool_id="p", target="b", amount="2")
    h.request("get_my_current_balance")
    assert [r.op for r in h.sent] == [392, 800]


def test_idempotent_reads_pipeline_fifo() -> None:
    h = make(peer=silent)
    h.connect()
    a = h.request("get_my_current_balance")
    b = h.request("get_my_current_balance", currency="DON")
    assert [r.params for r in h.sent] == [{}, {"currency": "DON"}]
    (ea,) = h.receive({"res": 800, "current_balance": 1})
    (eb,) = h.receive({"res": 800, "current_balance": 2})
    assert (ea.request_id, eb.request_id) == (a, b)  # type: ignore[attr-defined]


def test_echo_keys_let_joins_for_different_games_go_together() -> None:
    h = make(peer=silent)
    h.connect()
    a = h.request("join_game", game_id="g1")
    b = h.request("join_game", game_id="g2")
    c = h.request("join_game", game_id="g1")  # same game: cannot be told apart, held back
    assert [r.params["game_id"] for r in h.sent] == ["g1", "g2"]
    (eb,) = h.receive({"res": 333, "game_id": "g2"})
    assert isinstance(eb, Response) and eb.request_id == b
    (ea,) = h.receive({"res": 333, "game_id": "g1"})
    assert isinstance(ea, Response) and ea.request_id == a
    assert [r.params["game_id"] for r in h.sent] == ["g1", "g2", "g1"]
    (ec,) = h.receive({"res": 333, "game_id": "g1"})
    assert isinstance(ec, Response) and ec.request_id == c
    assert h.conn.joined_games == ("g2", "g1")  # in order of confirmation


def test_unmatched_message_is_push() -> None:
    h = make(peer=silent)
    h.connect()
    h.request("join_game", game_id="g1")
    events = h.receive({"res": 815, "current_balance": "10", "available_balance": 3,
                        "currency": "DON"})
    assert events == [api.BalanceUpdate(res=815, name="balance_update", server_time=WALL0,
                                        current_balance=Decimal(10), available_balance=3,
                                        currency="DON")]
    assert isinstance(events[0], Push)
    assert events[0].fields == {"current_balance": "10", "available_balance": 3,
                                "currency": "DON"}
    # a join reply for another game is not ours either
    (event,) = h.receive({"res": 333, "game_id": "other"})
    assert isinstance(event, Push)


def test_lenient_decoding_of_headers() -> None:
    h = make(peer=silent)
    h.connect()
    h.conn.ping(h.clock.now)
    (event,) = h.receive(b'{"res":1}')
    assert isinstance(event, Pong) and event.server_time is None
    h.conn.ping(h.clock.now)
    (event,) = h.receive(b'{"response_header":{"t":"1422006034999"},"res":1}')
    assert isinstance(event, Pong) and event.server_time == 1422006034999
    (event,) = h.receive(b'{"response_header":{"t":"garbled"},"res":5}')
    assert event == Push(res=5, name=None, fields={}, server_time=None)


# -- timeouts and tombstones ----------------------------------------------------------------


def test_timeout_outcomes() -> None:
    cfg = ClientConfig(request_timeout=5.0, keepalive_interval=None)
    h = make(config=cfg, peer=silent)
    h.connect()
    read = h.request("get_my_current_balance")
    bet = h.request(392, pool_id="p", target="a", amount="1")
    held = h.request(392, pool_id="p", target="b", amount="1")
    assert h.conn.next_deadline() == h.clock.now + 5.0
    events = h.advance(5.0)
    failed = {e.request_id: e.error for e in events if isinstance(e, RequestFailed)}
    assert set(failed) == {read, bet, held}
    assert isinstance(failed[read], RequestTimeout) and failed[read].sent
    assert isinstance(failed[bet], OutcomeUnknown)
    assert failed[bet].params == {"pool_id": "p", "target": "a", "amount": "1"}
    assert isinstance(failed[held], RequestTimeout) and not failed[held].sent
    assert "never sent" in str(failed[held])


def test_late_reply_never_answers_newer_request() -> None:
    cfg = ClientConfig(request_timeout=5.0, keepalive_interval=None)
    h = make(config=cfg, peer=silent)
    h.connect()
    old = h.request("get_my_current_balance")
    h.advance(5.0)
    new = h.request("get_my_current_balance")
    events = h.receive({"res": 800, "current_balance": "old"})
    assert events == [LateReply(request_id=old, op=800, res=800, server_time=WALL0 + 5000,
                                fields={"current_balance": "old"})]
    (event,) = h.receive({"res": 800, "current_balance": "new"})
    assert isinstance(event, Response) and event.request_id == new
    assert event.fields == {"current_balance": "new"}


def test_tombstone_keeps_non_idempotent_held_back() -> None:
    cfg = ClientConfig(request_timeout=5.0, keepalive_interval=None)
    h = make(config=cfg, peer=silent)
    h.connect()
    h.request(392, pool_id="p", target="a", amount="1")
    h.advance(5.0)
    second = h.request(392, pool_id="p", target="b", amount="1")
    assert len(h.sent) == 1  # the timed-out bet may still be answered: wait
    events = h.receive({"res": 356, "bet_id": "late"})
    assert [type(e).__name__ for e in events] == ["LateReply"]
    assert len(h.sent) == 2
    (event,) = h.receive({"res": 356, "bet_id": "x"})
    assert isinstance(event, Response) and event.request_id == second


# -- limits ---------------------------------------------------------------------------------


def test_max_message_size_default_and_exceeded() -> None:
    assert ClientConfig().max_message_size == 1 << 20
    h = make(config=ClientConfig(max_message_size=100), peer=silent)
    h.connect()
    rid = h.request("get_my_current_balance")
    big = orjson.dumps({"res": 815, "pad": "x" * 200})
    events = h.receive(big)
    assert isinstance(events[0], ProtocolError)
    assert isinstance(events[0].error, MessageTooBig)
    assert events[0].error.size == len(big) and events[0].error.max_size == 100
    assert events[1] == CloseTransport(code=1009, reason="message too big")
    assert any(isinstance(e, RequestFailed) and e.request_id == rid for e in events)
    assert isinstance(events[-1], Closed) and events[-1].code == 1009
    assert events[-1].will_reconnect


def test_max_message_size_none_is_unlimited() -> None:
    h = make(config=ClientConfig(max_message_size=None), peer=silent)
    h.connect()
    big = orjson.dumps({"res": 815, "pad": "x" * (3 << 20)})
    (event,) = h.receive(big)
    assert isinstance(event, Push) and len(event.fields["pad"]) == 3 << 20


def test_max_outstanding() -> None:
    h = make(config=ClientConfig(max_outstanding=2), peer=silent)
    h.connect()
    h.request("get_my_current_balance")
    h.request(392, pool_id="p", target="a", amount="1")
    with pytest.raises(RequestLimitExceeded) as info:
        h.request("get_my_current_balance")
    assert info.value.limit == 2
    h.receive({"res": 800})
    h.request("get_my_current_balance")


def test_max_outstanding_none_is_unlimited() -> None:
    h = make(config=ClientConfig(max_outstanding=None, keepalive_interval=None), peer=silent)
    h.connect()
    for _ in range(3000):
        h.conn.request("get_my_current_balance", h.clock.now)
    assert len(h.conn.data_to_send()) == 3000
    assert h.conn.metrics(h.clock.now).outstanding == 3000


def test_rate_limit_pacing() -> None:
    cfg = ClientConfig(rate_limit=RateLimit(3, 1.0), keepalive_interval=None,
                       request_timeout=None)
    h = make(config=cfg)
    h.connect()
    start = h.clock.now
    for _ in range(10):
        h.request("get_my_current_balance")
    assert len(h.sent) == 3
    assert h.conn.next_deadline() == start + 1.0
    times: list[float] = [start] * 3
    while len(h.sent) < 10:
        before = len(h.sent)
        deadline = h.conn.next_deadline()
        assert deadline is not None
        h.advance(deadline - h.clock.now)
        times += [h.clock.now] * (len(h.sent) - before)
    for i, t in enumerate(times):
        assert sum(1 for u in times if t <= u < t + 1.0) <= 3, (i, times)
    assert times[-1] == start + 3.0


# -- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b"not json", b"[1, 2]", b'{"res": "1"}', b'{"x": 1}', b'{"res": 1, "response_header": []}',
    b'{"res": 1.0}', b'{"res": true}', "\udcff", b"\xff\xfe", b"",
])
def test_malformed_input_is_an_event_and_connection_continues(data: bytes | str) -> None:
    h = make(peer=silent)
    h.connect()
    rid = h.request("get_my_current_balance")
    events = h.receive(data)
    assert len(events) == 1 and isinstance(events[0], ProtocolError)
    assert events[0].size == len(data)
    assert h.conn.state is State.OPEN
    (event,) = h.receive({"res": 800})
    assert isinstance(event, Response) and event.request_id == rid


# -- misuse ---------------------------------------------------------------------------------


def test_misuse_raises_local_protocol_error() -> None:
    h = make(peer=silent)
    with pytest.raises(LocalProtocolError):
        h.conn.ping(h.clock.now)  # before connect
    h.connect()
    with pytest.raises(LocalProtocolError):
        h.conn.connect(h.clock.now)  # twice
    for params in ({"header": {}}, {"op": 5}):
        with pytest.raises(LocalProtocolError, match="reserved"):
            h.conn.send_request(800, params, now=h.clock.now)
    with pytest.raises(LocalProtocolError, match="JSON"):
        h.conn.send_request(800, {"x": object()}, now=h.clock.now)
    for timeout in (0, -1.0):
        with pytest.raises(LocalProtocolError, match="timeout"):
            h.conn.send_request(800, None, now=h.clock.now, timeout=timeout)
    with pytest.raises(LocalProtocolError):
        h.conn.send_request(True, None, now=h.clock.now)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        h.conn.send_request(392, {"pool_id": 1}, now=h.clock.now, retry=True)
    with pytest.raises(LocalProtocolError):
        h.conn.connection_made(h.clock.now)  # already open
    assert h.sent == [] and h.conn.metrics(h.clock.now).outstanding == 0
    h.conn.close(h.clock.now)
    with pytest.raises(LocalProtocolError):
        h.conn.ping(h.clock.now)
    with pytest.raises(LocalProtocolError):
        h.conn.connect(h.clock.now)


def test_close_is_idempotent_and_settles_everything() -> None:
    h = make(peer=silent)
    h.connect()
    read = h.request("get_my_current_balance")
    bet = h.request(392, pool_id="p", target="a", amount="1")
    held = h.request(392, pool_id="p", target="b", amount="1")
    events = h.call(lambda c, now: c.close(now))
    assert events[0] == CloseTransport(code=1000, reason="closed by client")
    settled = {e.request_id: type(e.error).__name__ for e in events
               if isinstance(e, RequestFailed)}
    assert settled == {read: "ConnectionClosed", bet: "OutcomeUnknown", held: "ConnectionClosed"}
    assert isinstance(events[-1], Closed) and not events[-1].will_reconnect
    assert h.conn.state is State.CLOSED
    assert h.call(lambda c, now: c.close(now)) == []
    assert h.conn.next_deadline() is None
    assert h.receive({"res": 800}) == []  # after close: ignored


def test_close_before_connect() -> None:
    h = make()
    events = h.call(lambda c, now: c.close(now))
    assert len(events) == 1 and isinstance(events[0], Closed)
    assert h.conn.state is State.CLOSED


def test_after_an_unclaimed_666_fifo_no_longer_attributes_replies() -> None:
    cfg = ClientConfig(request_timeout=5.0, keepalive_interval=None)
    h = make(config=cfg, peer=silent)
    h.connect()
    first = h.request("get_my_current_balance")
    second = h.request("get_my_current_balance")
    (error,) = h.receive({"res": 666, "text": "for one of them"})
    assert error == UncorrelatedError(text="for one of them", server_time=WALL0,
                                      candidates=(first, second))
    # this reply may answer either: neither request gets it
    (event,) = h.receive({"res": 800, "current_balance": 1})
    assert isinstance(event, Push)
    events = h.advance(5.0)
    assert {e.request_id for e in events if isinstance(e, RequestFailed)} == {first, second}
    assert all(isinstance(e.error, RequestTimeout) and e.error.sent
               for e in events if isinstance(e, RequestFailed))


def test_666_does_not_spoil_a_request_with_its_own_reply_code() -> None:
    h = make(peer=silent)
    h.connect()
    ping = h.request("ping")
    read = h.request("get_my_current_balance")
    h.receive({"res": 666})
    (event,) = h.receive({"res": 800})  # only one request can take a 800
    assert isinstance(event, Response) and event.request_id == read
    (event,) = h.receive({"res": 1})
    assert isinstance(event, Pong) and event.request_id == ping


def test_after_an_unclaimed_666_an_echoed_key_does_not_restore_fifo_trust() -> None:
    # Two reads for the same game, pipelined; a 666 refuses one of them (which?).
    from instamrkt_proto import ClientConnection, Credentials, Push, UncorrelatedError

    c = ClientConnection("ws://h", Credentials(1, "k"), wall_clock=lambda: 1,
                         random=lambda: 0.5)
    c.connect(0.0)
    c.connection_made(0.0)
    c.events_received()
    c.send_request("get_leaderboard_for_game", {"game_id": "g", "limit": 10}, now=0.0)
    c.send_request("get_leaderboard_for_game", {"game_id": "g", "limit": 100}, now=0.0)
    assert len(c.data_to_send()) == 2
    c.receive_message(b'{"res":666,"text":"limit 10 not allowed"}', 0.1)
    assert [type(e) for e in c.events_received()] == [UncorrelatedError]
    c.receive_message(b'{"res":451,"game_id":"g","rows":[1]}', 0.2)
    [event] = c.events_received()
    assert isinstance(event, Push)  # not attributed: it may answer either request
