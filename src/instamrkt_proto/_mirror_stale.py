"""What the market mirror cannot vouch for, and the reads that would let it again.

Pushes lost in a gap (``Reconnected``, ``PushesDropped``) or never seen (a game just
joined, the balance at start) leave the mirror's state possibly wrong, and nothing in the
later pushes says so. This bookkeeping is kept apart from the state it judges: it is marked
after a gap, cleared only by the replies of the reads it asks for, and turned into those
reads (``resync_requests``), so what is stale and what refreshes it are decided in one
place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from . import api
from ._mirror_pools import Pool
from ._mirror_records import Change, MarkedStale, Resynced, StaleKey, StaleKind

__all__ = ("BALANCE", "Staleness", "game_keys")

BALANCE = StaleKey(StaleKind.BALANCE)
_KIND_ORDER = {kind: i for i, kind in enumerate(StaleKind)}
_BALANCE_RES = frozenset({800, 810, 815, 840})


def game_keys(game_id: str) -> list[StaleKey]:
    """A game's details, its open pools and my stakes in them: a gap in its pushes may
    have changed any of the three."""
    return [StaleKey(StaleKind.GAME, game_id), StaleKey(StaleKind.GAME_POOLS, game_id),
            StaleKey(StaleKind.MY_POOLS, game_id)]


class Staleness:
    """The mirror's stale keys, the balance parts still to re-read and the pools of mine
    that left a list unresolved.

    ``keys`` and ``missing`` are changed in place only, never rebound: the mirror holds
    them too, to test them on its push paths without a hop, and changes them only through
    this class. ``pools`` is the mirror's own map, read to know a pool's game.
    """

    __slots__ = ("gaps", "keys", "missing", "pending", "pools", "resyncs")

    def __init__(self, pools: Mapping[str, Pool]) -> None:
        self.pools = pools
        # The balance was never read: a mirror starts unable to vouch for it.
        self.keys: set[StaleKey] = {BALANCE}
        self.pending: set[str] = {"current", "available"}
        self.missing: set[str] = set()  # pools of mine gone from an open-pools list
        self.gaps = self.resyncs = 0

    # -- marking ---------------------------------------------------------------------------

    def mark(self, keys: Iterable[StaleKey], cause: str, out: list[Change]) -> None:
        new = frozenset(keys) - self.keys
        if new:
            self.keys.update(new)
            if BALANCE in new:
                self.pending = {"current", "available"}
            out.append(MarkedStale(keys=new, cause=cause))

    def gap(self, cause: str, game_ids: Iterable[str], out: list[Change]) -> None:
        """Pushes were lost: everything they could have changed is stale (an ended pool
        changes no more)."""
        self.gaps += 1
        keys = [BALANCE]
        for game_id in game_ids:
            keys += game_keys(game_id)
        keys += [StaleKey(StaleKind.POOL, p) for p, v in self.pools.items()
                 if not v.status.ended]
        self.mark(keys, cause, out)

    def undecodable(self, res: int | None, fields: Mapping[str, Any], out: list[Change]) -> bool:
        """A state-bearing message the core could not structure: what it named is stale.
        False if it named nothing the mirror could mark."""
        keys = [BALANCE] if res in _BALANCE_RES else []
        pool_id, game_id = fields.get("pool_id"), fields.get("game_id")
        if pool_id is not None:
            keys.append(StaleKey(StaleKind.POOL, str(pool_id)))
        elif game_id is not None:
            keys += game_keys(str(game_id))
        if keys:
            self.mark(keys, f"undecodable {res}", out)
        return bool(keys)

    def unlisted(self, pool_id: str, out: list[Change]) -> None:
        """A pool holding my stake went missing from a list of open pools: it ended
        while the mirror did not look, and only the resolved list can say how."""
        self.missing.add(pool_id)
        self.mark([StaleKey(StaleKind.POOL, pool_id)], "not in a list", out)

    # -- clearing --------------------------------------------------------------------------

    def clear(self, keys: Iterable[StaleKey], out: list[Change]) -> None:
        stale = self.keys
        if not stale:
            return
        gone = frozenset(k for k in keys if k in stale)
        if gone:
            stale.difference_update(gone)
            self.resyncs += 1
            out.append(Resynced(keys=gone))

    def balance_read(self, part: str, out: list[Change]) -> None:
        """One part of the balance was read; the balance is fresh once both are."""
        self.pending.discard(part)
        if not self.pending:
            self.clear([BALANCE], out)

    def balance_pushed(self, out: list[Change]) -> None:
        """A 815 carries the whole balance: it refreshes both parts at once."""
        self.pending.clear()
        self.clear([BALANCE], out)

    def pool_gone(self, pool_id: str) -> None:
        """A pool ended or was forgotten: nothing about it is left to re-read."""
        self.keys.discard(StaleKey(StaleKind.POOL, pool_id))
        self.missing.discard(pool_id)

    def listed(self, pool_id: str) -> None:
        """A pool is in a list again, so it is not missing; its stale key stays for the
        list's reply to clear (reported as ``Resynced``)."""
        self.missing.discard(pool_id)

    def game_left(self, game_id: str) -> None:
        """A game left sends no more pushes, so there is nothing of it to refresh (no
        ``Resynced``: nothing was read)."""
        self.keys.difference_update(game_keys(game_id))

    # -- reading ---------------------------------------------------------------------------

    def is_stale(self, pool_id: str) -> bool:
        keys = self.keys
        if not keys:
            return False
        if StaleKey(StaleKind.POOL, pool_id) in keys:
            return True
        pool = self.pools.get(pool_id)
        return pool is not None and pool.game_id is not None and (
            StaleKey(StaleKind.GAME_POOLS, pool.game_id) in keys
            or StaleKey(StaleKind.MY_POOLS, pool.game_id) in keys)

    def resync_requests(self, currency: str | None) -> tuple[api.Request[Any], ...]:
        """Each read once, in a stable order (kind, then id), so a retry after a partial
        resync sends the same reads."""
        out: dict[api.Request[Any], None] = {}
        for key in sorted(self.keys, key=lambda k: (_KIND_ORDER[k.kind], k.id or "")):
            for request in self._reads_for(key, currency):
                out.setdefault(request, None)
        return tuple(out)

    def _reads_for(self, key: StaleKey, currency: str | None
                   ) -> Iterator[api.Request[Any]]:
        kind, ident = key.kind, key.id or ""
        if kind is StaleKind.BALANCE:
            if "current" in self.pending:
                yield api.GetMyCurrentBalance(currency=currency)
            if "available" in self.pending:
                yield api.GetMyAvailableBalance(currency=currency)
        elif kind is StaleKind.GAME:
            yield api.GetGameDetails(game_id=ident)
        elif kind is StaleKind.GAME_POOLS:
            yield api.ListAllBettingPoolsForGame(game_id=ident)
        elif kind is StaleKind.MY_POOLS:
            yield api.ListMyRunningPoolsForGame(game_id=ident)
        else:
            pool = self.pools.get(ident)
            if pool is None or pool.game_id is None:
                yield api.GetBettingPoolBetsDistribution(pool_id=ident)
            elif ident in self.missing:
                yield api.ListMyResolvedPoolsForGame(game_id=pool.game_id)
            else:
                yield api.ListAllBettingPoolsForGame(game_id=pool.game_id)
