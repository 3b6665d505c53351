"""The anyio adapter: one client on asyncio or trio.

It only moves bytes and time. The caller's tasks (requests), the connection (reads) and a
timer (firing at ``next_deadline()``) take turns in the core on one event loop. After every
call into the core, the shared ``Driver`` dispatches its events and frames its output onto
the current connection in the order the core released it. Each connection is a
``_client.aiolink.WsLink``: websockets' sans-I/O framing over a pipe (``_client.pipes``: an
``asyncio.Protocol`` on asyncio, anyio streams elsewhere) whose writes never block and whose
reads arrive by callback, so no caller ever waits on, or can cancel half of, a write to a
peer that stopped reading.

An idle client is what a process keeps thousands of, so on asyncio it keeps no task: the
timer is a loop timer handle and a connection, once open, lives on its protocol's
callbacks (a task only opens it). Trio has neither, so there a timer task sleeps in a
cancel scope (woken by cancelling it) and a task reads each connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import math
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import anyio.to_thread

from instamrkt_proto import Credentials, Event, RequestSettled, Response, State
from instamrkt_proto.client import ClientConnection
from instamrkt_proto.mirror import MarketMirror

from ._client.aiolink import NETWORK_ERRORS, WsLink, failure
from ._client.calls import AsyncCalls, ClientMetrics
from ._client.driver import (
    Driver,
    call_provider,
    checked,
    new_core,
    new_mirror,
    renewed,
    result,
    submit,
)
from ._client.pipes import loop_tools, running_asyncio_loop
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
        self._driver = Driver(self._core, self, new_mirror(credentials, options))
        self._loop = running_asyncio_loop()
        self._time, self._new_waiter = loop_tools()
        self._options = options
        self._tg = tg
        self._waiters: dict[int, Any] = {}  # request id -> future or Waiter
        self._pushes = options.push_buffer()
        # Waiters exist only while somebody waits (idle connections are many: no Events).
        self._push_ready: Any = None  # a consumer of events waits on it
        self._timer: asyncio.TimerHandle | None = None  # the timer, on asyncio
        # The timer's callbacks all run in one copy of the caller's context, as a timer task
        # would (and a handle needs no copy of its own).
        self._context = contextvars.copy_context() if self._loop is not None else None
        self._wake: anyio.CancelScope | None = None  # the timer task sleeps in it (trio)
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
        pushes = self._pushes
        while True:
            event = pushes.get()  # under a flood the event is there: no coroutine to await
            if event is None:
                event = await self.next_event()
                if event is None:
                    return
            else:
                self._took()
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
        if event is not None:
            self._took()
        return event

    def _took(self) -> None:
        """An event left the buffer: reading resumes once back-pressure has room again."""
        if self._paused is not None and not self._pushes.full:
            self._resume()

    def metrics(self) -> ClientMetrics:
        return ClientMetrics(session=self._core.metrics(self._time()),
                             delivery=self._pushes.metrics())

    @property
    def core(self) -> ClientConnection:
        return self._core

    @property
    def mirror(self) -> MarketMirror | None:
        return self._driver.mirror

    async def aclose(self) -> None:
        """Close the session; outstanding calls fail. Idempotent."""
        if self._core.state is not State.CLOSED:
            self._core.close(self._time())
            self._driver.drain()
            await anyio.lowlevel.checkpoint()  # let a writer task send the close frame
        self._driver.finished = True
        _wake(self._push_ready)
        self._wake_timer()

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

    def _start_timer(self) -> None:
        if self._loop is None:
            self._tg.start_soon(self._timer_task)
        else:
            self._arm()

    def _arm(self) -> None:
        """asyncio: (re)arm the loop timer at the core's next deadline."""
        assert self._loop is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        driver = self._driver
        if driver.finished:
            return
        armed = driver.armed = self._core.next_deadline()
        if armed is not None:
            self._timer = self._loop.call_at(armed, self._on_timer, context=self._context)

    def _on_timer(self) -> None:
        self._timer = None
        self._fire()
        self._arm()

    async def _timer_task(self) -> None:
        """trio: sleep until the next deadline, or until ``_wake_timer`` cancels the sleep.

        On an event nobody sets: ``anyio.sleep_forever`` would sleep in a cancel scope of
        its own, about 1 KiB more per idle client.
        """
        driver = self._driver
        while not driver.finished:
            armed = driver.armed = self._core.next_deadline()
            with anyio.CancelScope(deadline=math.inf if armed is None else armed) as scope:
                self._wake = scope
                await anyio.Event().wait()
            self._wake = None
            self._fire()

    def _fire(self) -> None:
        """Let the core act on its deadline, if it has come."""
        deadline = self._core.next_deadline()
        now = self._time()
        if deadline is not None and now >= deadline:
            self._core.handle_timer(now)
            self._driver.drain()

    def _report(self, link: WsLink, report: Callable[[float], None]) -> None:
        """Tell the core about ``link``, unless it has moved on to another connection."""
        if link.gen == self._gen:
            report(self._time())
            self._driver.drain()

    async def _connection(self, url: str, gen: int) -> None:
        link = self._attempt = WsLink(gen, self)
        assert link.scope is not None
        core = self._core
        made = handed_off = False
        try:
            with link.scope:
                await link.open(url, self._options)
                if gen != self._gen:
                    return
                self._link = link
                made = True
                self._report(link, core.connection_made)
                flushed = partial(self._report, link, core.flushed) if core.flush_reports \
                    else None
                if link.hand_off(flushed):
                    handed_off = True
                    return
                await link.run(flushed)
        except NETWORK_ERRORS as exc:
            if made:
                reason = failure(exc)[1]
                self._report(link, lambda now: core.connection_lost(now, None, reason))
            else:
                status, reason = failure(exc)
                self._report(link, lambda now: core.connection_failed(now, status, reason))
        finally:
            link.scope = None
            if self._attempt is link:
                self._attempt = None
            if not handed_off:
                self._forget(link)
                if link.pipe is not None:
                    await link.pipe.aclose()

    def _ended(self, link: WsLink) -> None:
        """A connection carried by its pipe's callbacks is over: what the end of its task
        does for the others."""
        self._forget(link)
        if link.pipe is not None:
            link.pipe.close()

    def _forget(self, link: WsLink) -> None:
        if self._link is link:
            self._link = None
        if self._paused is link:
            self._paused = None
        core = self._core
        if core.flush_reports:
            # Frames this connection will never write must not hold pacing slots.
            core.flushed(self._time())
            self._driver.drain()

    def _release(self) -> None:
        """At exit: close a connection no task carries, as cancelling its task would."""
        link = self._link
        if link is not None and link.scope is None and link.pipe is not None:
            link.pipe.close()

    def _on_data(self, link: WsLink, data: bytes | None) -> None:
        """The pipe received ``data`` (None: the connection ended). Runs in a callback."""
        messages, too_big, closed = link.feed(data)
        core = self._core
        if link.gen == self._gen:
            now = self._time()
            core.receive_messages(messages, now)
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
            if self._attempt is not None and self._attempt.scope is not None:
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
            self._wake_timer()
        self._pushes.put(event)
        waiter = self._push_ready
        if waiter is not None:  # one wake-up per read: later puts find nobody waiting
            self._push_ready = None
            _wake(waiter)

    def _wake_timer(self) -> None:
        """An earlier deadline, or the end: the timer must look again."""
        if self._loop is not None:
            self._arm()
        elif self._wake is not None:
            self._wake.cancel()


