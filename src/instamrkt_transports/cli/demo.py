"""``instamrkt demo``: what the library is for, shown in a couple of seconds.

A reference server plays a scripted football game in-process (no account, no network); a
bot logs on, joins the game, bets with a ``Decimal``, receives the typed pushes that follow,
loses its connection with a bet in flight and reconciles the outcome after ``Reconnected``;
then every transport's round-trip figures.

Money is shown as the docs define it: a bet moves its stake from available balance to
exposure (the current balance, their sum, does not move), resolution moves it back with the
winnings. The closing check holds the client to what it saw: the balances it read and the
bets it read back must add up to the server's ledger, to the cent.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from instamrkt_proto import Credentials, OutcomeUnknown, ServerError

from .output import EXIT_ERROR, EXIT_OK, Output
from .session import _ping_run, _stats, open_client

__all__ = ("run_demo",)


def _have_trio() -> bool:
    try:
        import trio  # noqa: F401
    except ImportError:
        return False
    return True


def _money(amount: Any) -> str:
    return f"{amount:.2f} DON" if amount is not None else "?"


class _DemoFailed(Exception):
    """A demo step did not happen in time (exit 1, one line)."""


def _wait_for(client: Any, want: Callable[[Any], bool], what: str, limit: float = 15.0) -> Any:
    """The next event ``want`` accepts, within ``limit`` seconds (others are skipped)."""
    deadline = time.monotonic() + limit
    while (left := deadline - time.monotonic()) > 0:
        event = client.next_event(timeout=left)
        if event is not None and want(event):
            return event
    raise _DemoFailed(f"demo: no {what} within {limit:g} s")


def _demo_market(server: Any, creds: Credentials, out: Output) -> bool:
    """The live part of the demo: a bot's session against the server's scripted game.
    Returns whether what the bot saw adds up to the server's ledger."""
    from instamrkt_proto import Backoff, Reconnected, api

    from .. import blocking

    scenario = server.scenario
    with blocking.connect(server.url, creds, timeout=10.0,
                          backoff=Backoff(base=0.05, cap=0.2)) as client:
        client.logon()
        out.emit(f"1. logged on as user {creds.user_id}",
                 {"event": "logon", "user_id": creds.user_id})
        games = client.call(api.ListGamesForSource(source_id=scenario.source_id)).games
        game = str(games[0]["game_id"])
        client.call(api.JoinGame(game_id=game))
        out.emit(f"2. listed the games of source {scenario.source_id} and joined "
                 f"{games[0]['game_name']!r} ({game})",
                 {"event": "joined", "source_id": scenario.source_id, "game_id": game,
                  "game_name": games[0]["game_name"], "games": len(games)})
        balance = client.call(api.GetMyCurrentBalance()).current_balance
        available0, exposure0 = _balances(client)
        out.emit(f"3. balance read as a Decimal: {balance!r} (available "
                 f"{_money(available0)}, exposure {_money(exposure0)})",
                 {"event": "balance", "current_balance": str(balance),
                  "available_balance": str(available0), "exposure": str(exposure0)})
        stake = Decimal("12.50")
        for attempt in range(3):  # a goal may resolve the pool between the list and the bet
            pools = client.call(api.ListAllBettingPoolsForGame(game_id=game)).pools_list
            pool = next(p for p in pools if p.type == 1)  # "Who scores next?"
            try:
                bet = client.call(api.PlaceBetInBettingPool(pool_id=str(pool.pool_id),
                                                            target="reds", amount=stake))
                break
            except ServerError:
                if attempt == 2:
                    raise
        available, exposure = _balances(client)
        out.emit(f"4. bet {_money(stake)} on 'reds' in {pool.pool_id} ({pool.description}): "
                 f"{bet.bet_id}; available {_money(available)}, exposure {_money(exposure)}",
                 {"event": "bet", "pool_id": pool.pool_id, "bet_id": bet.bet_id,
                  "target": "reds", "amount": str(stake), "available_balance": str(available),
                  "exposure": str(exposure)})
        update = _wait_for(client, lambda e: isinstance(
            e, api.BettingPoolBetsDistributionUpdate)
            and any(b.bet_id == bet.bet_id for b in e.new_bets), "distribution update")
        backing = {d.target_id: d.backing_money for d in update.distribution}
        out.emit(f"5. push 361 distribution update for {pool.pool_id}: "
                 + ", ".join(f"{k} {_money(v)}" for k, v in backing.items()),
                 {"event": "push", "res": 361, "model": type(update).__name__,
                  "pool_id": pool.pool_id, "backing_money": backing})
        # the scripted game answers "who scores next" by full time at the latest
        resolved = _wait_for(client, lambda e: isinstance(e, api.BetPoolResolved)
                             and e.pool_id == pool.pool_id, "pool resolution", limit=60.0)
        won = resolved.winners.get(creds.user_id)  # net winnings, as in the docs' example
        verdict = f"you won {_money(won)} (your stake back, plus that)" if won is not None \
            else "stakes returned" if resolved.is_money_return else "you lost your stake"
        out.emit(f"6. push 362 pool resolved: {resolved.winning_target!r} won, "
                 f"{verdict}", {"event": "push", "res": 362, "model": type(resolved).__name__,
                                "pool_id": pool.pool_id,
                                "winning_target": resolved.winning_target,
                                "won": None if won is None else str(won)})
        update815 = _wait_for(client, lambda e: isinstance(e, api.BalanceUpdate),
                              "balance update")
        out.emit(f"7. push 815 balance update: current {_money(update815.current_balance)}, "
                 f"available {_money(update815.available_balance)}",
                 {"event": "push", "res": 815, "model": type(update815).__name__,
                  "current_balance": str(update815.current_balance),
                  "available_balance": str(update815.available_balance)})

        # The connection dies with a bet in flight: the server runs it, the reply is lost.
        pools = client.call(api.ListAllBettingPoolsForGame(game_id=game)).pools_list
        flaky = next((p for p in pools if p.type == 3), pools[0])  # "Will the blues score?"
        target = "yes" if flaky.type in (3, 4) else "blues"
        faults = server.faults_for(creds.user_id)
        # The next reply never leaves the server; the reconnection meets a healthy one.
        faults.update(drop_after_replies=0, once=True)
        try:
            client.call(api.PlaceBetInBettingPool(pool_id=str(flaky.pool_id), target=target,
                                                  amount=Decimal("5")))
            raise _DemoFailed("demo: the bet went through although the connection was cut")
        except OutcomeUnknown as exc:
            out.emit(f"8. connection lost with a bet in flight: {type(exc).__name__} (placed "
                     f"or not? the library never re-sends a bet)",
                     {"event": "outcome_unknown", "error": type(exc).__name__,
                      "pool_id": flaky.pool_id})
        finally:
            faults.reset()
        back = _wait_for(client, lambda e: isinstance(e, Reconnected), "reconnection")
        out.emit(f"9. Reconnected after {back.gap * 1e3:.0f} ms: logged on again="
                 f"{back.relogged_on}, games rejoined={list(back.rejoined)}",
                 {"event": "reconnected", "relogged_on": back.relogged_on,
                  "rejoined": list(back.rejoined), "gap_ms": back.gap * 1e3})
        mine = [*client.call(api.ListMyRunningPoolsForGame(game_id=game)).pools_list,
                *client.call(api.ListMyResolvedPoolsForGame(game_id=game)).pools_list]
        staked = next((p.user_backed.get(target) for p in mine if p.pool_id == flaky.pool_id),
                      None)
        balance = client.call(api.GetMyCurrentBalance()).current_balance
        found = "it was placed" if staked else "it was not placed"
        out.emit(f"10. reconciled by a read: {found} ({_money(staked or 0)} on {target!r} in "
                 f"{flaky.pool_id}); balance {_money(balance)}",
                 {"event": "reconciled", "pool_id": flaky.pool_id, "placed": bool(staked),
                  "staked": None if staked is None else str(staked),
                  "current_balance": str(balance)})
        return _check_against_ledger(client, server, creds.user_id, game,
                                     available0 + exposure0, out)


