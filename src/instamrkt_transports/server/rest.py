"""The reference server's REST side: login, signup and logout over HTTP/1.1.

Production serves REST from the web application (``https://host/i/r/...``) and the
websocket API on a port of its own, so the reference server does the same: a second
listener whose root (``ReferenceServer.rest_url``) ends in ``/i``, which catches a client
that joins its URLs wrongly exactly where production would. HTTP parsing is ``h11``'s (the
sans-I/O HTTP/1.1 library): bytes in, events out, so nothing here parses HTTP by hand.

``RestService`` is the application and does no I/O: accounts with salted password hashes,
XSRF double-submit checking as the production framework does it (the ``_xsrf`` cookie must
equal the ``X-XSRFToken`` header), and session keys. It shares the websocket side's
``users`` mapping, so a login that rotates a key, or ``expire_key``, takes effect at the
next websocket handshake. ``serve_http`` runs one connection (keep-alive included) over an
anyio byte stream.

Neither ever logs a password, a session key or a body: only methods, paths and statuses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any, Literal

import anyio
import anyio.abc
import attrs
import h11

from instamrkt_proto.auth import Credentials

from .faults import Faults

__all__ = ("Account", "RestAnswer", "RestReceived", "RestService", "serve_http")

log = logging.getLogger("instamrkt_transports.server.rest")

REST_PREFIX = "/i"
"""Where the REST application is mounted, as in production (``https://host/i/r/login/``)."""

_JSON = "application/json; charset=UTF-8"
_HTML = "text/html; charset=UTF-8"
_MAX_BODY = 64 * 1024
_PBKDF2_ROUNDS = 1000  # a rehearsal server: cheap, but never plain text in memory
_WRONG_LOGIN = "Wrong username or password"  # one text for both: no account oracle


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS)


@attrs.define(slots=True)
class Account:
    """A REST account: the password is kept only as a salted hash, and never in a repr."""

    username: str
    email: str
    user_id: str
    salt: bytes = attrs.field(repr=False)
    password_hash: bytes = attrs.field(repr=False)

    def check(self, password: str) -> bool:
        return hmac.compare_digest(_hash(password, self.salt), self.password_hash)


@attrs.frozen(slots=True)
class RestReceived:
    """One REST request as the server answered it, for tests to assert on.

    ``xsrf`` tells whose ``_xsrf`` cookie came with it: ``"issued"`` (one this server set),
    ``"client"`` (a token the client made up and double-submitted) or ``"absent"``.
    """

    method: str
    path: str
    status: int
    xsrf: Literal["issued", "client", "absent"]


@attrs.frozen(slots=True)
class RestAnswer:
    """An HTTP answer before it is framed: status, body, content type and cookies to set."""

    status: int
    body: bytes
    content_type: str = _JSON
    cookies: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, data: Mapping[str, Any], cookies: Iterable[str] = ()
             ) -> RestAnswer:
        return cls(status, json.dumps(data).encode(), _JSON, tuple(cookies))


def _msg(status: int, msg: str) -> RestAnswer:
    return RestAnswer.json(status, {"msg": msg})


def _wire_id(user_id: str) -> str | int:
    """The id as production sends it: a JSON number when it is one (the docs show ints)."""
    return int(user_id) if user_id.isdecimal() and str(int(user_id)) == user_id else user_id


