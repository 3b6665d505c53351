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
library; the two clients differ only in how they send.

XSRF: the API accepts a POST only if its ``X-XSRFToken`` header equals its ``_xsrf``
cookie. The server sets that cookie on its pages, so the client first asks the REST root
for one; if the server sets none, the client makes up a token and submits it both ways
(double submit), which is all the check compares.

Secrets: the password and the session key never appear in a repr, a log line or an
exception message. httpcore logs raw response headers at DEBUG, and a login's
``Set-Cookie`` carries the session key, so importing this module installs a filter on
httpcore's loggers that redacts cookie headers.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import ssl
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from instamrkt_proto.auth import Credentials
from instamrkt_proto.errors import (
    AuthenticationError,
    LocalProtocolError,
    RestConnectionError,
    RestError,
)

__all__ = (
    "AsyncRestClient",
    "AuthenticationError",
    "RestClient",
    "RestConnectionError",
    "RestError",
    "alogin",
    "alogout",
    "asignup",
    "login",
    "logout",
    "signup",
)

_T = TypeVar("_T")
_Flow = Generator[httpx.Request, httpx.Response, _T]
_AnyClient = httpx.Client | httpx.AsyncClient

DEFAULT_TIMEOUT = 30.0


# -- keeping secrets out of httpcore's DEBUG log ----------------------------------------------


_COOKIE_HEADER = re.compile(r"""(b(['"])(?:set-cookie|cookie)\2,\s*b)(['"])(?:\\.|(?!\3).)*\3""",
                            re.IGNORECASE)


