"""The REST client at its edges: hostile or broken servers, bad settings, secrets.

Every server here is real and on 127.0.0.1 (a raw socket peer that answers exactly the
bytes a test gives it, slowly if asked); only the fuzz test of the answer parser runs
through httpx's in-memory transport, so that it can try thousands of answers.
"""

from __future__ import annotations

import importlib.util
import io
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instamrkt_proto import Credentials, LocalProtocolError
from instamrkt_transports import AuthenticationError, rest
from instamrkt_transports._client import restcalls, restsecrets
from instamrkt_transports.cli import main
from instamrkt_transports.rest import (
    InsecureHTTPError,
    RestConnectionError,
    RestError,
    RestSettingError,
)

PASSWORD = "correct horse battery staple"
KEY = "k-0123456789abcdef-session"
HANG = 30.0  # a call still running after this long is a hang


def chain(error: BaseException) -> list[BaseException]:
    """The error and everything reachable from it through __cause__ and __context__."""
    seen: list[BaseException] = []
    todo = [error]
    while todo:
        e = todo.pop()
        if e in seen:
            continue
        seen.append(e)
        todo += [x for x in (e.__cause__, e.__context__) if x is not None]
    return seen


def assert_clean(error: BaseException, *secrets: str) -> None:
    """No secret in anything an error reporter could reach, and nothing chained at all."""
    assert error.__cause__ is None and error.__context__ is None, chain(error)
    for e in chain(error):
        for text in (str(e), repr(e), *(str(v) for v in vars(e).values())):
            for secret in secrets:
                assert secret not in text, (secret, text)


# -- a raw HTTP peer on 127.0.0.1 -------------------------------------------------------------


class RawPeer:
    """Answers every connection with ``answer`` (bytes), ``pace`` seconds per byte.

    It records each request's head and body. It stops writing when the client goes away
    or after ``HANG`` seconds, so a test that fails never leaves it running.
    """

    def __init__(self, answer: bytes, pace: float = 0.0) -> None:
        self.answer = answer
        self.pace = pace
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/i"
        self._stop = threading.Event()
        self.sock.settimeout(0.2)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        started = time.monotonic()
        with conn:
            conn.settimeout(HANG)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + body)
                if not self.pace:
                    conn.sendall(self.answer)
                    return
                for i in range(len(self.answer)):
                    if self._stop.is_set() or time.monotonic() - started > HANG:
                        return
                    conn.sendall(self.answer[i:i + 1])
                    time.sleep(self.pace)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def bodies(self) -> list[Any]:
        return [json.loads(r.partition(b"\r\n\r\n")[2] or b"null") for r in self.requests
                if r.startswith(b"POST")]


def http(status: int, body: bytes, content_type: str = "application/json",
         extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: "
            f"{len(body)}\r\nConnection: close\r\n{extra}\r\n").encode() + body


LOGIN_OK = http(200, json.dumps({"id": 7, "user_session_key": KEY}).encode())


@pytest.fixture
def raw_peer() -> Iterator[Callable[..., RawPeer]]:
    peers: list[RawPeer] = []

    def start(answer: bytes, pace: float = 0.0) -> RawPeer:
        peer = RawPeer(answer, pace)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.close()


# -- 1. timeout is a deadline for the whole call ---------------------------------------------


def test_a_trickling_server_cannot_stretch_a_call_past_its_timeout(raw_peer: Any) -> None:
    # One byte every 0.2 s: each read is quick, so httpx's per-read timeout never fires;
    # the whole answer would take about 20 s and then succeed.
    peer = raw_peer(LOGIN_OK, pace=0.2)
    started = time.monotonic()
    with pytest.raises(RestConnectionError, match=r"no complete answer .* within 1 s") as info:
        rest.login(peer.url, "e", PASSWORD, timeout=1.0, fetch_xsrf=False)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 4.0, elapsed  # the timeout plus a margin for a loaded machine
    assert_clean(info.value, PASSWORD)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_the_deadline_holds_for_anyio_code_too(raw_peer: Any, anyio_backend: str) -> None:
    peer = raw_peer(LOGIN_OK, pace=0.2)
    started = time.monotonic()
    with pytest.raises(RestConnectionError, match="within 1 s"):
        await rest.alogin(peer.url, "e", PASSWORD, timeout=1.0)  # the XSRF GET trickles too
    assert time.monotonic() - started < 1.0 + 4.0


