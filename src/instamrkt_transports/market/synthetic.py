"""The reference server's synthetic push source: load for a client's push path.

``ReferenceServer.push``/``burst`` and ``push_interval`` send pushes no request caused, so a
client's push handling can be exercised at any rate. They are not market state: a synthetic
362 moves no money and may name a pool that does not exist (``docs/market.md``, "Reading the
state from tests"). Keeping the source here, with its own counter, keeps everything in the
market (``market.py``) moved by requests only; the one thing it reads from the market is a
user's real balance, for the 815.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ("SyntheticPushes",)


class SyntheticPushes:
    """Synthetic push fields on ``clock`` (epoch ms); ``balance_fields(user)`` gives a 815."""

    def __init__(self, clock: Callable[[], int],
                 balance_fields: Callable[[str], dict[str, Any]]) -> None:
        self._clock = clock
        self._balance_fields = balance_fields
        self._seq = itertools.count(1)

    def make(self, res: int, game_id: str, user: str) -> dict[str, Any]:
        """Synthetic fields of push ``res`` (362, 366 or 815) for ``game_id``."""
        n = next(self._seq)
        now = self._clock()
        if res == 366:
            return {"game_id": game_id, "action_id": "goal", "target_id": f"t{n % 2}",
                    "target_display_name": f"Team {n % 2}", "current_count": {"t0": n, "t1": 0},
                    "happened_at": now}
        if res == 362:
            return {"pool_id": f"push-pool-{n}", "game_id": game_id, "winning_target": "t0",
                    "description": "resolved by the reference server", "winners": {},
                    "losers": {}, "invalidated_bettors": [], "is_money_return": False,
                    "resolved_at": now}
        if res == 815:
            return self._balance_fields(user)
        raise ValueError(f"the push source makes 362, 366 and 815, not {res}")

    def stream(self, game_id: str, user: str, start: int = 0
               ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Endless synthetic pushes for one game, cycling through 366, 362, 815."""
        for kind in itertools.islice(itertools.cycle((366, 362, 815)), start, None):
            yield kind, self.make(kind, game_id, user)
