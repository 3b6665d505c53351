"""The REST client (instamrkt_transports.rest) against the reference server's REST side.

Everything goes over real HTTP on 127.0.0.1: the reference server's h11 listener, a small
stdlib HTTP peer for answers the reference server never gives, and a real CONNECT proxy.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import httpx
import pytest

from instamrkt_proto import Credentials, LocalProtocolError
from instamrkt_transports import AuthenticationError, LogonError, blocking, rest
from instamrkt_transports.rest import RestConnectionError, RestError

PASSWORD = "correct horse battery staple"
TIMEOUT = 10.0


@pytest.fixture
def server(instamrkt_server_factory: Any) -> Any:
    """A reference server with an account "alice" on the fixture's user 1001."""
    srv = instamrkt_server_factory()
    srv.add_account("alice", PASSWORD, email="alice@example.com", user_id="1001")
    return srv


def ping_with(srv: Any, creds: Credentials) -> float:
    with blocking.connect(srv.url, creds, timeout=TIMEOUT, reconnect=False) as client:
        return float(client.ping().rtt)


def assert_refused(srv: Any, creds: Credentials, status: int = 403) -> None:
    with pytest.raises(AuthenticationError) as info, \
            blocking.connect(srv.url, creds, timeout=TIMEOUT, reconnect=False) as client:
        client.ping()
    assert info.value.status == status


# -- login, signup, logout against the reference server --------------------------------------


def test_login_gives_credentials_the_websocket_accepts(server: Any) -> None:
    creds = rest.login(server.rest_url, "alice", PASSWORD)
    assert creds.user_id == "1001"  # sent as a JSON number, kept as text
    assert ping_with(server, creds) >= 0
    assert creds.session_key not in repr(creds)
    # it fetched the server's _xsrf cookie first, then double-submitted that one
    calls = server.rest_calls()
    assert [(c.method, c.path, c.status) for c in calls] == [("GET", "/i/", 200),
                                                            ("POST", "/i/r/login/", 200)]
    assert calls[1].xsrf == "issued"


def test_every_login_rotates_the_key_and_the_old_one_is_refused(server: Any) -> None:
    first = rest.login(server.rest_url, "alice", PASSWORD)
    second = rest.login(server.rest_url, "alice", PASSWORD)
    assert first.user_id == second.user_id and first.session_key != second.session_key
    assert_refused(server, first)
    assert ping_with(server, second) >= 0


def test_signup_creates_an_account_that_can_log_in(server: Any) -> None:
    creds = rest.signup(server.rest_url, "bob", "bob@example.com", PASSWORD)
    assert creds.user_id not in ("", "1001")
    assert ping_with(server, creds) >= 0
    again = rest.login(server.rest_url, "bob", PASSWORD)
    assert again.user_id == creds.user_id
    with pytest.raises(AuthenticationError) as info:
        rest.signup(server.rest_url, "bob", "other@example.com", PASSWORD)
    assert info.value.status == 401 and "already taken" in info.value.reason
    with pytest.raises(RestError) as missing:
        rest.signup(server.rest_url, "carol", "", PASSWORD)
    assert missing.value.status == 400 and missing.value.msg
    assert PASSWORD not in str(missing.value)


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_wrong_password_is_an_authentication_error_with_the_servers_msg(
        server: Any, username: str) -> None:
    wrong = "not-the-" + PASSWORD
    with pytest.raises(AuthenticationError) as info:
        rest.login(server.rest_url, username, wrong)
    error = info.value
    assert error.status == 401 and error.action == "login"
    assert error.reason == "Wrong username or password"  # the same for both: no oracle
    assert str(error) == "login refused with HTTP 401: Wrong username or password"
    assert wrong not in str(error) and wrong not in repr(error)


def test_expired_key_refuses_the_next_handshake_and_logon(server: Any) -> None:
    creds = rest.login(server.rest_url, "alice", PASSWORD)
    with blocking.connect(server.url, creds, timeout=TIMEOUT, reconnect=False) as open_one:
        open_one.ping()
        server.expire_key(creds.user_id)
        assert_refused(server, creds)  # the 24-hour case, in a second
        with pytest.raises(LogonError):  # op 100 on the connection opened before: 110
            open_one.logon()
    fresh = rest.login(server.rest_url, "alice", PASSWORD)
    with blocking.connect(server.url, fresh, timeout=TIMEOUT, reconnect=False) as client:
        assert client.logon().already_logged_in is False


