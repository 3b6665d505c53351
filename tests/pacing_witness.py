"""A websocket server, in a process of its own, that stamps each request with the time the
kernel received it: the witness for the pacing tests.

A server that stamps a request when it reads it (as the reference server does) stamps a
whole burst late when the machine deschedules it for a few tens of milliseconds, and the
burst looks compressed: a limiter that kept its windows seems to break them. Here every frame
is read with its own ``recvmsg`` calls, the last of which ends with the frame's last byte,
and that call's ``SO_TIMESTAMPNS`` stamp (when the kernel queued the segment holding that
byte) is the frame's arrival time, whatever the server process was doing then. Without
that socket option (not Linux) the stamp is the read time.

websockets' sans-I/O server does the handshake and checks every frame; this file only reads
frame lengths, to know where each frame ends. Pings (op 1) get pongs, anything else a 666.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
import time
from typing import Any

from websockets.frames import Opcode
from websockets.server import ServerProtocol

_SO_TIMESTAMPNS = 35  # Linux; the socket module of this Python does not name it
_TIMESPEC = struct.Struct("@qq")


class _Reader:
    """Exact reads from a socket, each with the kernel's receive stamp of its last byte."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            self.kernel = sys.platform.startswith("linux")
        except OSError:
            self.kernel = False

    def exactly(self, size: int) -> tuple[bytes, float]:
        data, stamp = b"", time.time()
        while len(data) < size:
            chunk, ancillary, _flags, _addr = self.sock.recvmsg(
                size - len(data), socket.CMSG_SPACE(_TIMESPEC.size))
            if not chunk:
                raise EOFError
            data += chunk
            stamp = time.time()
            for level, kind, value in ancillary:
                if self.kernel and level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    seconds, nanoseconds = _TIMESPEC.unpack(value[:_TIMESPEC.size])
                    stamp = seconds + nanoseconds / 1e9
        return data, stamp

    def frame(self) -> tuple[bytes, float]:
        """One whole frame as it came, and when its last byte arrived."""
        head, stamp = self.exactly(2)
        length, extra = head[1] & 0x7F, 4 if head[1] & 0x80 else 0
        if length == 126:
            more, stamp = self.exactly(2)
            head, length = head + more, struct.unpack("!H", more)[0]
        elif length == 127:
            more, stamp = self.exactly(8)
            head, length = head + more, struct.unpack("!Q", more)[0]
        if length + extra:
            rest, stamp = self.exactly(length + extra)
            head += rest
        return head, stamp


def _connection(sock: socket.socket, log: list[tuple[float, int]], lock: threading.Lock
                ) -> None:
    proto = ServerProtocol()
    with sock:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = sock.recv(4096)
            if not chunk:
                return
            request += chunk
        proto.receive_data(request)
        events = proto.events_received()
        proto.send_response(proto.accept(events[0]))
        sock.sendall(b"".join(proto.data_to_send()))
        reader = _Reader(sock)
        while True:
            try:
                data, stamp = reader.frame()
            except (EOFError, OSError):
                return
            proto.receive_data(data)
            for frame in proto.events_received():
                if frame.opcode is not Opcode.TEXT:
                    continue
                op = json.loads(frame.data).get("op")
                with lock:
                    log.append((stamp, op))
                reply: dict[str, Any] = {"response_header": {"t": int(stamp * 1000)}}
                reply.update({"res": 1} if op == 1 else {"res": 666, "error": "only pings"})
                proto.send_text(json.dumps(reply).encode())
            out = b"".join(proto.data_to_send())
            if out:
                sock.sendall(out)
            if proto.close_rcvd is not None:
                return


def serve(conn: Any) -> None:
    """Run in a child process: send the port, serve until "stop", send the log back."""
    listener = socket.create_server(("127.0.0.1", 0))
    with contextlib.suppress(OSError):  # early: stamping starts a moment after the ask
        listener.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    log: list[tuple[float, int]] = []
    lock = threading.Lock()

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_connection, args=(sock, log, lock), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    conn.send(listener.getsockname()[1])
    conn.recv()  # "stop"
    with lock:
        conn.send(sorted(log))
