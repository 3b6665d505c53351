"""The core's contract at its edges: one settling event per request, and nothing invalid queued.

Each test here pins a case where an earlier core broke the contract: a request settled twice
by a late timer call, NaN sent as ``null``, op numbers outside the protocol's range put on the
wire, a bet reply not matched by the pool it echoes.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
from core_helpers import make, silent

from instamrkt_proto import (
    ECHO_KEYS,
    Backoff,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    Credentials,
    LocalProtocolError,
    RateLimit,
    RequestFailed,
    RequestSettled,
    Response,
    State,
)
from instamrkt_proto.codec import decode_request

# -- exactly one settling event -------------------------------------------------------------


def _settling(events: list[Any]) -> Counter[int]:
    return Counter(e.request_id for e in events if isinstance(e, RequestSettled))


def test_a_late_timer_call_settles_a_queued_request_once() -> None:
    cfg = ClientConfig(rate_limit=RateLimit(1, 10.0), max_reconnect_attempts=1,
                       request_timeout=5.0, keepalive_interval=None,
                       backoff=Backoff(0.1, 1.0))
    core = ClientConnection("ws://h:1", Credentials("1", "k"), wall_clock=lambda: 1,
                            random=lambda: .5, config=cfg)
    core.connect(0.0)
    core.connection_made(0.0)
    core.logon(0.1)
    core.receive_message(b'{"res":100}', 0.2)
    core.connection_lost(0.3)
    rid = core.ping(0.31)  # queued during backoff
    deadline = core.next_deadline()
    assert deadline is not None
    core.handle_timer(deadline)
    core.connection_made(0.4)  # the re-logon waits for its pacing slot
    events = core.events_received()
    core.handle_timer(11.0)  # one late call: the re-logon and the ping are both overdue
    late = core.events_received()
    assert _settling(events)[rid] == 0
    (failed,) = [e for e in late if isinstance(e, RequestSettled)]
    assert isinstance(failed, RequestFailed) and failed.request_id == rid
    # the re-logon timed out first: the session ended, which failed the queued ping
    assert isinstance(failed.error, ConnectionClosed)
    assert core.state is State.CLOSED and core.next_deadline() is None
    core.handle_timer(20.0)
    assert _settling(core.events_received()) == Counter()


@pytest.mark.parametrize("times", [[5.0, 5.0, 5.0], [4.9, 5.0, 100.0], [100.0, 100.0]])
def test_repeated_and_late_timer_calls_never_settle_twice(times: list[float]) -> None:
    h = make(peer=silent, config=ClientConfig(request_timeout=5.0, keepalive_interval=None,
                                              max_reconnect_attempts=0))
    h.connect()
    rids = [h.conn.ping(h.clock.now), h.conn.request(392, h.clock.now, pool_id="p",
                                                     target="a", amount="1")]
    h.conn.data_to_send()
    start = h.clock.now
    seen: Counter[int] = Counter()
    for offset in times:
        h.conn.handle_timer(start + offset)
        seen += _settling(h.conn.events_received())
    h.conn.close(start + 200.0)
    seen += _settling(h.conn.events_received())
    assert seen == Counter({rid: 1 for rid in rids})


# -- nothing JSON cannot carry --------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("where", ["top", "nested", "listed"])
def test_non_finite_numbers_are_refused_before_anything_is_queued(bad: float, where: str
                                                                  ) -> None:
    h = make(peer=silent)
    h.connect()
    params: dict[str, Any] = {"pool_id": "p", "target": "a", "amount": bad}
    if where == "nested":
        params = {"pool_id": "p", "extra": {"inner": {"amount": bad}}}
    elif where == "listed":
        params = {"pool_id": "p", "amounts": [1.5, bad]}
    with pytest.raises(LocalProtocolError, match="not a finite number"):
        h.conn.send_request("place_bet_in_betting_pool", params, now=h.clock.now)
    assert h.conn.data_to_send() == []
    assert h.conn.metrics(h.clock.now).outstanding == 0
    assert h.conn.next_deadline() is None or h.conn.next_deadline() > h.clock.now


def test_finite_floats_still_go_out_exactly() -> None:
    h = make(peer=silent)
    h.connect()
    h.conn.request("place_bet_in_betting_pool", h.clock.now, pool_id="p", amount=2.5)
    (data,) = h.conn.data_to_send()
    assert decode_request(data).params == {"pool_id": "p", "amount": 2.5}


# -- op numbers and credentials -------------------------------------------------------------


@pytest.mark.parametrize("op", [0, -1, 2**31, 2**70, True, False, 1.0, None])
def test_ops_outside_the_protocol_range_are_refused(op: Any) -> None:
    h = make(peer=silent)
    h.connect()
    with pytest.raises(LocalProtocolError):
        h.conn.send_request(op, None, now=h.clock.now)
    assert h.conn.data_to_send() == []
    assert h.conn.metrics(h.clock.now).outstanding == 0


def test_the_largest_op_is_accepted() -> None:
    h = make(peer=silent)
    h.connect()
    h.conn.send_request(2**31 - 1, None, now=h.clock.now)
    (data,) = h.conn.data_to_send()
    assert decode_request(data).op == 2**31 - 1


def test_a_learned_name_for_an_out_of_range_op_is_refused() -> None:
    h = make(peer=silent)
    h.connect()
    h.conn.get_opcodes(h.clock.now)
    h.conn.data_to_send()
    h.receive({"res": 2, "opcodes": {"weird": -5}, "response_codes": {}})
    with pytest.raises(LocalProtocolError, match="out of range"):
        h.conn.request("weird", h.clock.now)
    assert h.conn.data_to_send() == []


@pytest.mark.parametrize("user_id", ["", 0])
def test_credentials_need_a_user_id(user_id: Any) -> None:
    if user_id == "":
        with pytest.raises(LocalProtocolError, match="user_id"):
            Credentials(user_id, "key")
    else:  # 0 is a real id: its text is "0"
        assert Credentials(user_id, "key").user_id == "0"


@pytest.mark.parametrize("timeout", [0.0, -1.0, math.nan, math.inf])
def test_a_timeout_must_be_positive_and_finite(timeout: float) -> None:
    h = make(peer=silent)
    h.connect()
    with pytest.raises(LocalProtocolError, match="timeout"):
        h.conn.ping(h.clock.now, timeout=timeout)
    assert h.conn.data_to_send() == []


# -- replies matched by the key they echo ---------------------------------------------------


def test_bet_replies_are_matched_by_the_pool_they_echo() -> None:
    assert ECHO_KEYS[356] == "pool_id"
    h = make(peer=silent)
    h.connect()
    first = h.conn.request("place_bet_in_betting_pool", h.clock.now, pool_id="p1",
                           target="a", amount="1")
    second = h.conn.request("place_bet_in_betting_pool", h.clock.now, pool_id="p2",
                            target="a", amount="1")
    # different pools can be told apart, so both bets go on the wire at once
    assert len(h.conn.data_to_send()) == 2
    (reply,) = h.receive({"res": 356, "pool_id": "p2", "bet_id": "b2"})
    assert isinstance(reply, Response) and reply.request_id == second
    (reply,) = h.receive({"res": 356, "pool_id": "p1", "bet_id": "b1"})
    assert isinstance(reply, Response) and reply.request_id == first


def test_bets_on_one_pool_never_share_the_wire() -> None:
    h = make(peer=silent)
    h.connect()
    h.conn.request(392, h.clock.now, pool_id="p1", target="a", amount="1")
    second = h.conn.request(392, h.clock.now, pool_id="p1", target="b", amount="1")
    assert len(h.conn.data_to_send()) == 1  # the second waits for the first's reply
    h.receive({"res": 356, "pool_id": "p1", "bet_id": "b1"})
    assert [r.params["target"] for r in h.sent] == ["b"]  # sent once the first is answered
    (reply,) = h.receive({"res": 356, "pool_id": "p1", "bet_id": "b2"})
    assert isinstance(reply, Response) and reply.request_id == second


def test_a_bet_reply_for_another_pool_is_a_push() -> None:
    h = make(peer=silent)
    h.connect()
    h.conn.request(392, h.clock.now, pool_id="p1", target="a", amount="1")
    h.conn.data_to_send()
    (event,) = h.receive({"res": 356, "pool_id": "elsewhere"})
    assert type(event).__name__ == "Push"
