"""One accepted websocket connection of the reference server: its protocol objects, its
bounded outgoing queue, and the tasks that read and write it.

The server decides what to answer and whom to push to; a ``Connection`` only moves bytes.
It has one reader task (feeds bytes in, hands each message to the server), one writer task
(drains the queue, applying the reply delay and drop knobs of ``Faults``) and whatever
extra task the server gives it (the paced push source). Writes to the socket go through a
lock, because the reader also writes (pongs, close echoes). A full queue drops pushes
(counted in ``stats.pushes_dropped``), as a server protecting itself from a slow consumer;
``send`` waits for room instead, which is how replies (and a flood, and a replay at full
speed) slow down with a client that stops reading.
"""

from __future__ import annotations

import functools
import logging
import ssl
import struct
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from instamrkt_proto.server import ServerConnection

from .faults import Faults, ServerStats

__all__ = ("NETWORK_ERRORS", "Connection", "Outgoing", "text_frames", "write_pending")

log = logging.getLogger("instamrkt_transports.server")

NETWORK_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream,
                  OSError, ssl.SSLError)
_DATA = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})
_QUEUE_GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError)

_SHORT_TEXT = [bytes((0x81, n)) for n in range(126)]  # FIN + text, unmasked, length < 126
_MEDIUM_TEXT = struct.Struct("!BBH").pack  # 126: a 16-bit length follows
_FLUSH_EVERY = 64  # pushes queued right behind each other leave in one write, up to this


def text_frames(proto: ServerProtocol, messages: Iterable[bytes]) -> bytes | None:
    """The frames ``proto.send_text`` would write for ``messages``, as one buffer, or None
    when this connection needs the library's own path.

    Framing a flood one message at a time (a ``Frame`` object, its checks and a buffer per
    message) cost the replay at full speed about a tenth of the server's time; the
    frame of an unmasked, unfragmented, uncompressed text message is two or four header
    bytes before the payload. Anything else (extensions, a fragmented message under way,
    a closing connection, debug logging, a payload of 64 KiB or more) goes through
    ``send_text``, which is then the one to answer or refuse it.
    """
    if (proto.state is not State.OPEN or proto.extensions or proto.expect_continuation_frame
            or proto.debug):
        return None
    parts: list[bytes] = []
    append = parts.append
    for data in messages:
        size = len(data)
        if size < 126:
            append(_SHORT_TEXT[size])
        elif size < 65536:
            append(_MEDIUM_TEXT(0x81, 126, size))
        else:
            return None
        append(data)
    return b"".join(parts)


async def write_pending(stream: anyio.abc.ByteStream, proto: ServerProtocol) -> bool:
    """Write what ``proto`` has for the wire; True once it signalled end of stream."""
    eof = False
    pending: list[bytes] = []  # frames leave in one write: a system call per flush
    for chunk in proto.data_to_send():
        if chunk:
            pending.append(chunk)
            continue
        if pending:
            await stream.send(b"".join(pending))
            pending.clear()
        eof = True
        if not isinstance(stream, TLSStream):  # TLS has no half-close: just close
            await stream.send_eof()
    if pending:
        await stream.send(b"".join(pending))
    return eof


class Outgoing:
    """One entry of a connection's queue."""

    __slots__ = ("batch", "code", "data", "done", "kind")

    def __init__(self, kind: str, data: bytes = b"", code: int = 1000,
                 batch: list[bytes] | None = None, done: anyio.Event | None = None) -> None:
        # "reply", "push", "raw", "close" (data is then the reason), "pushes" (``batch``)
        # or "mark" (``done`` is set once all that was queued before it is written)
        self.kind = kind
        self.data = data
        self.code = code
        self.batch = batch
        self.done = done


OnMessage = Callable[["Connection", bytes, float], Awaitable[None]]


