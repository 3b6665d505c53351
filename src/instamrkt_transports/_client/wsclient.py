"""One websocket-client connection, shared by the blocking and threaded adapters.

``Link`` opens the socket for a ``Connecting`` URL itself (TCP with TCP_NODELAY, the HTTP
CONNECT tunnel from ``proxy.py``, TLS from ``ssl_for``) and hands it to websocket-client for
the handshake (``socket=``), so websocket-client's own proxy and environment handling never
runs: ``proxy_for`` is the only proxy decision, as in the anyio adapter. websocket-client
then only frames: no compression, no UTF-8 validation (``bytes.decode`` in the core
validates), no lock of its own (the threaded adapter holds one).

Reading takes one big socket read at a time into a buffer shared by many frames. A complete
plain frame (FIN, no RSV bit, text or binary, unmasked, under 64 KiB) is cut straight out of
that buffer: it is what nearly every message of this API is, and websocket-client's general
``frame_buffer`` costs several times more per frame. Everything else (control frames,
fragments, long lengths, a frame split across reads, anything malformed) goes through the
resumable ``frame_buffer``, which reads from the same buffer and does all the validation: a
socket timeout in the middle of a frame loses nothing, so callers may use short timeouts.
Control frames are returned to the adapter instead of being answered here, because answering
a ping writes to the socket and only the adapter knows when writing is safe.

Writing frames and masks here too (``_frame``): masking keys are drawn from ``os.urandom``
in batches, as RFC 6455 asks (unpredictable to the application), one syscall per 1,024 frames.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import ssl
import struct
from urllib.parse import urlsplit

from websocket import (
    ABNF,
    WebSocket,
    WebSocketBadStatusException,
    WebSocketException,
    WebSocketTimeoutException,
)

from instamrkt_proto import ClientConnection, ConnectionClosed, InstamrktError, MessageTooBig

from ..options import Options
from ..proxy import connect_request, parse_connect_response, proxy_for
from .driver import ssl_for

__all__ = ("DATA", "NETWORK_ERRORS", "SEND_TIMEOUT", "Link", "failure", "lost_reason",
           "report_loss", "write_budget")

NETWORK_ERRORS = (OSError, WebSocketException, InstamrktError)
PING, PONG, CLOSE = ABNF.OPCODE_PING, ABNF.OPCODE_PONG, ABNF.OPCODE_CLOSE
_TEXT, _BINARY, _CONT = ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT
DATA = (_TEXT, _BINARY)
_PLAIN = (0x80 | _TEXT, 0x80 | _BINARY)  # FIN, no RSV bit

_CHUNK = 65536
_HAVE_POLL = hasattr(select, "poll")
_HAVE_EPOLL = hasattr(select, "epoll")
SEND_TIMEOUT = 10.0
"""Seconds a write may block (peer not reading) before the connection counts as lost."""


def failure(exc: BaseException) -> tuple[int | None, str]:
    """``(HTTP status, reason)`` of a failed attempt, for ``connection_failed``."""
    if isinstance(exc, WebSocketBadStatusException):
        return exc.status_code, exc.status_message or ""  # not the body: it may echo the URL
    text = str(exc)
    return None, f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Link:
    """One connection attempt, then one connection. ``abort()`` is safe from any thread."""

    __slots__ = ("_buffer", "_keys", "_kind", "_limit", "_parts", "_poller", "_pos", "_size",
                 "_timeout", "_watch", "aborted", "gen", "sock", "ws")

    def __init__(self, gen: int, options: Options) -> None:
        self.gen = gen
        self.sock: socket.socket | None = None
        self.ws: WebSocket | None = None
        self.aborted = False
        # Refuse an oversized message before buffering it; the adapter hands the
        # MessageTooBig to the core (report_loss), which reports it as a typed event.
        self._limit = options.config.max_message_size
        self._parts: list[bytes] = []
        self._size = 0
        self._kind = 0
        self._buffer = b""
        self._pos = 0
        self._keys = b""  # unused masking keys
        self._timeout: float | None = -1.0  # what the socket has; -1: unknown
        self._poller: select.poll | None = None  # for wait()
        self._watch: select.epoll | None = None  # for wait_unmuted() and mute()

    def open(self, url: str, options: Options, timeout: float | None) -> None:
        """TCP, proxy tunnel, TLS and websocket handshake; raises one of ``NETWORK_ERRORS``."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        context = ssl_for(url, options)
        port = parts.port or (443 if context else 80)
        proxy = proxy_for(url, options.proxy)
        target = (host, port) if proxy is None else (proxy.host, proxy.port)
        sock = self._connect(target, timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy is not None:
                sock.sendall(connect_request(proxy, host, port))
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = sock.recv(4096)
                    if not chunk or len(head) > 16384:
                        raise ConnectionClosed("proxy closed or sent too long an answer")
                    head += chunk
                parse_connect_response(head)
            if context is not None:
                sock = self.sock = context.wrap_socket(sock, server_hostname=host)
                self._timeout = -1.0
                if self.aborted:
                    raise ConnectionClosed("connection attempt abandoned")
            ws = WebSocket(skip_utf8_validation=True, enable_multithread=False)
            ws.connect(url, socket=sock, suppress_origin=True)  # type: ignore[no-untyped-call]
            self.attach(sock, ws)
        except BaseException:
            self.close()
            raise

    def attach(self, sock: socket.socket, ws: WebSocket) -> None:
        """Frame over ``sock``, whose websocket handshake ``ws`` has done."""
        self.sock = sock
        ws.frame_buffer.recv = self._recv  # frame_buffer reads 2 bytes at a time otherwise
        if _HAVE_EPOLL:
            self._watch = select.epoll()
            self._watch.register(sock, select.EPOLLIN)
        self.ws = ws

    def _connect(self, target: tuple[str, int], timeout: float | None) -> socket.socket:
        """``socket.create_connection``, but the socket is visible to ``abort()`` (which
        shuts it down, ending a blocked connect) before it starts connecting."""
        error: OSError = ConnectionClosed("no address to connect to")
        for family, kind, proto, _name, address in socket.getaddrinfo(
                *target, type=socket.SOCK_STREAM):
            sock = self.sock = socket.socket(family, kind, proto)
            try:
                if self.aborted:
                    raise ConnectionClosed("connection attempt abandoned")
                sock.settimeout(timeout)
                sock.connect(address)
                if self.aborted:  # abort() ran while we were connecting
                    raise ConnectionClosed("connection attempt abandoned")
                return sock
            except OSError as exc:
                sock.close()
                self.sock = None
                error = exc
                if self.aborted:
                    break
        raise error

    # -- writing (the caller serialises writes) -----------------------------------------------

    def send(self, messages: list[bytes], timeout: float = SEND_TIMEOUT) -> None:
        """Write each message as one masked text frame, all in one ``sendall``.

        ``timeout`` bounds a write to a peer that stopped reading (see ``write_budget``);
        the socket's previous timeout is restored afterwards.
        """
        previous = self._timeout
        self.settimeout(timeout)
        try:
            self._write(b"".join([self._frame(m, _TEXT) for m in messages]))
        finally:
            if previous != -1.0:
                self.settimeout(previous)

    def send_control(self, opcode: int, data: bytes) -> None:
        self._write(self._frame(data, opcode))

    def send_close(self, code: int, reason: str) -> None:
        """Best effort, within a second: the socket may already be gone or stuck."""
        self.settimeout(1.0)
        with contextlib.suppress(*NETWORK_ERRORS):
            self.send_control(CLOSE, struct.pack("!H", code) + reason.encode()[:120])

    def _write(self, data: bytes) -> None:
        sock = self.sock
        if sock is None or self.ws is None:
            raise ConnectionClosed("not connected")
        sock.sendall(data)

    def _frame(self, payload: bytes, opcode: int) -> bytes:
        """One final, masked frame (RFC 6455 5.2-5.3)."""
        size = len(payload)
        if size < 126:
            head = bytes((0x80 | opcode, 0x80 | size))
        elif size < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0xFE, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0xFF, size)
        keys = self._keys or os.urandom(4096)
        key, self._keys = keys[:4], keys[4:]
        mask = int.from_bytes(key * (size // 4 + 1), "little") & ((1 << (8 * size)) - 1)
        return b"".join((head, key, (int.from_bytes(payload, "little") ^ mask).to_bytes(
            size, "little")))

    # -- reading (one reader at a time) -------------------------------------------------------

    def read(self) -> tuple[int, bytes]:
        """The next complete data message, ping or close: ``(opcode, payload)``.

        Pongs are skipped. A socket timeout raises ``WebSocketTimeoutException`` and loses
        nothing: call again to resume.
        """
        ws = self.ws
        if ws is None:
            raise ConnectionClosed("not connected")
        buffer = ws.frame_buffer
        while True:
            if buffer.header is None and not buffer.recv_buffer and not self._kind:
                if self._pos >= len(self._buffer):  # between frames: try the fast path
                    self._buffer, self._pos = self._fill(), 0
                cut: list[bytes] = []
                opcode = self._cut_into(cut, 1)
                if cut:
                    return opcode, cut[0]
            if buffer.needs_header():
                buffer.recv_header()
            if buffer.needs_length():
                buffer.recv_length()
            if self._limit is not None and self._size + (buffer.length or 0) > self._limit:
                raise MessageTooBig(self._size + (buffer.length or 0), self._limit)
            frame = buffer.recv_frame()
            opcode = frame.opcode
            if opcode in (PING, CLOSE):
                return opcode, _bytes(frame.data)
            if opcode == PONG:
                continue
            if (opcode == _CONT) != bool(self._kind):
                raise ConnectionClosed("illegal continuation frame", 1002)
            self._kind = self._kind or opcode
            self._parts.append(_bytes(frame.data))
            self._size += len(frame.data)
            if frame.fin:
                kind, data = self._kind, b"".join(self._parts)
                self._parts, self._size, self._kind = [], 0, 0
                return kind, data

    def read_many(self, limit: int | None = None) -> tuple[int, list[bytes]]:
        """``read()``, then further complete plain data messages already received, up to
        ``limit`` messages in all (at least one).

        One socket read brings many messages under a flood of pushes: the adapter hands
        them to the core in one call. ``(opcode, [payload])`` for a ping or a close.
        """
        opcode, data = self.read()
        messages = [data]
        ws = self.ws
        if opcode in DATA and ws is not None and ws.frame_buffer.header is None \
                and not ws.frame_buffer.recv_buffer and not self._kind:
            self._cut_into(messages, limit)
        return opcode, messages

    # -- waiting for data (the threaded adapter: a reader thread and calling threads) ------

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: for ever) for bytes, end of stream or an
        error (``abort()`` counts); False on timeout. Never reads, and leaves the socket's
        own timeout, which bounds writes, alone. One thread at a time: the caller reading."""
        sock = self.sock
        if sock is None:
            return True  # the read that follows reports it
        if _HAVE_POLL:
            poller = self._poller
            if poller is None:
                poller = self._poller = select.poll()
                poller.register(sock, select.POLLIN)
            ms = None if timeout is None else max(0, int(timeout * 1000) + 1)
            return bool(poller.poll(ms))
        return bool(select.select([sock], [], [], timeout)[0])

    def wait_unmuted(self) -> None:
        """Wait for bytes, end of stream or an error, for the reader thread: while a
        calling thread reads (``mute``) incoming bytes do not wake it, a loss does."""
        sock = self.sock
        if sock is None:
            return
        watch = self._watch
        if watch is None:
            select.select([sock], [], [])
            return
        while not watch.poll():
            pass  # only an interrupted wait returns nothing

    @property
    def mutable(self) -> bool:
        """Whether ``mute`` works here (epoll), so a calling thread may read for itself."""
        return self._watch is not None

    def mute(self, muted: bool) -> None:
        """Stop (or resume) waking ``wait_unmuted`` for incoming bytes."""
        watch, sock = self._watch, self.sock
        if watch is not None and sock is not None:
            with contextlib.suppress(OSError, ValueError):  # closed meanwhile: it woke anyway
                watch.modify(sock, 0 if muted else select.EPOLLIN)

    def buffered(self) -> bool:
        """Bytes already received and not yet read: ``read()`` starts without waiting."""
        sock = self.sock
        return self._pos < len(self._buffer) or (
            isinstance(sock, ssl.SSLSocket) and sock.pending() > 0)

    def _cut_into(self, messages: list[bytes], limit: int | None) -> int:
        """Append the payloads of the complete plain data frames (FIN, no RSV bit, text or
        binary, unmasked, within the size limit) at the head of the buffer, until
        ``messages`` holds ``limit``; no socket read. Returns the first one's opcode (0:
        none). One loop for every message of a flood: no call per frame."""
        buffer, pos, most = self._buffer, self._pos, self._limit
        size = len(buffer)
        count = limit if limit is not None else len(messages) + size
        opcode = 0
        while len(messages) < count and size - pos >= 2:
            first, length = buffer[pos], buffer[pos + 1]
            if first not in _PLAIN:
                break
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(buffer[start:start + 2], "big"), start + 2
            elif length > 126:  # 127: a 64-bit length; >127: masked (read() refuses it)
                break
            end = start + length
            if end > size or (most is not None and length > most):
                break
            opcode = opcode or first & 0x0F
            messages.append(buffer[start:end])
            pos = end
        self._pos = pos
        return opcode

    def _recv(self, size: int) -> bytes:
        """For ``frame_buffer``: at most ``size`` bytes from the shared buffer."""
        buffer, start = self._buffer, self._pos
        if start >= len(buffer):
            buffer = self._buffer = self._fill()
            start = 0
        self._pos = start + size
        return buffer[start:start + size]

    def _fill(self) -> bytes:
        """One socket read of up to 64 KiB; a timeout loses nothing, EOF is an error."""
        sock = self.sock
        if sock is None:
            raise ConnectionClosed("not connected")
        try:
            chunk = sock.recv(_CHUNK)
        except TimeoutError:
            raise WebSocketTimeoutException("timed out") from None
        if not chunk:
            raise ConnectionClosed("the server closed the connection without a close frame", 1006)
        return chunk

    def control(self, opcode: int, data: bytes) -> ConnectionClosed | None:
        """Answer a ping or a close frame from ``read()`` (the caller serialises writes).

        Returns the error to report as ``connection_lost`` after a close frame, else None.
        """
        if opcode == PING:
            self.send_control(PONG, data)
            return None
        code, reason = close_reason(data)
        self.send_close(code if code != 1005 else 1000, "")
        return ConnectionClosed(reason or "closed by the server", code)

    def settimeout(self, timeout: float | None) -> None:
        """Set the socket timeout, skipping the two fcntl calls when it is unchanged."""
        if self.sock is not None and timeout != self._timeout:
            self.sock.settimeout(timeout)
            self._timeout = timeout

    # -- closing ------------------------------------------------------------------------------

    def abort(self) -> None:
        """Wake a thread blocked on this socket; it then sees an error or EOF."""
        self.aborted = True
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # not SSLSocket.shutdown: it drops the TLS state
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def close(self) -> None:
        sock, self.sock = self.sock, None
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


def write_budget(core: ClientConnection, now: float) -> float:
    """How long a write may block: until the core's next deadline, at most SEND_TIMEOUT.

    A write stuck behind a peer that stopped reading must not hold back the timers (in the
    threaded adapter it holds the lock): past the next deadline it counts as a lost
    connection, which settles its requests (outcome unknown for what may have moved money).
    """
    deadline = core.next_deadline()
    if deadline is None:
        return SEND_TIMEOUT
    return min(SEND_TIMEOUT, max(0.05, deadline - now))


def report_loss(core: ClientConnection, exc: BaseException, now: float, *, made: bool) -> None:
    """Tell the core why its connection (or attempt) ended."""
    if isinstance(exc, MessageTooBig):
        core.receive_too_big(exc.size, now)
    elif made:
        core.connection_lost(now, *lost_reason(exc))
    else:
        core.connection_failed(now, *failure(exc))


def lost_reason(exc: BaseException) -> tuple[int | None, str]:
    """``(code, reason)`` for ``connection_lost`` after ``exc`` ended a connection."""
    if isinstance(exc, ConnectionClosed):
        return exc.code, exc.reason
    return 1006, failure(exc)[1]


def close_reason(payload: bytes) -> tuple[int, str]:
    """``(code, reason)`` of a close frame's payload (1005 when it has none)."""
    if len(payload) < 2:
        return 1005, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")


def _bytes(data: bytes | str) -> bytes:
    return data if isinstance(data, bytes) else data.encode()