def test_a_stalled_dns_lookup_cannot_stretch_a_blocking_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The lookup runs in the portal loop's executor, whose shutdown used to wait for it.
    release, real = threading.Event(), socket.getaddrinfo

    def stalled(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("stalled-dns.example", b"stalled-dns.example"):
            release.wait(HANG)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalled)
    started = time.monotonic()
    try:
        with pytest.raises(RestConnectionError, match="within 1 s") as info:
            rest.login("https://stalled-dns.example/i", "e", PASSWORD, timeout=1.0, proxy=False)
        assert time.monotonic() - started < 1.0 + 4.0  # not the resolver's own timeout
    finally:
        release.set()
    assert_clean(info.value, PASSWORD)


def test_a_prompt_server_is_unaffected_by_the_deadline(raw_peer: Any) -> None:
    peer = raw_peer(LOGIN_OK)
    assert rest.login(peer.url, "e", PASSWORD, timeout=5.0) == Credentials("7", KEY)


def test_timeout_must_be_positive() -> None:
    for bad in (0, -1.0, float("nan"), "3"):
        with pytest.raises(RestSettingError, match="timeout"):
            rest.RestClient("http://127.0.0.1:1/i", timeout=bad)  # type: ignore[arg-type]


# -- 2. plain http:// only to this machine ----------------------------------------------------


@pytest.mark.parametrize("host", ["example.com", "10.1.2.3", "[2001:db8::1]", "localhost.example"])
def test_plain_http_to_another_host_is_refused_before_anything_is_sent(
        raw_peer: Any, host: str) -> None:
    proxy = raw_peer(http(502, b"{}"))  # every request would go through it
    with pytest.raises(InsecureHTTPError, match=r"unencrypted.*allow_insecure_http") as info:
        rest.login(f"http://{host}/i", "e", PASSWORD, proxy=proxy.url.removesuffix("/i"))
    assert isinstance(info.value, ValueError) and isinstance(info.value, LocalProtocolError)
    time.sleep(0.3)  # a connection the refusal let through would have been accepted by now
    assert proxy.requests == []
    assert_clean(info.value, PASSWORD)


def test_allow_insecure_http_sends_over_plain_http(raw_peer: Any) -> None:
    proxy = raw_peer(LOGIN_OK)
    creds = rest.login("http://rest.example/i", "e", PASSWORD, allow_insecure_http=True,
                       proxy=proxy.url.removesuffix("/i"), fetch_xsrf=False)
    assert creds == Credentials("7", KEY)
    assert proxy.requests[0].startswith(b"POST http://rest.example/i/r/login/ ")


@pytest.mark.parametrize("root", ["http://127.0.0.1:1/i", "http://127.9.9.9:1/i",
                                  "http://localhost:1/i", "http://[::1]:1/i",
                                  "https://example.com/i"])
def test_loopback_and_https_are_allowed(root: str) -> None:
    assert rest.check_base_url(root) == root
    rest.RestClient(root).close()


# -- 3. a malformed answer is a RestError -----------------------------------------------------


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, b'{"msg": ' + b"[" * 50_000])
def test_deeply_nested_json_is_a_rest_error(raw_peer: Any, body: bytes) -> None:
    peer = raw_peer(http(200, body))
    with pytest.raises(RestError, match="not a JSON object") as info:
        rest.login(peer.url, "e", PASSWORD)
    assert not isinstance(info.value, RestConnectionError)
    assert_clean(info.value, PASSWORD)


