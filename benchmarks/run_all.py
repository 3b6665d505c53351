"""Every performance goal of the transports, as ratios against their anchors, in one run.

    python benchmarks/run_all.py [--quick] [--markdown]

Servers run in subprocesses (their CPU is not the client's): ``_pong_server.py`` (websockets,
compression off, plus a plain-TCP line server for the floor) and ``_flood_server.py`` (a bare
server that writes pre-encoded pushes as fast as the socket takes them). Clients run in this
process; the async ones each on an event loop of their own (asyncio, asyncio + uvloop if
installed, trio) behind an anyio portal. Timed work is interleaved in chunks, round-robin
across clients, so the VM's slow phases hit every client alike; ratios are medians of
per-round ratios (RTT, CPU) or best-of-repeats (throughput). Absolute numbers on a shared
2-vCPU VM move by up to 1.6x between minutes; same-run ratios by a few percent.

1. threaded (1 caller) vs blocking and vs ``websockets.sync``; 8 caller threads sharing one
   client vs 8 threads sharing one ``websockets.sync`` connection (a lock around send+recv:
   it refuses concurrent recv);
2. anyio on trio vs anyio on asyncio (RTT, CPU per round trip);
3. anyio on asyncio vs ``websockets`` asyncio, compression off (RTT, CPU); uvloop separately;
4. push flood: time until the application has the last of N pushes, ours through
   ``events()`` / ``next_event()`` / ``on_event`` (default options: queue 10,000,
   back-pressure) vs ``websockets`` asyncio and ``websocket-client`` doing recv()+json.loads;
5. idle memory per connection (each library in a fresh subprocess, tracemalloc and RSS);
6. pipelining: 100 concurrent pings on one anyio connection vs 100 concurrent
   ``websockets`` sends, then 100 receives.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import websocket
import websockets
import websockets.sync.client

from instamrkt_proto import Credentials, Push, connection_url
from instamrkt_transports import anyio as ours_async
from instamrkt_transports import blocking, threaded

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _harness import free_port, subprocess_server  # noqa: E402

QUICK = "--quick" in sys.argv
CREDS = Credentials("bench", "bench-session-key")
HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
Chunk = Callable[[int], tuple[float, float]]  # n round trips -> (wall, cpu) seconds


def _request() -> str:
    return json.dumps({"header": {"session_key": CREDS.session_key,
                                  "t": time.time_ns() // 1_000_000, "api_version": 1.0},
                       "op": 1})


def _timed(fn: Callable[[int], None]) -> Chunk:
    def chunk(n: int) -> tuple[float, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        fn(n)
        return time.perf_counter() - t0, time.process_time() - c0
    return chunk


def _atimed(portal: anyio.from_thread.BlockingPortal, fn: Callable[[int], Any]) -> Chunk:
    async def run(n: int) -> tuple[float, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        await fn(n)
        return time.perf_counter() - t0, time.process_time() - c0
    return lambda n: portal.call(run, n)


# -- 1, 2, 3: sequential round trips ---------------------------------------------------------

class _LineClient(asyncio.Protocol):
    """The floor: the same JSON exchange over plain TCP on asyncio, no websocket."""

    def __init__(self) -> None:
        self.waiter: asyncio.Future[bytes] | None = None
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if b"\n" in self.buf and self.waiter is not None:
            line, self.buf = self.buf.split(b"\n", 1)
            self.waiter.set_result(line)

    async def ping(self) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(_request().encode() + b"\n")
        assert json.loads(await self.waiter)["res"] == 1


def round_trips(stack: ExitStack, portals: dict[str, anyio.from_thread.BlockingPortal],
                port: int, raw_port: int, total: int) -> dict[str, Any]:
    base = f"ws://127.0.0.1:{port}/"
    url = connection_url(base, CREDS, 1)
    aio = portals["asyncio"]
    chunks: dict[str, Chunk] = {}

    ws = aio.call(lambda: websockets.connect(url, compression=None))
    stack.callback(aio.call, ws.close)

    async def ws_run(n: int) -> None:
        for _ in range(n):
            await ws.send(_request())
            assert json.loads(await ws.recv())["res"] == 1
    chunks["websockets asyncio"] = _atimed(aio, ws_run)

    async def line_open() -> _LineClient:
        loop = asyncio.get_running_loop()
        return (await loop.create_connection(_LineClient, "127.0.0.1", raw_port))[1]
    line = aio.call(line_open)

    async def line_run(n: int) -> None:
        for _ in range(n):
            await line.ping()
    chunks["raw asyncio TCP (floor)"] = _atimed(aio, line_run)

    sync_ws = stack.enter_context(websockets.sync.client.connect(url, compression=None))

    def sync_run(n: int) -> None:
        for _ in range(n):
            sync_ws.send(_request())
            assert json.loads(sync_ws.recv())["res"] == 1
    chunks["websockets.sync"] = _timed(sync_run)

    raw = websocket.create_connection(url, skip_utf8_validation=True)
    stack.callback(raw.close)

    def raw_run(n: int) -> None:
        for _ in range(n):
            raw.send(_request())
            assert json.loads(raw.recv())["res"] == 1
    chunks["websocket-client"] = _timed(raw_run)

    b = stack.enter_context(blocking.connect(base, CREDS))
    chunks["blocking (ours)"] = _timed(lambda n: [b.ping() for _ in range(n)])
    t = stack.enter_context(threaded.connect(base, CREDS))
    chunks["threaded (ours)"] = _timed(lambda n: [t.ping() for _ in range(n)])
    for loop_name, portal in portals.items():
        client = stack.enter_context(portal.wrap_async_context_manager(
            ours_async.connect(base, CREDS)))

        async def ours_run(n: int, client: Any = client) -> None:
            for _ in range(n):
                await client.ping()
        chunks[f"anyio/{loop_name} (ours)"] = _atimed(portal, ours_run)

    for chunk in chunks.values():
        chunk(200)  # warm-up
    rounds: list[dict[str, tuple[float, float]]] = []
    for _ in range(total // 100):
        rounds.append({name: chunk(100) for name, chunk in chunks.items()})

    def per_rt(name: str) -> tuple[float, float]:
        n = 100 * len(rounds)
        return (sum(r[name][0] for r in rounds) / n, sum(r[name][1] for r in rounds) / n)

    def ratio(ours: str, anchor: str, index: int) -> float:
        """How much faster ours is: anchor time / ours, median of per-round ratios."""
        return statistics.median(r[anchor][index] / r[ours][index] for r in rounds)

    return {"per_rt": {name: per_rt(name) for name in chunks}, "ratio": ratio,
            "threaded": t, "sync_url": url}


def eight_threads(t: threaded.ThreadedClient, url: str, per_thread: int,
                  repeats: int) -> tuple[float, float]:
    """Round trips/s of 8 threads sharing our threaded client, and sharing one
    websockets.sync connection (send+recv under a lock), best of ``repeats``."""
    lock = threading.Lock()
    with websockets.sync.client.connect(url, compression=None) as ws:
        def ws_worker() -> None:
            for _ in range(per_thread):
                with lock:
                    ws.send(_request())
                    assert json.loads(ws.recv())["res"] == 1

        def ours_worker() -> None:
            for _ in range(per_thread):
                t.ping()

        def run(worker: Callable[[], None]) -> float:
            threads = [threading.Thread(target=worker) for _ in range(8)]
            t0 = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            return 8 * per_thread / (time.perf_counter() - t0)

        best = {"ours": 0.0, "ws": 0.0}
        for _ in range(repeats):
            best["ours"] = max(best["ours"], run(ours_worker))
            best["ws"] = max(best["ws"], run(ws_worker))
    return best["ours"], best["ws"]


# -- 4: push flood ----------------------------------------------------------------------------

def flood(portals: dict[str, anyio.from_thread.BlockingPortal], port: int, n: int,
          repeats: int) -> dict[str, float]:
    """Pushes/s until the application holds the last one; best of ``repeats``."""
    base = f"ws://127.0.0.1:{port}/"
    url = connection_url(base, CREDS, 1)
    aio = portals["asyncio"]

    async def ws_async() -> None:
        async with websockets.connect(url, compression=None, max_queue=None) as ws:
            await ws.send(_request())
            assert json.loads(await ws.recv())["res"] == 1
            for _ in range(n):
                json.loads(await ws.recv())

    def ws_client() -> None:
        ws = websocket.create_connection(url, skip_utf8_validation=True)
        try:
            ws.send(_request())
            assert json.loads(ws.recv())["res"] == 1
            for _ in range(n):
                json.loads(ws.recv())
        finally:
            ws.close()

    async def ours_events() -> None:
        async with ours_async.connect(base, CREDS) as client:
            await client.ping()
            seen = 0
            async for event in client.events():
                if isinstance(event, Push):
                    seen += 1
                    if seen == n:
                        return

    def ours_next_event(module: Any) -> Callable[[], None]:
        def run() -> None:
            with module.connect(base, CREDS) as client:
                client.ping()
                seen = 0
                while seen < n:
                    if isinstance(client.next_event(10.0), Push):
                        seen += 1
        return run

    def ours_on_event() -> None:
        done = threading.Event()
        seen = 0

        def on_event(event: object) -> None:
            nonlocal seen
            if isinstance(event, Push):
                seen += 1
                if seen == n:
                    done.set()
        with threaded.connect(base, CREDS, on_event=on_event) as client:
            client.ping()
            assert done.wait(60.0)

    cases: dict[str, Callable[[], None]] = {
        "websockets asyncio": lambda: aio.call(ws_async),
        "websocket-client": ws_client,
        "blocking next_event (ours)": ours_next_event(blocking),
        "threaded next_event (ours)": ours_next_event(threaded),
        "threaded on_event (ours)": ours_on_event,
    }
    for loop_name, portal in portals.items():
        cases[f"anyio/{loop_name} events() (ours)"] = \
            lambda p=portal: p.call(ours_events)
    best = {name: 0.0 for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            t0 = time.perf_counter()
            case()
            best[name] = max(best[name], n / (time.perf_counter() - t0))
    return best


# -- 5: idle memory ---------------------------------------------------------------------------

def idle_memory(port: int, n: int) -> dict[str, dict[str, float]]:
    kinds = {"websockets": n, "websockets-default": n, "anyio": n, "anyio-trio": n,
             "blocking": n, "threaded": max(100, n // 10)}
    if HAVE_UVLOOP:
        kinds["anyio-uvloop"] = n
    out = {}
    for kind, count in kinds.items():
        proc = subprocess.run([sys.executable, str(HERE / "_idle_memory.py"), kind, str(count),
                               str(port)], capture_output=True, text=True, timeout=300,
                              check=True)
        out[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


# -- 6: pipelining ----------------------------------------------------------------------------

def pipelining(aio: anyio.from_thread.BlockingPortal, port: int, batches: int) -> dict[str, float]:
    base = f"ws://127.0.0.1:{port}/"
    url = connection_url(base, CREDS, 1)

    async def run() -> dict[str, float]:
        spent = {"ours": 0.0, "websockets": 0.0}
        async with ours_async.connect(base, CREDS) as client, \
                websockets.connect(url, compression=None) as ws:
            async def ours_batch() -> None:
                await asyncio.gather(*(client.ping() for _ in range(100)))

            async def ws_batch() -> None:
                await asyncio.gather(*(ws.send(_request()) for _ in range(100)))
                for _ in range(100):
                    assert json.loads(await ws.recv())["res"] == 1

            for _ in range(5):
                await ours_batch()
                await ws_batch()
            for _ in range(batches):
                for name, batch in (("ours", ours_batch), ("websockets", ws_batch)):
                    t0 = time.perf_counter()
                    await batch()
                    spent[name] += time.perf_counter() - t0
        return {name: 100 * batches / s for name, s in spent.items()}

    return aio.call(run)


# -- report -----------------------------------------------------------------------------------

def main() -> None:
    rt_total, flood_n, flood_repeats = (1000, 30_000, 2) if QUICK else (3000, 100_000, 3)
    mem_n, pipe_batches = (2000, 30) if QUICK else (2000, 100)
    port, raw_port, flood_port = free_port(), free_port(), free_port()
    rows: list[tuple[str, str, str, str]] = []  # goal, measure, value, verdict

    def row(goal: str, what: str, value: float, target: str | None = None,
            met: bool | None = None, fmt: str = "{:.2f}") -> None:
        verdict = "" if met is None else ("met" if met else "NOT met")
        rows.append((goal, what, fmt.format(value), f"{target or ''} {verdict}".strip()))

    with ExitStack() as stack:
        stack.enter_context(subprocess_server([str(HERE / "_pong_server.py"), str(port),
                                               str(raw_port)], port))
        stack.enter_context(subprocess_server([str(HERE / "_flood_server.py"),
                                               str(flood_port), str(flood_n)], flood_port))
        portals = {"asyncio": stack.enter_context(anyio.from_thread.start_blocking_portal())}
        if HAVE_UVLOOP:
            portals["uvloop"] = stack.enter_context(anyio.from_thread.start_blocking_portal(
                backend_options={"use_uvloop": True}))
        portals["trio"] = stack.enter_context(anyio.from_thread.start_blocking_portal("trio"))

        with ExitStack() as clients:
            rt = round_trips(clients, portals, port, raw_port, rt_total)
            per_thread = 150 if QUICK else 500
            eight = eight_threads(rt["threaded"], rt["sync_url"], per_thread, 3)
        ratio, per = rt["ratio"], rt["per_rt"]
        a = "websockets asyncio"
        print("\nsequential round trips (us per round trip: wall / client CPU)")
        for name, (wall, cpu) in per.items():
            print(f"  {name:<32} {wall * 1e6:8.1f} {cpu * 1e6:8.1f}"
                  f"   vs {a}: RTT {ratio(name, a, 0):.2f}x, CPU {ratio(name, a, 1):.2f}x")

        th, bl, sy = "threaded (ours)", "blocking (ours)", "websockets.sync"
        v = ratio(th, bl, 0)
        row("1", "threaded RTT vs blocking (>= 0.91: within 10 %)", v, ">= 0.91", v >= 1 / 1.1)
        v = ratio(th, sy, 0)
        row("1", "threaded RTT vs websockets.sync", v, ">= 1.15", v >= 1.15)
        v = ratio(th, sy, 1)
        row("1", "  CPU per round trip vs websockets.sync", v)
        row("1", "8 threads, one client vs one websockets.sync (throughput)",
            eight[0] / eight[1], "report")
        tr, ai = "anyio/trio (ours)", "anyio/asyncio (ours)"
        v = ratio(tr, ai, 0)
        row("2", "anyio trio RTT vs asyncio (>= 0.87: within 15 %)", v, ">= 0.87", v >= 1 / 1.15)
        v = ratio(tr, ai, 1)
        row("2", "anyio trio CPU vs asyncio", v, ">= 0.87", v >= 1 / 1.15)
        v = ratio(ai, a, 0)
        row("3", "anyio asyncio RTT vs websockets asyncio", v, ">= 1.10", v >= 1.10)
        v = ratio(ai, a, 1)
        row("3", "anyio asyncio CPU vs websockets asyncio", v, ">= 1.10", v >= 1.10)
        if HAVE_UVLOOP:
            row("3", "anyio uvloop RTT vs websockets asyncio", ratio("anyio/uvloop (ours)", a, 0),
                "report")
            row("3", "anyio uvloop CPU vs websockets asyncio", ratio("anyio/uvloop (ours)", a, 1),
                "report")
        row("-", "floor: raw asyncio TCP RTT vs websockets asyncio",
            ratio("raw asyncio TCP (floor)", a, 0), "reference")

        fl = flood(portals, flood_port, flood_n, flood_repeats)
        print(f"\npush flood ({flood_n:,} pushes, pushes/s, best of {flood_repeats})")
        for name, rate in fl.items():
            print(f"  {name:<32} {rate:10,.0f}")
        anchor = max(fl["websockets asyncio"], fl["websocket-client"])
        for name, rate in fl.items():
            if "ours" in name:
                v = rate / anchor
                row("4", f"push flood {name.replace(' (ours)', '')} vs best anchor", v,
                    ">= 1.20", v >= 1.2)

        pipe = pipelining(portals["asyncio"], port, pipe_batches)
        row("6", "100 in flight: anyio vs websockets (throughput)",
            pipe["ours"] / pipe["websockets"], "report")
        print(f"\npipelining, round trips/s: ours {pipe['ours']:,.0f}, "
              f"websockets {pipe['websockets']:,.0f}")

        mem = idle_memory(port, mem_n)
    print(f"\nidle memory ({mem_n:,} connections; threaded {max(100, mem_n // 10)}), "
          "KiB per connection: tracemalloc / RSS")
    for kind, m in mem.items():
        print(f"  {kind:<20} {m['traced'] / 1024:7.1f} {m['rss'] / 1024:7.1f}")
    ours_kib, ws_kib = mem["anyio"]["traced"] / 1024, mem["websockets"]["traced"] / 1024
    row("5", "anyio idle KiB/connection (tracemalloc)", ours_kib, "<= 12", ours_kib <= 12,
        fmt="{:.1f}")
    row("5", "  vs websockets, compression off", ws_kib, "anchor", fmt="{:.1f}")
    for kind in ("anyio-trio", "anyio-uvloop", "blocking", "threaded"):
        if kind in mem:
            row("5", f"  {kind} idle KiB/connection", mem[kind]["traced"] / 1024, "report",
                fmt="{:.1f}")

    print(f"\nsummary: ratios, > 1 means ours is faster "
          f"({platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.machine()})")
    width = max(len(r[1]) for r in rows)
    for goal, what, value, verdict in rows:
        print(f"  {goal}  {what:<{width}}  {value:>7}  {verdict}")
    if "--markdown" in sys.argv:
        print("\n| goal | measure | this run | target |\n|---|---|---|---|")
        for goal, what, value, verdict in rows:
            print(f"| {goal} | {what.strip()} | {value} | {verdict} |")


if __name__ == "__main__":
    main()
