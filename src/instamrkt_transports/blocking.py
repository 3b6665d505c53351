"""The blocking adapter: plain calls on websocket-client, no threads.

Nothing runs between your calls. Each call queues its request in the core, writes what the
core emits, then reads the socket until its own request is settled; the socket timeout is the
time left to the core's next deadline, so keepalive pings, request timeouts and reconnects
(backoff sleep, reopen, re-logon, re-join) all happen inside calls and ``next_event``. Pushes
read along the way go to the push buffer, which ``next_event`` drains.

Back-pressure: ``next_event`` reads the socket only when the buffer is empty, so while you
do not call, unread pushes wait in the socket and TCP buffers and the server feels it. A call
must read past any pushes queued ahead of its reply: under ``Overflow.BACKPRESSURE`` those
are kept (the buffer may then exceed its capacity by the pushes that preceded a reply); the
other policies drop as documented in ``delivery.py``. Keepalive only runs inside calls: after
a long pause the first call may send a keepalive ping before anything else.

Not thread-safe: use one client per thread, or the threaded adapter.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websocket import WebSocketTimeoutException

from instamrkt_proto import Credentials, Event, RequestSettled, Response, State
from instamrkt_proto.client import ClientConnection
from instamrkt_proto.mirror import MarketMirror

from ._client.calls import Calls, ClientMetrics
from ._client.driver import Driver, call_provider, new_core, new_mirror, renewed, result, submit
from ._client.wsclient import (
    DATA,
    NETWORK_ERRORS,
    SEND_TIMEOUT,
    Link,
    failure,
    report_loss,
    write_budget,
)
from .options import Options, make_options

__all__ = ("BlockingClient", "connect")


class BlockingClient(Calls):
    """An Instamrkt session driven by the calling thread. Obtain one with ``connect()``."""

    def __init__(self, url: str, credentials: Credentials, options: Options) -> None:
        self._core = new_core(url, credentials, options)
        self._driver = Driver(self._core, self, new_mirror(credentials, options))
        self._options = options
        self._pushes = options.push_buffer()
        self._settled: dict[int, RequestSettled] = {}
        self._gen = 0
        self._link: Link | None = None
        self._connect_to: str | None = None
        self._refresh_due = False

    # -- public API ---------------------------------------------------------------------------

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next push or lifecycle event; None after ``timeout`` seconds or once closed.

        Raises ``ConsumerTooSlow`` once after an overflow under ``Overflow.FAIL``.
        """
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            event = self._pushes.get()
            if event is not None:
                return event
            if self._driver.finished or (end is not None and time.monotonic() >= end):
                return None
            self._step(end)

    def metrics(self) -> ClientMetrics:
        return ClientMetrics(session=self._core.metrics(time.monotonic()),
                             delivery=self._pushes.metrics())

    @property
    def core(self) -> ClientConnection:
        return self._core

    @property
    def mirror(self) -> MarketMirror | None:
        return self._driver.mirror

    def close(self) -> None:
        """Close the session; the socket is closed at once. Idempotent."""
        if self._core.state is not State.CLOSED:
            self._core.close(time.monotonic())
            self._driver.drain()
        self._driver.finished = True
        self._connect_to = None
        link, self._link = self._link, None
        if link is not None:
            link.close()

    # -- plumbing -----------------------------------------------------------------------------

    def _start(self) -> None:
        self._core.connect(time.monotonic())
        self._driver.drain()
        while not self._driver.started:
            self._step(None)
        if self._driver.error is not None:
            self.close()
            raise self._driver.error

    def _call(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
              idempotent: bool | None = None, retry: bool | None = None) -> Response:
        rid = submit(self._driver, op, params, time.monotonic(), timeout, idempotent, retry)
        self._driver.drain()
        while rid not in self._settled:
            self._step(None)
        return result(self._settled.pop(rid))

    def _step(self, until: float | None) -> None:
        """One unit of work: open a requested connection, or read one message, or wait for
        the earlier of the core's next deadline and ``until``, then run the timers."""
        if self._refresh_due:  # the provider runs here, outside the driver's loop
            self._refresh_due = False
            outcome = call_provider(self._options.refresh_credentials)
            renewed(self._core, time.monotonic(), outcome)
            self._driver.drain()
            return
        url, self._connect_to = self._connect_to, None
        if url is not None:
            self._open(url)
            return
        core = self._core
        deadline = core.next_deadline()
        if until is not None and (deadline is None or until < deadline):
            deadline = until
        wait = None if deadline is None else deadline - time.monotonic()
        link = self._link
        if wait is not None and wait <= 0:
            pass
        elif link is None:
            if wait is None:  # nothing can ever happen: the session is over
                raise self._driver.closed_error()
            time.sleep(wait)  # backoff before reconnecting
        else:
            try:  # wake at least every SEND_TIMEOUT: one timeout for reads and writes
                link.settimeout(SEND_TIMEOUT if wait is None else min(wait, SEND_TIMEOUT))
                opcode, messages = link.read_many(self._pushes.room)
            except WebSocketTimeoutException:
                pass
            except NETWORK_ERRORS as exc:
                self._lost(link, exc)
            else:
                self._messages(link, opcode, messages)
                return
        core.handle_timer(time.monotonic())
        self._driver.drain()

    def _messages(self, link: Link, opcode: int, messages: list[bytes]) -> None:
        if opcode in DATA:
            self._core.receive_messages(messages, time.monotonic())
        else:
            closed: BaseException | None
            try:
                link.settimeout(SEND_TIMEOUT)
                closed = link.control(opcode, messages[0])
            except NETWORK_ERRORS as exc:
                closed = exc
            if closed is not None:
                self._lost(link, closed)
        self._driver.drain()

    def _open(self, url: str) -> None:
        self._gen += 1
        link = Link(self._gen, self._options)
        try:
            link.open(url, self._options, self._options.config.connect_timeout)
        except NETWORK_ERRORS as exc:
            self._core.connection_failed(time.monotonic(), *failure(exc))
        else:
            self._link = link
            self._core.connection_made(time.monotonic())
        self._driver.drain()

    def _lost(self, link: Link, exc: BaseException) -> None:
        """The socket failed: report it unless the core already gave up on it."""
        link.close()
        if link is not self._link:
            return
        self._link = None
        report_loss(self._core, exc, time.monotonic(), made=True)

    # -- driver hooks (nothing runs in the background: each acts at once) ---------------------

    def _open_link(self, url: str) -> None:
        self._connect_to = url  # opened by the next _step

    def _refresh(self) -> None:
        self._refresh_due = True  # asked by the next _step

    def _close_link(self, code: int, reason: str) -> None:
        self._connect_to = None
        link, self._link = self._link, None
        if link is not None:
            link.send_close(code, reason)
            link.close()

    def _write(self, frames: list[bytes]) -> None:
        link = self._link
        if link is None:
            return  # the connection is gone; the core has been told
        try:
            link.send(frames, write_budget(self._core, time.monotonic()))
        except NETWORK_ERRORS as exc:
            self._lost(link, exc)

    def _settle(self, event: RequestSettled) -> None:
        self._settled[event.request_id] = event

    def _deliver(self, event: Event) -> None:
        self._pushes.put(event)

    def _wake_timer(self) -> None:
        pass  # timers run inside calls


@contextmanager
def connect(url: str, credentials: Credentials, *, options: Options | None = None,
            **kwargs: Any) -> Iterator[BlockingClient]:
    """Connect, yield a ``BlockingClient``, close on exit.

    ``options`` (an ``Options``) and keyword options combine, the keywords winning.
    Raises ``AuthenticationError`` if the handshake is refused and ``ConnectionClosed`` if
    the first attempt fails; later losses reconnect (``reconnect=True``, the default) inside
    the next call or ``next_event``.
    """
    client = BlockingClient(url, credentials, make_options(kwargs, options))
    client._start()
    try:
        yield client
    finally:
        client.close()
