"""A minimal websockets (asyncio) server answering every op with its JSON reply; for benches."""

from __future__ import annotations

import asyncio
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


async def main(port: int) -> None:
    async with websockets.serve(handler, "127.0.0.1", port, compression=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
