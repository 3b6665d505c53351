"""Codec cost: decode+dispatch per server message and encode per request, vs bare json.

Side by side in one run (timeit autorange, then 5 interleaved repeats, best kept):

* pong: ``ClientConnection.receive_message`` with a ping outstanding, plus
  ``events_received``. A reply settles its request, so it cannot be repeated alone: it is
  measured as (ping sent + pong received) minus (ping sent), both timed the same way.
* a ~1.2 KB leaderboard push (res 450 with nothing outstanding) through receive_message.
* encode: ``send_request`` + ``data_to_send`` for a ping and for a place_bet with params.
* typed models (``instamrkt_proto.api``): a 815 balance update pushed (decoded into
  ``api.BalanceUpdate``, Decimal balances), and a ~1.4 KB leaderboard reply (decoded into
  ``api.Leaderboard``), the latter measured like the pong (request + reply minus request).
  Acceptance: each at most 1.5x a bare json.loads of the same bytes. The leaderboard's
  entries are structured on first access; reading them all is shown too (not a criterion).

Each is compared with a bare ``json.loads(bytes)`` + ``["res"]`` lookup of the same bytes
(decoding) or ``json.dumps(request).encode()`` of the same request (encoding). Acceptance:
decode+dispatch of a pong costs at most 3x a bare json.loads of the same bytes.

Run: python benchmarks/bench_codec.py [--quick]
"""

from __future__ import annotations

import json
import sys
import timeit
from collections.abc import Callable
from typing import Any

import orjson

from instamrkt_proto import ClientConfig, ClientConnection, Credentials

PONG = b'{"response_header":{"t":1422007246302},"res":1}'
LEADERBOARD = orjson.dumps({
    "response_header": {"t": 1422007246302},
    "res": 450,
    "leaderboard": [
        {"username": f"player_{i:03d}", "points": 100_000 - 37 * i, "rank": i + 1}
        for i in range(25)
    ],
    "game_type": "INSTAMRKT",
    "currency": "DON",
})
BALANCE = (b'{"response_header":{"t":1422007246302},"res":815,"current_balance":1000.0,'
           b'"available_balance":990.5,"currency":"DON"}')
LEADERBOARD_REPLY = orjson.dumps({
    "response_header": {"t": 1422007246302},
    "res": 450,
    "game_type": "INSTAMRKT",
    "currency": "DON",
    "leaderboard": [
        {"username": f"player_{i:03d}", "points": round(999.17 - 3.41 * i, 2), "rank": i + 1}
        for i in range(28)
    ],
})
BET = {"pool_id": "c295ecdc-9194-428a-8353-20513856cda1", "target": "home", "amount": "10"}
HEADER = {"session_key": "0123456789abcdef0123456789abcdef", "t": 1422006034742,
          "api_version": 1.0}


def make_connection() -> ClientConnection:
    config = ClientConfig(keepalive_interval=None, request_timeout=30.0)
    conn = ClientConnection("wss://bench.test", Credentials("1", HEADER["session_key"]),
                            wall_clock=lambda: 1422006034742, random=lambda: 0.5,
                            config=config)
    conn.connect(0.0)
    conn.connection_made(0.0)
    conn.events_received()
    return conn


