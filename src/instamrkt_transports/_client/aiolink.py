"""One websocket connection for the anyio adapter: websockets' sans-I/O framing over a pipe.

The counterpart of ``_client.wsclient.Link`` for the blocking and threaded adapters. ``WsLink`` does
the handshake over a ``_client.pipes`` pipe with websockets' ``ClientProtocol`` (chosen by
``benchmarks/bench_framing.py``; no permessage-deflate, which only costs for this API's short
messages), turns received bytes into whole messages, answers pings and the close handshake
itself, and frames the core's output. It makes no protocol decision: what a message, a
refused handshake or a closed connection means is the core's business.

Received bytes are cut into frames here, by their length fields only, and websockets' parser
is fed whole frames, so it is always between frames. A plain frame (FIN, no RSV bit, text or
binary, unmasked, within the size limit) is what nearly every message of this API is: its
payload is taken as it is, which costs a fifth of a pass through websockets' generator-based
parser. Every other frame (control frames, fragments, anything malformed or too big) goes
to websockets, which validates it and answers pings and closes as before.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Any, Protocol

import anyio
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidStatus, PayloadTooBig
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from instamrkt_proto import ConnectionClosed

from .._quietlog import NoDebugLogger
from ..options import Options
from .pipes import AioPipe, Pipe, StreamPipe, open_pipe

__all__ = ("NETWORK_ERRORS", "Owner", "Received", "WsLink", "failure")

NETWORK_ERRORS = (OSError, ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream,
                  anyio.ClosedResourceError, ConnectionClosed, InvalidHandshake)

_DATA = (Opcode.TEXT, Opcode.BINARY)
_PLAIN = (0x81, 0x82)  # FIN, no RSV bit, text or binary
_MAX_HEAD = 65536  # a handshake response longer than this: websockets' own limit errors
_WS_LOG = NoDebugLogger(logging.getLogger("instamrkt_transports.anyio.websockets"), {})

Received = tuple[list[bytes], "int | None", "tuple[int, str] | None"]
"""What ``feed`` found: data messages, the size of a message over the limit (the connection
is then unusable), and ``(code, reason)`` once the connection is closed."""


class Owner(Protocol):
    """The adapter a link reports its reads to."""

    def _on_data(self, link: WsLink, data: bytes | None) -> None:
        """``link`` received ``data`` (None: the connection ended)."""

    def _ended(self, link: WsLink) -> None:
        """``link``, carried by its pipe's callbacks (``hand_off``), is over."""


