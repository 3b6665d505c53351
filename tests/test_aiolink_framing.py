"""Property tests for the anyio link's frame cutting (``_aiolink.WsLink.feed``).

The link cuts received bytes into frames by their length fields, takes plain frames as they
are and hands every other frame whole to websockets' parser. Any stream a server may send,
split anywhere, must give exactly the messages websockets' own parser gives for it fed as it
came, answer its pings alike, and stop the same way at a close frame or an oversized frame.
"""

from __future__ import annotations

import struct
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.exceptions import PayloadTooBig
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from instamrkt_transports._client.aiolink import WsLink

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TEXT, BINARY, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10
LIMIT = 70_000

payloads = st.one_of(
    st.binary(max_size=300),
    st.integers(0, 3).flatmap(lambda d: st.binary(min_size=123 + d, max_size=123 + d)),
    st.sampled_from([65535, 65536, LIMIT, LIMIT + 1]).map(lambda n: b"p" * n),
)


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    first = (0x80 if fin else 0) | rsv | opcode
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", first, size) + payload
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """Frames a server may send (now and then a bad one), and where the stream is split."""
    stream = b""
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from([TEXT, BINARY, PING, PONG, TEXT]))
        if kind in (PING, PONG):
            stream += frame(kind, draw(st.binary(max_size=125)))
            continue
        payload = draw(payloads)
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=2)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        for i, piece in enumerate(pieces):
            if i and draw(st.booleans()):
                stream += frame(PING, b"between")
            stream += frame(kind if i == 0 else CONT, piece, fin=i == len(pieces) - 1)
    ending = draw(st.sampled_from(["none", "close", "rsv", "orphan", "masked"]))
    if ending == "close":
        stream += frame(CLOSE, struct.pack("!H", 1000) + b"bye") + frame(TEXT, b"after")
    elif ending == "rsv":
        stream += frame(TEXT, b"rsv", rsv=0x40)
    elif ending == "orphan":
        stream += frame(CONT, b"no start")
    elif ending == "masked":
        stream += bytes([0x81, 0x80 | 3]) + b"\x00\x00\x00\x00abc"
    splits = sorted(set(draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=6))))
    return stream, splits


class _Pipe:
    """What a link writes (pongs, the close echo), kept for comparison."""

    def __init__(self) -> None:
        self.written = b""

    def write(self, data: bytes) -> bool:
        self.written += data
        return True


def _link() -> WsLink:
    """A link with an open websockets protocol and a recording pipe, as after a handshake."""

    async def make() -> WsLink:  # a link's cancel scope needs a running loop
        return WsLink(1, owner=None)  # type: ignore[arg-type]  # feed() reports to nobody

    link = anyio.run(make)
    link.proto, link.pipe = _open_proto(), _Pipe()  # type: ignore[assignment]
    link._limit = LIMIT
    return link


def _open_proto() -> ClientProtocol:
    return ClientProtocol(parse_uri("ws://127.0.0.1/"), max_size=LIMIT, state=State.OPEN)


def _reference(pieces: list[bytes]) -> tuple[list[bytes], Any, State]:
    """websockets alone: its messages (fragments joined), its error, its state."""
    proto, messages, parts = _open_proto(), [], b""
    for piece in pieces:
        proto.receive_data(piece)
        for event in proto.events_received():
            if event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                parts += event.data
                if event.fin:
                    messages.append(parts)
                    parts = b""
    return messages, type(proto.parser_exc), proto.state


@SETTINGS
@given(case=streams())
def test_any_split_stream_gives_what_websockets_gives(case: tuple[bytes, list[int]]) -> None:
    stream, splits = case
    pieces = [stream[a:b] for a, b in zip([0, *splits], [*splits, len(stream)], strict=True)]
    link = _link()
    got: list[bytes] = []
    closed = None
    too_big = None
    for piece in pieces:
        messages, too_big, closed = link.feed(piece)
        got += messages
        if closed is not None or too_big is not None:
            break
    expected, error, state = _reference(pieces)
    assert got == expected
    assert type(link.proto.parser_exc) is error
    assert link.proto.state is state
    assert (closed is not None) == (link.proto.close_rcvd is not None)
    assert (too_big is not None) == (error is PayloadTooBig)


def test_pings_are_answered_as_websockets_answers_them() -> None:
    stream = frame(TEXT, b"a") + frame(PING, b"1") + frame(TEXT, b"b") + frame(PING, b"2")
    link = _link()
    messages, _, closed = link.feed(stream[:5])
    messages2, _, closed = link.feed(stream[5:])
    assert messages + messages2 == [b"a", b"b"] and closed is None
    reference = _open_proto()
    reference.receive_data(stream)
    reference.events_received()
    pongs = b"".join(reference.data_to_send())
    # Both send two masked pongs carrying "1" and "2" (masks differ: compare the unmasked).
    assert len(link.pipe.written) == len(pongs) == 2 * (2 + 4 + 1)  # type: ignore[union-attr]