def _balances(client: Any) -> tuple[Decimal, Decimal]:
    """The available balance (810) and exposure (840) the client reads."""
    from instamrkt_proto import api

    return (client.call(api.GetMyAvailableBalance()).available_balance,
            client.call(api.GetMyExposure()).exposure)


def _check_against_ledger(client: Any, server: Any, user: str, game: str, start: Decimal,
                          out: Output) -> bool:
    """What the client saw must add up to the server's ledger: its exposure is the stakes
    of its running bets (read back with 389), its available balance is the starting
    balance, minus every stake, plus what each resolved pool paid back (390's
    ``total_winnings``); and the server's ledger must agree with both, its total with the
    money ever minted. The scripted game goes on meanwhile, so the reads are retried until
    the ledger did not move while they ran."""
    from instamrkt_proto import api

    market = server.market

    def ledger() -> tuple[Decimal, Decimal, bool]:  # run on the server's loop: consistent
        return (market.available[user], market.exposure.get(user, Decimal(0)),
                market.total_money() == market.minted)

    for _attempt in range(10):
        before = server._call(ledger)
        running = client.call(api.ListMyRunningPoolsForGame(game_id=game)).pools_list
        resolved = client.call(api.ListMyResolvedPoolsForGame(game_id=game)).pools_list
        available, exposure = _balances(client)
        after = server._call(ledger)
        if before == after:
            break
    staked_running = sum((v for p in running for v in p.user_backed.values()), Decimal(0))
    net_resolved = sum(((p.total_winnings or Decimal(0)) - sum(p.user_backed.values(),
                                                               Decimal(0))
                        for p in resolved), Decimal(0))
    expected = (start - staked_running + net_resolved, staked_running)
    ok = bool(expected == (available, exposure) == after[:2]) and after[2]
    out.emit(f"11. money checked against the server's ledger: {len(running)} running and "
             f"{len(resolved)} resolved pool(s) read back give available "
             f"{_money(expected[0])}, exposure {_money(expected[1])}; read "
             f"{_money(available)} / {_money(exposure)}; ledger {_money(after[0])} / "
             f"{_money(after[1])}; market total = minted: {after[2]}",
             {"event": "ledger_check", "ok": ok, "expected_available": f"{expected[0]:.2f}",
              "expected_exposure": f"{expected[1]:.2f}", "read_available": f"{available:.2f}",
              "read_exposure": f"{exposure:.2f}", "ledger_available": f"{after[0]:.2f}",
              "ledger_exposure": f"{after[1]:.2f}", "market_conserved": after[2]})
    return ok