class _RedactCookies(logging.Filter):
    """Blanks cookie header values in httpcore's records, which log headers verbatim."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "cookie" in message.lower():
            record.msg = _COOKIE_HEADER.sub(r"\1\3[redacted]\3", message)
            record.args = None
        return True


def _install_log_filter() -> None:
    for name in ("httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
                 "httpcore.socks"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactCookies) for f in logger.filters):
            logger.addFilter(_RedactCookies())


_install_log_filter()


# -- the calls, written once ------------------------------------------------------------------


def _base(base_url: str) -> httpx.URL:
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise LocalProtocolError(f"base_url is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise LocalProtocolError(
            f"base_url must be the http:// or https:// REST root (for example "
            f"https://dev.instamrkt.com/i), not {url.scheme or 'a'}:// URL")
    return url.copy_with(username=None, password=None, query=None, fragment=None)


def _join(base: httpx.URL, tail: str) -> httpx.URL:
    return base.copy_with(path=base.path.rstrip("/") + "/" + tail)


def _jar_value(cookies: httpx.Cookies, name: str) -> str | None:
    for cookie in cookies.jar:
        if cookie.name == name and cookie.value:
            return cookie.value
    return None


def _store_cookies(cookies: httpx.Cookies, url: httpx.URL, values: Mapping[str, str]) -> None:
    """Store cookies exactly as if the server at ``url`` had set them (same domain rules)."""
    request = httpx.Request("GET", url)
    headers = [("Set-Cookie", f"{name}={value}; Path=/") for name, value in values.items()]
    cookies.extract_cookies(httpx.Response(200, headers=headers, request=request))


def _xsrf(client: _AnyClient, base: httpx.URL, fetch: bool) -> _Flow[str]:
    token = _jar_value(client.cookies, "_xsrf")
    if token is None and fetch:
        yield client.build_request("GET", _join(base, ""))  # its status does not matter
        token = _jar_value(client.cookies, "_xsrf")
    if token is None:
        # Hex, because production's framework reads a token with no version prefix as hex.
        token = secrets.token_hex(16)
        _store_cookies(client.cookies, base, {"_xsrf": token})
    return token


def _post(client: _AnyClient, url: httpx.URL, token: str, body: Mapping[str, Any] | None
          ) -> httpx.Request:
    headers = {"X-XSRFToken": token, "Content-Type": "application/json; charset=utf-8"}
    content = b"" if body is None else json.dumps(body).encode()
    return client.build_request("POST", url, content=content, headers=headers)


def _scrub(text: str, *secret: str | None) -> str:
    for value in secret:
        if value:
            text = text.replace(value, "***")
    return text


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _server_msg(data: Mapping[str, Any] | None, password: str | None) -> str | None:
    msg = None if data is None else data.get("msg")
    if isinstance(msg, list):  # some calls send a list of messages
        msg = "; ".join(str(m) for m in msg)
    if not isinstance(msg, str) or not msg.strip():
        return None
    text = " ".join(msg.split())  # one line
    if len(text) > 500:
        text = text[:500] + "..."
    return _scrub(text, password)


def _answer(action: str, response: httpx.Response, password: str | None, *,
            need_json: bool = True) -> dict[str, Any]:
    """The JSON object of a successful answer, or the typed error the answer means."""
    data = _json_object(response)
    msg = _server_msg(data, password)
    status = response.status_code
    if status in (401, 403):
        raise AuthenticationError(status, msg or response.reason_phrase, action=action)
    if 300 <= status < 400:
        where = response.headers.get("location", "elsewhere")
        raise RestError(action, f"redirected to {where}; is the base URL the REST root?",
                        status=status, msg=msg)
    if not 200 <= status < 300:
        reason = "the server failed" if status >= 500 else "the server refused the request"
        raise RestError(action, reason, status=status, msg=msg)
    if data is None and need_json:
        kind = response.headers.get("content-type", "none")
        raise RestError(action, f"the answer is not a JSON object (content type {kind}); is "
                        f"the base URL the REST root, or is a proxy or portal in the way?",
                        status=status)
    return data or {}


def _credentials(action: str, response: httpx.Response, data: Mapping[str, Any],
                 password: str) -> Credentials:
    """Login answers ``id``, signup ``user_id``: either is accepted from either call."""
    user_id = data.get("id")
    if user_id is None:
        user_id = data.get("user_id")
    key = data.get("user_session_key") or _jar_value(response.cookies, "user_session_key")
    msg = _server_msg(data, password)
    missing = []
    if isinstance(user_id, bool) or not isinstance(user_id, (str, int)) or user_id == "":
        missing.append("user id ('id' or 'user_id')")
    if not isinstance(key, str) or not key:
        missing.append("session key ('user_session_key', body or cookie)")
    if missing and msg:  # a refusal dressed as a success
        raise AuthenticationError(response.status_code, msg, action=action)
    if missing:
        raise RestError(action, f"the answer has no {' and no '.join(missing)}",
                        status=response.status_code)
    assert isinstance(key, str) and isinstance(user_id, (str, int))
    return Credentials(user_id, key)


def _login_flow(client: _AnyClient, base: httpx.URL, fetch_xsrf: bool, username: str,
                password: str, next_url: str | None, invite_id: str | None
                ) -> _Flow[Credentials]:
    token = yield from _xsrf(client, base, fetch_xsrf)
    body: dict[str, Any] = {"username": username, "password": password}
    if next_url is not None:
        body["next"] = next_url
    if invite_id is not None:
        body["invite_id"] = invite_id
    response = yield _post(client, _join(base, "r/login/"), token, body)
    return _credentials("login", response, _answer("login", response, password), password)


def _signup_flow(client: _AnyClient, base: httpx.URL, fetch_xsrf: bool, username: str,
                 email: str, password: str, invite_id: str | None) -> _Flow[Credentials]:
    token = yield from _xsrf(client, base, fetch_xsrf)
    body: dict[str, Any] = {"username": username, "email": email, "password": password}
    if invite_id is not None:
        body["invite_id"] = invite_id
    response = yield _post(client, _join(base, "r/signup/"), token, body)
    return _credentials("signup", response, _answer("signup", response, password), password)


def _logout_flow(client: _AnyClient, base: httpx.URL, fetch_xsrf: bool,
                 credentials: Credentials | None) -> _Flow[None]:
    if credentials is not None:
        _store_cookies(client.cookies, base, {"im_user": credentials.user_id,
                                              "user_session_key": credentials.session_key})
    token = yield from _xsrf(client, base, fetch_xsrf)
    response = yield _post(client, _join(base, "r/logout/"), token, None)
    _answer("logout", response, None, need_json=False)  # the documented answer is empty


def _transport_error(action: str, request: httpx.Request, exc: httpx.RequestError,
                     timeout: float | None) -> RestError:
    host = request.url.netloc.decode("ascii", "replace")
    if isinstance(exc, httpx.TimeoutException):
        within = f" within {timeout:g} s" if timeout is not None else ""
        return RestConnectionError(action, f"no answer from {host}{within}")
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, httpx.TransportError):
        return RestConnectionError(action, f"cannot reach {host}: {detail}")
    return RestError(action, f"the answer from {host} could not be read: {detail}")


# -- the two clients --------------------------------------------------------------------------


class _Settings:
    def __init__(self, base_url: str, timeout: float | None, ssl_context: ssl.SSLContext | None,
                 proxy: str | bool | None, fetch_xsrf: bool) -> None:
        self.base = _base(base_url)
        self.timeout = timeout
        self.fetch_xsrf = fetch_xsrf
        verify: ssl.SSLContext | bool = True
        if self.base.scheme == "https":  # the same trust store as the websocket side
            verify = ssl_context or ssl.create_default_context()
        self.client_options: dict[str, Any] = {
            "verify": verify,
            "timeout": httpx.Timeout(timeout),
            "trust_env": proxy is not False,  # proxies from the environment, as for wss://
            "proxy": proxy if isinstance(proxy, str) else None,
            "follow_redirects": False,  # a redirected POST is a wrong base URL, not a detour
            "headers": {"Accept": "application/json"},
        }


class RestClient:
    """A blocking REST session against one REST root; not thread-safe.

    ``base_url`` is the REST root (``https://dev.instamrkt.com/i``). ``timeout`` bounds each
    HTTP exchange (seconds; None: wait forever). ``ssl_context`` replaces the verifying
    default for https. ``proxy`` is a proxy URL, False for none, or None for the
    environment's (``https_proxy``, ``no_proxy``...). ``fetch_xsrf=False`` skips asking the
    server for an ``_xsrf`` cookie and double-submits a token of our own straight away.
    """

    def __init__(self, base_url: str, *, timeout: float | None = DEFAULT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                 fetch_xsrf: bool = True) -> None:
        self._settings = _Settings(base_url, timeout, ssl_context, proxy, fetch_xsrf)
        self._client = httpx.Client(**self._settings.client_options)

    def __repr__(self) -> str:
        return f"<RestClient {self._settings.base}>"

    @property
    def base_url(self) -> str:
        return str(self._settings.base)

    def login(self, username: str, password: str, *, next_url: str | None = None,
              invite_id: str | None = None) -> Credentials:
        """Sign in; the answer's ``id`` and ``user_session_key`` become the credentials.

        Every login issues a new session key; the previous one stops working.
        """
        s = self._settings
        return self._run("login", _login_flow(self._client, s.base, s.fetch_xsrf, username,
                                              password, next_url, invite_id))

    def signup(self, username: str, email: str, password: str, *,
               invite_id: str | None = None) -> Credentials:
        """Create an account and return its credentials (fails clearly if none came back)."""
        s = self._settings
        return self._run("signup", _signup_flow(self._client, s.base, s.fetch_xsrf, username,
                                                email, password, invite_id))

    def logout(self, credentials: Credentials | None = None) -> None:
        """Sign out: this session's login, or ``credentials`` if given; the key dies."""
        s = self._settings
        self._run("logout", _logout_flow(self._client, s.base, s.fetch_xsrf, credentials))

    def _run(self, action: str, flow: _Flow[_T]) -> _T:
        try:
            request = next(flow)
            while True:
                try:
                    response = self._client.send(request)
                except httpx.RequestError as exc:
                    raise _transport_error(action, request, exc, self._settings.timeout
                                           ) from exc
                request = flow.send(response)
        except StopIteration as stop:
            result: _T = stop.value
            return result

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncRestClient:
    """``RestClient`` for anyio code (asyncio or trio); the same options and calls."""

    def __init__(self, base_url: str, *, timeout: float | None = DEFAULT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                 fetch_xsrf: bool = True) -> None:
        self._settings = _Settings(base_url, timeout, ssl_context, proxy, fetch_xsrf)
        self._client = httpx.AsyncClient(**self._settings.client_options)

    def __repr__(self) -> str:
        return f"<AsyncRestClient {self._settings.base}>"

    @property
    def base_url(self) -> str:
        return str(self._settings.base)

    async def login(self, username: str, password: str, *, next_url: str | None = None,
                    invite_id: str | None = None) -> Credentials:
        """See ``RestClient.login``."""
        s = self._settings
        return await self._run("login", _login_flow(self._client, s.base, s.fetch_xsrf,
                                                    username, password, next_url, invite_id))

    async def signup(self, username: str, email: str, password: str, *,
                     invite_id: str | None = None) -> Credentials:
        """See ``RestClient.signup``."""
        s = self._settings
        return await self._run("signup", _signup_flow(self._client, s.base, s.fetch_xsrf,
                                                      username, email, password, invite_id))

    async def logout(self, credentials: Credentials | None = None) -> None:
        """See ``RestClient.logout``."""
        s = self._settings
        await self._run("logout", _logout_flow(self._client, s.base, s.fetch_xsrf,
                                               credentials))

    async def _run(self, action: str, flow: _Flow[_T]) -> _T:
        try:
            request = next(flow)
            while True:
                try:
                    response = await self._client.send(request)
                except httpx.RequestError as exc:
                    raise _transport_error(action, request, exc, self._settings.timeout
                                           ) from exc
                request = flow.send(response)
        except StopIteration as stop:
            result: _T = stop.value
            return result

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncRestClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


# -- one-shot calls ---------------------------------------------------------------------------


def login(base_url: str, username: str, password: str, *,
          timeout: float | None = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None,
          proxy: str | bool | None = None, fetch_xsrf: bool = True) -> Credentials:
    """Sign in at the REST root ``base_url``; options as for ``RestClient``.

    Raises ``AuthenticationError`` (wrong username or password: HTTP 401/403, with the
    server's ``msg`` as ``reason``), ``RestError`` (a server failure or an answer that is not
    the documented JSON) or ``RestConnectionError`` (no answer: network, TLS, timeout).
    """
    with RestClient(base_url, timeout=timeout, ssl_context=ssl_context, proxy=proxy,
                    fetch_xsrf=fetch_xsrf) as client:
        return client.login(username, password)


def signup(base_url: str, username: str, email: str, password: str, *,
           timeout: float | None = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None,
           proxy: str | bool | None = None, fetch_xsrf: bool = True) -> Credentials:
    """Create an account and return its credentials; errors as for ``login``."""
    with RestClient(base_url, timeout=timeout, ssl_context=ssl_context, proxy=proxy,
                    fetch_xsrf=fetch_xsrf) as client:
        return client.signup(username, email, password)


def logout(base_url: str, credentials: Credentials, *,
           timeout: float | None = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None,
           proxy: str | bool | None = None, fetch_xsrf: bool = True) -> None:
    """Sign ``credentials`` out, which kills their session key.

    The id and key travel as the ``im_user`` and ``user_session_key`` cookies. A server
    that signs its ``im_user`` cookie only accepts its own: there, log out through the
    ``RestClient`` that logged in.
    """
    with RestClient(base_url, timeout=timeout, ssl_context=ssl_context, proxy=proxy,
                    fetch_xsrf=fetch_xsrf) as client:
        client.logout(credentials)


async def alogin(base_url: str, username: str, password: str, *,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                 fetch_xsrf: bool = True) -> Credentials:
    """``login`` for anyio code."""
    async with AsyncRestClient(base_url, timeout=timeout, ssl_context=ssl_context,
                               proxy=proxy, fetch_xsrf=fetch_xsrf) as client:
        return await client.login(username, password)


async def asignup(base_url: str, username: str, email: str, password: str, *,
                  timeout: float | None = DEFAULT_TIMEOUT,
                  ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                  fetch_xsrf: bool = True) -> Credentials:
    """``signup`` for anyio code."""
    async with AsyncRestClient(base_url, timeout=timeout, ssl_context=ssl_context,
                               proxy=proxy, fetch_xsrf=fetch_xsrf) as client:
        return await client.signup(username, email, password)


async def alogout(base_url: str, credentials: Credentials, *,
                  timeout: float | None = DEFAULT_TIMEOUT,
                  ssl_context: ssl.SSLContext | None = None, proxy: str | bool | None = None,
                  fetch_xsrf: bool = True) -> None:
    """``logout`` for anyio code."""
    async with AsyncRestClient(base_url, timeout=timeout, ssl_context=ssl_context,
                               proxy=proxy, fetch_xsrf=fetch_xsrf) as client:
        await client.logout(credentials)