def test_instamrkt_login_exits_7_on_deeply_nested_json(
        raw_peer: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = raw_peer(http(200, b"[" * 100_000))
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    code = main(["login", "--base-url", peer.url, "--username", "e", "--password-stdin"])
    err = capsys.readouterr().err
    assert code == 7, err
    assert err.count("\n") == 1 and "not a JSON object" in err and PASSWORD not in err


# -- 4. no secret reaches an exception ---------------------------------------------------------


@pytest.mark.parametrize("password", ["o", "or", "Wrong username or password", "pass"])
def test_a_short_password_never_mangles_nor_reveals_the_servers_text(
        raw_peer: Any, password: str) -> None:
    peer = raw_peer(http(401, b'{"msg": "Wrong username or password"}'))
    with pytest.raises(AuthenticationError) as info:
        rest.login(peer.url, "e", password)
    error = info.value
    assert error.reason == rest.WITHHELD  # not "Wr***ng username...": that shows it is "o"
    assert "***" not in str(error) and "Wr" not in str(error)
    assert error.__cause__ is None and error.__context__ is None


def test_a_password_not_in_the_text_leaves_it_whole(raw_peer: Any) -> None:
    peer = raw_peer(http(401, b'{"msg": "Wrong username or password"}'))
    with pytest.raises(AuthenticationError) as info:
        rest.login(peer.url, "e", "zq")
    assert info.value.reason == "Wrong username or password"


@pytest.mark.parametrize("password", [
    "a  double  spaced  secret", "with\nnewline secret", "tail-at-the-cut-" + "x" * 30,
])
def test_secrets_are_looked_for_before_the_text_is_collapsed_or_cut(
        raw_peer: Any, password: str) -> None:
    # the password straddles the 500-character cut, or needs the exact spacing to be seen
    msg = "y" * (495 - len(password) // 2) + password + " and more"
    peer = raw_peer(http(500, json.dumps({"msg": msg}).encode()))
    with pytest.raises(RestError) as info:
        rest.login(peer.url, "e", password)
    assert info.value.msg == rest.WITHHELD
    assert_clean(info.value, password, " ".join(password.split()), password[:20])


@pytest.mark.parametrize("disguised", [
    PASSWORD.replace(" ", "\x00"), PASSWORD[:7] + "\x1b[0m" + PASSWORD[7:],
    PASSWORD.replace(" ", ""), PASSWORD[:4] + " " + PASSWORD[4:],
])
def test_a_secret_split_by_escapes_or_spacing_is_withheld(
        raw_peer: Any, disguised: str) -> None:
    peer = raw_peer(http(400, json.dumps({"msg": f"your password: {disguised}"}).encode()))
    with pytest.raises(RestError) as info:
        rest.login(peer.url, "e", PASSWORD)
    assert info.value.msg == rest.WITHHELD
    assert_clean(info.value, PASSWORD, PASSWORD[:7], PASSWORD[7:])


def test_the_session_key_in_a_refusal_is_withheld(raw_peer: Any) -> None:
    answer = http(200, json.dumps({"user_session_key": KEY, "msg": f"key {KEY} unused"}).encode())
    with pytest.raises(AuthenticationError) as info:
        rest.login(raw_peer(answer).url, "e", PASSWORD)
    assert_clean(info.value, KEY, PASSWORD)


def test_a_redirect_target_is_shown_without_its_query(raw_peer: Any) -> None:
    where = f"https://user:{PASSWORD.replace(' ', '%20')}@elsewhere.example/login?token={KEY}"
    peer = raw_peer(http(302, b"", extra=f"Location: {where}\r\n"))
    with pytest.raises(RestError, match=r"redirected to https://elsewhere\.example/login "
                                        r"\(its query left out\)") as info:
        rest.login(peer.url, "e", PASSWORD)
    assert_clean(info.value, KEY, PASSWORD, "user:")


def test_a_refused_connection_chains_nothing() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(RestConnectionError, match=r"cannot reach 127\.0\.0\.1") as info:
        rest.login(f"http://127.0.0.1:{port}/i", "e", PASSWORD)
    assert_clean(info.value, PASSWORD)  # httpx's error, whose request holds the password


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_async_errors_chain_nothing_either(raw_peer: Any, anyio_backend: str) -> None:
    peer = raw_peer(b"NOT HTTP AT ALL\r\n\r\n")
    with pytest.raises(RestError) as info:
        await rest.alogin(peer.url, "e", PASSWORD)
    assert_clean(info.value, PASSWORD)


# -- 5. settings that cannot be used: clear typed errors ---------------------------------------


@pytest.mark.parametrize("user_id, key", [
    ("7;evil=1", KEY), ("7", "k\u00e9y-non-ascii"), ("7\r\nX-Injected: 1", KEY),
    ("7", f"{KEY};admin=1"), ("7", f"{KEY}\r\nX-Injected: {KEY}"),
])
def test_logout_refuses_credentials_a_cookie_cannot_carry(
        raw_peer: Any, user_id: str, key: str) -> None:
    peer = raw_peer(http(200, b"{}"))
    with pytest.raises(RestSettingError, match="cannot travel in a Cookie header") as info:
        rest.logout(peer.url, Credentials(user_id, key))
    assert isinstance(info.value, ValueError)
    assert_clean(info.value, key)
    assert [r for r in peer.requests if r.startswith(b"POST")] == []


def test_a_socks_proxy_needs_socksio() -> None:
    if importlib.util.find_spec("socksio") is None:
        with pytest.raises(RestSettingError, match="socksio"):
            rest.RestClient("https://example.com/i", proxy="socks5://127.0.0.1:1080")
    else:  # installed: the proxy is usable
        rest.RestClient("https://example.com/i", proxy="socks5://127.0.0.1:1080").close()


@pytest.mark.parametrize("proxy", ["ftp://127.0.0.1:21", "http://", "not a url at all"])
def test_a_malformed_proxy_is_a_setting_error(proxy: str) -> None:
    with pytest.raises(RestSettingError, match="not a usable proxy URL") as info:
        rest.login("https://example.com/i", "e", PASSWORD, proxy=proxy)
    assert_clean(info.value, PASSWORD)


def test_a_malformed_proxy_in_the_environment_is_a_setting_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "ftp://user:hunter2@127.0.0.1:21")
    with pytest.raises(RestSettingError, match="environment") as info:
        rest.login("https://example.com/i", "e", PASSWORD)
    assert_clean(info.value, PASSWORD, "hunter2")


def test_a_base_url_with_user_and_password_is_refused() -> None:
    with pytest.raises(RestSettingError, match="user name or password") as info:
        rest.login("https://alice:hunter2@example.com/i", "alice", PASSWORD)
    assert_clean(info.value, PASSWORD, "hunter2")


# -- 6. messages that say what happened --------------------------------------------------------


def test_junk_from_the_server_is_not_cannot_reach(raw_peer: Any) -> None:
    peer = raw_peer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    with pytest.raises(RestError, match="not valid HTTP") as info:
        rest.login(peer.url, "e", PASSWORD)
    assert not isinstance(info.value, RestConnectionError)
    assert "cannot reach" not in str(info.value)


def test_a_dead_proxy_is_named_as_the_proxy() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        dead = probe.getsockname()[1]
    with pytest.raises(RestConnectionError, match="through the proxy"):
        rest.login("https://example.com/i", "e", PASSWORD, proxy=f"http://127.0.0.1:{dead}")


def test_an_xsrf_refusal_is_not_wrong_credentials(raw_peer: Any) -> None:
    peer = raw_peer(http(403, b'{"msg": "XSRF cookie does not match POST argument"}'))
    with pytest.raises(RestError, match="XSRF") as info:
        rest.login(peer.url, "e", PASSWORD)
    assert not isinstance(info.value, AuthenticationError) and info.value.status == 403


def test_a_proxys_html_403_is_not_wrong_credentials(raw_peer: Any) -> None:
    peer = raw_peer(http(403, b"<html><h1>Access denied</h1></html>", "text/html"))
    with pytest.raises(RestError, match=r"not the API's JSON \(content type text/html\)"
                                        r".*proxy") as info:
        rest.login(peer.url, "e", PASSWORD)
    assert not isinstance(info.value, AuthenticationError)


def test_a_json_401_is_still_wrong_credentials(raw_peer: Any) -> None:
    peer = raw_peer(http(401, b'{"msg": "Wrong username or password"}'))
    with pytest.raises(AuthenticationError, match="login refused with HTTP 401"):
        rest.login(peer.url, "e", PASSWORD)


def test_terminal_escapes_in_a_server_msg_are_stripped(raw_peer: Any) -> None:
    msg = "\x1b[2J\x1b[31mdown\x1b[0m\x07 for \x1b]0;pwned\x07maintenance\x9b\r\nsoon"
    peer = raw_peer(http(500, json.dumps({"msg": msg}).encode()))
    with pytest.raises(RestError) as info:
        rest.login(peer.url, "e", PASSWORD)
    assert info.value.msg == "down for maintenance soon"
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in str(info.value))


