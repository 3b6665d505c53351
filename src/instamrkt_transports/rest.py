"""Credentials from the REST API: login, signup and logout, for blocking and anyio code.

The websocket API needs a user id and a session key, and only the REST API hands them out::

    from instamrkt_transports import blocking, rest

    creds = rest.login("https://dev.instamrkt.com/i", "alice", password)
    with blocking.connect("wss://instamrkt.com:9999", creds) as client:
        client.logon()

``alogin``/``asignup``/``alogout`` are the same calls for anyio code (asyncio or trio).
``RestClient``/``AsyncRestClient`` keep the server's cookies between calls, so a logout
signs out the very session its login opened.

Why httpx: one library with one API for blocking and async code, on any anyio backend,
that verifies TLS and honours the proxy environment (``https_proxy``, ``no_proxy``...) as
the websocket side does. Each call is written once, as a generator that yields the HTTP
requests it needs and receives their answers, the sans-I/O shape of the rest of the
library; one async driver runs it. The flows and the driver are in ``_client/restcalls.py``,
what their errors may show in ``_client/restsecrets.py``; this module is what users call.

Why one async driver, also under the blocking calls: ``timeout`` is a deadline for the
whole call, and httpx's own timeouts only bound each read, so a server that trickles one
byte a second would hold a call forever. An anyio cancel scope bounds the whole call; the
blocking client runs the driver on a short-lived event loop thread (a blocking portal), so
it works from any thread, even one that runs an event loop of its own.

XSRF: the API accepts a POST only if its ``X-XSRFToken`` header equals its ``_xsrf``
cookie. The server sets that cookie on its pages, so the client first asks the REST root
for one; if the server sets none, the client makes up a token and submits it both ways
(double submit), which is all the check compares.

Secrets: the password and the session key never appear in a repr, a log line or an
exception (its message, its ``__cause__`` or ``__context__``: httpx's exceptions, whose
request holds the password, are never chained). Text that comes from the server or from
httpx is shown only if it holds no secret at all: it is withheld whole otherwise, since
masking a short password inside a sentence would reveal it. httpcore logs raw response
headers at DEBUG, and a login's ``Set-Cookie`` carries the session key, so importing this
module installs a filter on httpcore's loggers that redacts cookie headers.

Plain ``http://`` is refused for any host but this machine (loopback), before anything is
sent, unless the caller passes ``allow_insecure_http=True``.
"""

from __future__ import annotations

import ssl
from types import TracebackType

from instamrkt_proto.auth import Credentials
from instamrkt_proto.errors import (
    AuthenticationError,
    InsecureHTTPError,
    RestAuthenticationError,
    RestConnectionError,
    RestError,
    RestSettingError,
)

from ._client.restcalls import (
    Jar,
    Settings,
    check_base_url,
    drive,
    login_flow,
    logout_flow,
    run_blocking,
    signup_flow,
)
from ._client.restsecrets import WITHHELD, Secrets

__all__ = (
    "WITHHELD",
    "AsyncRestClient",
    "AuthenticationError",
    "InsecureHTTPError",
    "RestAuthenticationError",
    "RestClient",
    "RestConnectionError",
    "RestError",
    "RestSettingError",
    "alogin",
    "alogout",
    "asignup",
    "check_base_url",
    "login",
    "logout",
    "signup",
)

DEFAULT_TIMEOUT = 30.0


# -- the two clients --------------------------------------------------------------------------

