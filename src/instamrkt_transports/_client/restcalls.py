"""The REST calls, each written once as a flow of HTTP requests, and the driver that runs
them within one deadline.

``rest`` is what users import (the clients and the one-shot calls); this module is how a
call is made: the settings a client shares between calls, the cookies it keeps, the XSRF
dance, reading the server's answers into credentials or typed errors, and ``drive``, which
sends a flow's requests through httpx under an anyio cancel scope (see ``rest`` for why).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import json
import re
import secrets
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Generator, Mapping
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import httpx

from instamrkt_proto.auth import Credentials
from instamrkt_proto.errors import (
    InsecureHTTPError,
    RestAuthenticationError,
    RestConnectionError,
    RestError,
    RestSettingError,
)

from .restsecrets import Secrets, shown

__all__ = ("Jar", "Settings", "check_base_url", "drive", "login_flow", "logout_flow",
           "run_blocking", "signup_flow")

_T = TypeVar("_T")
Flow = Generator[httpx.Request, httpx.Response, _T]
MakeFlow = Callable[[httpx.AsyncClient], Flow[_T]]


# -- settings ---------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """The REST root ``base_url`` as the calls will use it, or the error it would raise.

    ``RestSettingError`` for a URL that is not an ``http://``/``https://`` REST root or that
    carries a user name or password (credentials go to ``login``, never into a URL);
    ``InsecureHTTPError`` for plain ``http://`` to a host other than this machine unless
    ``allow_insecure_http``. Nothing is sent: the ``instamrkt`` command checks the URL
    with it before asking for a password.
    """
    return str(_base(base_url, allow_insecure_http))


def _base(base_url: str, allow_insecure_http: bool) -> httpx.URL:
    if not isinstance(base_url, str):
        raise RestSettingError(f"base_url must be a str, not {type(base_url).__name__}")
    url: httpx.URL | None = None
    with contextlib.suppress(httpx.InvalidURL, ValueError, TypeError):
        url = httpx.URL(base_url)
    if url is None:  # httpx's message may quote the URL, and with it a password
        raise RestSettingError("base_url is not a valid URL")
    if url.scheme not in ("http", "https") or not url.host:
        raise RestSettingError(
            f"base_url must be the http:// or https:// REST root (for example "
            f"https://dev.instamrkt.com/i), not {url.scheme or 'a'}:// URL")
    if url.userinfo:
        raise RestSettingError(
            "base_url carries a user name or password (user:pass@host); they are never "
            "sent from a URL: give the REST root alone and pass the credentials to login()")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise InsecureHTTPError(
            f"base_url is plain http:// to {url.host}, which would send the password and "
            f"the session key unencrypted; use https://, or pass allow_insecure_http=True "
            f"(instamrkt: --allow-insecure-http) on a network you trust")
    return url.copy_with(query=None, fragment=None)


def _join(base: httpx.URL, tail: str) -> httpx.URL:
    return base.copy_with(path=base.path.rstrip("/") + "/" + tail)


class Settings:
    """What every call of one client shares: its REST root and its httpx options."""

    def __init__(self, base_url: str, timeout: float | None, ssl_context: ssl.SSLContext | None,
                 proxy: str | bool | None, fetch_xsrf: bool, allow_insecure_http: bool) -> None:
        self.base = _base(base_url, allow_insecure_http)
        if timeout is not None and not (isinstance(timeout, (int, float))
                                        and not isinstance(timeout, bool) and timeout > 0):
            raise RestSettingError("timeout must be a positive number of seconds, or None")
        if (proxy is not None and not isinstance(proxy, (str, bool))) or proxy is True:
            raise RestSettingError("proxy must be a proxy URL, False (none) or None "
                                   "(the environment's)")
        if isinstance(proxy, str):
            _check_proxy(proxy)
        self.timeout = timeout
        self.fetch_xsrf = fetch_xsrf
        self.proxy = proxy
        # The same trust store as the websocket side; made once, not once per call.
        verify = ssl_context or ssl.create_default_context()
        self.client_options: dict[str, Any] = {
            "verify": verify,
            "timeout": httpx.Timeout(timeout),
            "trust_env": proxy is not False,  # proxies from the environment, as for wss://
            "proxy": proxy if isinstance(proxy, str) else None,
            "follow_redirects": False,  # a redirected POST is a wrong base URL, not a detour
            "headers": {"Accept": "application/json"},
        }
        _new_client(self, httpx.Cookies())  # a bad proxy fails here, not at the first call

    def proxied(self) -> bool:
        """Whether the calls go through a proxy (for an accurate "cannot reach")."""
        if isinstance(self.proxy, str):
            return True
        if self.proxy is False:
            return False
        proxies = urllib.request.getproxies_environment()
        if not (proxies.get(self.base.scheme) or proxies.get("all")):
            return False
        return not urllib.request.proxy_bypass(self.base.host)


_BAD_PROXY = ("the proxy setting (proxy= or the *_proxy environment variables) is not a "
              "usable proxy URL: http://, https://, socks5:// or socks5h:// with a host")


def _check_proxy(proxy: str) -> None:
    """httpx ignores some malformed proxies (no host) instead of refusing them."""
    url: httpx.URL | None = None
    with contextlib.suppress(httpx.InvalidURL, ValueError, TypeError):
        url = httpx.URL(proxy)
    if url is None or url.scheme not in ("http", "https", "socks5", "socks5h") or not url.host:
        raise RestSettingError(_BAD_PROXY)  # never quoted: a proxy URL may hold a password


def _new_client(settings: Settings, cookies: httpx.Cookies,
                transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """An httpx client for one call, or a ``RestSettingError`` for a proxy it cannot use."""
    error: RestSettingError | None = None
    try:
        return httpx.AsyncClient(cookies=cookies, transport=transport, **settings.client_options)
    except ImportError:
        error = RestSettingError(
            "the proxy setting (proxy= or the *_proxy environment variables) names a SOCKS "
            "proxy, which needs the socksio package: pip install 'httpx[socks]'")
    except (httpx.InvalidURL, ValueError, TypeError):
        error = RestSettingError(_BAD_PROXY)
    raise error  # outside the except: httpx's exception (it may quote the URL) is not chained


# -- the calls, written once ------------------------------------------------------------------

# RFC 6265 cookie-octets: what a Cookie header can carry without quoting or corruption.
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")


_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 7230 token


def _drop_unsendable(cookies: httpx.Cookies) -> None:
    """Forget cookies the server set that no Cookie header can carry back (non-ASCII,
    control characters...): kept, they would break every later request of the session."""
    for cookie in list(cookies.jar):
        value = cookie.value
        if not (_COOKIE_NAME.fullmatch(cookie.name)
                and (not value or _COOKIE_VALUE.fullmatch(value))):
            cookies.jar.clear(cookie.domain, cookie.path, cookie.name)


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


def _xsrf(client: httpx.AsyncClient, base: httpx.URL, fetch: bool) -> Flow[str]:
    token = _jar_value(client.cookies, "_xsrf")
    if token is None and fetch:
        yield client.build_request("GET", _join(base, ""))  # its status does not matter
        token = _jar_value(client.cookies, "_xsrf")
    if token is None or not _COOKIE_VALUE.fullmatch(token):
        # Hex, because production's framework reads a token with no version prefix as hex.
        # A server token that cannot go back in a header is replaced the same way.
        token = secrets.token_hex(16)
        _store_cookies(client.cookies, base, {"_xsrf": token})
    return token


def _post(client: httpx.AsyncClient, url: httpx.URL, token: str, body: Mapping[str, Any]
          ) -> httpx.Request:
    headers = {"X-XSRFToken": token, "Content-Type": "application/json; charset=utf-8"}
    return client.build_request("POST", url, content=json.dumps(body).encode(),
                                headers=headers)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to read
        return None
    return data if isinstance(data, dict) else None


def _server_msg(data: Mapping[str, Any] | None, secrets_: Secrets) -> str | None:
    msg = None if data is None else data.get("msg")
    if isinstance(msg, list):  # some calls send a list of messages
        msg = "; ".join(m if isinstance(m, str) else json.dumps(m) for m in msg)
    if not isinstance(msg, str) or not msg.strip():
        return None
    return shown(msg, secrets_) or None


def _where(response: httpx.Response, secrets_: Secrets) -> str:
    """A redirect's target, as far as it is safe to show: no user info, query or fragment."""
    location = response.headers.get("location")
    if not location:
        return "elsewhere (no Location header)"
    try:
        url = httpx.URL(location)
        bare = url.copy_with(username=None, password=None, query=None, fragment=None)
    except (httpx.InvalidURL, ValueError, TypeError):
        return "a Location that is not a URL"
    dropped = " (its query left out)" if url.query else ""
    return shown(str(bare), secrets_, 200) + dropped


