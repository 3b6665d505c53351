"""Shared fixtures: a test CA, a CONNECT proxy, a server in its own process, odd peers."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import multiprocessing
import socket
import ssl
import threading
from collections.abc import Callable, Iterator

import proxy
import pytest
import trustme
from hypothesis import HealthCheck, settings

# A property test checks outcomes, never time: no per-example deadline and no "too slow"
# health check, which on a loaded CI machine fail a test that is correct. Loaded here,
# before the test modules, so their own settings() inherit it.
settings.register_profile("instamrkt", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("instamrkt")


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_contexts(test_ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context for 127.0.0.1, client context trusting only the test CA)."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    test_ca.configure_trust(client)
    return server, client


@pytest.fixture(scope="session")
def http_proxy() -> Iterator[int]:
    """A real HTTP CONNECT proxy (proxy.py) on loopback; yields its port."""
    flags = ["--hostname", "127.0.0.1", "--port", "0", "--num-workers", "1",
             "--num-acceptors", "1", "--log-level", "WARNING"]
    with proxy.Proxy(flags) as server:
        yield int(server.flags.port)


class ServerProcess:
    """The pacing witness (``pacing_witness.py``) in a process of its own: it stamps each
    request with the kernel's receive time, so neither the test's event loop holding the GIL
    nor the server being descheduled moves a stamp. ``log()`` stops it and returns
    (time, op) pairs in arrival order.
    """

    def __init__(self) -> None:
        import pacing_witness

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=pacing_witness.serve, args=(child,), daemon=True)
        self._proc.start()
        if not self._conn.poll(30):
            raise RuntimeError("server process did not start")
        self.port = self._conn.recv()
        self.url = f"ws://127.0.0.1:{self.port}/"
        self._log: list[tuple[float, int]] | None = None

    def log(self) -> list[tuple[float, int]]:
        if self._log is None:
            self._conn.send("stop")
            if not self._conn.poll(30):
                raise RuntimeError("server process did not answer")
            self._log = self._conn.recv()
            self._proc.join(10)
        return self._log

    def close(self) -> None:
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(10)


@pytest.fixture
def server_process() -> Iterator[ServerProcess]:
    server = ServerProcess()
    try:
        yield server
    finally:
        server.close()


def assert_paced(times: list[float], count: int, window: float, jitter: float = 0.03) -> None:
    """No window of ``window - jitter`` seconds holds more than ``count`` arrivals."""
    span = window - jitter
    j = 0
    for i, t in enumerate(times):
        while times[j] < t - span:
            j += 1
        assert i - j + 1 <= count, f"{i - j + 1} requests within {span:.3f} s at {t:.3f}"


@contextlib.contextmanager
def _loopback_peer(handle: Callable[[socket.socket], bool],
                   rcvbuf: int | None = None) -> Iterator[str]:
    """A raw TCP peer on 127.0.0.1, one thread; ``handle(conn)`` returns True to keep the
    connection open until teardown. Yields its ws:// URL."""
    listener = socket.socket()
    if rcvbuf is not None:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(5)
            try:
                keep = handle(conn)
            except OSError:
                keep = False
            if keep:
                held.append(conn)
            else:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for conn in held:
            conn.close()


@pytest.fixture
def garbage_server() -> Iterator[str]:
    """A peer that answers any handshake with bytes that are not HTTP, then closes."""

    def handle(conn: socket.socket) -> bool:
        conn.recv(65536)
        conn.sendall(b"\x00\xffnot http at all\r\n\r\n")
        return False

    with _loopback_peer(handle) as url:
        yield url


@pytest.fixture
def deaf_peer() -> Iterator[str]:
    """A websocket peer that completes the handshake, then never reads (nor writes) again:
    its receive buffer fills and every write to it blocks. Yields its ws:// URL."""
    guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def handle(conn: socket.socket) -> bool:
        head = b""
        while b"\r\n\r\n" not in head:  # read exactly the request, nothing after it
            chunk = conn.recv(1)
            if not chunk:
                return False
            head += chunk
        key = next((line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                    if line.lower().startswith(b"sec-websocket-key")), b"")
        accept = base64.b64encode(hashlib.sha1(key + guid).digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        return True

    with _loopback_peer(handle, rcvbuf=4096) as url:
        yield url
