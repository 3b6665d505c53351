"""Shared helpers for the benchmarks: interleaved timing and a pong server in a subprocess.

Every benchmark reports ratios between cases measured in the same run, interleaved, best of
several repeats: on a noisy 2-vCPU VM absolute numbers move by up to 1.6x from one minute to
the next while same-run ratios stay within a few percent.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def interleaved(cases: dict[str, Callable[[], object]], repeats: int = 5,
                target: float = 0.15) -> dict[str, float]:
    """Seconds per call for each case: autorange once, then ``repeats`` interleaved rounds."""
    numbers = {}
    for name, fn in cases.items():
        timer = timeit.Timer(fn)
        n, _ = timer.autorange()
        numbers[name] = max(1, int(n * target / 0.2))
    best = {name: float("inf") for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            t = timeit.Timer(fn).timeit(numbers[name]) / numbers[name]
            best[name] = min(best[name], t)
    return best


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def subprocess_server(args: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python args...`` and wait until it accepts connections on ``port``."""
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read() if proc.stderr else b""
                    raise RuntimeError(f"server did not start: {err!r}") from exc
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def table(title: str, rows: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows)
    for name, a, b in rows:
        print(f"  {name:<{width}}  {a:>12}  {b:>10}")
