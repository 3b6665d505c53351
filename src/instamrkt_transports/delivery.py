"""Bounded, observable delivery of pushes and lifecycle events to the application.

Every adapter keeps its pushes in one ``PushBuffer``; only the waiting differs (an anyio
event, a blocking read, or for threads a ``Mailbox``: the buffer under the client's lock).
Replies never come here: they settle their request. The overflow policy is the caller's
choice, because no default is right for every application:

* ``Overflow.BACKPRESSURE`` (default): when full, the adapter stops reading the socket, so
  TCP pushes back on the server. Nothing is lost; the buffer may exceed ``capacity`` by at
  most the messages of one read (one network chunk).
* ``Overflow.FAIL``: the push that does not fit is discarded and the next read of events
  raises ``ConsumerTooSlow`` (once); delivery then carries on.
* ``Overflow.DROP_OLDEST``: the oldest push is discarded; the consumer receives a
  ``PushesDropped(count)`` event exactly where the gap is, with the exact count.

Capacity and policy apply to pushes only: lifecycle events are never dropped.

The default capacity (10,000) absorbs the documented fan-out of one register_game_event
(366 + N x 362 + N x 815) for any realistic N.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import attrs

from instamrkt_proto import ConsumerTooSlow, Event, Push, PushesDropped

__all__ = ("DeliveryMetrics", "Mailbox", "Overflow", "PushBuffer")


class Overflow(enum.Enum):
    BACKPRESSURE = "backpressure"
    FAIL = "fail"
    DROP_OLDEST = "drop_oldest"


@attrs.frozen(slots=True, kw_only=True)
class DeliveryMetrics:
    """``depth``: events waiting (pushes and lifecycle); ``high_water``: most pushes queued."""

    depth: int
    high_water: int
    dropped: int
    delivered: int


class _Gap:
    """Where dropped pushes were, in the queue: becomes ``PushesDropped(count)``."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 1


class PushBuffer:
    """A FIFO of events with a capacity and an overflow policy. Not thread-safe itself.

    The capacity and the policy apply to pushes; lifecycle events (``Closed``,
    ``Reconnected``...) are rare and never dropped, so they are always queued.
    """

    __slots__ = ("_events", "_pending_error", "_pushes", "capacity", "delivered", "dropped",
                 "high_water", "overflow")

    def __init__(self, capacity: int | None = 10_000,
                 overflow: Overflow | str = Overflow.BACKPRESSURE) -> None:
        if capacity is not None and capacity < 1:
            raise ValueError("capacity must be at least 1 (or None for unbounded)")
        self.capacity = capacity
        self.overflow = Overflow(overflow)
        self._events: deque[Event | _Gap] = deque()
        self._pushes = 0
        self._pending_error: ConsumerTooSlow | None = None
        self.high_water = 0
        self.dropped = 0
        self.delivered = 0

    def __len__(self) -> int:
        return self._pushes

    @property
    def full(self) -> bool:
        """True when a back-pressure adapter must stop reading."""
        return self.capacity is not None and self._pushes >= self.capacity

    def put(self, event: Event) -> None:
        events = self._events
        if isinstance(event, Push):
            if self.full:
                if self.overflow is Overflow.FAIL:
                    self.dropped += 1
                    self._pending_error = ConsumerTooSlow(self.capacity or 0)
                    return
                if self.overflow is Overflow.DROP_OLDEST:
                    self._drop_oldest()
            self._pushes += 1
            self.high_water = max(self.high_water, self._pushes)
        events.append(event)

    def _drop_oldest(self) -> None:
        events = self._events
        i = next(i for i, item in enumerate(events) if isinstance(item, Push))  # full: exists
        previous = events[i - 1] if i else None
        if isinstance(previous, _Gap):
            previous.count += 1
            del events[i]
        else:
            events[i] = _Gap()
        self._pushes -= 1
        self.dropped += 1

    def get(self) -> Event | None:
        """The next event, ``PushesDropped`` where pushes were dropped, or None if empty.

        Raises ``ConsumerTooSlow`` once after an overflow under ``Overflow.FAIL``.
        """
        error = self._pending_error
        if error is not None:
            self._pending_error = None
            raise error
        if not self._events:
            return None
        item = self._events.popleft()
        if isinstance(item, _Gap):
            return PushesDropped(count=item.count)
        if isinstance(item, Push):
            self._pushes -= 1
        self.delivered += 1
        return item

    def ready(self) -> bool:
        return bool(self._events or self._pending_error)

    def metrics(self) -> DeliveryMetrics:
        return DeliveryMetrics(depth=len(self._events), high_water=self.high_water,
                               dropped=self.dropped, delivered=self.delivered)


class Mailbox:
    """A ``PushBuffer`` shared by threads under their owner's lock.

    Consumers wait for events (``get``, ``deliver``), a back-pressure reader waits for room
    (``wait_for_room``). ``put``, ``wait_for_room`` and ``close`` expect the lock held, as the
    owner holds it while it dispatches the core's events; ``get`` and ``deliver`` take it.
    """

    __slots__ = ("_ready", "_room", "buffer", "closed", "lock")

    def __init__(self, buffer: PushBuffer, lock: threading.Lock) -> None:
        self.buffer = buffer
        self.lock = lock
        self.closed = False
        self._ready = threading.Condition(lock)
        self._room = threading.Condition(lock)

    def put(self, event: Event) -> None:
        self.buffer.put(event)
        self._ready.notify_all()

    def close(self) -> None:
        """No more events will come: waiters return once the buffer is drained."""
        self.closed = True
        self._ready.notify_all()
        self._room.notify_all()

    def wake_readers(self) -> None:
        """A connection ended: a reader waiting for room must look again (lock held)."""
        self._room.notify_all()

    def wait_for_room(self, reading: Callable[[], bool]) -> None:
        """Block while the buffer is full, ``reading()`` holds and the box is open."""
        while self.buffer.full and reading() and not self.closed:
            self._room.wait()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event; None after ``timeout`` seconds, or once closed and drained.

        Raises ``ConsumerTooSlow`` once after an overflow under ``Overflow.FAIL``.
        """
        end = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while not self.buffer.ready():
                remaining = None if end is None else end - time.monotonic()
                if self.closed or (remaining is not None and remaining <= 0):
                    return None
                self._ready.wait(remaining)
            event = self.buffer.get()
            self._room.notify_all()  # a stale reader must not swallow the wake-up
            return event

    def deliver(self, on_event: Callable[[Event], object], log: logging.Logger) -> None:
        """Hand every event to ``on_event`` in order, outside the lock, until closed.

        An exception from ``on_event`` (or an overflow under ``Overflow.FAIL``) is logged
        and delivery goes on: one bad event must not end a session that moves money.
        """
        while True:
            try:
                event = self.get()
            except ConsumerTooSlow as exc:
                log.warning("%s; delivery goes on", exc)
                continue
            if event is None:
                return
            try:
                on_event(event)
            except Exception:
                log.exception("on_event raised on %s; delivery goes on", type(event).__name__)

