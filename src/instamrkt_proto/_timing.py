"""Pure time arithmetic the core's timers are built from: backoff, pacing, clock offset.

None of these read a clock: every method takes ``now`` (monotonic seconds) or wall-clock
epoch milliseconds supplied by the caller, and the backoff takes its randomness as a
``random()`` callable, so a test replays them exactly.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import attrs

__all__ = ("Backoff", "ClockEstimate", "ClockEstimator", "RateLimit", "RateLimiter",
           "RoundTrips")


@attrs.frozen(slots=True)
class Backoff:
    """Exponential backoff with full jitter: ``random() * min(cap, base * 2**attempt)``.

    ``penalty`` extra doublings apply after the server closed us for sending too much
    (close code 1008 or a "too many requests" reason).
    """

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, random: Callable[[], float], penalty: int = 0) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt + penalty, 62))
        return max(0.0, min(1.0, random())) * ceiling


@attrs.frozen(slots=True)
class RateLimit:
    """At most ``count`` messages in any rolling window of ``window`` seconds."""

    count: int = attrs.field(validator=attrs.validators.ge(1))
    window: float = attrs.field(validator=attrs.validators.gt(0))


class RateLimiter:
    """A strict rolling-window limiter (not a bucket: no burst above ``count`` ever).

    With ``flush_reports`` the window of a message starts when the transport reports it
    written (``flushed``), not when the core released it: an async transport may write a
    released batch late, and counting from release would let the next batch follow too
    closely on the wire. Until its flush, a released message holds its slot.
    """

    __slots__ = ("_flush_reports", "_limit", "_sent", "_unflushed")

    def __init__(self, limit: RateLimit | None, *, flush_reports: bool = False) -> None:
        self._limit = limit
        self._flush_reports = flush_reports
        # Only a limited session keeps send times: idle clients are many, a deque is 760 B.
        self._sent: deque[float] = deque() if limit is not None else _NO_TIMES
        self._unflushed = 0  # released messages at the right end of _sent, not yet written

    def available_at(self, now: float) -> float:
        """The earliest time >= now at which one more message may be sent (inf: after a flush)."""
        limit = self._limit
        if limit is None:
            return now
        sent = self._sent
        expirable = len(sent) - self._unflushed
        while expirable and sent[0] + limit.window <= now:
            sent.popleft()
            expirable -= 1
        if len(sent) < limit.count:
            return now
        return sent[0] + limit.window if expirable else math.inf

    def record(self, now: float) -> None:
        if self._limit is not None:
            self._sent.append(now)
            if self._flush_reports:
                self._unflushed += 1

    def flushed(self, now: float) -> None:
        """Everything released so far has been written at ``now``: start those windows."""
        count, self._unflushed = self._unflushed, 0
        if not count:
            return
        sent = self._sent
        for _ in range(count):
            sent.pop()
        sent.extend([now] * count)


_NO_TIMES: deque[float] = deque(maxlen=0)  # never appended to: record() needs a limit


@attrs.frozen(slots=True)
class ClockEstimate:
    """Server clock offset (server minus local, ms) from the ping with the smallest RTT.

    ``uncertainty`` is half that RTT in ms: the true offset lies within +/- of ``offset``.
    """

    offset: float
    uncertainty: float
    rtt: float
    samples: int


class ClockEstimator:
    """NTP-style offset from (request wall time, server ``t``, reply wall time) triples."""

    __slots__ = ("_samples", "_size", "_total")

    def __init__(self, size: int = 8) -> None:
        self._samples: list[tuple[float, float]] = []  # the last ``size``; a list is small
        self._size = size
        self._total = 0

    def add(self, sent_wall: int, server_t: int, received_wall: int) -> None:
        rtt = max(0, received_wall - sent_wall)
        offset = server_t - (sent_wall + received_wall) / 2.0
        samples = self._samples
        samples.append((rtt, offset))
        if len(samples) > self._size:
            del samples[0]
        self._total += 1

    @property
    def estimate(self) -> ClockEstimate | None:
        if not self._samples:
            return None
        rtt, offset = min(self._samples)
        return ClockEstimate(offset=offset, uncertainty=rtt / 2.0, rtt=rtt, samples=self._total)


class RoundTrips:
    """What pongs teach: the last and the smallest round trip, and the server clock offset.

    Every pong feeds it, the caller's and the keepalive's alike, so the figures stay fresh on
    a connection where only the keepalive pings.
    """

    __slots__ = ("clock", "last", "minimum")

    def __init__(self) -> None:
        self.last: float | None = None
        self.minimum: float | None = None
        self.clock = ClockEstimator()

    def pong(self, sent_at: float | None, sent_wall: int | None, now: float,
             server_t: int | None, wall: Callable[[], int]) -> float:
        """Record a pong received at ``now`` (monotonic) for a ping sent at ``sent_at``."""
        rtt = now - (sent_at if sent_at is not None else now)
        self.last = rtt
        self.minimum = rtt if self.minimum is None else min(self.minimum, rtt)
        if server_t is not None and sent_wall is not None:
            self.clock.add(sent_wall, server_t, wall())
        return rtt
