"""Bounded memory: the reference market playing its football scenario for 24 hours.

A reference server left running for days must keep bounded memory, and every read must
stay far under the client's 1 MiB message limit. This plays the scenario at its default
pace on a fake clock, as fast as the CPU goes (the equivalent of ``hours`` of play, 24 by
default: 86,400 steps, about 1,300 games), with the market's timers run the way the server
runs them (``Market.tick`` then ``Scenario.tick``, ten ticks a step). Once per simulated
hour it takes the resident set size of this process, and the size of every read a bot
makes (as JSON, the way the server frames it): game details (342), the games of the
source (345), all pools (3535), a bettor's running and resolved pools (354, 355), the
friends' predictions for the game (461), the leaderboards (450, 4516) and the
distribution of every open pool (360).

It prints the figures and checks them against stated bounds: the RSS grows by less than
``RSS_GROWTH_BOUND`` between the first and the last hour, and the largest read stays under
``REPLY_BOUND`` (a sixteenth of the 1 MiB limit). Exit status 1 if a bound is exceeded. The
run is not timed: the figures are sizes, not speeds.

    python benchmarks/bench_market_memory.py [--hours H] [--seed N] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from typing import Any

from instamrkt_transports.market import Market, make_scenario
from instamrkt_transports.market.scenario import BETTORS

MIB = 1024 * 1024
RSS_GROWTH_BOUND = 16 * MIB  # from the end of hour 1 to the end of the run
REPLY_BOUND = MIB // 16  # the client refuses messages over 1 MiB
START_MS = 1_700_000_000_000


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def largest_read(market: Market, game: str, source: str) -> tuple[int, int]:
    """The largest reply a bot can read now: (its size in bytes, its res code)."""
    reads: list[tuple[int, dict[str, Any]]] = [
        (372, {"game_id": game}), (380, {"source_id": source}), (387, {"game_id": game}),
        (461, {"game_id": game}), (450, {}), (4516, {"source_id": source}),
        (389, {"game_id": game}), (390, {"game_id": game})]  # as a bettor
    reads += [(393, {"pool_id": p.pool_id}) for p in market.pools.values()
              if p.game_id == game and p.resolved_at is None]
    largest = (0, 0)
    for op, params in reads:
        res, fields, _pushes = market.handle(BETTORS[0], op, params, set())
        assert res != 666, (op, fields)
        size = len(json.dumps({"response_header": {"t": START_MS}, "res": res, **fields},
                              default=str))
        largest = max(largest, (size, res))
    return largest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    now = [START_MS]
    market = Market(lambda: now[0])
    scenario = make_scenario("football", market, seed=args.seed)
    tick = scenario.interval_ms // 10  # the server ticks every 0.1 s; a step is 1 s
    hour_ms = 3_600_000
    rows = []
    for hour in range(1, int(args.hours) + 1):
        end = START_MS + hour * hour_ms
        while now[0] < end:
            now[0] += tick
            market.tick()
            scenario.tick()
        gc.collect()
        size, res = largest_read(market, scenario.game_id, scenario.source_id)
        rows.append({"hour": hour, "rss": rss(), "largest_read": size, "largest_res": res,
                     "games_played": getattr(scenario, "games_played", 0),
                     "games_kept": len(market.games), "pools_kept": len(market.pools),
                     "bets_kept": len(market.bets)})
        if not args.json:
            row = rows[-1]
            print(f"hour {hour:>2}: rss {row['rss'] / MIB:6.1f} MiB, largest read "
                  f"{size:>6} bytes (res {res}), games played {row['games_played']}, kept: "
                  f"{row['games_kept']} games, {row['pools_kept']} pools, "
                  f"{row['bets_kept']} bets", flush=True)
    assert market.total_money() == market.minted
    growth = rows[-1]["rss"] - rows[0]["rss"]
    largest = max(r["largest_read"] for r in rows)
    ok = growth < RSS_GROWTH_BOUND and largest < REPLY_BOUND
    summary = {"hours": args.hours, "steps": scenario.steps, "rss_growth": growth,
               "rss_growth_bound": RSS_GROWTH_BOUND, "largest_read": largest,
               "largest_read_bound": REPLY_BOUND, "ok": ok}
    if args.json:
        print(json.dumps({"rows": rows, **summary}))
    else:
        print(f"{scenario.steps} steps: rss grew {growth / MIB:.1f} MiB from hour 1 (bound "
              f"{RSS_GROWTH_BOUND / MIB:.0f} MiB); largest read {largest} bytes (bound "
              f"{REPLY_BOUND}; the client's limit is {MIB}): {'ok' if ok else 'EXCEEDED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
