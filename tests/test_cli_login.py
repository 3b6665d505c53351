"""``instamrkt login``: the password typed into a real terminal (a pty), never echoed.

The command runs in a subprocess in a new session, with stdin and stderr on the pty (where
a person types and reads prompts) and stdout on a pipe, as in ``eval "$(instamrkt login)"``.
"""

from __future__ import annotations

import json
import os
import queue
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from instamrkt_proto import Credentials
from instamrkt_transports import blocking, rest

MODULE = (sys.executable, "-m", "instamrkt_transports")
PASSWORD = "pty typed p4ssw0rd"
DEADLINE = 30.0  # seconds for any one step: a hang fails the test instead of the run
EXPORT = re.compile(r"^export (INSTAMRKT_USER_ID|INSTAMRKT_SESSION_KEY)=(\S+)$")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INSTAMRKT_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Terminal:
    """``instamrkt login ...`` with stdin and stderr on a pty; stdout on a pipe."""

    def __init__(self, args: Sequence[str], env: dict[str, str], command: str = "login"
                 ) -> None:
        self.master, slave = os.openpty()
        try:
            self.proc = subprocess.Popen(
                [*MODULE, command, *args], stdin=slave, stderr=slave,
                stdout=subprocess.PIPE, env=env, start_new_session=True, text=True)
        finally:
            os.close(slave)
        self.screen = b""  # everything the terminal showed

    def read_until(self, text: bytes) -> None:
        deadline = time.monotonic() + DEADLINE
        while text not in self.screen:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {text!r} on the terminal; it shows {self.screen!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    pytest.fail(f"the terminal closed before {text!r}: {self.screen!r}")
                self.screen += chunk

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self) -> tuple[int, str]:
        """Exit code and stdout; the rest of the terminal output lands in ``screen``."""
        try:
            stdout, _ = self.proc.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            pytest.fail(f"instamrkt login did not finish; the terminal shows {self.screen!r}")
        while select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.screen += chunk
        return self.proc.returncode, stdout

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(DEADLINE)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        os.close(self.master)


@pytest.fixture
def terminal() -> Iterator[Any]:
    opened: list[Terminal] = []

    def start(*args: str, env: dict[str, str] | None = None, command: str = "login"
              ) -> Terminal:
        term = Terminal(args, clean_env() if env is None else env, command)
        opened.append(term)
        return term

    yield start
    for term in opened:
        term.close()


@pytest.fixture
def server(instamrkt_server_factory: Any) -> Any:
    srv = instamrkt_server_factory()
    srv.add_account("alice", PASSWORD, user_id="1001")
    return srv


def exports(stdout: str) -> Credentials:
    lines = stdout.splitlines()
    assert len(lines) == 2, stdout
    found = dict(EXPORT.fullmatch(line).groups() for line in lines)  # type: ignore[union-attr]
    return Credentials(found["INSTAMRKT_USER_ID"], found["INSTAMRKT_SESSION_KEY"])


def test_login_asks_on_the_terminal_and_prints_export_lines(server: Any, terminal: Any) -> None:
    term = terminal("--base-url", server.rest_url)
    term.read_until(b"Username: ")
    term.type("alice")
    term.read_until(b"Password: ")
    term.type(PASSWORD)
    code, stdout = term.finish()
    assert code == 0, (stdout, term.screen)
    creds = exports(stdout)
    assert creds.user_id == "1001"
    with blocking.connect(server.url, creds, timeout=10.0, reconnect=False) as client:
        client.ping()
    assert PASSWORD.encode() not in term.screen  # echo was off while it was typed
    assert PASSWORD not in stdout


def test_wrong_password_exits_3_without_showing_it(server: Any, terminal: Any) -> None:
    wrong = "wrong " + PASSWORD
    term = terminal("--username", "alice", env=clean_env(INSTAMRKT_BASE_URL=server.rest_url))
    term.read_until(b"Password: ")
    term.type(wrong)
    code, stdout = term.finish()
    assert code == 3 and stdout == ""
    screen = term.screen.decode()
    assert "instamrkt: error: login refused with HTTP 401: Wrong username or password" in screen
    assert wrong not in screen


def test_json_output(server: Any, terminal: Any) -> None:
    term = terminal("--base-url", server.rest_url, "--username", "alice", "--json")
    term.read_until(b"Password: ")
    term.type(PASSWORD)
    code, stdout = term.finish()
    assert code == 0
    data = json.loads(stdout)
    assert data["event"] == "login" and data["user_id"] == "1001"
    assert data["username"] == "alice" and PASSWORD not in stdout
    assert server.credentials_for("1001").session_key == data["session_key"]


def test_tls_with_cafile(instamrkt_server_factory: Any, tls_contexts: Any, test_ca: Any,
                         terminal: Any, tmp_path: Path) -> None:
    srv = instamrkt_server_factory(ssl_context=tls_contexts[0])
    srv.add_account("alice", PASSWORD, user_id="1001")
    ca = tmp_path / "ca.pem"
    test_ca.cert_pem.write_to_path(str(ca))
    term = terminal("--base-url", srv.rest_url, "--username", "alice", "--cafile", str(ca))
    term.read_until(b"Password: ")
    term.type(PASSWORD)
    code, stdout = term.finish()
    assert code == 0 and exports(stdout).user_id == "1001"


def test_other_commands_log_in_first_with_username(server: Any, terminal: Any) -> None:
    term = terminal(server.url, "--username", "alice", "--base-url", server.rest_url,
                    "--count", "2", "--json", command="ping")
    term.read_until(b"Password: ")
    term.type(PASSWORD)
    code, stdout = term.finish()
    assert code == 0, (stdout, term.screen)
    pings = [json.loads(line) for line in stdout.splitlines()]
    assert [p["event"] for p in pings][:2] == ["Pong", "Pong"]
    assert PASSWORD.encode() not in term.screen and PASSWORD not in stdout
    key = server.credentials_for("1001").session_key  # the login rotated the key
    assert key not in stdout and key.encode() not in term.screen


def test_no_base_url_is_a_usage_error() -> None:
    proc = subprocess.run([*MODULE, "login", "--username", "alice"], capture_output=True,
                          text=True, env=clean_env(), timeout=DEADLINE,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("instamrkt: error: no REST root: pass --base-url or set "
                                   "INSTAMRKT_BASE_URL")


def test_the_password_is_not_an_option() -> None:
    proc = subprocess.run([*MODULE, "login", "--password", "x"], capture_output=True,
                          text=True, env=clean_env(), timeout=DEADLINE,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 2 and "unrecognized arguments: --password" in proc.stderr


def test_serve_announces_the_rest_root_and_a_demo_account() -> None:
    proc = subprocess.Popen([*MODULE, "serve", "--port", "0", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=clean_env())
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        serving = json.loads(lines.get(timeout=DEADLINE))
        demo = json.loads(lines.get(timeout=DEADLINE))
        assert serving["rest_url"] == demo["rest_url"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/i", serving["rest_url"])
        creds = rest.login(demo["rest_url"], demo["username"], demo["password"])
        assert creds.user_id == "1" and creds.session_key != demo["session_key"]  # rotated
        with blocking.connect(serving["url"], creds, timeout=10.0, reconnect=False) as client:
            client.ping()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