def test_logout_kills_the_key(server: Any) -> None:
    with rest.RestClient(server.rest_url) as session:
        creds = session.login("alice", PASSWORD)
        session.logout()  # the cookies this session's login set
    assert_refused(server, creds)
    creds = rest.login(server.rest_url, "alice", PASSWORD)
    rest.logout(server.rest_url, creds)  # one-shot: the id and key as cookies
    assert_refused(server, creds)
    with pytest.raises(AuthenticationError) as info:  # already signed out
        rest.logout(server.rest_url, creds)
    assert info.value.status == 403 and info.value.reason == "not signed in"


def test_the_rest_root_path_is_kept_when_joining(server: Any) -> None:
    assert server.rest_url.endswith("/i")
    assert rest.login(server.rest_url + "/", "alice", PASSWORD).user_id == "1001"
    with pytest.raises(RestError) as info:  # a root without /i: every call is a 404
        rest.login(server.rest_url[:-2], "alice", PASSWORD)
    assert info.value.status == 404


def test_base_url_must_be_http(server: Any) -> None:
    with pytest.raises(LocalProtocolError, match="REST root"):
        rest.login(server.url, "alice", PASSWORD)


# -- XSRF -------------------------------------------------------------------------------------


def test_post_without_the_xsrf_header_or_cookie_is_403(server: Any) -> None:
    body = {"username": "alice", "password": PASSWORD}
    url = server.rest_url + "/r/login/"
    with httpx.Client(timeout=TIMEOUT) as raw:
        no_header = raw.post(url, json=body, headers={"Cookie": "_xsrf=abc123"})
        mismatch = raw.post(url, json=body, headers={"Cookie": "_xsrf=abc123",
                                                     "X-XSRFToken": "abc124"})
        no_cookie = raw.post(server.rest_url + "/r/logout/", headers={"X-XSRFToken": "ab"})
    for answer in (no_header, mismatch, no_cookie):
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["msg"]
    assert "missing" in no_header.json()["msg"] and "match" in mismatch.json()["msg"]


def test_double_submits_its_own_token_when_the_server_sets_none(server: Any) -> None:
    server.faults.rest_no_xsrf_cookie = True
    assert rest.login(server.rest_url, "alice", PASSWORD).user_id == "1001"
    assert [(c.method, c.xsrf) for c in server.rest_calls()] == [("GET", "absent"),
                                                                ("POST", "client")]
    server.faults.rest_no_xsrf_cookie = False
    rest.login(server.rest_url, "alice", PASSWORD, fetch_xsrf=False)  # no GET at all
    assert [(c.method, c.xsrf) for c in server.rest_calls()[2:]] == [("POST", "client")]


# -- failures that are not about the credentials -------------------------------------------


def test_server_error_500_is_a_rest_error_with_its_msg(server: Any) -> None:
    server.faults.rest_fault = "error"
    with pytest.raises(RestError) as info:
        rest.login(server.rest_url, "alice", PASSWORD)
    error = info.value
    assert not isinstance(error, AuthenticationError)
    assert error.status == 500 and error.msg and "injected" in error.msg
    assert "HTTP 500" in str(error) and PASSWORD not in str(error)


def test_an_answer_that_is_not_json_is_a_clear_error(server: Any) -> None:
    server.faults.rest_fault = "not_json"
    with pytest.raises(RestError, match=r"not a JSON object.*text/html") as info:
        rest.signup(server.rest_url, "dave", "dave@example.com", PASSWORD)
    assert info.value.status == 200 and not isinstance(info.value, RestConnectionError)


Answer = tuple[int, dict[str, str], bytes]


