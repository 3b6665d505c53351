"""Record and replay: what recording costs, how fast a replay goes, how fast a recording
is served back.

1. **Recording overhead**: sequential ping round trips/s of the blocking client with and
   without ``record=`` (a plain file and a ``.gz`` one), against one reference server in a
   subprocess, interleaved in chunks of 100 so the VM's slow phases hit every case alike.
   Target: recording costs at most 10 % (ratio >= 0.90).
2. **Replay through the core**: messages/s of ``replay_lines`` over an in-memory recording
   of pushes (distribution updates and balance updates, as a flood of a live game sends),
   against the core alone receiving the same messages (the floor: no file format at all).
   Target: >= 200,000 messages/s.
3. **Serving at ``--speed max``**: pushes/s a blocking-client bot reads from
   ``instamrkt serve --replay FILE --speed max`` (a subprocess) for a recording of pools
   taking many bets (each a 361 to the bot): pools of 50 bets, each resolved by a goal, and
   one pool taking every bet (a bet costs the same whatever its pool's size). Target:
   >= 50,000 pushes/s. Each case runs three times; the table gives the best and the worst
   (the machine is shared: the spread is the noise), and the server's CPU time per push
   (on Linux), which the other work on the machine moves much less.

Run: python benchmarks/bench_record_replay.py [--quick] [--serve]   (--serve: section 3 only)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from _harness import free_port, subprocess_server, table

from instamrkt_proto import ClientConfig, Credentials, api
from instamrkt_proto.client import ClientConnection
from instamrkt_proto.recording import encode_header, encode_record
from instamrkt_proto.replay import replay_lines

USER, KEY = "bench", "bench-session-key"
T0 = 1_800_000_000_000


def _push(i: int) -> bytes:
    if i % 4 == 3:
        return orjson.dumps({"response_header": {"t": T0 + i}, "res": 815,
                             "current_balance": 1000 + i, "available_balance": 990 + i,
                             "currency": "DON"})
    return orjson.dumps({
        "response_header": {"t": T0 + i}, "res": 361, "pool_id": f"pool-{i % 7}",
        "target_level": 1,
        "distribution": [
            {"target_id": "reds", "display_name": "reds", "backing_people": 3 + i % 5,
             "backing_money": 40 + i, "to_win_if_backed": 1.8},
            {"target_id": "blues", "display_name": "blues", "backing_people": 2,
             "backing_money": 30, "to_win_if_backed": 2.2}],
        "new_bets": [{"bet_id": f"bet-{i}", "user_id": "51", "amount": 5,
                      "placed_at": T0 + i, "target": "reds"}]})


def _recording_of_pushes(n: int) -> tuple[list[bytes], list[bytes]]:
    """A recording (its lines) of a session that received ``n`` pushes, and the pushes."""
    pushes = [_push(i) for i in range(n)]
    lines = [encode_header(created=T0, user_id=USER, config=ClientConfig(), library="bench"),
             encode_record("connect", 1.0, T0, 0), encode_record("connection_made", 1.0, T0, 1)]
    # A flood arrives a read's worth at a time: 16 messages handed over at the same time.
    lines += [encode_record("in", 1.0 + i // 16 / 1e4, T0 + i // 16, 1, {"d": p.decode()})
              for i, p in enumerate(pushes)]
    return lines, pushes


def bench_replay(n: int) -> None:
    lines, pushes = _recording_of_pushes(n)

    def replayed() -> float:
        t0 = time.perf_counter()
        count = sum(1 for e in replay_lines(lines) if isinstance(e, api.Push))
        elapsed = time.perf_counter() - t0
        assert count == n, count
        return elapsed

    def core_alone() -> float:
        core = ClientConnection("ws://x.invalid/", Credentials(USER, KEY),
                                wall_clock=lambda: T0, random=lambda: 0.5,
                                config=ClientConfig(keepalive_interval=None))
        core.connect(0.0)
        core.connection_made(0.0)
        core.events_received()
        t0 = time.perf_counter()
        count = 0
        for i in range(0, n, 16):  # as a transport hands them over: a read's worth at once
            core.receive_messages(pushes[i:i + 16], 1.0)
            count += len(core.events_received())
        elapsed = time.perf_counter() - t0
        assert count == n, count
        return elapsed

    rounds = [(replayed(), core_alone()) for _ in range(5)]
    best_replay = min(r[0] for r in rounds)
    best_core = min(r[1] for r in rounds)
    ratio = statistics.median(c / r for r, c in rounds)
    table(f"replay through the core: {n:,} pushes, best of 5 (target >= 200,000 msg/s)", [
        ("core.receive_messages alone (floor)", f"{n / best_core:,.0f}/s", "1.00"),
        ("replay(recording) / floor", f"{n / best_replay:,.0f}/s", f"{ratio:.2f}"),
    ])


def bench_recording_overhead(total: int) -> None:
    from instamrkt_transports import blocking

    port = free_port()
    tmp = Path(tempfile.mkdtemp())
    users = tmp / "users.json"
    users.write_text(json.dumps({USER: KEY}))
    creds = Credentials(USER, KEY)
    url = f"ws://127.0.0.1:{port}/"
    args = ["-m", "instamrkt_transports", "serve", "--port", str(port), "--users", str(users)]
    with subprocess_server(args, port), \
            blocking.connect(url, creds) as plain_client, \
            blocking.connect(url, creds, record=tmp / "r.jsonl") as recording, \
            blocking.connect(url, creds, record=tmp / "r.jsonl.gz") as gz_recording:
        clients = {"no recording": plain_client, "record=FILE": recording,
                   "record=FILE.gz": gz_recording}

        def chunk(client: blocking.BlockingClient, n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                client.ping()
            return time.perf_counter() - t0

        for client in clients.values():
            chunk(client, 200)  # warm-up
        rounds = [{name: chunk(c, 100) for name, c in clients.items()}
                  for _ in range(total // 100)]
    size = (tmp / "r.jsonl").stat().st_size
    gz_size = (tmp / "r.jsonl.gz").stat().st_size
    rate = {name: 100 * len(rounds) / sum(r[name] for r in rounds) for name in clients}

    def ratio(name: str) -> float:
        return statistics.median(r["no recording"] / r[name] for r in rounds)

    table("blocking client ping round trips/s, same server, same run "
          "(ratio: median per-round throughput vs no recording; target >= 0.90)", [
        ("no recording (baseline)", f"{rate['no recording']:,.0f}", "1.00"),
        ("record=FILE", f"{rate['record=FILE']:,.0f}", f"{ratio('record=FILE'):.2f}"),
        ("record=FILE.gz", f"{rate['record=FILE.gz']:,.0f}", f"{ratio('record=FILE.gz'):.2f}"),
        ("  bytes per round trip: plain / gz", f"{size / (total + 200):,.0f}",
         f"{gz_size / (total + 200):,.0f}"),
    ])


def _bets_recording(path: Path, bets: int, per_pool: int = 50, users: int = 20) -> None:
    """One game whose pools (of ``per_pool`` bets each) take ``bets`` bets of 1 from
    ``users`` recorded users, each pool then resolved by a goal (the last one when the
    recording ends). A user starts with 1000: a pool of more than 1000 bets a user needs
    that many users."""
    lines = [encode_header(created=T0, user_id=USER, config=ClientConfig(), library="bench")]
    for i in range(bets):
        at = T0 + 1 + i // 50
        pool_id = f"p-{i // per_pool}"
        if i % per_pool == 0:
            pool = {"pool_id": pool_id, "game_id": "g-1", "type": 1, "action_id": "goal",
                    "description": "who scores", "start_at": at,
                    "distribution": [{"target_id": "reds"}, {"target_id": "blues"}]}
            lines.append(encode_record("in", 1.0, at, 1, {"d": orjson.dumps(
                {"response_header": {"t": at}, "res": 352, **pool}).decode()}))
        bet = {"bet_id": f"b{i}", "user_id": str(100 + i % users), "amount": 1,
               "placed_at": at, "target": "reds" if i % 3 else "blues"}
        lines.append(encode_record("in", 1.0, at, 1, {"d": orjson.dumps(
            {"response_header": {"t": at}, "res": 361, "pool_id": pool_id,
             "new_bets": [bet]}).decode()}))
        if i % per_pool == per_pool - 1 or i == bets - 1:  # a goal resolves the pool
            lines.append(encode_record("in", 1.0, at, 1, {"d": orjson.dumps(
                {"response_header": {"t": at}, "res": 366, "game_id": "g-1",
                 "action_id": "goal", "target_id": "reds", "happened_at": at}).decode()}))
    path.write_bytes(b"".join(lines))


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of process ``pid`` so far, where /proc says (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve_max(recording: Path, users: Path) -> tuple[int, float, float | None]:
    """Pushes a blocking-client bot read from ``serve --replay recording --speed max``, the
    seconds from the first to the last, and the server's CPU seconds meanwhile (None off
    Linux): on a shared machine the rate follows the CPU the server is given, its CPU per
    push much less."""
    from instamrkt_transports import blocking

    port = free_port()
    args = ["-m", "instamrkt_transports", "serve", "--replay", str(recording), "--speed",
            "max", "--port", str(port), "--users", str(users)]
    with subprocess_server(args, port) as server, \
            blocking.connect(f"ws://127.0.0.1:{port}/", Credentials(USER, KEY),
                             timeout=30, queue_size=None) as client:
        client.call(api.JoinGame(game_id="game-1"))
        first = client.next_event(timeout=30)
        assert first is not None
        cpu0 = cpu1 = _cpu_seconds(server.pid)
        t0 = time.perf_counter()
        count, last = 1, t0
        while (event := client.next_event(timeout=2.0)) is not None:
            count += isinstance(event, api.Push)
            last = time.perf_counter()
            if count % 1000 == 0:  # read near the last push, not after the 2 s of quiet
                cpu1 = _cpu_seconds(server.pid)
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return count, max(last - t0, 1e-9), cpu


def bench_serve_max(bets: int, rounds: int = 3) -> None:
    tmp = Path(tempfile.mkdtemp())
    users = tmp / "users.json"
    users.write_text(json.dumps({USER: KEY}))
    cases = {"pools of 50 bets, each resolved": 50, "one pool taking every bet": bets}
    for per_pool in cases.values():
        _bets_recording(tmp / f"bets-{per_pool}.jsonl", bets, per_pool,
                        users=max(20, per_pool // 500))
    runs: dict[str, list[tuple[int, float, float | None]]] = {name: [] for name in cases}
    for _ in range(rounds):  # interleaved: a slow phase of the machine hits both cases
        for name, per_pool in cases.items():
            runs[name].append(_serve_max(tmp / f"bets-{per_pool}.jsonl", users))
    rows = []
    for name, results in runs.items():
        rates = sorted(count / seconds for count, seconds, _cpu in results)
        rows.append((f"{name}: pushes read", f"{results[0][0]:,}", ""))
        rows.append(("  pushes/s, best / worst", f"{rates[-1]:,.0f}", f"{rates[0]:,.0f}"))
        per_push = sorted(cpu / count * 1e6 for count, _s, cpu in results if cpu is not None)
        if per_push:
            rows.append(("  server CPU us per push, best / worst", f"{per_push[0]:.1f}",
                         f"{per_push[-1]:.1f}"))
    table(f"serve --replay --speed max: {bets:,} recorded bets, one bot (blocking client), "
          f"{rounds} runs (target >= 50,000 pushes/s)", rows)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    if "--serve" not in sys.argv:
        bench_replay(50_000 if quick else 200_000)
        bench_recording_overhead(1000 if quick else 4000)
    bench_serve_max(20_000 if quick else 100_000)
