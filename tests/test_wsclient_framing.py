"""Property tests for the websocket-client link's own framing (``_client.wsclient.Link``).

The link writes frames itself and cuts plain frames straight out of its read buffer,
leaving everything else to websocket-client's ``frame_buffer``. These tests check both
against an independent reading of RFC 6455, over a real socket pair: any payload written is
what websocket-client decodes, and any stream of server frames, split anywhere and read
with timeouts in between, yields exactly its messages and pings.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websocket import ABNF, WebSocket, WebSocketTimeoutException

from instamrkt_proto import MessageTooBig
from instamrkt_transports._client.wsclient import Link
from instamrkt_transports.options import make_options

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TEXT, BINARY, CONT = ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT
PING, PONG = ABNF.OPCODE_PING, ABNF.OPCODE_PONG

# Sizes around every length encoding boundary, and some in between.
payloads = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.integers(126, 20000), st.binary(min_size=1, max_size=7)).map(
        lambda t: (t[1] * t[0])[:t[0]]),
    st.integers(0, 3).flatmap(lambda d: st.binary(min_size=125 + d - 2, max_size=125 + d)),
    st.sampled_from([65535, 65536, 70001]).map(lambda n: bytes(range(256)) * (n // 256)
                                               + b"x" * (n % 256)),
)


@pytest.fixture
def pair() -> Iterator[tuple[Link, socket.socket]]:
    yield from _pair()


def _pair(**options: Any) -> Iterator[tuple[Link, socket.socket]]:
    ours, theirs = socket.socketpair()
    link = Link(1, make_options(options))
    link.attach(ours, WebSocket(skip_utf8_validation=True, enable_multithread=False))
    link.settimeout(0.002)  # bytes written before a read are there: a timeout means "none"
    try:
        yield link, theirs
    finally:
        link.close()
        theirs.close()


def _server_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        return struct.pack("!BB", first, size) + payload
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


@SETTINGS
@given(payload=payloads, opcode=st.sampled_from([TEXT, BINARY, PING, PONG]))
def test_frames_written_decode_to_their_payload(payload: bytes, opcode: int) -> None:
    for link, theirs in _pair():
        link.send([payload]) if opcode == TEXT else link.send_control(opcode, payload)
        stream = b""
        while len(stream) < len(payload) + 2:
            stream += theirs.recv(1 << 20)
        reader = WebSocket(skip_utf8_validation=True).frame_buffer
        chunks = [stream]
        reader.recv = functools.partial(_take, chunks)
        frame = reader.recv_frame()
        assert (frame.fin, frame.opcode, frame.mask_value != b"") == (1, opcode, True)
        assert frame.data == payload
        assert not chunks[0]  # nothing after the frame


def _take(chunks: list[bytes], n: int) -> bytes:
    head, chunks[0] = chunks[0][:n], chunks[0][n:]
    return head


def test_masking_keys_differ_between_frames(pair: tuple[Link, socket.socket]) -> None:
    link, theirs = pair
    link.send([b"same"] * 200)
    stream = theirs.recv(1 << 16)
    keys = {stream[i * 10 + 2:i * 10 + 6] for i in range(200)}
    assert len(keys) > 190  # 4 random bytes: a repeat among 200 is very unlikely


@st.composite
def server_streams(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, bytes]], list[int]]:
    """Frames a server may send, the messages they carry, and where the stream is split."""
    stream, expected = b"", []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from([TEXT, BINARY, PING, PONG]))
        payload = draw(payloads if kind in (TEXT, BINARY) else st.binary(max_size=125))
        if kind in (PING, PONG):
            stream += _server_frame(kind, payload)
            if kind == PING:
                expected.append((PING, payload))
            continue
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        for i, piece in enumerate(pieces):
            if i and draw(st.booleans()):  # control frames may come between fragments
                stream += _server_frame(PONG, b"between")
            stream += _server_frame(kind if i == 0 else CONT, piece, fin=i == len(pieces) - 1)
        expected.append((kind, payload))
    splits = sorted(set(draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=6))))
    return stream, expected, splits


@SETTINGS
@given(case=server_streams())
def test_any_split_stream_reads_as_its_messages(
        case: tuple[bytes, list[tuple[int, bytes]], list[int]]) -> None:
    stream, expected, splits = case
    for link, theirs in _pair():
        theirs.setblocking(False)  # a piece larger than the socket buffer must not deadlock
        got: list[tuple[int, bytes]] = []
        for a, b in zip([0, *splits], [*splits, len(stream)], strict=True):
            piece = memoryview(stream[a:b])
            while True:
                with contextlib.suppress(BlockingIOError):  # full: read, then write the rest
                    piece = piece[theirs.send(piece):]
                while True:
                    try:
                        got.append(link.read())
                    except WebSocketTimeoutException:
                        break  # the rest is not written yet: nothing may be lost
                if not piece:
                    break
        assert got == expected


@SETTINGS
@given(case=server_streams(), limit=st.one_of(st.none(), st.integers(1, 4)))
def test_read_many_gives_the_same_messages_in_batches(
        case: tuple[bytes, list[tuple[int, bytes]], list[int]], limit: int | None) -> None:
    """What ``read_many`` returns over any split stream: the same payloads in the same
    order (a batch is data messages only, or one ping), never more than ``limit`` at once."""
    stream, expected, splits = case
    for link, theirs in _pair():
        theirs.setblocking(False)
        got: list[tuple[bool, bytes]] = []
        for a, b in zip([0, *splits], [*splits, len(stream)], strict=True):
            piece = memoryview(stream[a:b])
            while True:
                with contextlib.suppress(BlockingIOError):
                    piece = piece[theirs.send(piece):]
                while True:
                    try:
                        opcode, messages = link.read_many(limit)
                    except WebSocketTimeoutException:
                        break
                    assert 1 <= len(messages) <= (limit or len(messages))
                    assert opcode in (TEXT, BINARY) or len(messages) == 1
                    got += [(opcode == PING, m) for m in messages]
                if not piece:
                    break
        assert got == [(opcode == PING, payload) for opcode, payload in expected]


@pytest.mark.parametrize("sizes", [(3, 0, 125), (126, 1, 300)])
def test_read_many_with_the_stream_split_at_every_byte(sizes: tuple[int, ...]) -> None:
    payloads = [bytes([65 + i]) * size for i, size in enumerate(sizes)]
    stream = b"".join(_server_frame(TEXT, p) for p in payloads)
    for split in range(1, len(stream)):
        for link, theirs in _pair():
            got: list[bytes] = []
            for piece in (stream[:split], stream[split:]):
                theirs.sendall(piece)
                while True:
                    try:
                        got += link.read_many()[1]
                    except WebSocketTimeoutException:
                        break
            assert got == payloads, split


def test_a_message_over_the_limit_is_refused_before_it_is_buffered() -> None:
    for link, theirs in _pair(max_message_size=100):
        theirs.sendall(_server_frame(TEXT, b"x" * 100) + _server_frame(TEXT, b"y" * 101))
        assert link.read() == (TEXT, b"x" * 100)
        with pytest.raises(MessageTooBig):
            link.read()


def test_read_many_stops_its_batch_before_a_message_over_the_limit() -> None:
    for link, theirs in _pair(max_message_size=100):
        theirs.sendall(_server_frame(TEXT, b"x" * 100) + _server_frame(TEXT, b"w" * 99)
                       + _server_frame(TEXT, b"y" * 101))
        assert link.read_many() == (TEXT, [b"x" * 100, b"w" * 99])
        with pytest.raises(MessageTooBig):
            link.read_many()
