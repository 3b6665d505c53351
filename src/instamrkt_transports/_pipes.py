"""What differs between asyncio and the other anyio backends: byte pipes, clock and waiters.

Why two: on asyncio, anyio's streams cost a scheduling round per send (a checkpoint before
the write) and a task hop per read (a reader task wakes the caller), which made a round trip
about 1.5x the CPU of websockets' own asyncio client. ``AioPipe`` is an ``asyncio.Protocol``:
``write`` goes to the transport at once and received bytes go straight to a callback, as in
websockets' asyncio layer. It serves direct connections on asyncio; trio and proxied
connections use ``StreamPipe``, whose ``run`` reads in a loop and writes from a writer task
of its own, so no caller ever waits on, or can cancel half of, a write to a peer that
stopped reading.

``open_pipe`` opens one (TCP, a CONNECT tunnel, TLS). Both look alike to their user
(``_aiolink``): ``send``/``receive`` for the handshake, then ``attach`` a consumer of received
bytes (None at the end), ``write`` (never blocks; True if the bytes were handed to
the OS now), ``pause``/``resume`` reading, ``close`` (flush, then end; a peer that stopped
reading gets one second) and ``run``, which returns when the connection is over and raises
the network error that ended it, if any.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream

from instamrkt_proto import ConnectionClosed

from ._driver import ssl_for
from .options import Options
from .proxy import connect_request, parse_connect_response, proxy_for

__all__ = ("AioPipe", "Pipe", "StreamPipe", "Waiter", "loop_tools", "open_pipe",
           "running_asyncio_loop")

LINGER = 1.0
"""Seconds a closing connection may spend flushing to a peer that stopped reading."""

Consumer = Callable[[bytes | None], None]


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



def _ignore(_data: bytes | None) -> None:
    pass


class StreamPipe:
    """An anyio byte stream (any backend, TLS, through a proxy)."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.on_flushed: Callable[[], None] | None = None  # after queued bytes were sent
        self._consumer: Consumer = _ignore
        self._out: list[bytes] = []
        self._wake = anyio.Event()  # the writer has bytes to send, or must close
        self._resumed = anyio.Event()
        self._paused = False
        self._closing = anyio.Event()
        self._scope = anyio.CancelScope()
        self._error: BaseException | None = None

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def receive(self) -> bytes:
        return await self.stream.receive(65536)

    def attach(self, consumer: Consumer) -> None:
        self._consumer = consumer

    def write(self, data: bytes) -> bool:
        self._out.append(data)
        self._wake.set()
        return False

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._resumed.set()

    def close(self) -> None:
        self._closing.set()
        self._wake.set()

    async def run(self) -> None:
        with self._scope:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._write_loop)
                tasks.start_soon(self._linger)
                await self._read_loop()
        if self._error is not None:
            raise self._error

    async def _read_loop(self) -> None:
        try:
            while True:
                while self._paused:
                    self._resumed = anyio.Event()
                    await self._resumed.wait()
                self._consumer(await self.stream.receive(65536))
        except anyio.EndOfStream:
            self._consumer(None)
            self._scope.cancel()  # nothing more can come, nor be delivered
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            self._fail(exc)

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._out:
                data = b"".join(self._out)
                self._out.clear()
                try:
                    await self.stream.send(data)
                except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                    self._fail(exc)
                    return
                if self.on_flushed is not None and not self._out:  # never early: what was
                    self.on_flushed()                                # queued meanwhile waits
            if self._closing.is_set():
                self._scope.cancel()
                return

    async def _linger(self) -> None:
        await self._closing.wait()
        await anyio.sleep(LINGER)
        self._scope.cancel()

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self._scope.cancel()

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()


class AioPipe(asyncio.Protocol):
    """An asyncio transport: writes go out at once, received bytes go to the consumer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.on_flushed: Callable[[], None] | None = None  # unused: writes are never queued
        self._consumer: Consumer | None = None
        self._early: list[bytes] = []
        # Futures made only while somebody waits: an idle connection holds no Event.
        self._readable: asyncio.Future[None] | None = None  # receive() waits on it
        self._done: asyncio.Future[None] | None = None  # run() waits on it
        self._finished = False
        self._eof = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have the interface without deriving from asyncio.Transport
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._consumer is not None:
            self._consumer(data)
        else:
            self._early.append(data)
            _complete(self._readable)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if self._consumer is not None:
            self._consumer(None)
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
        """Bytes received before a consumer was attached (the handshake)."""
        while not self._early:
            if self._eof:
                raise anyio.EndOfStream
            self._readable = asyncio.get_running_loop().create_future()
            try:
                await self._readable
            finally:
                self._readable = None
        data = b"".join(self._early)
        self._early.clear()
        return data

    def attach(self, consumer: Consumer) -> None:
        self._consumer = consumer
        if self._early:
            data = b"".join(self._early)
            self._early.clear()
            consumer(data)
        if self._eof:
            consumer(None)

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
        self._finished = True
        _complete(self._done)

    async def run(self) -> None:
        if not self._finished:
            self._done = asyncio.get_running_loop().create_future()
            try:
                await self._done
            finally:
                self._done = None

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
            return StreamPipe(await anyio.connect_tcp(host, port))
        return StreamPipe(await anyio.connect_tcp(host, port, ssl_context=context,
                                                  tls_hostname=host,
                                                  tls_standard_compatible=False))
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
    return StreamPipe(stream)

