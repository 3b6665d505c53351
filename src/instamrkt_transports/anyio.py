"""The anyio adapter: one client on asyncio or trio.

It only moves bytes and time. Three kinds of task touch the core, never at the same moment
(one event loop): the caller's tasks (requests), one connection task per websocket (reads),
and one timer task that sleeps until ``next_deadline()``. After every call into the core,
``_after`` dispatches its events and frames its output; ``_flush`` writes that output in
order under a lock, so pipelined requests reach the wire in the order the core sent them.
Framing is websockets' sans-I/O ``ClientProtocol`` (chosen by ``benchmarks/bench_framing.py``),
without permessage-deflate.
"""

from __future__ import annotations

import contextlib
import logging
import math
import ssl
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidStatus, PayloadTooBig
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State as WsState
from websockets.uri import parse_uri

from instamrkt_proto import (
    Closed,
    CloseTransport,
    Connected,
    Connecting,
    ConnectionClosed,
    Credentials,
    Event,
    LoggedOn,
    OpcodeTable,
    Pong,
    RequestSettled,
    State,
)

from .delivery import DeliveryMetrics, Overflow
from .options import (
    NoDebugLogger,
    Options,
    closed_error,
    make_options,
    new_core,
    result,
    ssl_for,
)
from .proxy import connect_request, parse_connect_response, proxy_for

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # anyio's own dependency on 3.10

__all__ = ("AsyncClient", "connect")

_NETWORK_ERRORS = (OSError, ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream,
                   anyio.ClosedResourceError, ConnectionClosed, InvalidHandshake)

_DATA = (Opcode.TEXT, Opcode.BINARY)
_WS_LOG = NoDebugLogger(logging.getLogger("instamrkt_transports.anyio.websockets"), {})


class _Waiter:
    __slots__ = ("_done", "value")

    def __init__(self) -> None:
        self._done = anyio.Event()
        self.value: Any = None

    def set(self, value: Any) -> None:
        self.value = value
        self._done.set()

    async def wait(self) -> Any:
        await self._done.wait()
        return self.value


class _Link:
    """One websocket connection attempt: its generation, stream and framing state."""

    __slots__ = ("gen", "proto", "scope", "stream")

    def __init__(self, gen: int) -> None:
        self.gen = gen
        self.scope = anyio.CancelScope()
        self.stream: anyio.abc.ByteStream | None = None
        self.proto: ClientProtocol | None = None


