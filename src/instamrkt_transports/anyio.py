"""The anyio adapter: one client on asyncio or trio.

It only moves bytes and time. The caller's tasks (requests), the connection (reads) and one
timer task (sleeping until ``next_deadline()``) take turns in the core on one event loop.
After every call into the core, the shared ``Driver`` dispatches its events and frames its
output onto the current connection in the order the core released it. Each connection is a
``_aiolink.WsLink``: websockets' sans-I/O framing over a pipe (``_pipes``: an
``asyncio.Protocol`` on asyncio, anyio streams elsewhere) whose writes never block and whose
reads arrive by callback, so no caller ever waits on, or can cancel half of, a write to a
peer that stopped reading.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import anyio.to_thread

from instamrkt_proto import Credentials, Event, RequestSettled, Response, State
from instamrkt_proto.client import ClientConnection

from ._aiolink import NETWORK_ERRORS, WsLink, failure
from ._calls import AsyncCalls, ClientMetrics
from ._driver import Driver, call_provider, checked, new_core, renewed, result, submit
from ._pipes import loop_tools
from .delivery import Overflow
from .options import Options, make_options

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # anyio's own dependency on 3.10

__all__ = ("AsyncClient", "connect")


class AsyncClient(AsyncCalls):
    """An Instamrkt session on anyio. Obtain one with ``connect()``; safe across tasks."""

    def __init__(self, url: str, credentials: Credentials, options: Options,
                 tg: anyio.abc.TaskGroup) -> None:
        # A stream's send awaits before writing: with pacing on, windows start at flush time.
        self._core = new_core(url, credentials, options,
                              flush_reports=options.config.rate_limit is not None)
        self._driver = Driver(self._core, self)
        self._time, self._new_waiter = loop_tools()
        self._options = options
        self._tg = tg
        self._waiters: dict[int, Any] = {}  # request id -> future or Waiter
        self._pushes = options.push_buffer()
        # Waiters exist only while somebody waits (idle connections are many: no Events).
        self._push_ready: Any = None  # a consumer of events waits on it
        self._wake: Any = None  # the timer task waits on it
        self._gen = 0
        self._link: WsLink | None = None
        self._attempt: WsLink | None = None  # the connection being opened
        self._ready: Any = self._new_waiter()  # until the first attempt is decided
        self._paused: WsLink | None = None  # reading stopped by back-pressure

    # -- public API ---------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Pushes and lifecycle events, in order, until the client is closed.

        Raises ``ConsumerTooSlow`` once after an overflow under ``Overflow.FAIL``.
        """
        while True:
            event = await self.next_event()
            if event is None:
                return
            yield event

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The next push or lifecycle event; None after ``timeout`` seconds or once closed.

        Raises ``ConsumerTooSlow`` once after an overflow under ``Overflow.FAIL``.
        """
        pushes = self._pushes
        event = pushes.get()  # the usual case under load: no cancel scope, no waiter
        if event is None and not self._driver.finished:
            with anyio.move_on_after(math.inf if timeout is None else timeout):
                while event is None and not self._driver.finished:
                    self._push_ready = waiter = self._new_waiter()
                    try:
                        await waiter
                    finally:
                        if self._push_ready is waiter:
                            self._push_ready = None
                    event = pushes.get()
        if event is not None and self._paused is not None and not pushes.full:
            self._resume()
        return event

    def metrics(self) -> ClientMetrics:
        return ClientMetrics(session=self._core.metrics(self._time()),
                             delivery=self._pushes.metrics())

    @property
    def core(self) -> ClientConnection:
        return self._core

    async def aclose(self) -> None:
        """Close the session; outstanding calls fail. Idempotent."""
        if self._core.state is not State.CLOSED:
            self._core.close(self._time())
            self._driver.drain()
            await anyio.lowlevel.checkpoint()  # let a writer task send the close frame
        self._driver.finished = True
        _wake(self._push_ready)
        _wake(self._wake)

    # -- plumbing -----------------------------------------------------------------------------

    async def _call(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
                    idempotent: bool | None = None, retry: bool | None = None) -> Response:
        rid = submit(self._driver, op, params, self._time(), timeout, idempotent, retry)
        waiter = self._waiters[rid] = self._new_waiter()
        try:
            self._driver.drain()  # written, or handed to the writer: cancelling cannot split it
            return result(await waiter)
        finally:
            self._waiters.pop(rid, None)

    async def _timer(self) -> None:
        driver = self._driver
        while not driver.finished:
            self._wake = waiter = self._new_waiter()
            armed = driver.armed = self._core.next_deadline()
            delay = math.inf if armed is None else max(0.0, armed - self._time())
            with anyio.move_on_after(delay):
                await waiter
            self._wake = None
            deadline = self._core.next_deadline()
            now = self._time()
            if deadline is not None and now >= deadline:
                self._core.handle_timer(now)
                driver.drain()

    def _report(self, link: WsLink, report: Callable[[float], None]) -> None:
        """Tell the core about ``link``, unless it has moved on to another connection."""
        if link.gen == self._gen:
            report(self._time())
            self._driver.drain()

    async def _connection(self, url: str, gen: int) -> None:
        link = self._attempt = WsLink(gen)
        core = self._core
        made = False
        try:
            with link.scope:
                await link.open(url, self._options)
                if gen != self._gen:
                    return
                self._link = link
                made = True
                self._report(link, core.connection_made)
                flushed = (lambda: self._report(link, core.flushed)) if core.flush_reports \
                    else None
                await link.run(lambda data: self._on_data(link, data), flushed)
        except NETWORK_ERRORS as exc:
            if made:
                reason = failure(exc)[1]
                self._report(link, lambda now: core.connection_lost(now, None, reason))
            else:
                status, reason = failure(exc)
                self._report(link, lambda now: core.connection_failed(now, status, reason))
        finally:
            if self._attempt is link:
                self._attempt = None
            if self._link is link:
                self._link = None
            if self._paused is link:
                self._paused = None
            if core.flush_reports:
                # Frames this connection will never write must not hold pacing slots.
                core.flushed(self._time())
                self._driver.drain()
            if link.pipe is not None:
                await link.pipe.aclose()

    def _on_data(self, link: WsLink, data: bytes | None) -> None:
        """The pipe received ``data`` (None: the connection ended). Runs in a callback."""
        messages, too_big, closed = link.feed(data)
        core = self._core
        if link.gen == self._gen:
            now = self._time()
            for message in messages:
                core.receive_message(message, now)
            if too_big is not None:
                core.receive_too_big(too_big, now)
        self._driver.drain()
        assert link.pipe is not None
        if closed is not None:
            code, reason = closed
            self._report(link, lambda now: core.connection_lost(now, code, reason))
            link.pipe.close()
        elif self._pushes.full and self._pushes.overflow is Overflow.BACKPRESSURE \
                and link is self._link and self._paused is not link:
            self._paused = link
            link.pipe.pause()
            self._report(link, core.reading_paused)

    def _resume(self) -> None:
        link, self._paused = self._paused, None
        if link is not None and link.pipe is not None:
            link.pipe.resume()
            self._report(link, self._core.reading_resumed)

    # -- driver hooks -------------------------------------------------------------------------

    def _open_link(self, url: str) -> None:
        self._gen += 1
        self._tg.start_soon(self._connection, url, self._gen)

    def _refresh(self) -> None:
        self._tg.start_soon(self._refresher)

    async def _refresher(self) -> None:
        """Ask the provider: a coroutine function on the loop, anything else in a thread
        (a blocking login must not stall the loop)."""
        provider = self._options.refresh_credentials
        outcome: Credentials | BaseException
        if provider is not None and inspect.iscoroutinefunction(provider):
            try:
                outcome = checked(await provider())
            except Exception as exc:
                outcome = exc
        else:
            outcome = await anyio.to_thread.run_sync(call_provider, provider)
        renewed(self._core, self._time(), outcome)
        self._driver.drain()

    def _close_link(self, code: int, reason: str) -> None:
        link, self._link = self._link, None
        if link is None:  # still connecting (connect timeout, close): abandon the attempt
            self._gen += 1
            if self._attempt is not None:
                self._attempt.scope.cancel()
            return
        link.gen = -1  # its reads must not reach the core any more
        link.close(code, reason)  # flushed first; a deaf peer gets a second

    def _write(self, frames: list[bytes]) -> None:
        link = self._link
        core = self._core
        if (link is None or link.send(frames)) and core.flush_reports:
            core.flushed(self._time())  # sent (or nowhere to send): pacing goes on

    def _settle(self, event: RequestSettled) -> None:
        waiter = self._waiters.pop(event.request_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(event)

    def _deliver(self, event: Event) -> None:
        driver = self._driver
        if driver.started and self._ready is not None and not self._ready.done():
            self._ready.set_result(driver.error)
        if driver.finished:
            _wake(self._wake)
        self._pushes.put(event)
        if self._push_ready is not None:  # one wake-up per read: later puts find it done
            _wake(self._push_ready)

    def _wake_timer(self) -> None:
        _wake(self._wake)  # only an earlier deadline wakes the timer task


def _wake(waiter: Any) -> None:
    """Complete a waiter (an asyncio future or a ``Waiter``) unless absent or done."""
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


@asynccontextmanager
async def connect(url: str, credentials: Credentials, *, options: Options | None = None,
                  **kwargs: Any) -> AsyncIterator[AsyncClient]:
    """Connect, yield an ``AsyncClient``, close on exit.

    ``options`` (an ``Options``) and keyword options combine, the keywords winning.
    Raises ``AuthenticationError`` if the handshake is refused and ``ConnectionClosed`` if
    the first attempt fails; later losses reconnect (``reconnect=True``, the default).
    """
    opts = make_options(kwargs, options)
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
        client._core.connect(client._time())
        client._driver.drain()
        error = await client._ready
        client._ready = None
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
