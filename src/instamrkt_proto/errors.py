"""The exception hierarchy shared by the core and every transport.

Why two families: a caller who misuses the API (``LocalProtocolError``) must fix their code,
while a peer that misbehaves (``RemoteProtocolError``) is a fact of life the program must
survive. The remaining classes are *outcomes* of a request or a connection; the core builds
them and hands them out inside events, and the transports raise them. Keeping them here means
every layer agrees on one set of types.

No exception message ever contains a session key or a digest: messages are built only from
op codes, response codes, sizes, states and server-supplied text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = (
    "AuthenticationError",
    "ConnectionClosed",
    "ConsumerTooSlow",
    "InsecureHTTPError",
    "InstamrktError",
    "LocalProtocolError",
    "LogonError",
    "MessageTooBig",
    "OutcomeUnknown",
    "RemoteProtocolError",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RestAuthenticationError",
    "RestConnectionError",
    "RestError",
    "RestSettingError",
    "ServerError",
    "UndecodableReply",
)


class InstamrktError(Exception):
    """Base of every error this library raises on purpose."""


class LocalProtocolError(InstamrktError):
    """The caller used the API in a way the current state does not allow."""


class RequestLimitExceeded(LocalProtocolError):
    """More requests are outstanding than ``max_outstanding`` allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} requests are already outstanding (max_outstanding={limit})")
        self.limit = limit


class RemoteProtocolError(InstamrktError):
    """The server sent something the protocol does not allow (malformed, wrong types...)."""


class UndecodableReply(RemoteProtocolError):
    """A typed call's reply had a documented code but a payload its model cannot hold.

    ``response`` is that reply as the generic ``Response`` (its ``decode_error`` says why):
    the request was answered, so nothing is lost.
    """

    def __init__(self, message: str, response: Any) -> None:
        super().__init__(message)
        self.response = response


class MessageTooBig(RemoteProtocolError):
    """A received message exceeded our own ``max_message_size``."""

    def __init__(self, size: int, max_size: int) -> None:
        super().__init__(
            f"received a message of {size} bytes; this client's max_message_size is {max_size}"
        )
        self.size = size
        self.max_size = max_size


class ConnectionClosed(InstamrktError, ConnectionError):
    """The connection closed before the request could be answered, or is closed now."""

    def __init__(self, reason: str = "connection closed", code: int | None = None) -> None:
        super().__init__(reason if code is None else f"{reason} (code {code})")
        self.reason = reason
        self.code = code


class AuthenticationError(InstamrktError):
    """The server refused the credentials: a fatal error, retrying cannot help.

    Raised for a refused websocket handshake (HTTP 403/400), a logon refused (res 110) with
    refreshed credentials, a credentials provider that failed, and a refused REST login,
    signup or logout (HTTP 401/403 with the API's JSON); ``action`` says which
    ("handshake", "logon", "credential refresh", "login", "signup", "logout"), ``reason``
    is the server's own explanation (the REST ``msg``, withheld if it quotes a secret).
    """

    def __init__(self, status: int | None, reason: str = "", *,
                 action: str = "handshake") -> None:
        text = f"{action} refused with HTTP {status}" if status else f"{action} refused"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.status = status
        self.reason = reason
        self.action = action


class RequestTimeout(InstamrktError, TimeoutError):
    """No reply came within the request's timeout.

    ``sent`` tells whether the request ever reached the wire: a request held back (by the
    correlation rules, pacing or a reconnect) that times out was never sent at all.
    """

    def __init__(self, op: int, timeout: float, *, sent: bool) -> None:
        where = "" if sent else " (it was never sent)"
        super().__init__(f"op {op}: no reply within {timeout:g} s{where}")
        self.op = op
        self.timeout = timeout
        self.sent = sent


class ServerError(InstamrktError):
    """The server answered res 666; ``text`` is its explanation, verbatim."""

    def __init__(self, text: str | None, op: int | None = None) -> None:
        prefix = f"op {op}: " if op is not None else ""
        super().__init__(f"{prefix}server error: {text}")
        self.text = text
        self.op = op


class LogonError(InstamrktError):
    """Logon was refused (res 110). ``event`` is the ``LogonFailed`` event."""

    def __init__(self, event: Any) -> None:
        super().__init__("logon refused by the server (res 110)")
        self.event = event


class OutcomeUnknown(InstamrktError):
    """A non-idempotent request was sent but its reply never came.

    The request may or may not have taken effect on the server (a bet may be placed). It is
    never re-sent automatically; reconcile with a read (for example get_my_current_balance or
    list_my_running_pools_for_game) before deciding to send it again.
    """

    def __init__(self, op: int, params: Mapping[str, Any], reason: str) -> None:
        super().__init__(f"op {op}: outcome unknown ({reason}); it was not re-sent")
        self.op = op
        self.params = dict(params)
        self.reason = reason


class ConsumerTooSlow(InstamrktError):
    """The push queue overflowed under the ``fail`` overflow policy."""

    def __init__(self, capacity: int) -> None:
        super().__init__(f"push queue overflowed its capacity of {capacity} events")
        self.capacity = capacity


class RestError(InstamrktError):
    """A REST call (login, signup, logout) failed for a reason other than the credentials.

    The server answered an error status (``status``, with its ``msg`` if it sent one), or an
    answer that is not the documented JSON: a proxy's or a captive portal's page, a 200
    without an id or a session key. Retrying later may help; changing the password will not.
    """

    def __init__(self, action: str, reason: str, *, status: int | None = None,
                 msg: str | None = None) -> None:
        where = f" with HTTP {status}" if status is not None else ""
        detail = f"{reason}: {msg}" if msg else reason
        super().__init__(f"{action} failed{where}: {detail}")
        self.action = action
        self.status = status
        self.msg = msg


class RestConnectionError(RestError, ConnectionError):
    """A REST call got no HTTP answer at all: refused, unreachable, TLS failure, timeout."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(action, reason)


class RestAuthenticationError(AuthenticationError, RestError):
    """A REST login, signup or logout the server refused (HTTP 401/403 with its JSON).

    Both an ``AuthenticationError`` (the credentials are wrong: retrying cannot help) and a
    ``RestError``, so ``except RestError`` catches every failure of a REST call. ``msg``
    is the same text as ``reason``.
    """

    def __init__(self, status: int | None, reason: str = "", *, action: str) -> None:
        text = f"{action} refused with HTTP {status}" if status else f"{action} refused"
        InstamrktError.__init__(self, f"{text}: {reason}" if reason else text)
        self.status = status
        self.reason = reason
        self.action = action
        self.msg = reason or None


class RestSettingError(LocalProtocolError, ValueError):
    """A REST call's own setting cannot be used, so nothing was sent.

    A base URL that is not an http(s) REST root or that carries a user name or password, a
    proxy setting httpx cannot use (a SOCKS proxy without the ``socksio`` package, a
    malformed proxy URL), or a user id or session key that cannot travel in a Cookie
    header. The message says which, never the secret itself.
    """


class InsecureHTTPError(RestSettingError):
    """A REST call would send a password or a session key over plain ``http://`` to a host
    that is not this machine; refused before anything is sent (``allow_insecure_http=True``
    lifts the refusal, for a trusted test network)."""
