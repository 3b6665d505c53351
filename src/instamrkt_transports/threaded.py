"""The threaded adapter: websocket-client with a background reader; every method thread-safe.

One lock guards the core and socket writes. Every call into the core runs under it and is
followed by ``_drain``, which dispatches the core's events and writes its output before the
lock is released, so pipelined requests hit the wire in the core's order. User code runs
outside the lock: futures are settled after it is released, and ``on_event`` runs on a
delivery thread of its own. Threads: a reader per connection attempt (it opens the socket,
then reads), a timer thread sleeping on a condition until ``next_deadline()`` (woken only by
an earlier deadline, never polling) and, with ``on_event``, a delivery thread.
``close()`` aborts the socket so a blocked read returns at once, then joins them.

Leader and follower: a thread that makes a blocking call reads the socket itself until its
reply is in, if nobody else is reading, instead of sleeping until the reader thread hands the
reply over (two thread wake-ups per round trip; this way one, as in the blocking adapter).
Reading is one role, held by whoever holds ``_token``: the calling thread, or the reader
thread, which between calls waits for the socket to become readable without holding it. The
caller reads what comes (other callers' replies, pushes, pings) exactly as the reader thread
would, runs the core's timers when they fall due, and gives the role back once its request is
settled, by its reply, its timeout or a loss. It does not read when the push buffer is full
under back-pressure: then the reader thread's rule applies, and the call waits for it.

Pushes and lifecycle events go in order, one at a time, to ``on_event(event)``, or without a
callback to the buffer read by ``next_event``. Either way, when the buffer is full the reader
stops reading until the consumer makes room, so TCP pushes back on the server. The buffer has
a lock of its own, so consumers take events while a reader works in the core. An exception
raised by ``on_event`` is logged (logger ``instamrkt_transports.threaded``) and delivery goes
on with the next event: one bad event must not end a session that moves money.

With ``mirror=True``, ``_drain`` applies each event to ``client.mirror`` under the lock,
before the event is delivered; the mirror is written only there. Any other thread, and
``on_event``, reads it through ``client.mirror.snapshot()``: a consistent frozen copy taken
between two events (docs/mirror.md, "Threads").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from websocket import WebSocketTimeoutException

from instamrkt_proto import (
    Credentials,
    Event,
    InstamrktError,
    LocalProtocolError,
    RequestSettled,
    Response,
    State,
)
from instamrkt_proto.client import ClientConnection
from instamrkt_proto.mirror import MarketMirror

from ._client.calls import Calls, ClientMetrics, FutureCalls
from ._client.driver import Driver, call_provider, new_core, new_mirror, renewed, result, submit
from ._client.wsclient import DATA, NETWORK_ERRORS, SEND_TIMEOUT, Link, report_loss, write_budget
from .delivery import Mailbox, Overflow
from .options import Options, make_options

__all__ = ("ThreadedClient", "connect")

log = logging.getLogger("instamrkt_transports.threaded")

_Settle = list[tuple["Future[Response]", RequestSettled]]


class ThreadedClient(Calls, FutureCalls):
    """An Instamrkt session safe to share between threads. Obtain one with ``connect()``.

    Each call blocks its caller until its own reply; the ``*_async`` forms return a
    ``concurrent.futures.Future`` instead (it cannot be cancelled: the core settles it).
    """

    def __init__(self, url: str, credentials: Credentials, options: Options,
                 on_event: Callable[[Event], object] | None = None) -> None:
        self._core = new_core(url, credentials, options)
        self._driver = Driver(self._core, self, new_mirror(credentials, options))
        self._options = options
        self._on_event = on_event
        self._lock = threading.Lock()
        self._timer_cv = threading.Condition(self._lock)
        self._ready = threading.Event()
        self._futures: dict[int, Future[Response] | _Slot] = {}
        self._todo: _Settle = []  # futures to settle once the lock is released
        self._outbox: list[Event] = []  # events for the push buffer, lock held
        self._pushes = Mailbox(options.push_buffer())
        self._gen = 0
        self._link: Link | None = None
        self._token = threading.Lock()  # the reading role (see the module docstring)
        self._threads: list[threading.Thread] = []

    # -- public API ---------------------------------------------------------------------------

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next push or lifecycle event; None after ``timeout`` seconds or once closed.

        Only without ``on_event``. Raises ``ConsumerTooSlow`` once after an overflow under
        ``Overflow.FAIL``. Several threads may wait; each event goes to one of them.
        """
        if self._on_event is not None:
            raise LocalProtocolError("events go to on_event; next_event is not available")
        return self._pushes.get(timeout)

    def metrics(self) -> ClientMetrics:
        with self._lock:
            session = self._core.metrics(time.monotonic())
        return ClientMetrics(session=session, delivery=self._pushes.metrics())

    @property
    def core(self) -> ClientConnection:
        """The sans-IO session (read-only use; racy outside the client's own threads)."""
        return self._core

    @property
    def mirror(self) -> MarketMirror | None:
        return self._driver.mirror

    def close(self) -> None:
        """Close the session from any thread; outstanding calls fail. Idempotent, prompt."""
        todo: _Settle = []
        if not self._lock.acquire(timeout=0.2):  # a write is stuck on a peer that stopped
            link = self._link                       # reading: break it, then close
            if link is not None:
                link.abort()
            self._lock.acquire()
        with _held(self._lock):
            if self._core.state is not State.CLOSED:
                self._core.close(time.monotonic())
                todo = self._drain()
            self._driver.finished = True
            link, self._link = self._link, None
            self._timer_cv.notify_all()
            self._pushes.close()
        self._ready.set()
        _settle(todo)
        if link is not None:
            link.abort()
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout=5.0)  # bounded: a reader blocked in connect() is daemonic

    # -- plumbing (methods documented "lock held" expect the caller to hold it) --------------

    def _start(self) -> None:
        self._spawn(self._timer, "timer")
        if self._on_event is not None:
            self._spawn(self._pushes.deliver, "events", self._on_event, log)
        with self._lock:
            self._core.connect(time.monotonic())
            self._drain()  # no request yet: nothing to settle
        self._ready.wait()
        if self._driver.error is not None:
            self.close()
            raise self._driver.error

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=target, args=args, name=f"instamrkt-{name}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _call(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
              idempotent: bool | None = None, retry: bool | None = None) -> Response:
        link = self._link
        if link is None or not link.mutable or not self._token.acquire(blocking=False):
            return self._submit(op, params, timeout, idempotent, retry).result()
        slot = _Slot()
        link.mute(True)  # before the request goes out: its reply must not wake the reader
        try:
            with self._lock:
                rid = submit(self._driver, op, params, time.monotonic(), timeout, idempotent,
                             retry)
                self._futures[rid] = slot
                todo = self._drain()
                ready = self._read_timeout(link)
            _settle(todo)
            self._lead(link, slot, ready)
        finally:
            link.mute(False)
            with self._lock:  # the reader thread's reads wait for no deadline of ours
                link.settimeout(SEND_TIMEOUT)
                if slot.event is None:  # the reader thread takes over: wait for it
                    slot.waiter = threading.Lock()
                    slot.waiter.acquire()
            self._token.release()
        if slot.waiter is not None:
            slot.waiter.acquire()
        assert slot.event is not None
        return result(slot.event)

    def _read_timeout(self, link: Link) -> bool:
        """Before a leading caller's read (lock held): True with the socket's timeout set
        to the core's next deadline (set under the lock, as writes set theirs and put it
        back: never mid-write), False if that deadline has come: run the timers first."""
        deadline = self._core.next_deadline()
        if deadline is None:
            link.settimeout(SEND_TIMEOUT)
            return True
        wait = deadline - time.monotonic()
        if wait <= 0:
            return False
        link.settimeout(min(SEND_TIMEOUT, wait))
        return True

    def _lead(self, link: Link, slot: _Slot, ready: bool) -> None:
        """Read the socket for the reply ``slot`` waits for (``_token`` held, the reader
        thread muted); see the module docstring. Returns once it is settled, or when the
        reader thread must take over. ``ready``: ``_read_timeout`` has just been set."""
        buffer = self._pushes.buffer
        backpressure = buffer.overflow is Overflow.BACKPRESSURE
        core = self._core
        while slot.event is None:
            if link is not self._link or link.ws is None or (backpressure and buffer.full):
                return
            if not ready and not link.buffered():
                with self._lock:
                    ready = self._read_timeout(link)
                    if not ready:
                        core.handle_timer(time.monotonic())  # as the timer thread would
                        todo = self._drain()
                if not ready:
                    _settle(todo)
                    continue
            ready = False
            try:
                opcode, messages = link.read_many(buffer.room)
            except WebSocketTimeoutException:
                continue
            except NETWORK_ERRORS as exc:
                self._failed(link, exc)
                return
            if self._received(link, opcode, messages):
                return

    def _submit(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
                idempotent: bool | None = None, retry: bool | None = None
                ) -> Future[Response]:
        future: Future[Response] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            rid = submit(self._driver, op, params, time.monotonic(), timeout, idempotent,
                         retry)
            self._futures[rid] = future
            todo = self._drain()
        _settle(todo)
        return future

    def _drain(self) -> _Settle:
        """``Driver.drain`` (lock held); returns the futures to settle once it is released.

        The events for the application go to the push buffer in one hand-over per call
        into the core (one read under a flood), not one each.
        """
        driver = self._driver
        driver.drain()
        events = self._outbox
        if events:
            self._outbox = []
            self._pushes.put_many(events)
            if driver.started and not self._ready.is_set():
                self._ready.set()
            if driver.finished:
                self._timer_cv.notify_all()
                self._pushes.close()  # after these last events
        todo, self._todo = self._todo, []
        return todo

    def _failed(self, link: Link, exc: BaseException, made: bool = True) -> None:
        """A read on ``link`` failed: ``_lost``, then settle what that settled."""
        with self._lock:
            self._lost(link, exc, made)
            todo = self._drain()
        _settle(todo)

    def _lost(self, link: Link, exc: BaseException, made: bool = True) -> None:
        """Report a failed socket unless the core already gave up on it (lock held)."""
        link.abort()
        if link is not self._link:
            return
        self._link = None
        self._pushes.wake_readers()
        report_loss(self._core, exc, time.monotonic(), made=made)

    def _connection(self, link: Link, url: str) -> None:
        """One connection's thread: open it, report, then read until it ends."""
        made = False
        try:
            link.open(url, self._options, self._options.config.connect_timeout)
            link.settimeout(SEND_TIMEOUT)
            with self._lock:
                if link is not self._link:
                    return
                made = True
                self._core.connection_made(time.monotonic())
                todo = self._drain()
            _settle(todo)
            self._read(link)
        except Exception as exc:
            if not isinstance(exc, NETWORK_ERRORS):
                log.exception("reader thread failed")
            self._failed(link, exc, made)
        finally:
            with self._lock:  # not while a close frame is being written to it
                link.close()

    def _read(self, link: Link) -> None:
        """The reader thread's loop: between calls, and whenever no caller reads."""
        pushes, core = self._pushes, self._core
        buffer = pushes.buffer
        backpressure = buffer.overflow is Overflow.BACKPRESSURE
        while True:
            if backpressure and pushes.buffer.full:
                with self._lock:
                    if link is not self._link:
                        return
                    core.reading_paused(time.monotonic())  # silence now proves nothing
                pushes.wait_for_room(lambda: link is self._link)
                with self._lock:
                    if link is not self._link:
                        return
                    core.reading_resumed(time.monotonic())
                    todo = self._drain()  # the keepalive deadline is back
                _settle(todo)
            if not link.buffered():
                link.wait_unmuted()  # without the role: a caller may take it meanwhile
            # The role is held until what was read is settled: a caller who took it in
            # between would wait on the socket for a reply already read.
            with self._token:
                if link is not self._link:
                    return
                if not link.buffered() and not link.wait(0):
                    continue  # a caller read what woke us
                try:
                    opcode, messages = link.read_many(buffer.room)
                except WebSocketTimeoutException:
                    continue  # the socket timeout only bounds writes; reading resumes
                if self._received(link, opcode, messages):
                    return

    def _received(self, link: Link, opcode: int, messages: list[bytes]) -> bool:
        """Hand what ``read_many`` gave to the core; True once ``link`` is done with."""
        with self._lock:
            if link is not self._link:
                return True
            closed = None
            if opcode in DATA:
                self._core.receive_messages(messages, time.monotonic())
            else:
                closed = link.control(opcode, messages[0])
                if closed is not None:
                    self._lost(link, closed)
            todo = self._drain()
        _settle(todo)
        return closed is not None

    def _timer(self) -> None:
        driver = self._driver
        while True:
            with self._lock:
                if driver.finished:
                    return
                deadline = driver.armed = self._core.next_deadline()
                now = time.monotonic()
                if deadline is None or now < deadline:
                    self._timer_cv.wait(None if deadline is None else deadline - now)
                    continue
                self._core.handle_timer(now)
                todo = self._drain()
            _settle(todo)

    # -- driver hooks (lock held) -------------------------------------------------------------

    def _open_link(self, url: str) -> None:
        self._gen += 1
        self._link = Link(self._gen, self._options)
        self._spawn(self._connection, f"conn-{self._gen}", self._link, url)

    def _refresh(self) -> None:
        self._spawn(self._refresher, "refresh")  # the provider may take a while: not here

    def _refresher(self) -> None:
        outcome = call_provider(self._options.refresh_credentials)
        with self._lock:
            renewed(self._core, time.monotonic(), outcome)
            todo = self._drain()
        _settle(todo)

    def _close_link(self, code: int, reason: str) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.send_close(code, reason)
            link.abort()
            self._pushes.wake_readers()

    def _write(self, frames: list[bytes]) -> None:
        link = self._link
        if link is None:
            return
        try:
            link.send(frames, write_budget(self._core, time.monotonic()))
        except NETWORK_ERRORS as exc:
            self._lost(link, exc)

    def _settle(self, event: RequestSettled) -> None:
        future = self._futures.pop(event.request_id, None)
        if isinstance(future, _Slot):  # no user code behind it: settled here, lock held
            future.event = event
            if future.waiter is not None:
                future.waiter.release()
            return
        if future is not None:
            self._todo.append((future, event))

    def _deliver(self, event: Event) -> None:
        self._outbox.append(event)  # handed over in one go at the end of _drain

    def _wake_timer(self) -> None:
        self._timer_cv.notify()  # only an earlier deadline wakes the timer thread


