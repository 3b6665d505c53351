"""The push buffer's overflow policies, driven directly and by hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instamrkt_proto import Closed, ConsumerTooSlow, Event, Push, PushesDropped, Reconnected
from instamrkt_transports import Overflow, PushBuffer


def push(seq: int) -> Push:
    return Push(res=815, name="balance_update", fields={"seq": seq})


def drain(buffer: PushBuffer) -> list[Event]:
    out = []
    while (event := buffer.get()) is not None:
        out.append(event)
    return out


def test_drop_oldest_puts_the_exact_gap_where_the_pushes_were() -> None:
    buffer = PushBuffer(3, "drop_oldest")
    closed = Closed(code=1006, reason="lost", reconnect_at=1.0)
    buffer.put(closed)
    for seq in range(7):
        buffer.put(push(seq))
    assert drain(buffer) == [closed, PushesDropped(count=4), push(4), push(5), push(6)]
    assert buffer.dropped == 4 and buffer.high_water == 3


def test_fail_raises_once_then_delivers_what_fitted() -> None:
    buffer = PushBuffer(2, Overflow.FAIL)
    for seq in range(5):
        buffer.put(push(seq))
    with pytest.raises(ConsumerTooSlow) as caught:
        buffer.get()
    assert caught.value.capacity == 2
    assert drain(buffer) == [push(0), push(1)]
    assert buffer.dropped == 3


def test_backpressure_never_drops_and_reports_full() -> None:
    buffer = PushBuffer(2)
    buffer.put(push(0))
    assert not buffer.full
    buffer.put(push(1))
    assert buffer.full
    buffer.put(push(2))  # one network read may overshoot: kept, never dropped
    assert drain(buffer) == [push(0), push(1), push(2)]
    assert buffer.dropped == 0


def test_unbounded_and_bad_capacity() -> None:
    buffer = PushBuffer(None, "drop_oldest")
    for seq in range(1000):
        buffer.put(push(seq))
    assert not buffer.full and len(drain(buffer)) == 1000
    with pytest.raises(ValueError, match="capacity"):
        PushBuffer(0)


lifecycle = st.just(Reconnected(disconnected_at=0.0, reconnected_at=1.0, attempts=1,
                                relogged_on=True))


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(1, 8), policy=st.sampled_from(list(Overflow)),
       script=st.lists(st.sampled_from(["push", "life", "get"]), max_size=80))
def test_every_push_is_delivered_once_in_order_or_counted(
        capacity: int, policy: Overflow, script: list[str]) -> None:
    buffer = PushBuffer(capacity, policy)
    put_pushes, put_life, got = 0, 0, []
    for step in script:
        if step == "push":
            buffer.put(push(put_pushes))
            put_pushes += 1
        elif step == "life":
            buffer.put(Reconnected(disconnected_at=0.0, reconnected_at=1.0, attempts=1,
                                   relogged_on=True))
            put_life += 1
        else:
            try:
                event = buffer.get()
            except ConsumerTooSlow:
                assert policy is Overflow.FAIL
                continue
            if event is not None:
                got.append(event)
        if policy is not Overflow.BACKPRESSURE:
            assert len(buffer) <= capacity
    while True:
        try:
            event = buffer.get()
        except ConsumerTooSlow:
            continue
        if event is None:
            break
        got.append(event)
    seqs = [e.fields["seq"] for e in got if isinstance(e, Push)]
    assert seqs == sorted(set(seqs))  # once each, in order
    assert sum(isinstance(e, Reconnected) for e in got) == put_life  # never dropped
    gaps = sum(e.count for e in got if isinstance(e, PushesDropped))
    if policy is Overflow.DROP_OLDEST:
        assert len(seqs) + gaps == put_pushes
    else:
        assert gaps == 0
        assert len(seqs) + buffer.dropped == put_pushes
    if policy is Overflow.BACKPRESSURE:
        assert buffer.dropped == 0
