"""``ServerThread``: the reference server on its own event loop in a background thread.

Blocking clients, the CLI and synchronous tests cannot ``await``; this runs
``ReferenceServer`` under ``anyio.from_thread.start_blocking_portal`` (asyncio or trio) and
forwards actions through the portal, so every server method still runs on the server's loop.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

import anyio.from_thread

from instamrkt_proto.auth import Credentials

from ..market import Market
from ..market.replay import Backtest, UserReport
from ..market.scenario import Scenario
from .faults import Faults, ServerStats
from .rest import RestReceived
from .websocket import ReferenceServer

__all__ = ("ServerThread",)

_T = TypeVar("_T")


class ServerThread:
    """A ``ReferenceServer`` running on its own event loop in a background thread.

    For blocking code and tests: ``with ServerThread({"1": "key"}) as srv: ... srv.url``.
    ``backend`` is ``"asyncio"`` or ``"trio"``; other arguments go to ``ReferenceServer``.
    Fault knobs (``faults``, ``faults_for``) are plain attributes read by the loop at each
    use, so setting them from this thread is safe; actions go through the loop's portal.
    """

    def __init__(self, users: Mapping[str | int, str] | None = None, *,
                 backend: str = "asyncio", **options: Any) -> None:
        self.server = ReferenceServer(users, **options)
        self.backend = backend
        self._stack: contextlib.ExitStack | None = None
        self._portal: anyio.from_thread.BlockingPortal | None = None

    def __repr__(self) -> str:
        return f"<ServerThread {self.backend} {self.server!r}>"

    def start(self) -> ServerThread:
        if self._stack is not None:
            raise RuntimeError("the server thread is already started")
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(anyio.from_thread.start_blocking_portal(self.backend))
            stack.enter_context(portal.wrap_async_context_manager(self.server))
            self._portal = portal
            self._stack = stack.pop_all()
        return self

    def close(self) -> None:
        """Graceful shutdown (see ``ReferenceServer.aclose``), then stop the thread."""
        stack, self._stack = self._stack, None
        self._portal = None
        if stack is not None:
            stack.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, func: Callable[[], _T]) -> _T:
        if self._portal is None:
            raise RuntimeError("the server thread is not running")
        return self._portal.call(func)

    @property
    def url(self) -> str:
        """``ws://`` or ``wss://`` URL of the server."""
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def rest_url(self) -> str:
        """The REST root (``http://host:port/i``) to pass as ``base_url`` to a login."""
        return self.server.rest_url

    @property
    def faults(self) -> Faults:
        """The server-wide fault knobs (set attributes from any thread)."""
        return self.server.faults

    @property
    def stats(self) -> ServerStats:
        """What the server received (read from any thread)."""
        return self.server.stats

    @property
    def market(self) -> Market:
        """The server's market (balances, games, pools, bets), for tests to read.

        Its state changes on the server's loop: read it between steps (after the replies
        and pushes you waited for), and change it only through requests.
        """
        return self.server.market

    @property
    def scenario(self) -> Scenario | None:
        """The scripted game the server plays (``scenario=`` option), or None: read its
        ``source_id`` and ``game_id``."""
        return self.server.scenario

    @property
    def backtest(self) -> Backtest | None:
        """The recording the server replays (``replay=`` option): ``game_ids`` maps the
        recorded game ids to the served ones."""
        return self.server.backtest

    @property
    def replay_finished(self) -> bool:
        """The replayed recording has been played to its end and every connection has
        written what it was sent (the clients may still be reading it)."""
        return self.server.replay_finished

    def replay_report(self, users: Iterable[str] = ()) -> list[UserReport]:
        """What each user did in the replayed games (read on the server's loop)."""
        return self._call(lambda: self.server.replay_report(users))

    def replay_mismatches(self) -> list[tuple[str, str, str | None]]:
        """Pools the replay decided otherwise than the recording (``Backtest.mismatches``)."""
        backtest = self.server.backtest
        return [] if backtest is None else self._call(backtest.mismatches)

    @property
    def credentials(self) -> Credentials:
        """Credentials of the first configured user."""
        return self.server.credentials()

    def credentials_for(self, user_id: str | int) -> Credentials:
        return self.server.credentials(user_id)

    def add_user(self, user_id: str | int, session_key: str) -> Credentials:
        return self._call(functools.partial(self.server.add_user, user_id, session_key))

    def add_account(self, username: str, password: str, email: str | None = None,
                    user_id: str | int | None = None) -> Credentials:
        """See ``ReferenceServer.add_account``."""
        return self._call(functools.partial(self.server.add_account, username, password,
                                            email, user_id))

    def expire_key(self, user_id: str | int) -> None:
        """See ``ReferenceServer.expire_key``: the next handshake gets 403, a logon 110."""
        self._call(functools.partial(self.server.expire_key, user_id))

    def rest_calls(self) -> list[RestReceived]:
        """The REST requests answered so far, in order."""
        return self._call(lambda: list(self.server.rest.calls))

    def faults_for(self, user_id: str | int) -> Faults:
        return self._call(functools.partial(self.server.faults_for, user_id))

    def push(self, user_id: str | int | None, res: int, /, **fields: Any) -> int:
        return self._call(functools.partial(self.server.push, user_id, res, **fields))

    def burst(self, game_id: str | int, n: int) -> int:
        return self._call(functools.partial(self.server.burst, game_id, n))

    def flood(self, user_id: str | int, n: int, res: int = 815) -> Future[int]:
        """Start ``ReferenceServer.flood`` on the server's loop; the future gives its count."""
        if self._portal is None:
            raise RuntimeError("the server thread is not running")
        return self._portal.start_task_soon(self.server.flood, user_id, n, res)

    def close_connections(self, user_id: str | int | None = None, code: int = 1001,
                          reason: str = "") -> int:
        return self._call(
            functools.partial(self.server.close_connections, user_id, code, reason))

    def connected_users(self) -> list[str]:
        return self._call(self.server.connected_users)