class RestService:
    """Accounts, sessions and the three documented calls; synchronous and free of I/O.

    ``users`` is the websocket side's live ``user id -> session key`` mapping; ``faults``
    returns the server-wide fault knobs at each call. Call only from the server's loop.
    """

    def __init__(self, users: MutableMapping[str, str], faults: Callable[[], Faults], *,
                 secure_cookies: bool = False) -> None:
        self.users = users
        self._faults = faults
        self.secure_cookies = secure_cookies
        self.accounts: dict[str, Account] = {}  # by username
        self.calls: list[RestReceived] = []
        self._issued: set[str] = set()

    def __repr__(self) -> str:
        return f"<RestService accounts={len(self.accounts)} calls={len(self.calls)}>"

    # -- accounts and keys -------------------------------------------------------------------

    def add_account(self, username: str, password: str, email: str | None = None,
                    user_id: str | int | None = None) -> Credentials:
        """Create an account; an existing websocket user keeps its current key.

        Returns the account's credentials (a new user gets a fresh key at once, so it can
        connect without logging in first).
        """
        if not username or not password:
            raise ValueError("username and password must not be empty")
        if username in self.accounts:
            raise ValueError(f"username {username!r} is already taken")
        email = email or f"{username}@example.invalid"
        if any(a.email == email for a in self.accounts.values()):
            raise ValueError(f"email {email!r} is already registered")
        uid = self._new_user_id() if user_id is None else str(user_id)
        if not uid:
            raise ValueError("user_id must not be empty")
        if any(a.user_id == uid for a in self.accounts.values()):
            raise ValueError(f"user id {uid!r} already has an account")
        salt = secrets.token_bytes(16)
        self.accounts[username] = Account(username, email, uid, salt, _hash(password, salt))
        if uid not in self.users:
            self.users[uid] = secrets.token_hex(16)
        return Credentials(uid, self.users[uid])

    def _new_user_id(self) -> str:
        numbers = [int(u) for u in self.users if u.isdecimal()]
        numbers += [int(a.user_id) for a in self.accounts.values() if a.user_id.isdecimal()]
        return str(max([2000, *numbers]) + 1)

    def rotate_key(self, user_id: str) -> str:
        """A new session key for ``user_id``; the old one stops working for new handshakes."""
        key = secrets.token_hex(16)
        self.users[user_id] = key
        return key

    def expire_key(self, user_id: str | int) -> None:
        """End ``user_id``'s session key now, as its 24-hour life would.

        The key is replaced by one nobody holds, so the user stays known (its id, account
        and connections are untouched) but only a new login gives a working key.
        """
        uid = str(user_id)
        if uid not in self.users:
            raise KeyError(f"unknown user id {uid!r}")
        self.rotate_key(uid)

    # -- HTTP --------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Iterable[tuple[bytes, bytes]],
               body: bytes) -> RestAnswer:
        """Answer one request. Never raises: a bug in here is a 500 with a ``msg``."""
        path = target.partition("?")[0]
        header_map: dict[str, str] = {}
        cookie_lines: list[str] = []
        for name, value in headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            if key == "cookie":
                cookie_lines.append(text)
            else:
                header_map[key] = text
        cookies = _parse_cookies("; ".join(cookie_lines))
        xsrf = cookies.get("_xsrf")
        origin: Literal["issued", "client", "absent"] = (
            "absent" if not xsrf else "issued" if xsrf in self._issued else "client")
        try:
            answer = self._route(method, path, header_map, cookies, body)
        except Exception:
            log.exception("reference REST server: %s %s failed", method, path)
            answer = _msg(500, "internal server error")
        self.calls.append(RestReceived(method, path, answer.status, origin))
        log.debug("REST %s %s -> %d", method, path, answer.status)
        return answer

    def _route(self, method: str, path: str, headers: Mapping[str, str],
               cookies: Mapping[str, str], body: bytes) -> RestAnswer:
        if path in ("/", REST_PREFIX, REST_PREFIX + "/"):
            if method != "GET":
                return self._not_allowed("GET")
            return self._root(cookies)
        if not path.startswith(REST_PREFIX + "/r/"):
            return _msg(404, "not found")
        name = path[len(REST_PREFIX + "/r/"):].rstrip("/")  # '/r/login' and '/r/login/'
        if name not in ("login", "signup", "logout"):
            return _msg(404, "not found")
        if method != "POST":
            return self._not_allowed("POST")
        fault = self._faults().rest_fault
        if fault == "error":
            return _msg(500, "internal server error (injected by the rest_fault knob)")
        if fault == "not_json":
            return RestAnswer(200, b"<!doctype html><title>Sign in to the network</title>",
                              _HTML)
        refused = _check_xsrf(cookies, headers)
        if refused is not None:
            return refused
        if name == "logout":
            return self._logout(cookies)
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _msg(400, "the body must be a JSON object")
        return self._login(data) if name == "login" else self._signup(data)

    def _not_allowed(self, allow: str) -> RestAnswer:
        answer = _msg(405, "method not allowed")
        return attrs.evolve(answer, headers=(("Allow", allow),))

    def _root(self, cookies: Mapping[str, str]) -> RestAnswer:
        page = RestAnswer(200, b"<!doctype html><title>instamrkt reference server</title>",
                          _HTML)
        if cookies.get("_xsrf") or self._faults().rest_no_xsrf_cookie:
            return page
        token = secrets.token_hex(16)
        self._issued.add(token)
        return attrs.evolve(page, cookies=(self._cookie("_xsrf", token),))

    def _cookie(self, name: str, value: str, *, http_only: bool = False,
                expire: bool = False) -> str:
        parts = [f"{name}={value}", "Path=/"]
        if expire:
            parts.append("Max-Age=0")
        if http_only:
            parts.append("HttpOnly")
        if self.secure_cookies:
            parts.append("Secure")
        return "; ".join(parts)

    def _session_cookies(self, user_id: str, key: str) -> list[str]:
        return [self._cookie("im_user", user_id, http_only=True),
                self._cookie("user_session_key", key)]

    def _login(self, data: Mapping[str, Any]) -> RestAnswer:
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not isinstance(password, str) \
                or not username or not password:
            return _msg(400, "username and password are required")
        account = self.accounts.get(username)
        if account is None:
            _hash(password, b"\0" * 16)  # the same cost as a real check: no timing oracle
            return _msg(401, _WRONG_LOGIN)
        if not account.check(password):
            return _msg(401, _WRONG_LOGIN)
        key = self.rotate_key(account.user_id)  # "refreshed on every login request"
        redirect = "/i/play"
        following = data.get("next")
        if isinstance(following, str) and following:
            redirect += f"?next={following}"
        return RestAnswer.json(200, {"username": account.username,
                                     "id": _wire_id(account.user_id),
                                     "user_session_key": key, "redirect_url": redirect},
                               self._session_cookies(account.user_id, key))

    def _signup(self, data: Mapping[str, Any]) -> RestAnswer:
        fields = [data.get(k) for k in ("username", "email", "password")]
        if not all(isinstance(v, str) and v for v in fields):
            return _msg(400, "username, email and password are required")
        username, email, password = (str(v) for v in fields)
        if "@" not in email:
            return _msg(400, "the email address is not valid")
        if username in self.accounts:
            return _msg(401, "this username is already taken")
        if any(a.email == email for a in self.accounts.values()):
            return _msg(401, "this email address is already registered")
        credentials = self.add_account(username, password, email)
        key = self.rotate_key(credentials.user_id)
        return RestAnswer.json(200, {"username": username,
                                     "user_id": _wire_id(credentials.user_id),
                                     "user_session_key": key, "redirect_url": "/i/play"},
                               self._session_cookies(credentials.user_id, key))

    def _logout(self, cookies: Mapping[str, str]) -> RestAnswer:
        user_id, key = cookies.get("im_user", ""), cookies.get("user_session_key", "")
        current = self.users.get(user_id)
        if not key or current is None or not hmac.compare_digest(current.encode(),
                                                                 key.encode()):
            return _msg(403, "not signed in")
        self.rotate_key(user_id)  # the key in the cookie is dead from now on
        return RestAnswer.json(200, {}, [self._cookie("im_user", "", expire=True),
                                         self._cookie("user_session_key", "", expire=True)])


