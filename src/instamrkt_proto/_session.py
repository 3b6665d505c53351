"""What a session must carry across connections: logon and joined games.

Subscriptions (join_game) live on a connection, so after a reconnect the core re-joins every
game this registry holds. It is kept from successful join_game (333) and leave_game (334)
replies only: a join that was never confirmed is not restored. The registry also remembers
when each joined game last produced a push, for the optional per-game staleness signal,
which only ever emits ``Stale`` events and never reconnects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .codes import Op, Res
from .events import Stale

__all__ = ("GameRegistry", "Restorer")


_NONE: frozenset[str] = frozenset()


class GameRegistry:
    __slots__ = ("_joined", "_seen", "_stale")

    def __init__(self) -> None:
        self._joined: dict[str, Any] = {}  # str(game_id) -> game_id as the caller sent it
        self._seen: dict[str, float] = {}
        self._stale = _NONE  # rarely non-empty: copied on change, no set per session

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def game_ids(self) -> list[Any]:
        """The joined games' ids as originally sent (int or str)."""
        return list(self._joined.values())

    def track(self, op: int, res: int, params: dict[str, Any], now: float) -> None:
        """Update from a confirmed reply to join_game / leave_game."""
        game = params.get("game_id")
        if game is None:
            return
        if op == Op.JOIN_GAME and res == Res.GAME_JOINED:
            self.joined(game, now)
        elif op == Op.LEAVE_GAME and res == Res.GAME_LEFT:
            self.forget(game)

    def joined(self, game: Any, now: float) -> None:
        key = str(game)
        self._joined[key] = game
        self._seen[key] = now
        if key in self._stale:
            self._stale = self._stale - {key}

    def forget(self, game: Any) -> None:
        key = str(game)
        self._joined.pop(key, None)
        self._seen.pop(key, None)
        if key in self._stale:
            self._stale = self._stale - {key}

    def saw(self, game: Any, now: float) -> None:
        """A push mentioned ``game``."""
        key = str(game)
        if key in self._seen:
            self._seen[key] = now
            if key in self._stale:
                self._stale = self._stale - {key}

    def stale_deadlines(self, after: float) -> Iterator[float]:
        return (seen + after for key, seen in self._seen.items() if key not in self._stale)

    def due_stale(self, now: float, after: float) -> list[Stale]:
        """A ``Stale`` event per game silent for ``after`` seconds (once per silence)."""
        events = []
        for key, seen in self._seen.items():
            if key not in self._stale and now >= seen + after:
                self._stale = self._stale | {key}
                events.append(Stale(game_id=key, age=now - seen))
        return events


class Restorer:
    """Progress of restoring a session on a new connection.

    The client submits the re-logon and the re-joins; this part counts the answers and
    says when the session is whole again, so no reply handler has to know the count.
    """

    __slots__ = ("active", "failed", "logon", "rejoined", "waiting")

    def __init__(self) -> None:
        self.active = False
        self.logon = False
        self.waiting = 0
        self.rejoined: list[str] = []
        self.failed: list[str] = []

    def begin(self, *, logon: bool) -> None:
        self.active, self.logon, self.waiting = True, logon, 0
        self.rejoined, self.failed = [], []

    def rejoining(self, count: int) -> bool:
        """``count`` re-joins were submitted; True if there is nothing to wait for."""
        self.waiting = count
        return count == 0

    def rejoin_answered(self, game: str, *, joined: bool) -> bool:
        """One re-join was answered (or timed out); True once all of them have been."""
        (self.rejoined if joined else self.failed).append(game)
        self.waiting -= 1
        return self.waiting <= 0

    def cancel(self) -> None:
        """The connection being restored is gone; a later one starts over."""
        self.active = False

    def finish(self) -> tuple[bool, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """(relogged_on, rejoined, rejoin_failed, advice) for ``Reconnected``."""
        self.active = False
        return self.logon, tuple(self.rejoined), tuple(self.failed), self._advice()

    def _advice(self) -> tuple[str, ...]:
        """The reads that resync what the pushes lost during the gap would have told."""
        calls = ["get_my_current_balance"] if self.logon else []
        for game in self.rejoined:
            calls += [
                f"get_game_details(game_id={game})",
                f"list_all_betting_pools_for_game(game_id={game})",
                f"list_my_running_pools_for_game(game_id={game})",
            ]
        return tuple(calls)