def _answer(action: str, response: httpx.Response, secrets_: Secrets, *,
            need_json: bool = True) -> dict[str, Any]:
    """The JSON object of a successful answer, or the typed error the answer means."""
    data = _json_object(response)
    msg = _server_msg(data, secrets_)
    status = response.status_code
    kind = shown(response.headers.get("content-type", "none"), secrets_, 80)
    if status in (401, 403):
        if data is None:  # the API answers JSON; this page came from something in between
            raise RestError(action, f"refused with a page that is not the API's JSON "
                            f"(content type {kind}): a proxy, a firewall or a wrong base URL "
                            f"answered, not the server's login check", status=status)
        if msg is not None and "xsrf" in msg.casefold():
            raise RestError(action, "the server refused the XSRF token (the _xsrf cookie "
                            "and the X-XSRFToken header must match; is a proxy dropping "
                            "cookies?)", status=status, msg=msg)
        reason = msg or shown(response.reason_phrase, secrets_, 80)
        raise RestAuthenticationError(status, reason, action=action)
    if status == 407:
        raise RestError(action, "the proxy wants credentials: put them in the proxy URL",
                        status=status, msg=msg)
    if 300 <= status < 400:
        raise RestError(action, f"redirected to {_where(response, secrets_)}; is the base "
                        f"URL the REST root?", status=status, msg=msg)
    if not 200 <= status < 300:
        reason = "the server failed" if status >= 500 else "the server refused the request"
        raise RestError(action, reason, status=status, msg=msg)
    if data is None and need_json:
        raise RestError(action, f"the answer is not a JSON object (content type {kind}); is "
                        f"the base URL the REST root, or is a proxy or portal in the way?",
                        status=status)
    return data or {}