class RestClient:
    """A blocking REST session against one REST root; not thread-safe.

    It keeps the server's cookies between its calls. ``base_url`` is the REST root
    (``https://dev.instamrkt.com/i``). ``timeout`` bounds each call as a whole (seconds:
    the XSRF fetch and the POST together; None: wait forever): each call runs on a
    short-lived event loop thread so that it can (see the module docstring).
    ``ssl_context`` replaces the verifying default for https. ``proxy`` is a proxy URL,
    False for none, or None for the environment's (``https_proxy``, ``no_proxy``...).
    ``fetch_xsrf=False`` skips asking the server for an ``_xsrf`` cookie and double-submits
    a token of our own straight away. ``allow_insecure_http=True`` allows plain
    ``http://`` to a host other than this machine (refused by default: the password would
    travel in clear).
    """

    def __init__(self, base_url: str, *, timeout: float | None = DEFAULT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                 fetch_xsrf: bool = True, allow_insecure_http: bool = False) -> None:
        self._settings = Settings(base_url, timeout, ssl_context, proxy, fetch_xsrf,
                                   allow_insecure_http)
        self._jar = Jar()

    def __repr__(self) -> str:
        return f"<RestClient {self._settings.base}>"

    @property
    def base_url(self) -> str:
        return str(self._settings.base)

    def login(self, username: str, password: str, *, next_url: str | None = None,
              invite_id: str | None = None) -> Credentials:
        """Sign in; the answer's ``id`` and ``user_session_key`` become the credentials.

        ``next_url`` and ``invite_id`` are sent as the documented ``next`` and
        ``invite_id`` fields when given. Every login issues a new session key; the previous
        one stops working.
        """
        s, found = self._settings, Secrets(password)
        return run_blocking(s, self._jar, "login", lambda c: login_flow(
            c, s, found, username, password, next_url, invite_id), found)

    def signup(self, username: str, email: str, password: str, *,
               invite_id: str | None = None) -> Credentials:
        """Create an account and return its credentials (fails clearly if none came back)."""
        s, found = self._settings, Secrets(password)
        return run_blocking(s, self._jar, "signup", lambda c: signup_flow(
            c, s, found, username, email, password, invite_id), found)

    def logout(self, credentials: Credentials | None = None) -> None:
        """Sign out: this session's login, or ``credentials`` if given; the key dies."""
        s, found = self._settings, Secrets(credentials and credentials.session_key)
        run_blocking(s, self._jar, "logout", lambda c: logout_flow(c, s, found, credentials),
                      found)

    def close(self) -> None:
        """Forget the session's cookies (each call's connections close with the call)."""
        self._jar = Jar()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncRestClient:
    """``RestClient`` for anyio code (asyncio or trio); the same options and calls."""

    def __init__(self, base_url: str, *, timeout: float | None = DEFAULT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                 fetch_xsrf: bool = True, allow_insecure_http: bool = False) -> None:
        self._settings = Settings(base_url, timeout, ssl_context, proxy, fetch_xsrf,
                                   allow_insecure_http)
        self._jar = Jar()

    def __repr__(self) -> str:
        return f"<AsyncRestClient {self._settings.base}>"

    @property
    def base_url(self) -> str:
        return str(self._settings.base)

    async def login(self, username: str, password: str, *, next_url: str | None = None,
                    invite_id: str | None = None) -> Credentials:
        """See ``RestClient.login``."""
        s, found = self._settings, Secrets(password)
        return await drive(s, self._jar, "login", lambda c: login_flow(
            c, s, found, username, password, next_url, invite_id), found)

    async def signup(self, username: str, email: str, password: str, *,
                     invite_id: str | None = None) -> Credentials:
        """See ``RestClient.signup``."""
        s, found = self._settings, Secrets(password)
        return await drive(s, self._jar, "signup", lambda c: signup_flow(
            c, s, found, username, email, password, invite_id), found)

    async def logout(self, credentials: Credentials | None = None) -> None:
        """See ``RestClient.logout``."""
        s, found = self._settings, Secrets(credentials and credentials.session_key)
        await drive(s, self._jar, "logout", lambda c: logout_flow(c, s, found, credentials),
                     found)

    async def aclose(self) -> None:
        """See ``RestClient.close``."""
        self._jar = Jar()

    async def __aenter__(self) -> AsyncRestClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


# -- one-shot calls ---------------------------------------------------------------------------


