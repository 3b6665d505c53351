"""instamrkt_transports: adapters that bind the sans-IO core to real I/O.

* ``instamrkt_transports.anyio``: async client on asyncio or trio.
* ``instamrkt_transports.threaded``: a background reader thread; every method thread-safe.
* ``instamrkt_transports.blocking``: plain blocking calls, no threads.
* ``instamrkt_transports.rest``: REST login, signup and logout (user id and session key).
* ``instamrkt_transports.server``: the local reference server (and ``instamrkt serve``).

Each adapter only moves bytes and time; every protocol decision lives in ``instamrkt_proto``.
The errors they raise are the core's, re-exported here.
"""

from __future__ import annotations

from instamrkt_proto.errors import (
    AuthenticationError,
    ConnectionClosed,
    ConsumerTooSlow,
    InstamrktError,
    LogonError,
    OutcomeUnknown,
    RequestTimeout,
    RestConnectionError,
    RestError,
    ServerError,
    UndecodableReply,
)

from ._client.calls import ClientMetrics
from .delivery import DeliveryMetrics, Overflow, PushBuffer
from .options import Options

__all__ = (
    "AuthenticationError",
    "ClientMetrics",
    "ConnectionClosed",
    "ConsumerTooSlow",
    "DeliveryMetrics",
    "InstamrktError",
    "LogonError",
    "Options",
    "OutcomeUnknown",
    "Overflow",
    "PushBuffer",
    "RequestTimeout",
    "RestConnectionError",
    "RestError",
    "ServerError",
    "UndecodableReply",
)
