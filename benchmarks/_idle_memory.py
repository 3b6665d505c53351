"""Memory per idle connection of one client library (a subprocess of run_all.py).

Opens ``n`` idle connections to the pong server on ``port`` after a warm-up of 20, and
prints JSON: bytes per connection traced by ``tracemalloc`` (Python objects, what the
client keeps per connection) and resident-set growth per connection (also kernel-side and
C allocations: zlib state, OpenSSL, thread stacks actually touched).

Run: python _idle_memory.py KIND N PORT
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import tracemalloc
from typing import Any

import anyio
import websockets

from instamrkt_proto import Credentials
from instamrkt_transports import anyio as ours_async
from instamrkt_transports import blocking, threaded

CREDS = Credentials("bench", "bench-session-key")
IDLE = {"keepalive_interval": 3600.0}  # stay idle for the whole measurement


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _start() -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    return tracemalloc.get_traced_memory()[0], rss()


def _stop(base: tuple[int, int], n: int) -> dict[str, float]:
    gc.collect()
    traced, now_rss = tracemalloc.get_traced_memory()[0], rss()
    tracemalloc.stop()
    return {"traced": (traced - base[0]) / n, "rss": (now_rss - base[1]) / n, "n": n}


def main(kind: str, n: int, port: int) -> dict[str, float]:
    url = f"ws://127.0.0.1:{port}/"
    if kind in ("threaded", "blocking"):
        module: Any = threaded if kind == "threaded" else blocking
        with contextlib.ExitStack() as stack:
            for _ in range(20):  # warm-up: lazy imports, caches, the first of everything
                stack.enter_context(module.connect(url, CREDS, **IDLE))
            base = _start()
            for _ in range(n):
                stack.enter_context(module.connect(url, CREDS, **IDLE))
            return _stop(base, n)

    out: dict[str, float] = {}

    async def run() -> None:
        async with contextlib.AsyncExitStack() as stack:
            async def open_one() -> None:
                if kind.startswith("websockets"):
                    comp = None if kind == "websockets" else "deflate"
                    ws = await websockets.connect(url, compression=comp, ping_interval=None)
                    stack.push_async_callback(ws.close)
                else:
                    await stack.enter_async_context(ours_async.connect(url, CREDS, **IDLE))

            for _ in range(20):
                await open_one()
            base = _start()
            for _ in range(n):
                await open_one()
            out.update(_stop(base, n))

    backend_options = {"use_uvloop": True} if kind == "anyio-uvloop" else {}
    anyio.run(run, backend="trio" if kind == "anyio-trio" else "asyncio",
              backend_options=backend_options)
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
