"""A bare websocket server for the push-flood benchmark (a subprocess of run_all.py).

It does the handshake itself, answers the client's first message with a pong (res 1), then
writes ``n`` pre-encoded pushes (815 balance updates and 361 distribution updates, 100-400
bytes each) as fast as the socket takes them, so the server is never what is measured. Any
later message (a close frame) gets a close frame back and the connection ends.

Run: python _flood_server.py PORT N
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sys
import time

import orjson

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def push(i: int) -> bytes:
    """The i-th push of the flood: two balance updates for every distribution update."""
    t = time.time_ns() // 1_000_000
    if i % 3 == 2:  # the documented 361: a list of entries, new_bets with their details
        body = {"response_header": {"t": t}, "res": 361,
                "pool_id": f"6cca4a84-d3e5-4d56-9f5e-acb50ecd{i % 97:04d}", "target_level": 1,
                "distribution": [
                    {"target_id": name, "display_name": name.title(),
                     "backing_people": (i + k) % 40,
                     "backing_money": f"{(i * (k + 3)) % 9973}.25",
                     "to_win_if_backed": f"{1 + k / 7:.3f}"}
                    for k, name in enumerate(("brazil", "none", "netherlands"))],
                "new_bets": [{"bet_id": f"c34bcc05-58ea-4294-9310-9f8cbd12{i % 9999:04d}",
                              "placed_at": 1421937458000 + i, "amount": f"{(i % 50) + 1}.00",
                              "user_id": i % 1000, "target": "brazil"}]}
    else:
        body = {"response_header": {"t": t}, "res": 815, "current_balance": f"{i % 100000}.50",
                "available_balance": f"{i % 90000}.25", "currency": "EUR"}
    return orjson.dumps(body)


def frame(payload: bytes, opcode: int = 1) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    return bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big") + payload


class Flood(asyncio.Protocol):
    blob = b""

    def __init__(self) -> None:
        self.buf = b""
        self.stage = 0  # 0: handshake, 1: waiting for the trigger, 2: flooded
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buf += data
        if self.stage == 0:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept
                                 + b"\r\n\r\n")
            self.buf, self.stage = rest, 1
        if self.stage == 1 and len(self.buf) >= 2:
            self.buf, self.stage = b"", 2
            pong = orjson.dumps({"response_header": {"t": time.time_ns() // 1_000_000},
                                 "res": 1})
            self.transport.write(frame(pong))
            self.transport.write(self.blob)
        elif self.stage == 2 and self.buf:
            self.transport.write(frame(b"\x03\xe8", 8))
            self.transport.close()


async def main(port: int, n: int) -> None:
    Flood.blob = b"".join(frame(push(i)) for i in range(n))
    server = await asyncio.get_running_loop().create_server(Flood, "127.0.0.1", port,
                                                           backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
