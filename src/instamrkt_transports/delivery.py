"""Bounded, observable delivery of pushes and lifecycle events to the application.

Every adapter keeps its pushes in one ``PushBuffer``; only the waiting differs (an anyio
event, a blocking read, or for threads a ``Mailbox``: the buffer under a lock of its own).
Replies never come here: they settle their request. The overflow policy is the caller's
choice, because no default is right for every application:

* ``Overflow.BACKPRESSURE`` (default): when full, the adapter stops reading the socket, so
  TCP pushes back on the server. Nothing is lost; the buffer may exceed ``capacity`` by at
  most the messages of one read (one network chunk: up to 256 KiB on asyncio, 64 KiB on
  trio) on anyio, and by none on the blocking
  and threaded adapters (they take no more of a read than there is room for), except
  that a blocking call reads past the pushes that precede its reply. (A threaded
  ``next_event`` moves up to 32 events at a time out of the buffer, on their way out.)
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


_SHORT = 8
"""Pushes a buffer keeps in a list before it takes a deque. Most buffers (idle clients, of
which a process may hold thousands) only ever hold a lifecycle event or two, and a deque is
a block of 64 slots (760 bytes) from the start; past this, popping a list's head costs."""


class _Short(list["Event | _Gap"]):
    """The first few events, with a deque's ``popleft``."""

    __slots__ = ()

    def popleft(self) -> Event | _Gap:
        return self.pop(0)


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
        self._events: deque[Event | _Gap] | _Short = _Short()
        self._pushes = 0
        self._pending_error: ConsumerTooSlow | None = None
        self.high_water = 0
        self.dropped = 0
        self.delivered = 0

    def __len__(self) -> int:
        return self._pushes

    @property
    def room(self) -> int | None:
        """How many messages a back-pressure reader may take in at once (None: any)."""
        if self.capacity is None or self.overflow is not Overflow.BACKPRESSURE:
            return None
        return max(1, self.capacity - self._pushes)

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
            pushes = self._pushes = self._pushes + 1
            if pushes > self.high_water:  # rare: it only rises
                self.high_water = pushes
                if pushes == _SHORT and type(events) is _Short:
                    events = self._events = deque(events)
        elif len(events) >= _SHORT and type(events) is _Short:  # rare: lifecycle events
            events = self._events = deque(events)
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

    def get_many(self, limit: int) -> list[Event]:
        """Up to ``limit`` events, as that many ``get`` calls (empty: none waiting).

        Raises ``ConsumerTooSlow`` as ``get`` does, before taking anything.
        """
        first = self.get()
        if first is None:
            return []
        events = [first]
        while len(events) < limit and self._events and self._pending_error is None:
            event = self.get()
            if event is None:
                break
            events.append(event)
        return events

    def ready(self) -> bool:
        return bool(self._events or self._pending_error)

    def metrics(self) -> DeliveryMetrics:
        return DeliveryMetrics(depth=len(self._events), high_water=self.high_water,
                               dropped=self.dropped, delivered=self.delivered)


_TAKE = 32
"""Events a thread's ``Mailbox.get`` takes from the buffer at once (the back-pressure bound
grows by as many: taken events have left the buffer)."""