# -- 7. instamrkt login: the URL first; stdin only with --password-stdin ----------------------


def run_cli(args: list[str], stdin: io.StringIO, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", stdin)
    for name in ("INSTAMRKT_BASE_URL", "INSTAMRKT_USERNAME", "INSTAMRKT_SESSION_KEY"):
        monkeypatch.delenv(name, raising=False)
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("url, why", [("http://example.com/i", "unencrypted"),
                                      ("ftp://example.com/i", "REST root"),
                                      ("https://a:b@example.com/i", "user name or password")])
def test_login_checks_the_base_url_before_reading_the_password(
        url: str, why: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    stdin = io.StringIO(PASSWORD + "\n")
    code, out, err = run_cli(["login", "--base-url", url, "--username", "e",
                              "--password-stdin"], stdin, monkeypatch, capsys)
    assert code == 2 and why in err and out == ""
    assert stdin.tell() == 0  # the password was never read


def test_login_refuses_a_pipe_without_password_stdin(
        raw_peer: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = raw_peer(LOGIN_OK)
    stdin = io.StringIO(PASSWORD + "\n")
    code, _out, err = run_cli(["login", "--base-url", peer.url, "--username", "e"], stdin,
                             monkeypatch, capsys)
    assert code == 2 and "--password-stdin" in err and "not a terminal" in err
    assert "GetPassWarning" not in err and stdin.tell() == 0 and peer.requests == []


def test_login_reads_one_line_of_stdin_with_password_stdin(
        instamrkt_server_factory: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    server = instamrkt_server_factory()
    server.add_account("alice", PASSWORD, user_id="1001")
    code, out, err = run_cli(["login", "--base-url", server.rest_url, "--username", "alice",
                              "--password-stdin"], io.StringIO(PASSWORD + "\r\nignored\n"),
                             monkeypatch, capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "export INSTAMRKT_USER_ID=1001"
    code, out, err = run_cli(["login", "--base-url", server.rest_url, "--password-stdin"],
                             io.StringIO(PASSWORD + "\n"), monkeypatch, capsys)
    assert code == 2 and "needs --username" in err


def test_allow_insecure_http_flag(raw_peer: Any, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    proxy = raw_peer(LOGIN_OK)
    monkeypatch.setenv("HTTP_PROXY", proxy.url.removesuffix("/i"))
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = run_cli(["login", "--base-url", "http://rest.example/i", "--username",
                              "e", "--password-stdin", "--allow-insecure-http"],
                             io.StringIO(PASSWORD + "\n"), monkeypatch, capsys)
    assert code == 0, err
    assert "export INSTAMRKT_SESSION_KEY=" + KEY in out


# -- 8. the documented bodies -----------------------------------------------------------------


def test_logout_sends_an_empty_json_object(raw_peer: Any) -> None:
    peer = raw_peer(http(200, b""))
    rest.logout(peer.url, Credentials("7", KEY), fetch_xsrf=False)
    (request,) = peer.requests
    assert b"content-type: application/json" in request.lower()
    assert peer.bodies() == [{}]


def test_login_and_signup_send_next_and_invite_id(raw_peer: Any) -> None:
    peer = raw_peer(LOGIN_OK)
    rest.login(peer.url, "e", PASSWORD, next_url="/i/play/g-1", invite_id="inv-9",
               fetch_xsrf=False)
    rest.signup(peer.url, "e", "e@example.com", PASSWORD, invite_id="inv-9", fetch_xsrf=False)

    async def both() -> None:
        await rest.alogin(peer.url, "e", PASSWORD, next_url="/n", fetch_xsrf=False)
        await rest.asignup(peer.url, "e", "e@example.com", PASSWORD, invite_id="i",
                           fetch_xsrf=False)

    anyio.run(both)
    bodies = peer.bodies()
    assert bodies[0] == {"username": "e", "password": PASSWORD, "next": "/i/play/g-1",
                         "invite_id": "inv-9"}
    assert bodies[1] == {"username": "e", "email": "e@example.com", "password": PASSWORD,
                         "invite_id": "inv-9"}
    assert bodies[2]["next"] == "/n" and bodies[3]["invite_id"] == "i"


# -- the answer parser, fuzzed -----------------------------------------------------------------

_SECRET_PASSWORD = "pw"  # short on purpose: the hardest case for masking
# some names that matter to httpx, and any other token
_NAMES = st.one_of(st.sampled_from(["content-type", "location", "set-cookie", "content-encoding",
                                    "content-length", "transfer-encoding", "www-authenticate"]),
                   st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}", fullmatch=True))
_TEMPLATES = st.sampled_from([
    "{}", '{"msg": "$"}', '{"id": 1, "user_session_key": "$"}', '{"msg": ["$", 1]}',
    '{"user_id": "$"}', "<html>$</html>", '{"id": $}', "[" * 3000,
    '{"msg": "\\u001b[31m$"}', '{"id": "7", "msg": {"a": "$"}}',
])
_FRAGMENTS = st.sampled_from(["", _SECRET_PASSWORD, KEY, "user_session_key=" + KEY, "x y"])


@st.composite
def answers(draw: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status = draw(st.integers(100, 999))
    headers = draw(st.lists(st.tuples(
        _NAMES.map(str.encode),
        st.one_of(st.binary(max_size=40), _FRAGMENTS.map(lambda f: f"{f}; Path=/".encode()),
                  _FRAGMENTS.map(lambda f: f"https://h.example/p?k={f}".encode()))),
        max_size=4))
    body = draw(st.one_of(
        st.binary(max_size=200),
        st.builds(lambda t, s: t.replace("$", s).encode(), _TEMPLATES, _FRAGMENTS)))
    return status, headers, body


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers(), action=st.sampled_from(["login", "signup", "logout"]))
def test_any_answer_is_credentials_or_a_rest_error_without_a_secret(
        answer: tuple[int, list[tuple[bytes, bytes]], bytes], action: str) -> None:
    status, headers, body = answer

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=body)

    settings_ = restcalls.Settings("https://rest.example/i", 5.0, None, False, True, False)
    found = restsecrets.Secrets(_SECRET_PASSWORD, KEY)
    if action == "login":
        def flow(c: Any) -> Any:
            return restcalls.login_flow(c, settings_, found, "e", _SECRET_PASSWORD, None, None)
    elif action == "signup":
        def flow(c: Any) -> Any:
            return restcalls.signup_flow(c, settings_, found, "e", "e@x", _SECRET_PASSWORD, None)
    else:
        def flow(c: Any) -> Any:
            return restcalls.logout_flow(c, settings_, found, Credentials("7", KEY))

    try:
        result = anyio.run(restcalls.drive, settings_, restcalls.Jar(), action, flow, found,
                           httpx.MockTransport(handler))
    except RestError as error:  # AuthenticationError from a REST call is one too
        assert_clean(error, _SECRET_PASSWORD, KEY)
    else:
        assert result is None if action == "logout" else isinstance(result, Credentials)
