"""Playing a recording's games to the reference server's connections (``serve --replay``).

``market/replay.py`` turns the recording into market steps on a virtual clock; this module
paces them: at the recorded pace times ``speed``, or with ``speed`` None as fast as the
clients read. At full speed nothing is dropped: a full queue waits, as ``flood`` does, so
the pace is the slowest reader's. Each push is encoded once for its audience, and a
connection's pushes are queued in batches its writer frames and writes at once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection

import anyio

from ..market import Audience, Out
from ..market.replay import Backtest
from .connection import Connection, Outgoing

__all__ = ("Playback", "parse_speed")

log = logging.getLogger("instamrkt_transports.server")

_BATCH = 256  # steps played, and pushes queued, together at full speed


def parse_speed(value: float | str) -> float | None:
    """``speed``: a positive factor, or "max" (None: as fast as the clients read)."""
    if value == "max":
        return None
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"speed must be a positive number or 'max', not {value!r}") from None
    if not (speed > 0 and math.isfinite(speed)):
        raise ValueError(f"speed must be a positive number or 'max', not {value!r}")
    return speed


class Playback:
    """The replay's pacing task. ``connections`` is the server's live set of connections and
    ``audience`` its routing rule (who hears a push), read at every step."""

    def __init__(self, backtest: Backtest, speed: float | None,
                 connections: Collection[Connection],
                 audience: Callable[[Audience], list[Connection]]) -> None:
        self.backtest = backtest
        self.speed = speed
        self._connections = connections
        self._audience = audience
        self.finished = False  # every push played and written out to the connections

    async def play(self) -> None:
        """Play the recording once a client joined one of its games, to its end."""
        backtest = self.backtest
        served = set(backtest.game_ids.values())
        while not any(c.joined & served for c in self._connections):
            await anyio.sleep(0.01)
        started, origin = time.monotonic(), backtest.clock.now
        while not backtest.finished:
            if self.speed is None:  # as fast as possible: a batch of steps at a time
                await self._route_wait(backtest.play_next(_BATCH))
                continue
            due = backtest.next_at
            assert due is not None
            now = origin + int((time.monotonic() - started) * 1000 * self.speed)
            if due > now:
                await anyio.sleep(min(0.05, (due - now) / 1000 / self.speed))
                continue
            await self._route_wait(backtest.play_until(now))
        await self._written_out()
        self.finished = True
        log.info("reference server: the recording is played to its end")

    async def _written_out(self) -> None:
        """Wait until each connection has written what was queued for it, so that
        ``finished`` means the last pushes are on their way to the clients, not in a
        queue (a connection that closes meanwhile has nothing more to write)."""
        marks: list[tuple[Connection, anyio.Event]] = []
        for connection in list(self._connections):
            done = anyio.Event()
            if await connection.send(Outgoing("mark", done=done)):
                marks.append((connection, done))
        while not all(done.is_set() or c.closing or c not in self._connections
                      for c, done in marks):
            await anyio.sleep(0.01)

    async def _route_wait(self, pushes: list[Out]) -> None:
        """Route ``pushes``, waiting for room in each connection's queue instead of
        dropping."""
        touched: dict[Connection, None] = {}  # in order of first push
        audiences: dict[int, list[Connection]] = {}  # by id: a batch's pushes share audiences
        for out in pushes:
            encoded: dict[int, bytes] = {}
            audience = audiences.get(id(out.to))
            if audience is None:
                audience = audiences[id(out.to)] = self._audience(out.to)
            for connection in audience:
                if not connection.closing:
                    connection.core.push_shared(out.res, out.fields, encoded)
                    touched[connection] = None
        # Taken before any wait: a reader answering a request meanwhile takes its reply
        # from the same core, and must not take these pushes with it.
        batches = [(connection, connection.core.data_to_send()) for connection in touched]
        for connection, items in batches:
            for start in range(0, len(items), _BATCH):
                if connection.closing or not await connection.send(
                        Outgoing("pushes", batch=items[start:start + _BATCH])):
                    break
        await anyio.sleep(0)  # let the readers in between steps, even when none waited
