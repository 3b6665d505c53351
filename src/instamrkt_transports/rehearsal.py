"""Everything a test suite needs to rehearse against the reference server, in one import.

``Faults``, ``ServerStats`` and ``Received`` live in ``instamrkt_transports.server.faults``;
``Market`` and its records in ``instamrkt_transports.market``. This module re-exports them
under the name test suites have always imported them by.
"""

from __future__ import annotations

from .market import Audience, Market, MarketError, Out
from .server.faults import PUSH_KINDS, Faults, Received, ServerStats
from .server.thread import ServerThread
from .server.websocket import ReferenceServer

__all__ = ("PUSH_KINDS", "Audience", "Faults", "Market", "MarketError", "Out", "Received",
           "ReferenceServer", "ServerStats", "ServerThread")
