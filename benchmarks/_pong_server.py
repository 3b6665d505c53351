"""A minimal websockets (asyncio) server answering every op with its JSON reply; for benches.

With a second port it also serves the same exchange over plain TCP, one JSON document per
line and no websocket at all: the floor ``run_all.py`` measures the clients against.

Run: python _pong_server.py PORT [RAW_TCP_PORT]
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time

import orjson
import websockets


async def handler(ws: websockets.ServerConnection) -> None:
    async for message in ws:
        request = orjson.loads(message)
        op = request.get("op")
        await ws.send(orjson.dumps({"response_header": {"t": time.time_ns() // 1_000_000},
                                    "res": op}).decode())


class _LinePong(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            op = orjson.loads(line).get("op")
            self.transport.write(orjson.dumps(
                {"response_header": {"t": time.time_ns() // 1_000_000}, "res": op}) + b"\n")


async def main(port: int, raw_port: int | None) -> None:
    logging.getLogger("websockets").setLevel(logging.CRITICAL)  # clients that just vanish
    if raw_port is not None:
        await asyncio.get_running_loop().create_server(_LinePong, "127.0.0.1", raw_port)
    async with websockets.serve(handler, "127.0.0.1", port, compression=None, backlog=1024,
                                ping_interval=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None))