def _credentials(action: str, response: httpx.Response, secrets_: Secrets) -> Credentials:
    """Login answers ``id``, signup ``user_id``: either is accepted from either call."""
    data = _json_object(response) or {}
    body_key = data.get("user_session_key")
    cookie_key = _jar_value(response.cookies, "user_session_key")
    secrets_.add(body_key)  # before any of the answer's text is shown
    secrets_.add(cookie_key)
    data = _answer(action, response, secrets_)
    user_id = data.get("id")
    if user_id is None:
        user_id = data.get("user_id")
    key = body_key or cookie_key
    missing = []
    if isinstance(user_id, bool) or not isinstance(user_id, (str, int)) or user_id == "":
        missing.append("user id ('id' or 'user_id')")
    if not isinstance(key, str) or not key:
        missing.append("session key ('user_session_key', body or cookie)")
    msg = _server_msg(data, secrets_)
    if missing and msg:  # a refusal dressed as a success
        raise RestAuthenticationError(response.status_code, msg, action=action)
    if missing:
        raise RestError(action, f"the answer has no {' and no '.join(missing)}",
                        status=response.status_code)
    assert isinstance(key, str) and isinstance(user_id, (str, int))
    return Credentials(user_id, key)


def login_flow(client: httpx.AsyncClient, settings: Settings, secrets_: Secrets,
                username: str, password: str, next_url: str | None, invite_id: str | None
                ) -> Flow[Credentials]:
    token = yield from _xsrf(client, settings.base, settings.fetch_xsrf)
    body: dict[str, Any] = {"username": username, "password": password}
    if next_url is not None:
        body["next"] = next_url
    if invite_id is not None:
        body["invite_id"] = invite_id
    response = yield _post(client, _join(settings.base, "r/login/"), token, body)
    return _credentials("login", response, secrets_)


def signup_flow(client: httpx.AsyncClient, settings: Settings, secrets_: Secrets,
                 username: str, email: str, password: str, invite_id: str | None
                 ) -> Flow[Credentials]:
    token = yield from _xsrf(client, settings.base, settings.fetch_xsrf)
    body: dict[str, Any] = {"username": username, "email": email, "password": password}
    if invite_id is not None:
        body["invite_id"] = invite_id
    response = yield _post(client, _join(settings.base, "r/signup/"), token, body)
    return _credentials("signup", response, secrets_)


def _cookie_credentials(credentials: Credentials) -> dict[str, str]:
    """The ``im_user`` and ``user_session_key`` cookies, refused (never corrupted) when a
    value cannot travel in a Cookie header. The message never quotes the values."""
    for what, value in (("user id", credentials.user_id),
                        ("session key", credentials.session_key)):
        if not _COOKIE_VALUE.fullmatch(value):
            raise RestSettingError(
                f"logout: the {what} cannot travel in a Cookie header: it holds a character "
                f"other than printable ASCII, or a space, quote, comma, semicolon or backslash")
    return {"im_user": credentials.user_id, "user_session_key": credentials.session_key}