class Connection:
    """One accepted websocket connection: ``proto`` frames, ``core`` speaks Instamrkt.

    ``faults`` gives the knobs in force for this connection's user (they may be replaced
    or turned while it runs); ``stats`` is the server's, counted here for what is written
    or dropped.
    """

    def __init__(self, stream: anyio.abc.ByteStream, proto: ServerProtocol,
                 core: ServerConnection, user_id: str, *, queue_size: int,
                 faults: Callable[[], Faults], stats: ServerStats,
                 close_timeout: float) -> None:
        self.stream = stream
        self.proto = proto
        self.core = core
        self.user_id = user_id
        self.faults = faults
        self.stats = stats
        self.close_timeout = close_timeout
        self.out_send, self.out_recv = anyio.create_memory_object_stream[Outgoing](queue_size)
        self.lock = anyio.Lock()
        self.scope = anyio.CancelScope()
        self.joined: set[str] = set()
        self.sources: dict[str, Iterator[tuple[int, dict[str, Any]]]] = {}
        self.fragments: list[bytes] = []
        self.requests = 0
        self.replies = 0
        self.closing = False
        self.eof_sent = False
        self.unflushed = 0  # messages written to the protocol since the last flush
        self._tg: anyio.abc.TaskGroup | None = None

    def __repr__(self) -> str:
        return f"<Connection user={self.user_id!r} closing={self.closing}>"

    async def serve(self, on_message: OnMessage,
                    *tasks: Callable[[Connection], Awaitable[None]]) -> None:
        """Run the reader, the writer and ``tasks`` until the connection ends; a failure of
        any of them ends this connection, never the server."""
        with self.scope:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._guarded, self._writer)
                for task in tasks:
                    tg.start_soon(self._guarded, functools.partial(task, self))
                await self._guarded(functools.partial(self._reader, on_message))
                tg.cancel_scope.cancel()
        self._tg = None

    async def _guarded(self, task: Callable[[], Awaitable[None]]) -> None:
        # The coroutine is made here, in the task: one made before a task that is
        # cancelled before it starts would never be awaited.
        try:
            await task()
        except NETWORK_ERRORS:
            pass
        except Exception:
            log.exception("reference server: connection of user %r failed", self.user_id)
        self.scope.cancel()

    # -- queueing (from the server) ----------------------------------------------------------

    async def send(self, out: Outgoing) -> bool:
        """Queue ``out``, waiting for room; False when the connection's queue is gone."""
        try:
            await self.out_send.send(out)
        except _QUEUE_GONE:
            return False
        return True

    def push_nowait(self, res: int, fields: Mapping[str, Any],
                    encoded: dict[int, bytes] | None = None) -> bool:
        """Queue one push, or drop it if the queue is full; ``encoded`` shares its encoding
        with the rest of its audience (``ServerConnection.push_shared``)."""
        if self.closing:
            return False
        if encoded is None:
            self.core.push(res, **fields)
        else:
            self.core.push_shared(res, fields, encoded)
        try:
            for data in self.core.data_to_send():
                self.out_send.send_nowait(Outgoing("push", data))
        except (anyio.WouldBlock, *_QUEUE_GONE):
            self.stats.pushes_dropped += 1
            return False
        return True

    def queue_close(self, code: int, reason: str) -> None:
        """Close with ``code`` once what is queued before it is written."""
        if self.closing:
            return
        self.closing = True
        try:
            self.out_send.send_nowait(Outgoing("close", reason.encode(), code))
        except anyio.WouldBlock:  # queue full: close at once, dropping the queue
            self.scope.cancel()
        except _QUEUE_GONE:
            pass

    # -- the wire ----------------------------------------------------------------------------

    async def flush(self) -> None:
        async with self.lock:
            if self.faults().silent:
                self.proto.data_to_send()  # half-open: nothing ever reaches the wire
                return
            if await write_pending(self.stream, self.proto):
                self.eof_sent = True

    async def _reader(self, on_message: OnMessage) -> None:
        proto = self.proto
        while not self.eof_sent and proto.state is not State.CLOSED:
            try:
                proto.receive_data(await self.stream.receive(65536))
            except NETWORK_ERRORS:
                proto.receive_eof()
            arrived = time.monotonic()  # stamp arrival, not processing, for pacing checks
            for frame in proto.events_received():
                if isinstance(frame, Frame) and frame.opcode in _DATA:
                    self.fragments.append(bytes(frame.data))
                    if frame.fin:
                        message = b"".join(self.fragments)
                        self.fragments.clear()
                        await on_message(self, message, arrived)
            await self.flush()

    async def _writer(self) -> None:
        async for out in self.out_recv:
            if out.done is not None:  # a mark: what came before it leaves now
                if self.unflushed:
                    self.unflushed = 0
                    await self.flush()
                out.done.set()
                continue
            if out.kind == "close":
                await self.send_close(out.code, out.data.decode())
                continue
            if out.batch is not None:
                await self._write_batch(out.batch)
                continue
            delay = self.faults().reply_delay
            if out.kind == "reply" and delay > 0:
                await anyio.sleep(delay)
            faults = self.faults()
            if self.proto.state is not State.OPEN:
                continue
            drop = None if faults.silent else faults.drop_after_replies
            if out.kind == "reply" and drop is not None and self.replies >= drop:
                await self.drop(faults)  # the knob was set after the Nth reply
                return
            self.proto.send_text(out.data)
            if not faults.silent:  # counted before the write, so a client never sees it first
                if out.kind == "reply":
                    self.stats.replies_sent += 1
                    self.replies += 1
                elif out.kind == "push":
                    self.stats.pushes_sent += 1
            if out.kind == "reply" and drop is not None and self.replies >= drop:
                await self.drop(faults, flush=True)
                return
            # Pushes queued right behind this one leave in the same write: a flood costs a
            # system call per batch, not per message.
            self.unflushed += 1
            if (out.kind != "push" or self.unflushed >= _FLUSH_EVERY
                    or not self.out_recv.statistics().current_buffer_used):
                self.unflushed = 0
                await self.flush()

    async def _write_batch(self, batch: list[bytes]) -> None:
        """Write a batch of pushes: flushed with what follows it when more is queued, as
        single pushes are."""
        proto = self.proto
        if proto.state is not State.OPEN:
            return
        frames = text_frames(proto, batch)
        if frames is None:
            for data in batch:
                proto.send_text(data)
        else:
            proto.writes.append(frames)
        if not self.faults().silent:
            self.stats.pushes_sent += len(batch)
        self.unflushed += len(batch)
        if (self.unflushed >= _FLUSH_EVERY
                or not self.out_recv.statistics().current_buffer_used):
            self.unflushed = 0
            await self.flush()

    # -- ending ------------------------------------------------------------------------------

    def closing_by_fault(self, kind: str, faults: Faults) -> None:
        """A knob of ``faults`` is about to close this connection: count it and, for a
        one-shot set, reset the knobs now, before the client can see the close and
        reconnect."""
        self.stats.closed_by_fault[kind] += 1
        if faults.once:
            faults.reset()

    async def drop(self, faults: Faults, *, flush: bool = False) -> None:
        """Close the TCP connection with no websocket close frame (the client sees 1006)."""
        self.closing_by_fault("drop", faults)
        if flush:
            await self.flush()
        self.scope.cancel()

    async def send_close(self, code: int, reason: str) -> None:
        """Start the closing handshake; cancel the connection if it does not finish within
        ``close_timeout``."""
        self.closing = True
        if self.proto.state is State.OPEN:
            self.proto.send_close(code, reason)
            with anyio.move_on_after(self.close_timeout):
                await self.flush()
        if self._tg is not None:
            self._tg.start_soon(self._close_timer)

    async def _close_timer(self) -> None:
        await anyio.sleep(self.close_timeout)
        self.scope.cancel()
