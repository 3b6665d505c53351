"""Serving a recording (``ReferenceServer(replay=...)``, ``instamrkt serve --replay``) to a
bot, and the profit report at the end, checked by hand arithmetic.

The payout rule (``docs/market.md``): a winning stake gets ``total * stake // winning``
cents, nobody on the winner (or no money) returns the stakes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from instamrkt_proto import ClientConfig, Credentials, api
from instamrkt_proto.recording import encode_header, encode_record
from instamrkt_transports import blocking
from instamrkt_transports.server.thread import ServerThread

T0 = 1_800_000_000_000
BOT, KEY = "7", "bot-session-key-0123"


def _message(res: int, at: int, **fields: Any) -> str:
    return orjson.dumps({"response_header": {"t": at}, "res": res, **fields}).decode()


def _pool(pool_id: str, kind: int, targets: list[str]) -> dict[str, Any]:
    return {"pool_id": pool_id, "game_id": "g-1", "type": kind, "action_id": "goal",
            "description": pool_id, "start_at": T0,
            "distribution": [{"target_id": t, "backing_money": 0} for t in targets]}


def _bet(bet_id: str, user: str, target: str, amount: int) -> dict[str, Any]:
    return {"bet_id": bet_id, "user_id": user, "target": target, "amount": amount,
            "placed_at": T0}


def hand_made_recording(path: Path) -> None:
    """Two pools: 'who scores' (reds/blues) and the binary 'will the reds score' (whose
    target the wire never names: the replay infers it from the event that resolved it)."""
    pushes = [
        (0, 352, _pool("p-9", 1, ["reds", "blues"])),
        (0, 352, _pool("p-10", 3, ["yes", "no"])),
        (100, 361, {"pool_id": "p-9", "new_bets": [_bet("b1", "50", "reds", 30)]}),
        (150, 361, {"pool_id": "p-10", "new_bets": [_bet("b2", "50", "no", 5)]}),
        (200, 361, {"pool_id": "p-9", "new_bets": [_bet("b3", "51", "blues", 10)]}),
        # The recorded user's own bet: the bot under test bets instead.
        (250, 361, {"pool_id": "p-9", "new_bets": [_bet("b4", BOT, "blues", 99)]}),
        (300, 366, {"game_id": "g-1", "action_id": "goal", "target_id": "reds",
                    "happened_at": T0 + 300}),
        (300, 362, {"pool_id": "p-9", "game_id": "g-1", "winning_target": "reds"}),
        (300, 362, {"pool_id": "p-10", "game_id": "g-1", "winning_target": "yes"}),
    ]
    lines = [encode_header(created=T0, user_id=BOT, config=ClientConfig(), library="hand"),
             encode_record("connect", 1.0, T0, 0), encode_record("connection_made", 1.0, T0, 1)]
    for offset, res, fields in pushes:
        lines.append(encode_record("in", 1.0 + offset / 1000, T0 + offset, 1,
                                   {"d": _message(res, T0 + offset, **fields)}))
    path.write_bytes(b"".join(lines))


def wait_for_the_end(client: Any, server: ServerThread) -> list[Any]:
    """The events until the replay ended and all it sent was read. ``replay_finished``
    turns True once the last pushes are written, which the client may not have read yet:
    the end is a quiet second that began after it turned True."""
    events = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        finished = server.replay_finished
        event = client.next_event(timeout=1.0 if finished else 0.3)
        if event is not None:
            events.append(event)
        elif finished:
            return events
    raise AssertionError("the replay did not finish in 30 s")


@pytest.mark.parametrize("speed", ["max", 1.0])
def test_a_backtest_settles_the_bot_through_the_ledger(tmp_path: Path, speed: Any) -> None:
    path = tmp_path / "hand.jsonl"
    hand_made_recording(path)
    with ServerThread({BOT: KEY}, replay=path, speed=speed, close_timeout=0.25) as server:
        assert server.backtest is not None
        game = server.backtest.game_ids["g-1"]
        with blocking.connect(server.url, server.credentials, timeout=10) as client:
            client.logon()
            pools = {p.description: p for p in client.call(
                api.ListAllBettingPoolsForGame(game_id=game)).pools_list}
            assert set(pools) == {"p-9", "p-10"}  # the opening, before anything is played
            client.call(api.PlaceBetInBettingPool(pool_id=pools["p-9"].pool_id, target="reds",
                                                  amount=Decimal(10)))
            client.call(api.PlaceBetInBettingPool(pool_id=pools["p-10"].pool_id,
                                                  target="yes", amount=Decimal(5)))
            assert not server.replay_finished  # nothing plays before a client joins
            client.call(api.JoinGame(game_id=game))
            events = wait_for_the_end(client, server)
        resolved = {e.pool_id: e.winning_target for e in events
                    if isinstance(e, api.BetPoolResolved)}
        assert resolved == {pools["p-9"].pool_id: "reds", pools["p-10"].pool_id: "yes"}
        report = {r.user_id: r for r in server.replay_report([BOT])}
        assert server.replay_mismatches() == []
    # p-9: 10 (bot, reds) + 30 (rec-50, reds) + 10 (rec-51, blues) = 50, reds hold 40:
    #   bot 10 * 50 / 40 = 12.50, rec-50 30 * 50 / 40 = 37.50, rec-51 loses 10.
    # p-10: 5 (bot, yes) + 5 (rec-50, no) = 10, yes wins: bot 5 * 10 / 5 = 10.
    # The recorded user's own 99 on blues is not replayed.
    bot, fifty, fifty_one = report[BOT], report["rec-50"], report["rec-51"]
    assert (bot.bets, bot.staked, bot.payouts, bot.profit, bot.open_stake) == \
        (2, Decimal("15"), Decimal("22.50"), Decimal("7.50"), Decimal(0))
    assert (fifty.bets, fifty.staked, fifty.payouts, fifty.profit) == \
        (2, Decimal("35"), Decimal("37.50"), Decimal("2.50"))
    assert (fifty_one.bets, fifty_one.staked, fifty_one.payouts, fifty_one.profit) == \
        (1, Decimal("10"), Decimal(0), Decimal("-10"))
    assert not bot.recorded and fifty.recorded
    assert "rec-7" not in report


def record_football(server: ServerThread, path: Path, pushes: int) -> None:
    assert server.scenario is not None
    game = server.scenario.game_id
    with blocking.connect(server.url, server.credentials, timeout=10, record=path) as client:
        client.logon()
        client.call(api.JoinGame(game_id=game))
        client.call(api.ListAllBettingPoolsForGame(game_id=game))
        for _ in range(pushes):
            assert client.next_event(timeout=10) is not None


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def expected_payout(stake: Decimal, target: str, backing: dict[str, Decimal],
                    winner: str, money_return: bool) -> Decimal:
    """The rule of docs/market.md, by hand: total * stake // winning, in cents."""
    total = sum(backing.values(), Decimal(0))
    winning = backing.get(winner, Decimal(0))
    if money_return or winning == 0 or total == 0:
        return stake
    if target != winner:
        return Decimal(0)
    return (Decimal(cents(total) * cents(stake) // cents(winning)) / 100).quantize(
        Decimal("0.01"), ROUND_DOWN)


def _next_json(proc: subprocess.Popen[str]) -> Any:
    """The command's next line of output, as JSON; if it ended instead, why (its stderr)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip():
        _out, err = proc.communicate(timeout=30)
        raise AssertionError(f"the command ended (exit {proc.returncode}) with {line!r} "
                             f"instead of a line; stderr: {err}")
    return json.loads(line)


def test_serve_replay_max_speed_reports_what_the_bot_made(instamrkt_server_factory: Any,
                                                          tmp_path: Path) -> None:
    live = instamrkt_server_factory({BOT: KEY}, scenario="football", scenario_interval=0.02)
    path = tmp_path / "football.jsonl.gz"
    record_football(live, path, 300)
    users = tmp_path / "users.json"
    users.write_text(json.dumps({BOT: KEY}))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "instamrkt_transports", "serve", "--replay", str(path),
         "--speed", "max", "--json", "--port", "0", "--users", str(users)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        serving, game = _next_json(proc), _next_json(proc)
        assert serving["event"] == "serving" and game["event"] == "game"
        mine: list[tuple[str, str, Decimal]] = []
        backing: dict[str, dict[str, Decimal]] = {}
        outcomes: dict[str, tuple[str, bool]] = {}
        creds = Credentials(BOT, KEY)
        with blocking.connect(serving["url"], creds, timeout=10) as client:
            client.logon()
            for pool in client.call(api.ListAllBettingPoolsForGame(
                    game_id=game["game_id"])).pools_list:
                backing[pool.pool_id] = {d.target_id: d.backing_money or Decimal(0)
                                         for d in pool.distribution}
                target = pool.distribution[0].target_id
                stake = Decimal(2) if pool.type in (1, 2) else Decimal(1)
                client.call(api.PlaceBetInBettingPool(pool_id=pool.pool_id, target=target,
                                                      amount=stake))
                mine.append((pool.pool_id, target, stake))
                backing[pool.pool_id][target] += stake
            client.call(api.JoinGame(game_id=game["game_id"]))
            quiet_since = time.monotonic()
            # The end of a replay at full speed shows as silence; 5 s of it, so that a loaded
            # machine's pause is not taken for the end (the report would count pools the bot
            # left before seeing resolved).
            while time.monotonic() - quiet_since < 5:
                event = client.next_event(timeout=0.2)
                if event is None:
                    continue
                quiet_since = time.monotonic()
                if isinstance(event, api.BettingPoolBetsDistributionUpdate) \
                        and event.pool_id in backing:
                    backing[event.pool_id] = {d.target_id: d.backing_money or Decimal(0)
                                              for d in event.distribution}
                elif isinstance(event, (api.BetPoolResolved, api.BetPoolExpired)):
                    outcomes[event.pool_id] = (str(event.winning_target),
                                               bool(event.is_money_return))
        # Waited for, then read through the same buffered readers as the first lines:
        # communicate() reads the pipes beneath them and would miss what readline() had
        # buffered (a second "game" line with its newline still to come, for one).
        proc.wait(timeout=60)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    report = next(line for line in lines if line["event"] == "report"
                  and line["user_id"] == BOT)
    summary = next(line for line in lines if line["event"] == "replay_summary")
    assert summary["finished"] and summary["mismatches"] == []
    staked = sum((s for _, _, s in mine), Decimal(0))
    settled = [(p, t, s) for p, t, s in mine if p in outcomes]
    payouts = sum((expected_payout(s, t, backing[p], *outcomes[p]) for p, t, s in settled),
                  Decimal(0))
    profit = payouts - sum((s for _, _, s in settled), Decimal(0))
    assert len(mine) == 4 and settled  # the opening's four pools; some resolved
    assert Decimal(report["staked"]) == staked
    assert Decimal(report["payouts"]) == payouts
    assert Decimal(report["profit"]) == profit
    assert Decimal(report["open_stake"]) == staked - sum((s for _, _, s in settled),
                                                         Decimal(0))
    assert report["bets"] == 4 and not report["recorded"]


def test_bad_speed_and_replay_arguments_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "hand.jsonl"
    hand_made_recording(path)
    for speed in ("0", "-1", "fast", "inf"):
        proc = subprocess.run([sys.executable, "-m", "instamrkt_transports", "serve",
                               "--replay", str(path), "--speed", speed, "--port", "0"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 2 and "--speed" in proc.stderr, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "instamrkt_transports", "serve",
                           "--replay", str(tmp_path / "missing.jsonl"), "--port", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "missing.jsonl" in proc.stderr
    with pytest.raises(ValueError, match="speed"):
        ServerThread({BOT: KEY}, replay=path, speed=0)


def test_a_server_not_replaying_has_no_report() -> None:
    with ServerThread({BOT: KEY}) as server, pytest.raises(RuntimeError, match="not replaying"):
        server.replay_report()


def test_bets_the_market_refuses_are_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "broke.jsonl"
    hand_made_recording(path)
    lines = path.read_bytes().splitlines(keepends=True)
    big = encode_record("in", 1.2, T0 + 120, 1, {"d": _message(
        361, T0 + 120, pool_id="p-9", new_bets=[_bet("b9", "60", "reds", 5000)])})
    path.write_bytes(b"".join([*lines[:5], big, *lines[5:]]))
    with ServerThread({BOT: KEY}, replay=path, speed="max", close_timeout=0.25) as server:
        assert server.backtest is not None
        with blocking.connect(server.url, server.credentials, timeout=10) as client:
            client.call(api.JoinGame(game_id=server.backtest.game_ids["g-1"]))
            wait_for_the_end(client, server)
        refused = server.backtest.refused
        assert [(step.data["user"], step.data["amount"]) for step, _ in refused] == \
            [("rec-60", Decimal(5000))]
        assert "balance" in refused[0][1] or "funds" in refused[0][1], refused


def test_at_max_speed_every_subscriber_reads_every_push_with_the_running_sums(
        tmp_path: Path) -> None:
    """Played at full speed in batches, each push encoded once for its audience: two bots
    joined to the game read the same pushes in the recorded order, and each 361 carries
    the distribution of the bets so far (summed here by hand) however many batches the
    pools span. The replay starts at the first join, so the second bot, joining a moment
    later, may miss the first few: what it reads must be the end of what the first read."""
    import threading

    bets, per_pool = 3000, 400  # many batches of steps, several pools
    lines = [encode_header(created=T0, user_id=BOT, config=ClientConfig(), library="hand")]
    for i in range(bets):
        at, pool_id = T0 + 1 + i // 40, f"p-{i // per_pool}"
        if i % per_pool == 0:
            lines.append(encode_record("in", 1.0, at, 1, {"d": _message(
                352, at, **{**_pool(pool_id, 1, ["reds", "blues"]), "start_at": at})}))
        bet = {**_bet(f"b{i}", str(100 + i % 7), "reds" if i % 3 else "blues", 1 + i % 4),
               "placed_at": at}
        lines.append(encode_record("in", 1.0, at, 1, {"d": _message(
            361, at, pool_id=pool_id, new_bets=[bet])}))
        if i % per_pool == per_pool - 1 or i == bets - 1:
            lines.append(encode_record("in", 1.0, at, 1, {"d": _message(
                366, at, game_id="g-1", action_id="goal", target_id="reds",
                happened_at=at)}))
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"".join(lines))
    other = "8"
    with ServerThread({BOT: KEY, other: "other-session-key-01"}, replay=path, speed="max",
                      close_timeout=0.25) as server:
        assert server.backtest is not None
        game = server.backtest.game_ids["g-1"]
        seen: dict[str, list[Any]] = {}
        logged_on = threading.Barrier(2, timeout=10)

        def read(user: str) -> None:
            with blocking.connect(server.url, server.credentials_for(user), timeout=10,
                                  queue_size=None) as client:
                client.logon()
                logged_on.wait()
                client.call(api.JoinGame(game_id=game))
                seen[user] = wait_for_the_end(client, server)

        readers = [threading.Thread(target=read, args=(u,)) for u in (BOT, other)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(40)
    assert set(seen) == {BOT, other}
    first, second = ([e for e in seen[u] if isinstance(e, api.Push)  # the replay's pushes:
                      and not isinstance(e, api.UserJoinedGame)]  # not the other's joining
                     for u in (BOT, other))
    if len(second) > len(first):
        first, second = second, first
    assert second, "the second bot joined after the whole replay"
    assert [(type(e), e.fields) for e in first[len(first) - len(second):]] == \
        [(type(e), e.fields) for e in second]
    distributions = [e for e in first if isinstance(e, api.BettingPoolBetsDistributionUpdate)]
    assert len(distributions) == bets
    money: dict[tuple[str | None, str], Decimal] = {}
    for i, push in enumerate(distributions):
        target = "reds" if i % 3 else "blues"
        money[push.pool_id, target] = money.get((push.pool_id, target), Decimal(0)) + 1 + i % 4
        assert push.new_bets[0].target == target and push.new_bets[0].amount == 1 + i % 4
        shown = {e.target_id: e.backing_money for e in push.distribution}
        assert shown["reds"] == money.get((push.pool_id, "reds"), 0), i
        assert shown["blues"] == money.get((push.pool_id, "blues"), 0), i