class WsLink:
    """One connection attempt, then one connection, and the ``Sink`` of its pipe.
    ``gen`` and ``scope`` belong to the adapter: which attempt this is, and how to abandon
    it while its task runs."""

    __slots__ = ("_early", "_limit", "_parts", "_tail", "gen", "owner", "pipe", "proto",
                 "scope")

    def __init__(self, gen: int, owner: Owner) -> None:
        self.gen = gen
        self.owner = owner
        self.scope: anyio.CancelScope | None = anyio.CancelScope()
        self.pipe: Pipe | None = None
        self.proto: ClientProtocol | None = None
        self._early: list[Any] = []  # frames that came with the handshake response
        self._tail = b""  # the start of a frame not received whole yet
        self._parts: list[bytes] | None = None  # a fragmented message being assembled
        self._limit: int | None = None

    async def open(self, url: str, options: Options) -> None:
        """Pipe and handshake. Raises a network error, or the handshake's (see ``failure``)."""
        pipe = self.pipe = await open_pipe(url, options)
        proto = ClientProtocol(parse_uri(url), max_size=options.config.max_message_size,
                               logger=_WS_LOG)
        proto.send_request(proto.connect())
        await pipe.send(b"".join(proto.data_to_send()))
        self._limit = options.config.max_message_size
        # The response goes to websockets up to its blank line; the frames after it are cut
        # here like any other (see the module docstring): its parser starts between frames.
        head = b""
        while (end := head.find(b"\r\n\r\n")) < 0 and len(head) <= _MAX_HEAD:
            head += await pipe.receive()
        if end < 0:
            end = len(head)
        proto.receive_data(head[:end + 4])
        self._tail = head[end + 4:]
        events: list[Any] = proto.events_received()
        if not events:  # not a 101 (it has a body) or not HTTP: websockets reads on
            proto.receive_data(self._tail)
            self._tail = b""
            events = proto.events_received()
            while not events:
                proto.receive_data(await pipe.receive())
                events = proto.events_received()
        if proto.handshake_exc is not None:
            raise proto.handshake_exc
        # The parser's frame keeps the response for as long as the connection lives, and
        # its headers (read by now) were near 2 KB of every idle connection.
        response = events[0]
        if isinstance(response, Response):
            response.headers.clear()
        self.proto = proto
        self._early = events[1:]

    def hand_off(self, on_flushed: Callable[[], None] | None) -> bool:
        """Report what came with the handshake response (``b""``), then every read, to the
        owner; True if the pipe's callbacks carry the connection from here (the owner hears
        ``_ended`` once it is over). False: ``run`` must carry it."""
        pipe = self.pipe
        assert pipe is not None
        if not isinstance(pipe, AioPipe):
            return False
        pipe.on_flushed = on_flushed
        self.received(b"")
        pipe.attach(self)
        return True

    async def run(self, on_flushed: Callable[[], None] | None) -> None:
        """Report what came with the handshake response (``b""``), then every read, to the
        owner until the connection is over; raises the network error that ended it."""
        pipe = self.pipe
        assert isinstance(pipe, StreamPipe)
        pipe.on_flushed = on_flushed
        self.received(b"")
        pipe.attach(self)
        await pipe.run()

    # Sink
    def received(self, data: bytes | None) -> None:
        self.owner._on_data(self, data)

    def ended(self) -> None:
        self.owner._ended(self)

    def feed(self, data: bytes | None) -> Received:
        """Take received bytes (None: end of stream; b"": only what came with the handshake)."""
        proto = self.proto
        assert proto is not None and self.pipe is not None
        messages: list[bytes] = []
        if self._early:
            self._collect(self._early, messages)
            self._early = []
        buffer = self._tail + data if data else self._tail
        pos, size, limit = 0, len(buffer), self._limit
        oversized = False
        while size - pos >= 2 and proto.state is State.OPEN:
            first, second = buffer[pos], buffer[pos + 1]
            length, start = second & 0x7F, pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(buffer[start:start + 2], "big"), start + 2
            elif length == 127:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(buffer[start:start + 8], "big"), start + 8
            if second & 0x80:
                start += 4  # masked: websockets refuses it below
            if limit is not None and length > limit:
                oversized = True  # websockets raises PayloadTooBig from the header
                break
            end = start + length
            if end > size:
                break
            if first in _PLAIN and not second & 0x80 and self._parts is None:
                messages.append(buffer[start:end])
            else:
                proto.receive_data(buffer[pos:end])
                self._collect(proto.events_received(), messages)
            pos = end
        rest = buffer[pos:]
        if rest and (proto.state is not State.OPEN or oversized):
            proto.receive_data(rest)  # after a close, or too big: websockets decides
            self._collect(proto.events_received(), messages)
            rest = b""
        self._tail = rest
        if data is None:
            if rest:
                proto.receive_data(rest)
                self._tail = b""
            proto.receive_eof()
            self._collect(proto.events_received(), messages)
        exc, too_big = proto.parser_exc, None
        if isinstance(exc, PayloadTooBig):
            too_big = exc.size or (exc.max_size or 0) + 1
        outgoing = b"".join(proto.data_to_send())  # pongs, the close echo
        if outgoing:
            self.pipe.write(outgoing)
        closed: tuple[int, str] | None = None
        if proto.state is State.CLOSED or proto.close_rcvd is not None or data is None:
            rcvd = proto.close_rcvd
            closed = (rcvd.code, rcvd.reason) if rcvd else (1006, "connection closed")
        return messages, too_big, closed

    def _collect(self, frames: list[Any], messages: list[bytes]) -> None:
        """The data messages in frames websockets parsed (it checked their sequence)."""
        for frame in frames:
            opcode = frame.opcode
            if opcode in _DATA:
                if frame.fin:
                    messages.append(frame.data)
                else:
                    self._parts = [frame.data]
            elif opcode is Opcode.CONT and self._parts is not None:
                self._parts.append(frame.data)
                if frame.fin:
                    messages.append(b"".join(self._parts))
                    self._parts = None

    def send(self, messages: list[bytes]) -> bool:
        """Frame and write; True if the bytes went to the OS at once (see ``Pipe.write``)."""
        proto = self.proto
        assert proto is not None and self.pipe is not None
        if proto.state is not State.OPEN:  # a close frame came with the read that released
            return True                      # these: the core hears of the loss next
        for message in messages:
            proto.send_text(message)
        return self.pipe.write(b"".join(proto.data_to_send()))

    def close(self, code: int, reason: str) -> None:
        """Send a close frame if still open, then close the pipe once it is flushed."""
        proto, pipe = self.proto, self.pipe
        if proto is not None and pipe is not None and proto.state is State.OPEN:
            proto.send_close(code, reason)
            pipe.write(b"".join(proto.data_to_send()))
        if pipe is not None:
            pipe.close()


def failure(exc: BaseException) -> tuple[int | None, str]:
    """``(HTTP status, reason)`` of a failed attempt, for ``connection_failed``."""
    if isinstance(exc, InvalidStatus):
        return exc.response.status_code, exc.response.reason_phrase  # not the body
    return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
