"""pytest plugin (entry point ``instamrkt``): a running reference server as a fixture.

* ``instamrkt_server``: a ``ServerThread`` on 127.0.0.1 and a free port, with one ready user.
  Use ``.url``, ``.credentials`` (an ``instamrkt_proto.Credentials``), ``.faults`` /
  ``.faults_for(user_id)`` (fault knobs, settable mid-test), ``.stats`` (what the server
  received), and ``.push`` / ``.burst`` / ``.close_connections``. Its REST side:
  ``.rest_url`` (the ``base_url`` for ``instamrkt_transports.rest.login``),
  ``.add_account(username, password)`` and ``.expire_key(user_id)``.
* ``instamrkt_server_factory``: ``factory(users=None, *, backend="asyncio", **options)``
  starts more servers (TLS, trio, several users, ``rest=False``, ``scenario="football"``...);
  all are closed at teardown.

Importing this module is cheap: the server and anyio load only when a fixture is used, so
every test session that has the package installed pays nothing for the plugin.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .thread import ServerThread

__all__ = ("instamrkt_server", "instamrkt_server_factory")

ServerFactory = Callable[..., "ServerThread"]


@pytest.fixture
def instamrkt_server_factory() -> Iterator[ServerFactory]:
    """Start reference servers on demand; each is shut down when the test ends.

    Unless given, ``users`` is one user ``"1001"`` with a random session key, and the
    shutdown ``close_timeout`` is 0.25 s so a test that leaves a client open stays fast.
    """
    started: list[ServerThread] = []

    def factory(users: Mapping[str | int, str] | None = None, *, backend: str = "asyncio",
                **options: Any) -> ServerThread:
        from .thread import ServerThread  # lazily: keeps the plugin cheap

        if users is None:
            users = {"1001": secrets.token_hex(16)}
        options.setdefault("close_timeout", 0.25)
        server = ServerThread(users, backend=backend, **options).start()
        started.append(server)
        return server

    try:
        yield factory
    finally:
        for server in reversed(started):
            server.close()


@pytest.fixture
def instamrkt_server(instamrkt_server_factory: ServerFactory) -> ServerThread:
    """A running reference server (asyncio, in a background thread) with one ready user."""
    return instamrkt_server_factory()