def login(base_url: str, username: str, password: str, *,
          timeout: float | None = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None,
          proxy: str | bool | None = None, fetch_xsrf: bool = True,
          allow_insecure_http: bool = False, next_url: str | None = None,
          invite_id: str | None = None) -> Credentials:
    """Sign in at the REST root ``base_url``; options as for ``RestClient``.

    Raises ``AuthenticationError`` (the server refused the username or password: HTTP
    401/403 with the API's JSON, its ``msg`` as ``reason``), ``RestError`` (a server
    failure, an XSRF refusal, a proxy's page, or an answer that is not the documented JSON),
    ``RestConnectionError`` (no complete answer: network, TLS, proxy, timeout) or
    ``RestSettingError``/``InsecureHTTPError`` (a setting that cannot be used; nothing
    was sent).
    """
    with RestClient(base_url, timeout=timeout, ssl_context=ssl_context, proxy=proxy,
                    fetch_xsrf=fetch_xsrf, allow_insecure_http=allow_insecure_http) as client:
        return client.login(username, password, next_url=next_url, invite_id=invite_id)


def signup(base_url: str, username: str, email: str, password: str, *,
           timeout: float | None = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None,
           proxy: str | bool | None = None, fetch_xsrf: bool = True,
           allow_insecure_http: bool = False, invite_id: str | None = None) -> Credentials:
    """Create an account and return its credentials; errors as for ``login``."""
    with RestClient(base_url, timeout=timeout, ssl_context=ssl_context, proxy=proxy,
                    fetch_xsrf=fetch_xsrf, allow_insecure_http=allow_insecure_http) as client:
        return client.signup(username, email, password, invite_id=invite_id)


def logout(base_url: str, credentials: Credentials, *,
           timeout: float | None = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None,
           proxy: str | bool | None = None, fetch_xsrf: bool = True,
           allow_insecure_http: bool = False) -> None:
    """Sign ``credentials`` out, which kills their session key.

    The id and key travel as the ``im_user`` and ``user_session_key`` cookies (a value a
    Cookie header cannot carry is a ``RestSettingError``). A server that signs its
    ``im_user`` cookie only accepts its own: there, log out through the ``RestClient`` that
    logged in.
    """
    with RestClient(base_url, timeout=timeout, ssl_context=ssl_context, proxy=proxy,
                    fetch_xsrf=fetch_xsrf, allow_insecure_http=allow_insecure_http) as client:
        client.logout(credentials)


async def alogin(base_url: str, username: str, password: str, *,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                 fetch_xsrf: bool = True, allow_insecure_http: bool = False,
                 next_url: str | None = None, invite_id: str | None = None) -> Credentials:
    """``login`` for anyio code."""
    async with AsyncRestClient(base_url, timeout=timeout, ssl_context=ssl_context,
                               proxy=proxy, fetch_xsrf=fetch_xsrf,
                               allow_insecure_http=allow_insecure_http) as client:
        return await client.login(username, password, next_url=next_url, invite_id=invite_id)


async def asignup(base_url: str, username: str, email: str, password: str, *,
                  timeout: float | None = DEFAULT_TIMEOUT,
                  ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                  fetch_xsrf: bool = True, allow_insecure_http: bool = False,
                  invite_id: str | None = None) -> Credentials:
    """``signup`` for anyio code."""
    async with AsyncRestClient(base_url, timeout=timeout, ssl_context=ssl_context,
                               proxy=proxy, fetch_xsrf=fetch_xsrf,
                               allow_insecure_http=allow_insecure_http) as client:
        return await client.signup(username, email, password, invite_id=invite_id)


async def alogout(base_url: str, credentials: Credentials, *,
                  timeout: float | None = DEFAULT_TIMEOUT,
                  ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                  fetch_xsrf: bool = True, allow_insecure_http: bool = False) -> None:
    """``logout`` for anyio code."""
    async with AsyncRestClient(base_url, timeout=timeout, ssl_context=ssl_context,
                               proxy=proxy, fetch_xsrf=fetch_xsrf,
                               allow_insecure_http=allow_insecure_http) as client:
        await client.logout(credentials)
