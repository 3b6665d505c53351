"""The local reference server: websocket and REST sides, a thread wrapper, faults, a fixture.

* ``websocket``: ``ReferenceServer``, the anyio server that speaks the protocol.
* ``rest``: its REST side (login, signup, logout) on a port of its own.
* ``thread``: ``ServerThread``, the server on a background thread for synchronous code.
* ``faults``: ``Faults`` (misbehaviour knobs) and ``ServerStats`` (what the server received).
* ``pytest_plugin``: the ``instamrkt_server`` fixtures.

The market it plays lives in ``instamrkt_transports.market``; the server imports it, never
the other way round, and nothing on the client side imports either.

The names below load on first use, so that the pytest plugin (which every test session that
has the package installed imports) does not pay for anyio and the server at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .faults import Faults, Received, ServerStats
    from .thread import ServerThread
    from .websocket import ReferenceServer

__all__ = ("Faults", "Received", "ReferenceServer", "ServerStats", "ServerThread")

_HOMES = {"Faults": "faults", "Received": "faults", "ServerStats": "faults",
          "ServerThread": "thread", "ReferenceServer": "websocket"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