def cases() -> dict[str, Callable[[], object]]:
    conn = make_connection()
    send, receive, out, events = (conn.send_request, conn.receive_message, conn.data_to_send,
                                  conn.events_received)
    wire = conn._corr.wire  # the benchmark forgets sent requests to time sending alone
    loads, dumps = json.loads, json.dumps
    ping_request = {"header": HEADER, "op": 1}
    bet_request = {"header": HEADER, "op": 392, **BET}

    def ping_sent() -> None:
        send(1, None, now=1.0)
        out()
        wire.clear()

    def ping_round() -> None:
        send(1, None, now=1.0)
        out()
        receive(PONG, 1.0)
        events()

    def bet_sent() -> None:
        send(392, BET, now=1.0)
        out()
        wire.clear()

    def push() -> None:
        receive(LEADERBOARD, 1.0)
        events()

    def balance_push() -> None:
        receive(BALANCE, 1.0)
        events()

    def board_sent() -> None:
        send(450, None, now=1.0)
        out()
        wire.clear()

    def board_round() -> None:
        send(450, None, now=1.0)
        out()
        receive(LEADERBOARD_REPLY, 1.0)
        events()

    def board_read() -> None:
        send(450, None, now=1.0)
        out()
        receive(LEADERBOARD_REPLY, 1.0)
        (board,) = events()
        for entry in board.leaderboard:  # type: ignore[attr-defined]
            entry.points  # noqa: B018 - reading is the point

    def bare_balance() -> Any:
        return loads(BALANCE)["res"]

    def bare_board() -> Any:
        return loads(LEADERBOARD_REPLY)["res"]

    def bare_pong() -> Any:
        return loads(PONG)["res"]

    def bare_push() -> Any:
        return loads(LEADERBOARD)["res"]

    def orjson_pong() -> Any:
        return orjson.loads(PONG)["res"]

    def dumps_ping() -> bytes:
        return dumps(ping_request).encode()

    def dumps_bet() -> bytes:
        return dumps(bet_request).encode()

    return {
        "ping_round": ping_round, "ping_sent": ping_sent, "bet_sent": bet_sent, "push": push,
        "bare_pong": bare_pong, "bare_push": bare_push, "orjson_pong": orjson_pong,
        "dumps_ping": dumps_ping, "dumps_bet": dumps_bet,
        "balance_push": balance_push, "bare_balance": bare_balance, "board_sent": board_sent,
        "board_round": board_round, "board_read": board_read, "bare_board": bare_board,
    }


def measure(fns: dict[str, Callable[[], object]], repeats: int, target: float) -> dict[str, float]:
    """Seconds per call: autorange each case once, then ``repeats`` interleaved rounds."""
    numbers = {}
    for name, fn in fns.items():
        n, took = timeit.Timer(fn).autorange()
        numbers[name] = max(1, int(n * target / max(took, 1e-9)))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            best[name] = min(best[name], timeit.Timer(fn).timeit(numbers[name]) / numbers[name])
    return best


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    t = measure(cases(), repeats=3 if quick else 5, target=0.05 if quick else 0.2)
    pong = t["ping_round"] - t["ping_sent"]
    rows = [
        ("decode+dispatch pong", pong, "json.loads+['res']", t["bare_pong"]),
        (f"decode+dispatch push ({len(LEADERBOARD)} B)", t["push"], "json.loads+['res']",
         t["bare_push"]),
        ("decode 815 -> api.BalanceUpdate", t["balance_push"], "json.loads+['res']",
         t["bare_balance"]),
        (f"decode 450 ({len(LEADERBOARD_REPLY)} B) -> api.Leaderboard",
         t["board_round"] - t["board_sent"], "json.loads+['res']", t["bare_board"]),
        ("  ... and read every entry", t["board_read"] - t["board_sent"],
         "json.loads+['res']", t["bare_board"]),
        ("encode ping (send_request)", t["ping_sent"], "json.dumps", t["dumps_ping"]),
        ("encode place_bet (send_request)", t["bet_sent"], "json.dumps", t["dumps_bet"]),
    ]
    print(f"{'case':44} {'core us':>9} {'baseline':>20} {'base us':>8} {'ratio':>6}")
    for name, core, base_name, base in rows:
        print(f"{name:44} {core * 1e6:9.2f} {base_name:>20} {base * 1e6:8.2f} {core / base:6.2f}")
    print(f"(pong: ping+pong round {t['ping_round'] * 1e6:.2f} us minus ping sent "
          f"{t['ping_sent'] * 1e6:.2f} us; orjson.loads of the pong alone "
          f"{t['orjson_pong'] * 1e6:.2f} us)")
    ratio = pong / t["bare_pong"]
    verdict = "OK" if ratio <= 3.0 else "ABOVE 3x"
    print(f"acceptance: pong decode+dispatch / json.loads = {ratio:.2f} (limit 3.00): {verdict}")
    typed = {"BalanceUpdate": t["balance_push"] / t["bare_balance"],
             "Leaderboard": (t["board_round"] - t["board_sent"]) / t["bare_board"]}
    for name, value in typed.items():
        verdict = "OK" if value <= 1.5 else "ABOVE 1.5x"
        print(f"acceptance: api.{name} decode / json.loads = {value:.2f} (limit 1.50): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
