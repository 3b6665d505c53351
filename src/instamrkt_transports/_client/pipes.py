"""What differs between asyncio and the other anyio backends: byte pipes, clock and waiters.

Why two: on asyncio, anyio's streams cost a scheduling round per send (a checkpoint before
the write) and a task hop per read (a reader task wakes the caller), which made a round trip
about 1.5x the CPU of websockets' own asyncio client. ``AioPipe`` is an ``asyncio.Protocol``:
``write`` goes to the transport at once and received bytes go straight to a callback, as in
websockets' asyncio layer, so once attached it needs no task at all: an idle connection is
a few objects, not a task and its frames. It serves direct connections on asyncio; trio and
proxied connections use ``StreamPipe``, whose ``run`` reads in a loop; what cannot be
written at once goes out from a writer task of its own, so no caller ever waits on, or can
cancel half of, a write to a peer that stopped reading.

``open_pipe`` opens one (TCP, a CONNECT tunnel, TLS). Both look alike to their user
(``_client.aiolink``): ``send``/``receive`` for the handshake, then ``attach`` a ``Sink`` for
received bytes (None at the end), ``write`` (never blocks; True if the bytes were handed to
the OS now), ``pause``/``resume`` reading, ``close`` (flush, then end; a peer that stopped
reading gets one second). The connection is over when ``StreamPipe.run`` returns (it raises
the network error that ended it, if any), or when ``AioPipe`` calls ``Sink.ended``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import anyio
import anyio.abc
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSAttribute, TLSStream

from instamrkt_proto import ConnectionClosed

from ..options import Options
from ..proxy import connect_request, parse_connect_response, proxy_for
from .driver import ssl_for

__all__ = ("AioPipe", "Pipe", "Sink", "StreamPipe", "Waiter", "loop_tools", "open_pipe",
           "running_asyncio_loop")

LINGER = 1.0
"""Seconds a closing connection may spend flushing to a peer that stopped reading."""

_STREAM_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError)


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop we run on, or None under another backend (trio runs no asyncio loop)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def loop_tools() -> tuple[Callable[[], float], Callable[[], Any]]:
    """The event loop's clock (callable from asyncio callbacks too) and a waiter factory:
    on asyncio its own futures, elsewhere ``Waiter``."""
    loop = running_asyncio_loop()
    if loop is not None:
        return loop.time, loop.create_future
    return anyio.current_time, Waiter


class Waiter:
    """A one-shot result for trio; on asyncio a bare future does the same job faster."""

    __slots__ = ("_done", "value")

    def __init__(self) -> None:
        self._done = anyio.Event()
        self.value: Any = None

    def done(self) -> bool:
        return self._done.is_set()

    def set_result(self, value: Any) -> None:
        self.value = value
        self._done.set()

    async def wait(self) -> Any:
        await self._done.wait()
        return self.value

    def __await__(self) -> Any:
        return self.wait().__await__()


class Sink(Protocol):
    """Who takes what a pipe receives. One object rather than callbacks: thousands of idle
    connections each keep theirs, and a bound method or a closure is an object apiece."""

    def received(self, data: bytes | None) -> None:
        """Bytes from the peer; None once the connection ended."""

    def ended(self) -> None:
        """``AioPipe``: the connection is over (soon after, never inside the call that
        ended it)."""


class _Ignore:
    def received(self, data: bytes | None) -> None:
        pass

    def ended(self) -> None:
        pass


_IGNORE = _Ignore()


class StreamPipe:
    """An anyio byte stream (any backend, TLS, through a proxy).

    The writer task exists only once something could not be written at once. With ``raw``
    (the stream's own socket: plain TCP on trio, whose stream sends never leave bytes
    behind) a write goes to the socket directly while nothing waits before it, and the
    writer ends once it has caught up; without, the first write starts a writer that stays.
    """

    __slots__ = ("_closing", "_error", "_out", "_paused", "_raw", "_resumed", "_scope",
                 "_sink", "_tasks", "_wake", "_writing", "on_flushed", "stream")

    def __init__(self, stream: anyio.abc.ByteStream, raw: socket.socket | None = None) -> None:
        self.stream = stream
        self.on_flushed: Callable[[], None] | None = None  # after queued bytes were sent
        self._sink: Sink = _IGNORE
        self._raw = raw
        self._out: list[bytes] = []
        self._tasks: anyio.abc.TaskGroup | None = None  # run()'s: the writer runs there
        self._writing = False  # the writer task is running
        self._wake: anyio.Event | None = None  # the writer waits for bytes, or the close
        self._resumed: anyio.Event | None = None  # the reader waits for resume()
        self._paused = False
        self._closing = False
        self._scope = anyio.CancelScope()
        self._error: BaseException | None = None

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def receive(self) -> bytes:
        return await self.stream.receive(65536)

    def attach(self, sink: Sink) -> None:
        self._sink = sink

    def write(self, data: bytes) -> bool:
        if self._scope.cancel_called:
            return False  # the pipe is over: this never goes out
        if self._raw is not None and not self._writing and not self._out:
            try:
                sent = self._raw.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self._fail(_broken(exc))  # as the stream's own send would have said
                return True
            if sent == len(data):
                return True
            data = data[sent:]
        self._out.append(data)
        if self._writing:
            if self._wake is not None:
                self._wake.set()
        elif self._tasks is not None:
            self._start_writer(self._tasks)
        return False

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        if self._resumed is not None:
            self._resumed.set()

    def close(self) -> None:
        self._closing = True
        if not self._writing and not self._out:
            self._scope.cancel()  # everything is flushed
            return
        if self._wake is not None:
            self._wake.set()
        self._scope.deadline = min(self._scope.deadline, anyio.current_time() + LINGER)

    async def run(self) -> None:
        with self._scope:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                if self._out:  # written before run: the writer starts now
                    self._start_writer(tasks)
                await self._read_loop()
        self._tasks = None
        if self._error is not None:
            raise self._error

    def _start_writer(self, tasks: anyio.abc.TaskGroup) -> None:
        self._writing = True
        tasks.start_soon(self._write_loop)

    async def _read_loop(self) -> None:
        try:
            while True:
                while self._paused:
                    self._resumed = anyio.Event()
                    await self._resumed.wait()
                self._sink.received(await self.stream.receive(65536))
        except anyio.EndOfStream:
            self._sink.received(None)
            self._scope.cancel()  # nothing more can come, nor be delivered
        except _STREAM_ERRORS as exc:
            self._fail(exc)

    async def _write_loop(self) -> None:
        try:
            while True:
                while self._out:
                    data = b"".join(self._out)
                    self._out.clear()
                    try:
                        await self.stream.send(data)
                    except _STREAM_ERRORS as exc:
                        self._fail(exc)
                        return
                    if self.on_flushed is not None and not self._out:  # never early: what
                        self.on_flushed()                    # was queued meanwhile waits
                if self._closing:
                    self._scope.cancel()
                    return
                if self._raw is not None:
                    return  # caught up: writes go to the socket directly again
                self._wake = wake = anyio.Event()
                await wake.wait()
        finally:
            self._writing = False
            self._wake = None

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self._scope.cancel()

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()


def _broken(exc: OSError) -> anyio.BrokenResourceError:
    error = anyio.BrokenResourceError()
    error.__cause__ = exc
    return error


class AioPipe(asyncio.Protocol):
    """An asyncio transport: writes go out at once, received bytes go to the sink."""

    __slots__ = ("_early", "_eof", "_finished", "_readable", "_sink", "on_flushed",
                 "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.on_flushed: Callable[[], None] | None = None  # unused: writes are never queued
        self._sink: Sink | None = None
        self._early = b""  # received before a sink was attached (the handshake)
        # Made only while somebody waits: an idle connection holds no future.
        self._readable: asyncio.Future[None] | None = None  # receive() waits on it
        self._finished = False
        self._eof = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have the interface without deriving from asyncio.Transport
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._sink is not None:
            self._sink.received(data)
        else:
            self._early += data
            _complete(self._readable)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if self._sink is not None:
            self._sink.received(None)
        _complete(self._readable)
        self._finish()

    # pipe
    async def send(self, data: bytes) -> None:
        self.write(data)

    def write(self, data: bytes) -> bool:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
        return True

    async def receive(self) -> bytes:
        """Bytes received before a sink was attached (the handshake)."""
        while not self._early:
            if self._eof:
                raise anyio.EndOfStream
            self._readable = asyncio.get_running_loop().create_future()
            try:
                await self._readable
            finally:
                self._readable = None
        data, self._early = self._early, b""
        return data

    def attach(self, sink: Sink) -> None:
        if self._early:
            data, self._early = self._early, b""
            sink.received(data)
        if self._eof:
            sink.received(None)
        self._sink = sink  # now, so that an end met above is told once, below
        if self._finished:
            asyncio.get_running_loop().call_soon(self._ended)

    def pause(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def close(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()  # flushes first
            asyncio.get_running_loop().call_later(LINGER, transport.abort)
        self._finish()

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            if self._sink is not None:
                asyncio.get_running_loop().call_soon(self._ended)

    def _ended(self) -> None:
        assert self._sink is not None
        self._sink.ended()

    async def aclose(self) -> None:
        self.close()


def _complete(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


Pipe = StreamPipe | AioPipe


async def open_pipe(url: str, options: Options) -> Pipe:
    """TCP (and TLS, and a CONNECT tunnel if a proxy applies) to the host of ``url``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    context: ssl.SSLContext | None = ssl_for(url, options)
    port = parts.port or (443 if context else 80)
    proxy = proxy_for(url, options.proxy)
    loop = running_asyncio_loop()
    if proxy is None and loop is not None:
        _transport, pipe = await loop.create_connection(
            AioPipe, host, port, ssl=context, server_hostname=host if context else None)
        return pipe
    if proxy is None:
        if context is None:
            return _stream_pipe(await anyio.connect_tcp(host, port), loop)
        return _stream_pipe(await anyio.connect_tcp(host, port, ssl_context=context,
                                                    tls_hostname=host,
                                                    tls_standard_compatible=False), loop)
    stream: anyio.abc.ByteStream = await anyio.connect_tcp(proxy.host, proxy.port)
    await stream.send(connect_request(proxy, host, port))
    head = b""
    while b"\r\n\r\n" not in head:
        head += await stream.receive(4096)
        if len(head) > 16384:
            raise ConnectionClosed("proxy answer too long")
    parse_connect_response(head)
    if context is not None:
        stream = await TLSStream.wrap(stream, hostname=host, ssl_context=context,
                                      standard_compatible=False)
    return _stream_pipe(stream, loop)


def _stream_pipe(stream: anyio.abc.ByteStream,
                 loop: asyncio.AbstractEventLoop | None) -> StreamPipe:
    """Direct writes to the socket only where nothing else can hold bytes back: not under
    TLS (the bytes must be encrypted), not on asyncio (its transport may still buffer
    what an earlier send handed it)."""
    raw = None
    if loop is None and stream.extra(TLSAttribute.ssl_object, None) is None:
        raw = stream.extra(SocketAttribute.raw_socket, None)
    return StreamPipe(stream, raw)
