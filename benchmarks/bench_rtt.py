"""Sequential ping round trips/s of our clients vs the libraries they are built on.

One reference server (``instamrkt serve``) runs in a subprocess. Each client keeps its own
connection, warms up with 200 round trips, then the timed round trips run in chunks of 100,
round-robin across clients, so the VM's slow phases hit every client alike. Every client
does the same exchange: send a ping request (op 1, full header), read the reply, check
``res``. Ratios are computed within the run:

* our anyio client (asyncio) vs the ``websockets`` asyncio client (no compression);
* our blocking client vs raw ``websocket-client`` (``skip_utf8_validation=True``) doing the
  same JSON exchange.

The baselines do their JSON work with the standard ``json`` module, as a typical
application would. A stricter extra row gives raw websocket-client orjson instead, to show
what our core costs over the bare minimum.

Run: python benchmarks/bench_rtt.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.from_thread
import orjson
import websocket
import websockets

sys.path.insert(0, str(Path(__file__).parent))
from _harness import free_port, subprocess_server, table

from instamrkt_proto import Credentials, connection_url

USER, KEY = "bench", "bench-session-key"


def _request() -> str:
    return json.dumps({"header": {"session_key": KEY, "t": time.time_ns() // 1_000_000,
                                  "api_version": 1.0}, "op": 1})


def _request_orjson() -> bytes:
    return orjson.dumps({"header": {"session_key": KEY, "t": time.time_ns() // 1_000_000,
                                    "api_version": 1.0}, "op": 1})


def main(total: int) -> None:
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({USER: KEY}, fh)
    creds = Credentials(USER, KEY)
    base = f"ws://127.0.0.1:{port}/"
    args = ["-m", "instamrkt_transports", "serve", "--port", str(port), "--users", fh.name]
    with subprocess_server(args, port), anyio.from_thread.start_blocking_portal() as portal:
        from instamrkt_transports import anyio as ours_async
        from instamrkt_transports import blocking

        ours = portal.wrap_async_context_manager(ours_async.connect(base, creds))
        our_client = ours.__enter__()

        async def ws_open() -> websockets.ClientConnection:
            return await websockets.connect(connection_url(base, creds, 1), compression=None)

        ws_client = portal.call(ws_open)

        async def ours_chunk(n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                await our_client.ping()
            return time.perf_counter() - t0

        async def ws_chunk(n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                await ws_client.send(_request())
                assert json.loads(await ws_client.recv())["res"] == 1
            return time.perf_counter() - t0

        raw = websocket.create_connection(connection_url(base, creds, 2),
                                          skip_utf8_validation=True, enable_multithread=False)

        def raw_chunk(n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                raw.send(_request())
                assert json.loads(raw.recv())["res"] == 1
            return time.perf_counter() - t0

        def raw_orjson_chunk(n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                raw.send(_request_orjson())
                assert orjson.loads(raw.recv())["res"] == 1
            return time.perf_counter() - t0

        with blocking.connect(base, creds) as blocking_client:
            def blocking_chunk(n: int) -> float:
                t0 = time.perf_counter()
                for _ in range(n):
                    blocking_client.ping()
                return time.perf_counter() - t0

            clients: dict[str, Callable[[int], float]] = {
                "anyio (ours)": lambda n: portal.call(ours_chunk, n),
                "websockets asyncio": lambda n: portal.call(ws_chunk, n),
                "blocking (ours)": blocking_chunk,
                "websocket-client raw": raw_chunk,
                "websocket-client raw + orjson": raw_orjson_chunk,
            }
            for run in clients.values():
                run(200)  # warm-up
            rounds: list[dict[str, tuple[float, float]]] = []
            for _ in range(total // 100):
                row = {}
                for name, run in clients.items():
                    cpu = time.process_time()
                    wall = run(100)
                    row[name] = (wall, time.process_time() - cpu)
                rounds.append(row)
        raw.close()
        portal.call(ws_client.close)
        ours.__exit__(None, None, None)

    def ratio(ours_name: str, base: str, index: int) -> float:
        # median over rounds of the per-round ratio: each round's clients saw the same VM
        return statistics.median(r[base][index] / r[ours_name][index] for r in rounds)

    rate = {name: 100 * len(rounds) / sum(r[name][0] for r in rounds) for name in clients}
    table("sequential ping round trips/s, same server, same run "
          "(ratio: median per-round throughput ratio; cpu: client CPU per round trip ratio)", [
        ("websockets asyncio (baseline a)", f"{rate['websockets asyncio']:,.0f}", "1.00"),
        ("anyio (ours) / a", f"{rate['anyio (ours)']:,.0f}",
         f"{ratio('anyio (ours)', 'websockets asyncio', 0):.2f}"),
        ("  cpu: a / ours", "", f"{ratio('anyio (ours)', 'websockets asyncio', 1):.2f}"),
        ("websocket-client raw (baseline b)", f"{rate['websocket-client raw']:,.0f}", "1.00"),
        ("blocking (ours) / b", f"{rate['blocking (ours)']:,.0f}",
         f"{ratio('blocking (ours)', 'websocket-client raw', 0):.2f}"),
        ("  cpu: b / ours", "", f"{ratio('blocking (ours)', 'websocket-client raw', 1):.2f}"),
        ("extra: raw + orjson (b')", f"{rate['websocket-client raw + orjson']:,.0f}", "1.00"),
        ("blocking (ours) / b'", "",
         f"{ratio('blocking (ours)', 'websocket-client raw + orjson', 0):.2f}"),
    ])
    Path(fh.name).unlink()


if __name__ == "__main__":
    main(1000 if "--quick" in sys.argv else 4000)
