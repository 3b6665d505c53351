"""What happens when a connection is lost: settle, back off, reconnect, restore.

A mixin of ``ClientConnection`` (as websockets' ``ClientProtocol`` extends its
``Protocol``), kept in its own module because it is the session-continuity half of the
client: requests on the lost wire are settled (outcome unknown for anything that may have
moved money, never re-sent), the ``ReconnectPolicy`` picks the delay, and on the new
connection the session is restored (re-logon if it had logged on, then re-join every game
in the registry, all through the same correlation and pacing as any request) before
``Reconnected`` reports the gap and the caller's queued requests flow again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .codes import ERROR_RES, Op, Res
from .config import DEFAULT, ClientConfig
from .correlation import Correlator, PendingRequest
from .errors import ConnectionClosed, InstamrktError, LogonError
from .events import Closed, CloseTransport, Event, LogonFailed, Reconnected
from .keepalive import Keepalive
from .reconnect import ReconnectPolicy
from .session import GameRegistry, Restore
from .state import Input

__all__ = ("SessionRecovery",)

log = logging.getLogger("instamrkt_proto.client")


class SessionRecovery:
    """Connection loss and session restore, for ``ClientConnection``."""

    # Provided by ClientConnection:
    config: ClientConfig
    closed_error: InstamrktError | None
    _events: list[Event]
    _corr: Correlator
    _policy: ReconnectPolicy
    _alive: Keepalive
    _games: GameRegistry
    _restore: Restore | None
    _had_logon: bool
    _reconnects: int
    _reconnect_at: float | None
    _connect_deadline: float | None
    _pacing_at: float | None

    if TYPE_CHECKING:
        def _move(self, event: Input) -> None: ...

        def _fail(self, request: PendingRequest, error: InstamrktError) -> None: ...

        def _new_request(self, op: int, params: dict[str, Any], now: float,
                         timeout: float | None, expect: frozenset[int] | None,
                         idempotent: bool, internal: str | None = None) -> PendingRequest: ...

    def _drop(self, now: float, code: int, reason: str) -> None:
        """The core itself abandons the current connection."""
        self._events.append(CloseTransport(code=code, reason=reason))
        self._lost(now, code, reason)

    def _lost(self, now: float, code: int | None, reason: str) -> None:
        self._connect_deadline = None
        error = ConnectionClosed(reason, code)
        delay = self._policy.lost(now, code, reason)
        if delay is None:
            self._finish(Input.FATAL, error, code=code, reason=reason)
            return
        self._abandon_wire(error, keep_queue=True)
        self._reconnect_at = now + delay
        self._move(Input.LOST)
        log.info("connection lost (%s); reconnecting in %.3f s", reason, delay)
        self._events.append(Closed(code=code, reason=reason, error=error,
                                   reconnect_at=self._reconnect_at))

    def _finish(
        self, event: Input, error: InstamrktError, *, code: int | None, reason: str
    ) -> None:
        """The session ends for good: everything outstanding fails with ``error``."""
        self._abandon_wire(error, keep_queue=False)
        self._move(event)
        self.closed_error = error
        self._reconnect_at = self._connect_deadline = self._pacing_at = None
        self._events.append(Closed(code=code, reason=reason or str(error), error=error))

    def _abandon_wire(self, error: InstamrktError, *, keep_queue: bool) -> None:
        self._alive.reset(None)
        self._restore = None
        for request, outcome in self._corr.abandon(error, keep_queue=keep_queue):
            self._fail(request, outcome)

    def _begin_restore(self, now: float) -> None:
        logon = self._had_logon and self.config.restore_session
        self._restore = Restore(logon=logon)
        if logon:
            self._corr.submit(self._new_request(Op.LOGON, {}, now, DEFAULT, None, False,
                                                internal="logon"), first=True)
        else:
            self._rejoin(now)

    def _rejoin(self, now: float) -> None:
        restore = self._restore
        assert restore is not None
        games = self._games.game_ids() if self.config.restore_session else []
        for game in reversed(games):
            request = self._new_request(Op.JOIN_GAME, {"game_id": game}, now, DEFAULT,
                                        None, False, internal="rejoin")
            self._corr.submit(request, first=True)
        restore.waiting = len(games)
        if not games:
            self._end_restore(now)

    def _restore_reply(
        self, request: PendingRequest, res: int | None, fields: dict[str, Any],
        t: int | None, now: float,
    ) -> None:
        """The re-logon or a re-join answered (res None: it timed out)."""
        restore = self._restore
        if restore is None:
            return
        if request.internal == "logon":
            if res in (Res.LOGON_SUCCESS, Res.LOGON_FAIL_ALREADY_LOGGED_IN):
                self._rejoin(now)
            elif res == Res.LOGON_FAIL:
                event = LogonFailed(request_id=request.id, op=request.op, server_time=t,
                                    fields=fields)
                self._events.append(CloseTransport(code=1000, reason="logon refused"))
                self._finish(Input.FATAL, LogonError(event), code=1000, reason="logon refused")
            else:
                self._drop(now, 1011, "re-logon after reconnect got no answer")
            return
        game = str(request.params.get("game_id"))
        if res == Res.GAME_JOINED:
            restore.rejoined.append(game)
            self._games.saw(game, now)
        else:
            restore.failed.append(game)
            if res == ERROR_RES:
                self._games.forget(game)  # the server refused it: forget the game
        restore.waiting -= 1
        if restore.waiting <= 0:
            self._end_restore(now)

    def _end_restore(self, now: float) -> None:
        restore = self._restore
        assert restore is not None
        self._move(Input.RESTORED if restore.logon else Input.RESTORED_OPEN)
        self._reconnects += 1
        attempts = self._policy.attempt
        self._events.append(Reconnected(
            disconnected_at=self._policy.restored(), reconnected_at=now, attempts=attempts,
            relogged_on=restore.logon, rejoined=tuple(restore.rejoined),
            rejoin_failed=tuple(restore.failed), advice=restore.advice()))
        self._restore = None