def run_demo(count: int, out: Output) -> int:
    """The demo: a bot session against the scripted game, then every transport's RTT."""
    from ..server.thread import ServerThread

    user = "demo"
    key = secrets.token_urlsafe(24)
    transports = ["anyio:asyncio", "anyio:trio", "threaded", "blocking"]
    with ServerThread({user: key}, backend="asyncio", scenario="football",
                      scenario_interval=0.5) as server:
        creds = Credentials(user, key)
        out.emit(f"reference server on {server.url} (in-process, no account, no network), "
                 f"playing a scripted football game",
                 {"event": "server", "url": server.url, "scenario": "football"})
        try:
            money = _demo_market(server, creds, out)
        except _DemoFailed as exc:
            out.emit(str(exc), {"event": "error", "message": str(exc)})
            return EXIT_ERROR
        out.emit("round trips per transport:", {"event": "transports"})
        if not _have_trio():  # an optional extra: instamrkt[trio]
            transports.remove("anyio:trio")
            out.emit("anyio:trio     skipped: trio is not installed "
                     "(pip install 'instamrkt[trio]')",
                     {"event": "skipped", "transport": "anyio:trio",
                      "reason": "trio not installed"})
        for transport in transports:
            with open_client(transport, server.url, creds, timeout=10.0) as client:
                logged = client.logon()
                table = client.opcodes()
                rtts = _ping_run(client, count, 0.0, False)
                clock = client.core.clock
                row = {"event": "transport", "transport": transport,
                       "logged_on": True, "already_logged_in": logged.already_logged_in,
                       "ops_offered": len(table.opcodes), "pings": len(rtts), **_stats(rtts),
                       "clock_offset_ms": None if clock is None else clock.offset}
                offset = "n/a" if clock is None else f"{clock.offset:+.1f} ms"
                out.emit(f"{transport:<14} logon ok, {len(table.opcodes)} ops, "
                         f"{len(rtts)} pings: rtt min {row['min_ms']:.3f} / median "
                         f"{row['median_ms']:.3f} / p99 {row['p99_ms']:.3f} ms, "
                         f"clock offset {offset}", row)
    # what the client saw must add up to the ledger: a mismatch fails the demo
    out.emit(f"demo finished: every step above ran; money conserved: {money}.",
             {"event": "done", "ok": money, "money_conserved": money})
    return EXIT_OK if money else EXIT_ERROR
