"""The anyio client behind the blocking call surface, on a portal thread.

Synchronous code (the ``instamrkt`` command, the shared adapter tests) can then drive the
anyio client on asyncio or trio exactly as it drives the blocking and threaded clients: each
call runs on the portal's event loop while the calling thread waits for its result.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio.from_thread
from anyio.from_thread import BlockingPortal

from instamrkt_proto import Credentials, Event, Response
from instamrkt_proto.client import ClientConnection
from instamrkt_proto.mirror import MarketMirror

from .. import anyio as anyio_client
from ..options import Options
from .calls import Calls, ClientMetrics

__all__ = ("PortalClient", "connect")


class PortalClient(Calls):
    """An ``AsyncClient`` driven from another thread through a blocking portal."""

    def __init__(self, portal: BlockingPortal, client: anyio_client.AsyncClient) -> None:
        self._portal = portal
        self._client = client
        self._live = True  # until connect()'s block ends, and the portal with it

    def _call(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
              idempotent: bool | None = None, retry: bool | None = None) -> Response:
        if not self._running():  # the portal ended with connect()'s block: so did the session
            raise self._client._driver.closed_error()
        call = functools.partial(self._client._call, op, params, timeout, idempotent, retry)
        return self._portal.call(call)

    @property
    def core(self) -> ClientConnection:
        return self._client.core

    @property
    def mirror(self) -> MarketMirror | None:
        return self._client.mirror

    def metrics(self) -> ClientMetrics:
        if not self._running():
            return self._client.metrics()  # nothing runs any more: no race left
        return self._portal.call(self._client.metrics)

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next push or lifecycle event; None after ``timeout`` seconds or once closed."""
        if not self._running():
            return None
        return self._portal.call(self._client.next_event, timeout)

    def close(self) -> None:
        """Close the session; outstanding calls fail. Idempotent."""
        if self._running():
            self._portal.call(self._client.aclose)

    def _running(self) -> bool:
        return self._live


@contextmanager
def connect(url: str, credentials: Credentials, *, backend: str = "asyncio",
            options: Options | None = None, **kwargs: Any) -> Iterator[PortalClient]:
    """``anyio.connect`` on a new event loop of ``backend`` ("asyncio" or "trio")."""
    with anyio.from_thread.start_blocking_portal(backend) as portal, \
            portal.wrap_async_context_manager(
                anyio_client.connect(url, credentials, options=options, **kwargs)) as client:
        face = PortalClient(portal, client)
        try:
            yield face
        finally:
            face.close()
            face._live = False