class AsyncClient:
    """An Instamrkt session on anyio. Obtain one with ``connect()``; safe across tasks."""

    def __init__(self, url: str, credentials: Credentials, options: Options,
                 tg: anyio.abc.TaskGroup) -> None:
        # Writes lag behind the core (a send awaits), so pacing windows start at flush time.
        self._core = new_core(url, credentials, options, flush_reports=True)
        self._options = options
        self._tg = tg
        self._waiters: dict[int, _Waiter] = {}
        self._pushes = options.push_buffer()
        self._push_ready = anyio.Event()
        self._space = anyio.Event()
        self._wake = anyio.Event()
        self._armed: float | None = None
        self._gen = 0
        self._link: _Link | None = None
        self._out: list[bytes] = []
        self._send_lock = anyio.Lock(fast_acquire=True)
        self._ready = _Waiter()
        self._finished = False

    # -- public API ---------------------------------------------------------------------------

    async def ping(self, *, timeout: float | None = None) -> Pong:
        return await self._call(1, None, timeout)  # type: ignore[no-any-return]

    async def opcodes(self, *, timeout: float | None = None) -> OpcodeTable:
        return await self._call(2, None, timeout)  # type: ignore[no-any-return]

    async def logon(self, *, timeout: float | None = None) -> LoggedOn:
        """Log on; raises ``LogonError`` if refused. ``already_logged_in`` flags res 112."""
        return await self._call(100, None, timeout)  # type: ignore[no-any-return]

    async def request(self, op: int | str, /, **params: Any) -> Any:
        """Send op (a number or a documented name) and return its ``Response``."""
        return await self._call(op, params, None)

    async def send(self, op: int | str, params: dict[str, Any] | None = None, *,
                   timeout: float | None = None, idempotent: bool | None = None,
                   retry: bool | None = None) -> Any:
        """``request`` with the core's per-request options."""
        return await self._call(op, params, timeout, idempotent=idempotent, retry=retry)

    async def events(self) -> AsyncIterator[Event]:
        """Pushes and lifecycle events, in order, until the client is closed."""
        while True:
            event = self._pushes.get()
            if event is not None:
                if not self._pushes.full:
                    self._space.set()
                yield event
                continue
            if self._finished:
                return
            self._push_ready = anyio.Event()
            await self._push_ready.wait()

    def metrics(self) -> tuple[Any, DeliveryMetrics]:
        """(core metrics, push-queue metrics)."""
        return self._core.metrics(anyio.current_time()), self._pushes.metrics()

    @property
    def core(self) -> Any:
        """The sans-IO core (read-only use: state, clock, joined_games)."""
        return self._core

    async def aclose(self) -> None:
        """Close the session; outstanding calls fail. Idempotent."""
        if self._core.state is not State.CLOSED:
            self._core.close(anyio.current_time())
            self._after()
            await self._flush()
        self._finished = True
        self._push_ready.set()
        self._wake.set()

    # -- plumbing -----------------------------------------------------------------------------

    async def _call(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
                    **extra: Any) -> Any:
        core = self._core
        if core.state is State.CLOSED:
            raise closed_error(core)
        kwargs: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
        if timeout is not None:
            kwargs["timeout"] = timeout
        rid = core.send_request(op, params, now=anyio.current_time(), **kwargs)
        waiter = self._waiters[rid] = _Waiter()
        try:
            self._after()
            await self._flush()
            return result(await waiter.wait())
        finally:
            self._waiters.pop(rid, None)

    def _after(self) -> None:
        """Dispatch the core's events and frame its output (synchronous: no task switch)."""
        core = self._core
        for event in core.events_received():
            self._dispatch(event)
        frames = core.data_to_send()
        link = self._link
        if frames and link is not None and link.proto is not None:
            proto = link.proto
            for frame in frames:
                proto.send_text(frame)
            self._out.extend(proto.data_to_send())
        elif frames:
            core.flushed(anyio.current_time())  # nowhere to write: the connection is gone
        deadline = core.next_deadline()
        if deadline is not None and (self._armed is None or deadline < self._armed):
            self._armed = deadline  # only an earlier deadline wakes the timer task
            self._wake.set()

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, RequestSettled):
            waiter = self._waiters.pop(event.request_id, None)
            if waiter is not None:
                waiter.set(event)
            return
        if isinstance(event, Connecting):
            self._gen += 1
            self._tg.start_soon(self._connection, event.url, self._gen)
            return
        if isinstance(event, CloseTransport):
            self._drop_link(event)
            return
        if isinstance(event, Connected):
            self._ready.set(None)
        elif isinstance(event, Closed):
            if not self._ready._done.is_set():
                self._ready.set(event.error or ConnectionClosed(event.reason, event.code))
            if event.reconnect_at is None:
                self._finished = True
                self._wake.set()
        self._pushes.put(event)
        self._push_ready.set()

    def _drop_link(self, event: CloseTransport) -> None:
        link, self._link = self._link, None
        if link is None:  # still connecting: abandon the attempt
            self._gen += 1
            return
        if link.proto is not None and link.proto.state is WsState.OPEN:
            link.proto.send_close(event.code if event.code != 1006 else 1011, event.reason)
            self._out.extend(link.proto.data_to_send())
        link.gen = -1  # its task must not report anything more
        self._tg.start_soon(self._linger, link)

    async def _linger(self, link: _Link) -> None:
        await self._flush(link)
        link.scope.cancel()

    async def _flush(self, link: _Link | None = None) -> None:
        """Write everything framed so far, in order; then tell the core it left."""
        while self._out:
            async with self._send_lock:
                if not self._out:
                    return
                data = b"".join(self._out)
                self._out.clear()
                target = link or self._link
                if target is not None and target.stream is not None:
                    with contextlib.suppress(*_NETWORK_ERRORS):  # the reader reports it
                        await target.stream.send(data)
                self._core.flushed(anyio.current_time())
                self._after()

    async def _timer(self) -> None:
        while not self._finished:
            self._wake = anyio.Event()
            armed = self._armed = self._core.next_deadline()
            delay = math.inf if armed is None else max(0.0, armed - anyio.current_time())
            with anyio.move_on_after(delay):
                await self._wake.wait()
            deadline = self._core.next_deadline()
            now = anyio.current_time()
            if deadline is not None and now >= deadline:
                self._core.handle_timer(now)
                self._after()
                await self._flush()

    def _report(self, gen: int, method: str, *args: Any) -> None:
        if gen == self._gen:
            getattr(self._core, method)(anyio.current_time(), *args)
            self._after()

    async def _connection(self, url: str, gen: int) -> None:
        link = _Link(gen)
        made = False
        try:
            with link.scope:
                link.stream = await self._open_stream(url)
                proto = ClientProtocol(parse_uri(url), max_size=_ws_max(self._options),
                                       logger=_WS_LOG)
                proto.send_request(proto.connect())
                await link.stream.send(b"".join(proto.data_to_send()))
                events: list[Any] = []
                while not events:
                    proto.receive_data(await link.stream.receive(65536))
                    events = proto.events_received()
                response = events[0]
                if proto.handshake_exc is not None:
                    status = response.status_code if isinstance(response, Response) else None
                    if isinstance(proto.handshake_exc, InvalidStatus):
                        status = proto.handshake_exc.response.status_code
                    self._report(link.gen, "connection_failed", status, str(status or "handshake"))
                    return
                link.proto = proto
                if gen != self._gen:
                    return
                self._link = link
                made = True
                self._report(link.gen, "connection_made")
                await self._flush()
                await self._read(link, proto, events[1:])
        except _NETWORK_ERRORS as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._report(link.gen, "connection_lost" if made else "connection_failed",
                         None, reason)
            await self._flush()
        finally:
            if self._link is link:
                self._link = None
            if link.stream is not None:
                with anyio.CancelScope(shield=True):
                    await link.stream.aclose()

    async def _read(self, link: _Link, proto: ClientProtocol, events: list[Any]) -> None:
        assert link.stream is not None
        core, pushes = self._core, self._pushes
        backpressure = pushes.overflow is Overflow.BACKPRESSURE
        while True:
            now = anyio.current_time()
            for frame in events:
                if frame.opcode in _DATA and link.gen == self._gen:
                    core.receive_message(frame.data, now)
            if isinstance(proto.parser_exc, PayloadTooBig) and link.gen == self._gen:
                too_big = proto.parser_exc
                core.receive_too_big(too_big.size or (too_big.max_size or 0) + 1, now)
            self._out.extend(b for b in proto.data_to_send() if b)
            self._after()
            await self._flush()
            if proto.state is WsState.CLOSED or proto.close_rcvd is not None:
                rcvd = proto.close_rcvd
                code, reason = (rcvd.code, rcvd.reason) if rcvd else (1006, "connection closed")
                self._report(link.gen, "connection_lost", code, reason)
                return
            while backpressure and pushes.full and not self._finished:
                self._space = anyio.Event()
                core.note_alive(anyio.current_time())
                with anyio.move_on_after(1.0):
                    await self._space.wait()
            try:
                data = await link.stream.receive(65536)
            except anyio.EndOfStream:
                proto.receive_eof()
            else:
                proto.receive_data(data)
            events = proto.events_received()

    async def _open_stream(self, url: str) -> anyio.abc.ByteStream:
        parts = urlsplit(url)
        host = parts.hostname or ""
        context = ssl_for(url, self._options)
        port = parts.port or (443 if context else 80)
        proxy = proxy_for(url, self._options.proxy)
        if proxy is None:
            if context is None:
                return await anyio.connect_tcp(host, port)
            return await anyio.connect_tcp(host, port, ssl_context=context, tls_hostname=host,
                                           tls_standard_compatible=False)
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
        return stream