def _wake(waiter: Any) -> None:
    """Complete a waiter (an asyncio future or a ``Waiter``) unless absent or done."""
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def connect(url: str, credentials: Credentials, *, options: Options | None = None,
            **kwargs: Any) -> AbstractAsyncContextManager[AsyncClient]:
    """Connect, yield an ``AsyncClient``, close on exit (``async with connect(...) as c``).

    ``options`` (an ``Options``) and keyword options combine, the keywords winning.
    Raises ``AuthenticationError`` if the handshake is refused and ``ConnectionClosed`` if
    the first attempt fails; later losses reconnect (``reconnect=True``, the default).
    """
    return _Session(url, credentials, options, kwargs)


class _Session:
    """What ``connect`` returns. A class rather than an ``asynccontextmanager``: a client
    lives inside it, and suspended generators (their frames, arguments, the loop's weak
    references to them) were over a tenth of an idle client.

    It does what ``async with`` over the client's task group would, then unwraps the group:
    our tasks never raise, so a group only wraps the caller's own exception.
    """

    __slots__ = ("_client", "_credentials", "_kwargs", "_options", "_tg", "_url")

    def __init__(self, url: str, credentials: Credentials, options: Options | None,
                 kwargs: dict[str, Any]) -> None:
        self._url = url
        self._credentials = credentials
        self._options = options
        self._kwargs: dict[str, Any] | None = kwargs
        self._tg: anyio.abc.TaskGroup | None = None
        self._client: AsyncClient | None = None

    async def __aenter__(self) -> AsyncClient:
        if self._kwargs is None:
            raise RuntimeError("connect() is entered once")
        opts = make_options(self._kwargs, self._options)
        self._kwargs = self._options = None
        tg = anyio.create_task_group()
        await tg.__aenter__()
        client: AsyncClient | None = None
        try:
            client = AsyncClient(self._url, self._credentials, opts, tg)
            client._start_timer()
            client._core.connect(client._time())
            client._driver.drain()
            error = await client._ready
            client._ready = None
            if error is not None:
                await client.aclose()
                tg.cancel_scope.cancel()
        except BaseException as exc:
            if not await _leave(tg, client, exc):
                raise
            raise RuntimeError("the client's task group ended before it connected") from None
        if error is not None:
            await _leave(tg, client, None)
            raise error
        self._tg, self._client = tg, client
        return client

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        tg, client = self._tg, self._client
        assert tg is not None and client is not None
        ended = exc  # how the task group's body ends
        try:
            await client.aclose()
            tg.cancel_scope.cancel()
        except BaseException as new:
            if new is not exc and new.__context__ is None:
                new.__context__ = exc
            ended = new
        try:
            if await _leave(tg, client, ended):
                return True
            if ended is not exc:
                assert ended is not None
                raise ended
        except BaseException as final:
            if final is exc:  # the caller's own: it goes on as it came
                final.__traceback__ = tb
                return False
            raise
        return False


async def _leave(tg: anyio.abc.TaskGroup, client: AsyncClient | None,
                 exc: BaseException | None) -> bool:
    """Exit ``tg`` as ``async with`` would after its body ended with ``exc``; True if the
    group swallowed it, False if it goes on. A group of one is unwrapped (raised)."""
    try:
        try:
            if exc is None:
                await tg.__aexit__(None, None, None)
                return False
            if await tg.__aexit__(type(exc), exc, exc.__traceback__):
                return True
            if isinstance(exc, BaseExceptionGroup):
                raise exc
            return False
        finally:
            if client is not None:
                client._release()
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