class _Slot:
    """Where the settling event of a leading caller's request lands (see ``_call``).

    Lighter than a ``Future``: it is filled under the client's lock by ``_settle``, and
    only a caller who stops leading before it is filled waits, on ``waiter``.
    """

    __slots__ = ("event", "waiter")

    def __init__(self) -> None:
        self.event: RequestSettled | None = None
        self.waiter: threading.Lock | None = None


@contextmanager
def _held(lock: threading.Lock) -> Iterator[None]:
    """Release ``lock`` (already acquired) on exit."""
    try:
        yield
    finally:
        lock.release()


def _settle(todo: _Settle) -> None:
    for future, event in todo:
        try:
            value = result(event)
        except InstamrktError as exc:
            future.set_exception(exc)
        else:
            future.set_result(value)


@contextmanager
def connect(url: str, credentials: Credentials, *,
            on_event: Callable[[Event], object] | None = None,
            options: Options | None = None, **kwargs: Any) -> Iterator[ThreadedClient]:
    """Connect, yield a ``ThreadedClient``, close on exit.

    ``on_event`` receives pushes and lifecycle events on a delivery thread; without it, read
    them with ``next_event``. Inside ``on_event`` prefer the ``*_async`` calls: a blocking
    call there waits for a reply that a full buffer may stop the reader from reading.
    ``options`` (an ``Options``) and keyword options combine, the keywords winning.

    Raises ``AuthenticationError`` if the handshake is refused and
    ``ConnectionClosed`` if the first attempt fails; later losses reconnect in the background
    (``reconnect=True``, the default).
    """
    client = ThreadedClient(url, credentials, make_options(kwargs, options), on_event)
    client._start()
    try:
        yield client
    finally:
        client.close()
