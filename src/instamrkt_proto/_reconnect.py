"""When to reconnect after a loss: full-jitter backoff, a cap, a reset, an escalation.

Kept apart from the connection so the policy reads on its own:
the attempt count grows with each consecutive failure and resets once a connection has
stayed up ``stable_after`` seconds; a close with code 1008 or a "too many requests" reason
adds doublings (the server says we send too much), and attempts can be capped. The random
source is injected, as everywhere in the core.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import ClientConfig

__all__ = ("ReconnectPolicy",)


class ReconnectPolicy:
    __slots__ = ("_config", "_random", "attempt", "connected_at", "disconnected_at", "penalty")

    def __init__(self, config: ClientConfig, random: Callable[[], float]) -> None:
        self._config = config
        self._random = random
        self.attempt = 0  # consecutive attempts since the last stable connection
        self.penalty = 0
        self.connected_at: float | None = None
        self.disconnected_at: float | None = None  # start of the current outage

    def connected(self, now: float) -> None:
        self.connected_at = now

    def lost(self, now: float, code: int | None, reason: str) -> float | None:
        """The connection (or attempt) ended: the reconnect delay, or None to give up."""
        cfg = self._config
        if self.connected_at is not None and now - self.connected_at >= cfg.stable_after:
            self.attempt = self.penalty = 0  # the last connection was stable
        self.connected_at = None
        limit = cfg.max_reconnect_attempts
        if not cfg.reconnect or (limit is not None and self.attempt >= limit):
            return None
        if code == 1008 or "too many" in reason.lower():
            self.penalty += 2  # the server says we send too much: back off harder
        if self.disconnected_at is None:
            self.disconnected_at = now
        delay = cfg.backoff.delay(self.attempt, self._random, self.penalty)
        self.attempt += 1
        return delay

    def interrupted(self, now: float) -> None:
        """The connection was given up without backing off (its key is being refreshed):
        the outage starts, so the next connection restores the session."""
        self.connected_at = None
        if self.disconnected_at is None:
            self.disconnected_at = now

    def restored(self) -> float:
        """The session is whole again: returns when the outage began."""
        began, self.disconnected_at = self.disconnected_at, None
        return began if began is not None else 0.0