class Mailbox:
    """A ``PushBuffer`` shared by threads, under a lock of its own.

    The owner's reader ``put``s events (and waits for room under back-pressure); consumers
    take them (``get``, ``deliver``). Its own lock, not the owner's, so that consumers take
    events while the owner's reader works. The owner may hold its lock while it calls in here,
    never the other way round. A condition is notified only when somebody waits on it:
    under a flood of pushes nobody usually does, and notifying costs more than a ``put``.
    """

    __slots__ = ("_consumers", "_ready", "_room", "_taken", "buffer", "closed", "lock")

    def __init__(self, buffer: PushBuffer) -> None:
        self.buffer = buffer
        self._taken: deque[Event] = deque()  # taken from the buffer, not yet returned
        self.lock = threading.Lock()
        self.closed = False
        self._consumers = 0  # threads waiting in get
        self._ready = threading.Condition(self.lock)
        self._room = threading.Condition(self.lock)

    def put_many(self, events: list[Event]) -> None:
        with self.lock:
            put = self.buffer.put
            for event in events:
                put(event)
            if self._consumers:
                self._ready.notify(len(events))  # one event, one consumer

    def metrics(self) -> DeliveryMetrics:
        with self.lock:
            metrics = self.buffer.metrics()
        taken = len(self._taken)
        return metrics if not taken else attrs.evolve(metrics, depth=metrics.depth + taken,
                                                      delivered=metrics.delivered - taken)

    def close(self) -> None:
        """No more events will come: waiters return once the buffer is drained."""
        with self.lock:
            self.closed = True
            self._ready.notify_all()
            self._room.notify_all()

    def wake_readers(self) -> None:
        """A connection ended: a reader waiting for room must look again."""
        with self.lock:
            self._room.notify_all()

    def wait_for_room(self, reading: Callable[[], bool]) -> None:
        """Block while the buffer is full, ``reading()`` holds and the box is open."""
        with self.lock:
            while self.buffer.full and reading() and not self.closed:
                self._room.wait()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event; None after ``timeout`` seconds, or once closed and drained.

        Raises ``ConsumerTooSlow`` once after an overflow under ``Overflow.FAIL``.
        Events are taken from the buffer a few at a time (``_TAKE``) into a queue that
        consumers pop without the lock: under a flood, one lock round serves many calls.
        """
        taken = self._taken
        if taken:
            try:
                return taken.popleft()  # atomic: each event still goes to one consumer
            except IndexError:
                pass  # another consumer took the last one
        events = self._take(_TAKE, timeout, keep=True)
        return events[0] if events else None

    def get_many(self, limit: int, timeout: float | None = None) -> list[Event]:
        """Up to ``limit`` events once there is one; [] after ``timeout`` seconds, or once
        closed and drained. Raises ``ConsumerTooSlow`` as ``get`` does."""
        return self._take(limit, timeout, keep=False)

    def _take(self, limit: int, timeout: float | None, *, keep: bool) -> list[Event]:
        """``get_many``; with ``keep``, one event, the rest of those taken going to
        ``_taken`` (only ever filled under the lock, while empty: the order holds)."""
        buffer, taken = self.buffer, self._taken
        end = None
        with self.lock:
            while True:
                if keep and taken:
                    try:
                        return [taken.popleft()]
                    except IndexError:
                        pass  # popped meanwhile by a consumer without the lock
                if buffer.ready():
                    break
                if end is None and timeout is not None:
                    end = time.monotonic() + timeout
                remaining = None if end is None else end - time.monotonic()
                if self.closed or (remaining is not None and remaining <= 0):
                    return []
                self._consumers += 1
                try:
                    self._ready.wait(remaining)
                finally:
                    self._consumers -= 1
            full = buffer.full
            events = buffer.get_many(limit)
            if keep and len(events) > 1:
                taken.extend(events[1:])
                del events[1:]
            if full:
                self._room.notify_all()  # the reader may be waiting for this room
            elif self._consumers and (buffer.ready() or taken):
                self._ready.notify()  # more to take: pass the baton
            return events

    def deliver(self, on_event: Callable[[Event], object], log: logging.Logger) -> None:
        """Hand every event to ``on_event`` in order, outside the lock, until closed.

        An exception from ``on_event`` (or an overflow under ``Overflow.FAIL``) is logged
        and delivery goes on: one bad event must not end a session that moves money.
        """
        while True:
            try:
                events = self.get_many(64)  # one lock round for many events under a flood
            except ConsumerTooSlow as exc:
                log.warning("%s; delivery goes on", exc)
                continue
            if not events:
                return
            for event in events:
                try:
                    on_event(event)
                except Exception:
                    log.exception("on_event raised on %s; delivery goes on",
                                  type(event).__name__)