def _ws_max(options: Options) -> int | None:
    # The framing layer refuses an oversized message before buffering it; the core then
    # reports it (receive_too_big) exactly as if it had seen it.
    return options.max_message_size


@asynccontextmanager
async def connect(url: str, credentials: Credentials, **options: Any
                  ) -> AsyncIterator[AsyncClient]:
    """Connect, yield an ``AsyncClient``, close on exit.

    Raises ``AuthenticationError`` if the handshake is refused and ``ConnectionClosed`` if
    the first attempt fails; later losses reconnect (``reconnect=True``, the default).
    """
    opts = make_options(options)
    try:
        async with _client_tasks(url, credentials, opts) as client:
            yield client
    except BaseExceptionGroup as group:
        # Our tasks never raise, so the group only wraps the caller's own exception.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


@asynccontextmanager
async def _client_tasks(url: str, credentials: Credentials, opts: Options
                        ) -> AsyncIterator[AsyncClient]:
    error: BaseException | None = None
    async with anyio.create_task_group() as tg:
        client = AsyncClient(url, credentials, opts, tg)
        tg.start_soon(client._timer)
        client._core.connect(anyio.current_time())
        client._after()
        error = await client._ready.wait()
        if error is None:
            try:
                yield client
            finally:
                await client.aclose()
                tg.cancel_scope.cancel()
        else:
            await client.aclose()
            tg.cancel_scope.cancel()
    if error is not None:
        raise error
