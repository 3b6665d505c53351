"""Transport liveness: a ping (op 1) after idle, and a verdict if nothing answers.

Any inbound message counts as a sign of life (websockets#1005: a big message must not look
like a dead peer), and so does a pause in reading that the transport reports (back-pressure:
unread messages wait in the socket, so silence then says nothing). The peer is declared dead
only when *nothing at all* arrived within ``timeout`` of a keepalive ping; if other messages
arrived but this pong is late, the ping is left behind as a tombstone (so its late pong
cannot answer a newer ping) and a fresh keepalive cycle starts.
"""

from __future__ import annotations

import enum

from ._correlation import PendingRequest

__all__ = ("Keepalive", "Verdict")


class Verdict(enum.Enum):
    WAIT = "wait"
    PING = "ping"
    DEAD = "dead"


class Keepalive:
    __slots__ = ("interval", "last_inbound", "paused", "ping", "timeout")

    def __init__(self, interval: float | None, timeout: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.last_inbound: float | None = None  # None while no connection is up
        self.ping: PendingRequest | None = None
        self.paused = False  # the transport stopped reading: no verdict until it resumes

    def reset(self, now: float | None) -> None:
        """A new connection is up at ``now`` (or, with None, none is)."""
        self.last_inbound = now
        self.ping = None
        self.paused = False

    def pause(self) -> None:
        """The transport stopped reading: silence says nothing until ``resume``."""
        self.paused = True

    def resume(self, now: float) -> None:
        """Reading again: the pause counted as life, a fresh interval starts at ``now``."""
        if self.paused:
            self.paused = False
            self.last_inbound = now

    def deadline(self) -> float | None:
        if self.interval is None or self.last_inbound is None or self.paused:
            return None
        ping = self.ping
        if ping is None:
            return self.last_inbound + self.interval
        if ping.sent_at is None:
            return None  # held back by pacing: the pacing deadline covers it
        return ping.sent_at + self.timeout

    def check(self, now: float) -> Verdict:
        """``PING``: submit a keepalive ping and store it in ``self.ping``."""
        if self.interval is None or self.last_inbound is None or self.paused:
            return Verdict.WAIT
        ping = self.ping
        if ping is not None and ping.sent_at is not None:
            if now < ping.sent_at + self.timeout:
                return Verdict.WAIT
            if self.last_inbound < ping.sent_at:
                return Verdict.DEAD
            ping.settled = True  # alive, only this pong is late: leave a tombstone
            ping.deadline = now + self.timeout
            self.ping = ping = None
        if ping is None and now >= self.last_inbound + self.interval:
            return Verdict.PING
        return Verdict.WAIT