def logout_flow(client: httpx.AsyncClient, settings: Settings, secrets_: Secrets,
                 credentials: Credentials | None) -> Flow[None]:
    if credentials is not None:
        _store_cookies(client.cookies, settings.base, _cookie_credentials(credentials))
    secrets_.add(_jar_value(client.cookies, "user_session_key"))
    token = yield from _xsrf(client, settings.base, settings.fetch_xsrf)
    # Every POST carries a JSON body (the REST docs), even one with nothing to say.
    response = yield _post(client, _join(settings.base, "r/logout/"), token, {})
    _answer("logout", response, secrets_, need_json=False)  # the documented answer is empty


def _transport_error(action: str, settings: Settings, request: httpx.Request,
                     exc: httpx.HTTPError, secrets_: Secrets) -> RestError:
    """httpx's failure as our typed error; its text only if it holds no secret."""
    host = shown(request.url.netloc.decode("ascii", "replace"), secrets_, 200)
    if isinstance(exc, httpx.TimeoutException):
        timeout = settings.timeout
        within = f" within {timeout:g} s" if timeout is not None else ""
        return RestConnectionError(action, f"no complete answer from {host}{within}")
    detail = shown(str(exc), secrets_, 300) or type(exc).__name__
    if isinstance(exc, httpx.ProxyError):
        return RestConnectionError(action, f"the proxy failed to reach {host}: {detail}")
    if isinstance(exc, httpx.ConnectError):
        via = " through the proxy (is it up?)" if settings.proxied() else ""
        return RestConnectionError(action, f"cannot reach {host}{via}: {detail}")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.DecodingError)):
        return RestError(action, f"the answer from {host} is not valid HTTP: {detail}")
    if isinstance(exc, httpx.LocalProtocolError):
        return RestError(action, f"the request to {host} could not be sent as HTTP: {detail}")
    if isinstance(exc, httpx.TransportError):
        return RestConnectionError(action, f"the connection to {host} failed: {detail}")
    return RestError(action, f"the answer from {host} could not be read: {detail}")


def _advance(flow: Flow[_T], response: httpx.Response | None
             ) -> tuple[httpx.Request | None, _T | None]:
    """The flow's next request, or (None, its result)."""
    try:
        return (next(flow) if response is None else flow.send(response)), None
    except StopIteration as stop:
        return None, stop.value


class Jar:
    """The cookies a client keeps between its calls (each call has its own httpx client)."""

    def __init__(self) -> None:
        self.cookies = httpx.Cookies()


async def drive(settings: Settings, jar: Jar, action: str, make_flow: MakeFlow[_T],
                 secrets_: Secrets, transport: httpx.AsyncBaseTransport | None = None) -> _T:
    """Run one call's flow within ``settings.timeout`` as a whole.

    Every error leaves here raised outside any ``except`` block, so nothing of httpx's
    (whose request holds the password) hangs on its ``__cause__`` or ``__context__``.
    """
    error: RestError | None = None
    async with _new_client(settings, jar.cookies, transport) as client:
        flow = make_flow(client)
        with anyio.move_on_after(settings.timeout) as scope:
            request, result = _advance(flow, None)
            while request is not None:
                try:
                    response = await client.send(request)
                except httpx.HTTPError as exc:
                    error = _transport_error(action, settings, request, exc, secrets_)
                    break
                _drop_unsendable(client.cookies)
                request, result = _advance(flow, response)
            else:
                jar.cookies = client.cookies
                return result  # type: ignore[return-value]  # the flow's value, None included
        flow.close()
        if scope.cancelled_caught:
            host = shown(settings.base.netloc.decode("ascii", "replace"), secrets_, 200)
            error = RestConnectionError(action, f"no complete answer from {host} within "
                                        f"{settings.timeout:g} s")
    assert error is not None
    raise error


class _AbandoningExecutor(concurrent.futures.ThreadPoolExecutor):
    """The portal loop's default executor, which runs each job (a DNS lookup) on a daemon
    thread of its own and never waits for one at shutdown: a lookup the deadline gave up
    on ends on its own, instead of holding the blocking call until the resolver's timeout."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any
               ) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)

        threading.Thread(target=run, name="instamrkt-rest-lookup", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


async def _drive_abandoning(settings: Settings, jar: Jar, action: str,
                            make_flow: MakeFlow[_T], secrets_: Secrets) -> _T:
    asyncio.get_running_loop().set_default_executor(_AbandoningExecutor(max_workers=1))
    return await drive(settings, jar, action, make_flow, secrets_)


def run_blocking(settings: Settings, jar: Jar, action: str, make_flow: MakeFlow[_T],
                  secrets_: Secrets) -> _T:
    """``drive`` for a blocking caller, on an event loop thread of its own (asyncio: its
    loop's shutdown would otherwise wait for a stalled DNS lookup, past the deadline)."""
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        return portal.call(_drive_abandoning, settings, jar, action, make_flow, secrets_)