@pytest.fixture
def peer() -> Iterator[Callable[[Answer], str]]:
    """A tiny stdlib HTTP server answering every request with one canned answer."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> str:
        status, headers, body = answer

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/i"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


JSON = {"Content-Type": "application/json"}


def test_signup_answering_user_id_and_key_cookie_is_accepted(peer: Any) -> None:
    url = peer((200, {**JSON, "Set-Cookie": "user_session_key=k-from-cookie; Path=/"},
                b'{"username": "e", "user_id": 77, "redirect_url": "/i/play"}'))
    creds = rest.signup(url, "e", "e@example.com", PASSWORD)
    assert creds == Credentials("77", "k-from-cookie")


def test_an_answer_without_a_session_key_fails_clearly(peer: Any) -> None:
    url = peer((200, JSON, b'{"username": "e", "user_id": 77, "redirect_url": "/i/play"}'))
    with pytest.raises(RestError, match="has no session key"):
        rest.signup(url, "e", "e@example.com", PASSWORD)


def test_an_answer_without_an_id_fails_clearly(peer: Any) -> None:
    url = peer((200, JSON, b'{"user_session_key": "k"}'))
    with pytest.raises(RestError, match="has no user id"):
        rest.login(url, "e", PASSWORD)


def test_a_200_carrying_only_msg_is_a_refusal(peer: Any) -> None:
    url = peer((200, JSON, json.dumps({"msg": f"bad password {PASSWORD}"}).encode()))
    with pytest.raises(AuthenticationError) as info:
        rest.login(url, "e", PASSWORD)
    assert str(info.value) == f"login refused with HTTP 200: {rest.WITHHELD}"


def test_a_redirect_is_not_followed(peer: Any) -> None:
    url = peer((302, {"Location": "https://elsewhere.example/login"}, b""))
    with pytest.raises(RestError, match=r"redirected to https://elsewhere\.example/login"):
        rest.login(url, "e", PASSWORD)


def test_no_answer_within_the_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts in its backlog, never talks
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/i"
        with pytest.raises(RestConnectionError,
                           match=r"no complete answer .* within 0.3 s") as info:
            rest.login(url, "e", PASSWORD, timeout=0.3)
    assert isinstance(info.value, ConnectionError)


def test_connection_refused_is_a_connection_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(RestConnectionError, match="cannot reach"):
        rest.login(f"http://127.0.0.1:{port}/i", "e", PASSWORD, timeout=TIMEOUT)


def test_malformed_http_gets_400_from_the_reference_server(server: Any) -> None:
    port = int(server.rest_url.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 400 ")


# -- TLS and proxies --------------------------------------------------------------------------


def test_tls_is_verified(instamrkt_server_factory: Any,
                         tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls_contexts
    srv = instamrkt_server_factory(ssl_context=server_context)
    srv.add_account("alice", PASSWORD, user_id="1001")
    assert srv.rest_url.startswith("https://127.0.0.1:")
    creds = rest.login(srv.rest_url, "alice", PASSWORD, ssl_context=client_context)
    with blocking.connect(srv.url, creds, timeout=TIMEOUT, reconnect=False,
                          ssl_context=client_context) as client:
        client.ping()
    with pytest.raises(RestConnectionError) as info:  # the default trusts no test CA
        rest.login(srv.rest_url, "alice", PASSWORD)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_proxies_come_from_the_environment(server: Any, http_proxy: int,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        dead = probe.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead}")
    with pytest.raises(RestConnectionError):  # the dead proxy is used...
        rest.login(server.rest_url, "alice", PASSWORD, timeout=TIMEOUT)
    assert rest.login(server.rest_url, "alice", PASSWORD, proxy=False).user_id == "1001"
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{http_proxy}")  # ...and a live one
    assert rest.login(server.rest_url, "alice", PASSWORD).user_id == "1001"


# -- secrets ----------------------------------------------------------------------------------


def test_no_secret_in_any_debug_log(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every library logs at DEBUG
    for name in ("httpx", "httpcore", "instamrkt_transports", "instamrkt_proto"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    with pytest.raises(AuthenticationError):
        rest.login(server.rest_url, "alice", "wrong-" + PASSWORD)
    creds = rest.signup(server.rest_url, "erin", "erin@example.com", PASSWORD)
    creds = rest.login(server.rest_url, "erin", PASSWORD)
    ping_with(server, creds)
    rest.logout(server.rest_url, creds)
    text = caplog.text
    assert "httpcore.http11" in {r.name for r in caplog.records}  # it did log at DEBUG
    assert PASSWORD not in text and creds.session_key not in text
    assert "receive_response_headers.complete" in text and "[redacted]" in text


def test_reprs_hold_no_secret(server: Any) -> None:
    creds = server.add_account("frank", PASSWORD)
    account = server.server.rest.accounts["frank"]
    with rest.RestClient(server.rest_url) as client:
        assert repr(client) == f"<RestClient {server.rest_url}>"
        client.login("frank", PASSWORD)
    for text in (repr(account), repr(creds), repr(server.server.rest)):
        assert PASSWORD not in text and creds.session_key not in text
        assert "password_hash" not in text


# -- anyio ------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_alogin_asignup_alogout(server: Any, anyio_backend: str) -> None:
    from instamrkt_transports.anyio import connect

    with anyio.fail_after(30):
        creds = await rest.alogin(server.rest_url, "alice", PASSWORD)
        async with connect(server.url, creds, reconnect=False) as client:
            await client.ping()
        new = await rest.asignup(server.rest_url, f"g-{anyio_backend}",
                                 f"g-{anyio_backend}@example.com", PASSWORD)
        async with rest.AsyncRestClient(server.rest_url) as session:
            again = await session.login(f"g-{anyio_backend}", PASSWORD)
            await session.logout()
        assert again.user_id == new.user_id
        await rest.alogout(server.rest_url, creds)
        with pytest.raises(AuthenticationError):
            await rest.alogin(server.rest_url, "alice", "wrong")
    assert_refused(server, creds)
    assert_refused(server, again)