def _parse_cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _check_xsrf(cookies: Mapping[str, str], headers: Mapping[str, str]) -> RestAnswer | None:
    """The double-submit check; the messages are the ones production's framework sends."""
    token = headers.get("x-xsrftoken") or headers.get("x-csrftoken")
    cookie = cookies.get("_xsrf")
    if not token:
        return _msg(403, "'_xsrf' argument missing from POST")
    if not cookie:
        return _msg(403, "'_xsrf' argument has invalid format")
    if not hmac.compare_digest(token.encode(), cookie.encode()):
        return _msg(403, "XSRF cookie does not match POST argument")
    return None


# -- one connection -------------------------------------------------------------------------


class _Closed(Exception):
    """The peer went away or broke HTTP: end the connection quietly."""


async def serve_http(stream: anyio.abc.ByteStream, service: RestService, *,
                     timeout: float) -> None:
    """Serve requests on ``stream`` until the peer closes, errs, or idles ``timeout`` s."""
    conn = h11.Connection(h11.SERVER)
    while True:
        try:
            request = await _read_request(conn, stream, timeout)
        except _Closed:
            return
        except h11.RemoteProtocolError as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                await _send(conn, stream, _msg(exc.error_status_hint, "bad request"))
            return
        if request is None:
            return
        head, body = request
        answer = service.handle(head.method.decode("latin-1"), head.target.decode("latin-1"),
                                head.headers, body)
        await _send(conn, stream, answer)
        if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return  # MUST_CLOSE, or a body we did not read: no keep-alive
        conn.start_next_cycle()


async def _read_request(conn: h11.Connection, stream: anyio.abc.ByteStream, timeout: float
                        ) -> tuple[h11.Request, bytes] | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            if conn.they_are_waiting_for_100_continue:
                await _write(stream, conn.send(h11.InformationalResponse(status_code=100,
                                                                          headers=[])))
            with anyio.move_on_after(timeout) as idle:
                try:
                    data = await stream.receive(65536)
                except anyio.EndOfStream:
                    data = b""
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    raise _Closed from None
            if idle.cancelled_caught:
                raise _Closed
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > _MAX_BODY:
                raise h11.RemoteProtocolError("request body too large",
                                              error_status_hint=413)
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return head, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None
        else:  # PAUSED cannot happen before we answer; anything else is not ours
            raise _Closed


async def _send(conn: h11.Connection, stream: anyio.abc.ByteStream, answer: RestAnswer
                ) -> None:
    headers = [("Content-Type", answer.content_type),
               ("Content-Length", str(len(answer.body))),
               ("Cache-Control", "no-store"),
               *answer.headers,
               *(("Set-Cookie", cookie) for cookie in answer.cookies)]
    try:
        reason = HTTPStatus(answer.status).phrase.encode()
        await _write(stream, conn.send(h11.Response(status_code=answer.status,
                                                    headers=headers, reason=reason)))
        if answer.body:
            await _write(stream, conn.send(h11.Data(data=answer.body)))
        await _write(stream, conn.send(h11.EndOfMessage()))
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        return


async def _write(stream: anyio.abc.ByteStream, data: bytes | None) -> None:
    if data:
        await stream.send(data)
