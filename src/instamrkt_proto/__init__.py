"""instamrkt_proto: a sans-IO protocol core for the Instamrkt websocket API.

No sockets, threads, clocks or random sources: bytes and time go in, bytes and events come
out. ``ClientConnection`` is the client role and ``instamrkt_proto.server.ServerConnection``
the server role; both share the codec, the events and the errors. See the README.
"""

from __future__ import annotations

from . import api as _api  # noqa: F401 - binds the typed models to the core's decoders
from ._state import State
from ._timing import Backoff, ClockEstimate, RateLimit
from .auth import Credentials, connection_url, digest
from .client import ClientConnection
from .codes import (
    DEFAULT_OPCODES,
    DEFAULT_RESPONSE_CODES,
    ECHO_KEYS,
    IDEMPOTENT,
    REPLIES,
    Op,
    Res,
)
from .config import DEFAULT, ClientConfig, Metrics
from .errors import (
    AuthenticationError,
    ConnectionClosed,
    ConsumerTooSlow,
    InsecureHTTPError,
    InstamrktError,
    LocalProtocolError,
    LogonError,
    MessageTooBig,
    OutcomeUnknown,
    RemoteProtocolError,
    RequestLimitExceeded,
    RequestTimeout,
    RestConnectionError,
    RestError,
    RestSettingError,
    ServerError,
    UndecodableReply,
)
from .events import (
    Closed,
    CloseTransport,
    Connected,
    Connecting,
    Event,
    LateReply,
    LoggedOn,
    LogonFailed,
    OpcodeTable,
    Pong,
    ProtocolError,
    Push,
    PushesDropped,
    Reconnected,
    RefreshCredentials,
    RequestFailed,
    RequestSettled,
    Response,
    Stale,
    UncorrelatedError,
)

__all__ = (
    "DEFAULT",
    "DEFAULT_OPCODES",
    "DEFAULT_RESPONSE_CODES",
    "ECHO_KEYS",
    "IDEMPOTENT",
    "REPLIES",
    "AuthenticationError",
    "Backoff",
    "ClientConfig",
    "ClientConnection",
    "ClockEstimate",
    "CloseTransport",
    "Closed",
    "Connected",
    "Connecting",
    "ConnectionClosed",
    "ConsumerTooSlow",
    "Credentials",
    "Event",
    "InsecureHTTPError",
    "InstamrktError",
    "LateReply",
    "LocalProtocolError",
    "LoggedOn",
    "LogonError",
    "LogonFailed",
    "MessageTooBig",
    "Metrics",
    "Op",
    "OpcodeTable",
    "OutcomeUnknown",
    "Pong",
    "ProtocolError",
    "Push",
    "PushesDropped",
    "RateLimit",
    "Reconnected",
    "RefreshCredentials",
    "RemoteProtocolError",
    "RequestFailed",
    "RequestLimitExceeded",
    "RequestSettled",
    "RequestTimeout",
    "Res",
    "Response",
    "RestConnectionError",
    "RestError",
    "RestSettingError",
    "ServerError",
    "Stale",
    "State",
    "UncorrelatedError",
    "UndecodableReply",
    "connection_url",
    "digest",
)
