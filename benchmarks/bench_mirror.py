"""The market mirror's cost, as ratios measured in the same run.

1. Per push: ``MarketMirror.apply`` of a decoded push vs the core's decode of the same
   bytes (``ClientConnection.receive_message`` + ``events_received``), interleaved, best of
   repeats. Cases: a 815 balance update, a 361 distribution update of a pool the mirror
   holds (with a bet of another user), the same for a pool it does not know (the flood's
   case), a 368 block and a 362 resolution of a pool with my stake. Acceptance: each at
   most 0.5x the decode.

   A 362 ends its pool, so it applies once per mirror: every apply needs a mirror rebuilt
   (the pool, my bet in it, my balance) and the push decoded. The figure that counts times
   the applies alone: each round rebuilds 50 mirrors and decodes their pushes untimed, then
   times the 50 applies, and times 50 decodes of the same push in the same round; best
   round of each. The same push, the same state, the same work per apply as before: only
   the rebuild is out of the timer. The earlier figure, (rebuild + decode + apply) minus
   (rebuild + decode), best of repeats each, is still printed ("by difference"), but it
   subtracts two timings of ~40 us whose best-of noise on a shared machine (~1 us) is a
   third of the ~3 us it looks for: the same code read 0.55x to 0.9x from run to run, so
   it cannot say whether the 0.5 bound is met. ``update`` (what the clients' ``mirror=True``
   calls per push: the same state, no change records) is printed for the 362 too.
2. Push flood: 100,000 pushes (``_flood_server.py``: 815s and 361s) until the application
   holds the last one, through the blocking client's ``next_event`` and anyio's
   ``events()``, with ``mirror=True`` vs without, interleaved, best of repeats.
   Acceptance: at least 0.8x the throughput without the mirror.
3. Memory: the mirror's traced size after 10,000 and after 100,000 pushes of a live game
   (pools opened, bet on by others, resolved and recreated), and with 100 vs 1,000 open
   pools. Acceptance: the size does not grow with the pushes seen (100k / 10k <= 1.1).

Run: python benchmarks/bench_mirror.py [--quick]
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import orjson

from instamrkt_proto import ClientConfig, ClientConnection, Credentials, Event, Push, api
from instamrkt_proto.mirror import MarketMirror
from instamrkt_transports import anyio as ours_async
from instamrkt_transports import blocking

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _harness import free_port, interleaved, subprocess_server  # noqa: E402

QUICK = "--quick" in sys.argv
ME = "1"
CREDS = Credentials(ME, "bench-session-key")


def wire(res: int, **fields: Any) -> bytes:
    return orjson.dumps({"response_header": {"t": 1422007246302}, "res": res, **fields})


def entries(scale: int) -> list[dict[str, Any]]:
    return [{"target_id": t, "display_name": t.title(), "backing_people": 3 + k,
             "backing_money": f"{scale * (k + 3)}.25", "to_win_if_backed": f"{1 + k / 7:.3f}"}
            for k, t in enumerate(("brazil", "none", "netherlands"))]


POOL = "6cca4a84-d3e5-4d56-9f5e-acb50ecd0001"
OTHER_POOL = "6cca4a84-d3e5-4d56-9f5e-acb50ecd0002"
GAME = "game-1"
BALANCE = wire(815, current_balance="1000.50", available_balance="990.25", currency="DON")
DISTRIBUTION = wire(361, pool_id=POOL, target_level=1, distribution=entries(17),
                    new_bets=[{"bet_id": "c34bcc05-58ea-4294-9310-9f8cbd120001",
                               "placed_at": 1421937458000, "amount": "5.00", "user_id": 77,
                               "target": "brazil"}])
DISTRIBUTION_2 = wire(361, pool_id=POOL, target_level=1, distribution=entries(19),
                      new_bets=[{"bet_id": "c34bcc05-58ea-4294-9310-9f8cbd120002",
                                 "placed_at": 1421937458001, "amount": "2.00", "user_id": 78,
                                 "target": "none"}])
UNKNOWN = DISTRIBUTION.replace(POOL.encode(), OTHER_POOL.encode())
UNKNOWN_2 = DISTRIBUTION_2.replace(POOL.encode(), OTHER_POOL.encode())
BALANCE_2 = wire(815, current_balance="1000.50", available_balance="985.25", currency="DON")
ALLOWED = wire(369, pool_id=POOL, allowed_at=1421937458001)
BLOCKED = wire(368, pool_id=POOL, blocked_at=1421937458000)
RESOLVED = wire(362, pool_id=POOL, game_id=GAME, winning_target="brazil", description="x",
                winners={ME: "12.50"}, losers={"77": "5"}, invalidated_bettors=[],
                is_money_return=False, resolved_at=1421937459000)
NEW_POOL = wire(352, pool_id=POOL, game_id=GAME, description="Who scores?", type=1,
                distribution=entries(10), is_blocked=False, is_hot=False)


def connection() -> ClientConnection:
    config = ClientConfig(keepalive_interval=None, request_timeout=30.0)
    conn = ClientConnection("wss://bench.test", CREDS, wall_clock=lambda: 1422006034742,
                            random=lambda: 0.5, config=config)
    conn.connect(0.0)
    conn.connection_made(0.0)
    conn.events_received()
    return conn


def decoded(conn: ClientConnection, data: bytes) -> Event:
    conn.receive_message(data, 1.0)
    (event,) = conn.events_received()
    return event


def fresh_mirror(conn: ClientConnection) -> MarketMirror:
    """A mirror holding the pool, my stake in it and my balance."""
    mirror = MarketMirror(ME)
    for data in (NEW_POOL, BALANCE):
        mirror.apply(decoded(conn, data))
    mirror.apply(api.BetPlacedInBettingPool(request_id=1, op=392, res=356, pool_id=POOL,
                                            bet_id="mine-1", target="brazil",
                                            amount=Decimal("5")))
    return mirror


def structured(event: Event) -> Event:
    """``event`` with its nested lists structured: the core decodes them lazily, on first
    read, so a full decode is the lazy one plus this."""
    for name in ("distribution", "new_bets"):
        tuple(getattr(event, name, ()))
    return event


def per_push() -> list[tuple[str, float, float, float, float]]:
    """(case, lazy decode, full decode, the mirror's own apply, apply with the structuring
    it causes) in seconds per push."""
    conn = connection()
    mirror = fresh_mirror(conn)
    apply = mirror.apply
    cases: dict[str, Callable[[], object]] = {}
    names: list[str] = []
    # Each case is a pair of pushes that undo each other, so every apply changes something.
    for name, pair in (("815 balance update", (BALANCE, BALANCE_2)),
                       ("361 distribution, pool held", (DISTRIBUTION, DISTRIBUTION_2)),
                       ("361 distribution, unknown pool", (UNKNOWN, UNKNOWN_2)),
                       ("368/369 pool blocked/allowed", (BLOCKED, ALLOWED))):

        def lazy(pair: tuple[bytes, bytes] = pair) -> None:
            for data in pair:
                decoded(conn, data)

        def full(pair: tuple[bytes, bytes] = pair) -> None:
            for data in pair:
                structured(decoded(conn, data))

        def full_apply(pair: tuple[bytes, bytes] = pair) -> None:
            for data in pair:
                apply(structured(decoded(conn, data)))

        def lazy_apply(pair: tuple[bytes, bytes] = pair) -> None:
            for data in pair:
                apply(decoded(conn, data))

        cases[f"lazy {name}"], cases[f"full {name}"] = lazy, full
        cases[f"apply {name}"], cases[f"lazy apply {name}"] = full_apply, lazy_apply
        names.append(name)
    # 362 resolves a pool of mine, once: each round rebuilds the mirror, timed as
    # (rebuild + decode + apply) minus (rebuild + decode).
    def rebuild_decode() -> None:
        fresh_mirror(conn)
        decoded(conn, RESOLVED)

    def rebuild_decode_apply() -> None:
        fresh_mirror(conn).apply(decoded(conn, RESOLVED))

    def decode_resolved() -> None:
        decoded(conn, RESOLVED)

    cases.update({"362 rebuild": rebuild_decode, "362 rebuild+apply": rebuild_decode_apply,
                  "362 decode": decode_resolved})
    t = interleaved(cases, repeats=3 if QUICK else 5, target=0.05 if QUICK else 0.15)
    decode, apply_362, update_362 = resolution(conn, rounds=100 if QUICK else 400)
    out = [(name, t[f"lazy {name}"] / 2, t[f"full {name}"] / 2,
            (t[f"apply {name}"] - t[f"full {name}"]) / 2,
            (t[f"lazy apply {name}"] - t[f"lazy {name}"]) / 2) for name in names]
    resolve = t["362 rebuild+apply"] - t["362 rebuild"]
    out.append(("362 pool resolved (my stake in it)", decode, decode, apply_362, apply_362))
    out.append(("  the same, update", decode, decode, update_362, update_362))
    out.append(("  the same, apply by difference", t["362 decode"], t["362 decode"],
                resolve, resolve))
    return out


def resolution(conn: ClientConnection, rounds: int, batch: int = 50
               ) -> tuple[float, float, float]:
    """(decode, apply, update) of the 362 that ends a pool of mine, seconds per push, best
    of ``rounds``: the mirrors rebuilt and their pushes decoded outside the timer (see the
    module doc)."""
    best = [float("inf")] * 3
    clock = time.perf_counter
    for _ in range(rounds):
        t0 = clock()
        for _ in range(batch):
            decoded(conn, RESOLVED)
        best[0] = min(best[0], (clock() - t0) / batch)
        for slot, method in ((1, "apply"), (2, "update")):
            folds = [getattr(fresh_mirror(conn), method) for _ in range(batch)]
            pushes = [decoded(conn, RESOLVED) for _ in range(batch)]
            t0 = clock()
            for fold, push in zip(folds, pushes, strict=True):
                fold(push)
            best[slot] = min(best[slot], (clock() - t0) / batch)
    return best[0], best[1], best[2]


def flood(port: int, n: int, repeats: int) -> dict[str, list[float]]:
    """Pushes/s of each case in each round."""
    base = f"ws://127.0.0.1:{port}/"

    def blocking_run(mirror: bool) -> Callable[[], None]:
        def run() -> None:
            with blocking.connect(base, CREDS, mirror=mirror) as client:
                client.ping()
                seen = 0
                while seen < n:
                    if isinstance(client.next_event(10.0), Push):
                        seen += 1
                if mirror:
                    assert client.mirror is not None and client.mirror.metrics.events >= n
        return run

    async def anyio_run(mirror: bool) -> None:
        async with ours_async.connect(base, CREDS, mirror=mirror) as client:
            await client.ping()
            seen = 0
            async for event in client.events():
                if isinstance(event, Push):
                    seen += 1
                    if seen == n:
                        return

    with anyio.from_thread.start_blocking_portal() as portal:
        cases: dict[str, Callable[[], None]] = {
            "blocking next_event": blocking_run(False),
            "blocking next_event, mirror=True": blocking_run(True),
            "anyio events()": lambda: portal.call(anyio_run, False),
            "anyio events(), mirror=True": lambda: portal.call(anyio_run, True),
        }
        rates: dict[str, list[float]] = {name: [] for name in cases}
        names = list(cases)
        for round_no in range(repeats):  # back to back, the order flipped every round
            for name in names if round_no % 2 == 0 else reversed(names):
                t0 = time.perf_counter()
                cases[name]()
                rates[name].append(n / (time.perf_counter() - t0))
    return rates


def live_game(mirror: MarketMirror, pushes: int, conn: ClientConnection) -> None:
    """``pushes`` pushes of a live game: 4 open pools, bets of others, a resolution every
    50 pushes (the pool recreated under a new id), balance updates."""
    pool_no = 0

    def open_pool() -> str:
        nonlocal pool_no
        pool_no += 1
        pool_id = f"pool-{pool_no}"
        mirror.apply(decoded(conn, wire(352, pool_id=pool_id, game_id=GAME, type=1,
                                        distribution=entries(pool_no % 50 + 1),
                                        is_blocked=False, is_hot=False)))
        return pool_id

    open_pools = [open_pool() for _ in range(4)]
    for i in range(pushes):
        pool_id = open_pools[i % 4]
        if i % 50 == 49:
            mirror.apply(decoded(conn, wire(362, pool_id=pool_id, game_id=GAME,
                                            winning_target="brazil", winners={"77": "3"},
                                            losers={"78": "3"}, invalidated_bettors=[],
                                            is_money_return=False, resolved_at=i)))
            open_pools[i % 4] = open_pool()
        elif i % 3:
            mirror.apply(decoded(conn, wire(361, pool_id=pool_id, target_level=1,
                                            distribution=entries(i % 90 + 1), new_bets=[
                                                {"bet_id": f"b-{i}", "placed_at": i,
                                                 "amount": "1", "user_id": 77,
                                                 "target": "brazil"}])))
        else:
            mirror.apply(decoded(conn, wire(815, current_balance=f"{i}.50",
                                            available_balance=f"{i}.25", currency="DON")))


def traced_size(build: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = build()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    del kept
    return size


def memory() -> dict[str, int]:
    conn = connection()

    def after(pushes: int) -> Callable[[], MarketMirror]:
        def build() -> MarketMirror:
            mirror = MarketMirror(ME)
            live_game(mirror, pushes, conn)
            return mirror
        return build

    def with_open(pools: int) -> Callable[[], MarketMirror]:
        def build() -> MarketMirror:
            mirror = MarketMirror(ME)
            for p in range(pools):
                mirror.apply(decoded(conn, wire(352, pool_id=f"open-{p}", game_id=GAME,
                                                type=1, distribution=entries(p + 1),
                                                is_blocked=False, is_hot=False)))
            return mirror
        return build

    small, big = (10_000, 50_000) if QUICK else (10_000, 100_000)
    after(small)()  # warm the module-level caches first: they are not the mirror's
    return {f"after {small:,} pushes": traced_size(after(small)),
            f"after {big:,} pushes": traced_size(after(big)),
            "100 open pools": traced_size(with_open(100)),
            "1,000 open pools": traced_size(with_open(1000))}


def main() -> int:
    n, repeats = (30_000, 3) if QUICK else (100_000, 7)
    print("per push, us: the core's decode (lazy: nested lists not yet structured; full), "
          "the mirror's own apply,\napply / full decode (<= 0.50), and (apply + the "
          "structuring it caused) / lazy decode")
    ok = True
    for name, lazy, full, app, app_lazy in per_push():
        ratio = app / full
        ok &= ratio <= 0.5 or name.startswith("  ")
        print(f"  {name:36} {lazy * 1e6:6.2f} {full * 1e6:6.2f} {app * 1e6:6.2f}  "
              f"{ratio:.2f} {'met' if ratio <= 0.5 else 'NOT met'}  "
              f"{app_lazy / lazy:.2f}")
    port = free_port()
    with subprocess_server([str(HERE / "_flood_server.py"), str(port), str(n)], port):
        rates = flood(port, n, repeats)
    print(f"\npush flood ({n:,} pushes, pushes/s, best of {repeats} rounds; the ratio is the "
          "median of the rounds' ratios, each round running both back to back)")
    for name, rate in rates.items():
        print(f"  {name:36} {max(rate):10,.0f}")
    for client in ("blocking next_event", "anyio events()"):
        ratios = [w / wo for w, wo in zip(rates[f"{client}, mirror=True"], rates[client],
                                          strict=True)]
        ratio = statistics.median(ratios)
        ok &= ratio >= 0.8
        print(f"  {client}: mirror=True / without = {ratio:.2f} (rounds: "
              f"{', '.join(f'{r:.2f}' for r in ratios)}; >= 0.80 "
              f"{'met' if ratio >= 0.8 else 'NOT met'})")
    sizes = memory()
    print("\nmirror memory, KiB (tracemalloc)")
    for name, size in sizes.items():
        print(f"  {name:36} {size / 1024:9.1f}")
    keys = list(sizes)
    growth = sizes[keys[1]] / max(sizes[keys[0]], 1)
    ok &= growth <= 1.1
    verdict = "met" if growth <= 1.1 else "NOT met"
    print(f"  {keys[1]} / {keys[0]} = {growth:.2f} (<= 1.10 {verdict}); "
          f"1,000 / 100 open pools = {sizes[keys[3]] / max(sizes[keys[2]], 1):.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
