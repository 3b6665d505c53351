"""Byte pipes for the anyio adapter: anyio streams everywhere, an asyncio fast path.

Why two: on asyncio, anyio's streams cost a scheduling round per send (a checkpoint before
the write) and a task hop per read (a reader task wakes the caller), which made a round trip
about 1.5x the CPU of websockets' own asyncio client. ``AioPipe`` is an ``asyncio.Protocol``:
``write`` is synchronous and received bytes go straight to a callback, as in websockets'
asyncio layer. It serves direct connections on asyncio; trio and proxied connections use
``StreamPipe``. Both are opened by ``open_pipe`` and look alike to the adapter until the
handshake is done; then the adapter reads an ``AioPipe`` by callback and a ``StreamPipe`` by
looping on ``receive``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream

from instamrkt_proto import ConnectionClosed

from .options import Options, ssl_for
from .proxy import connect_request, parse_connect_response, proxy_for

__all__ = ("AioPipe", "StreamPipe", "open_pipe", "running_asyncio_loop")


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop we run on, or None under another backend (trio runs no asyncio loop)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class StreamPipe:
    """An anyio byte stream (any backend, TLS, through a proxy)."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def receive(self) -> bytes:
        return await self.stream.receive(65536)

    def pause(self) -> None:
        """Nothing to do: the reader loop simply stops calling ``receive``."""

    def resume(self) -> None:
        pass

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()


class AioPipe(asyncio.Protocol):
    """An asyncio transport: synchronous writes, received bytes pushed to ``consumer``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.consumer: Callable[[bytes | None], None] | None = None  # None: end of stream
        self._early: list[bytes] = []
        self._readable = asyncio.Event()
        self._eof = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.consumer is not None:
            self.consumer(data)
        else:
            self._early.append(data)
            self._readable.set()

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if self.consumer is not None:
            self.consumer(None)
        self._readable.set()

    # pipe
    async def send(self, data: bytes) -> None:
        self.write(data)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def receive(self) -> bytes:
        """Bytes received before a consumer was attached (the handshake)."""
        while not self._early:
            if self._eof:
                raise anyio.EndOfStream
            self._readable.clear()
            await self._readable.wait()
        data = b"".join(self._early)
        self._early.clear()
        return data

    def attach(self, consumer: Callable[[bytes | None], None]) -> None:
        """From now on, deliver received bytes (and None at the end) to ``consumer``."""
        self.consumer = consumer
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

    async def aclose(self) -> None:
        """Close after flushing; a peer that stopped reading gets one second, then a reset."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()
            asyncio.get_running_loop().call_later(1.0, transport.abort)


async def open_pipe(url: str, options: Options) -> StreamPipe | AioPipe:
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
