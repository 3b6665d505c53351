"""``instamrkt record`` and ``instamrkt serve --replay``: make a recording, backtest on one.

``record`` is a client session with the ``record=`` option that only logs on, joins games
and reads until stopped (Ctrl-C or SIGTERM: the client closes, which flushes and closes the
file). It reconnects (and rejoins) on a lost connection, so a night's recording survives a
network blip, and the loss is in the file as marks. ``serve --replay`` runs the reference
server on a recording until the recording is played and every client has gone (or Ctrl-C),
then reports what each user did, from the market's ledger (``docs/record-replay.md``).
"""

from __future__ import annotations

import argparse
import gc
import signal
import time
from typing import Any

from .output import EXIT_OK, Output, UsageError
from .session import _session, open_client

__all__ = ("cmd_record", "parse_speed", "serve_replay")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def parse_speed(text: str) -> float | str:
    """``--speed``: a factor > 0, or ``max``."""
    if text == "max":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or 'max': {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be > 0 or 'max', got {text!r}")
    return value


def cmd_record(args: argparse.Namespace, out: Output) -> int:
    creds, options = _session(args)
    options.update(record=args.out, reconnect=True)
    signal.signal(signal.SIGTERM, _interrupt)
    events = 0
    try:
        with open_client(args.transport, args.url, creds, **options) as client:
            client.logon()
            for game in args.game:
                client.request("join_game", game_id=game)
            out.emit(f"recording to {args.out} (games: {', '.join(args.game) or 'none'}); "
                     f"Ctrl-C to stop", {"event": "recording", "out": args.out,
                                         "games": args.game})
            reader: Any = client  # every transport's client has next_event
            try:
                while True:
                    if reader.next_event(timeout=1.0) is not None:
                        events += 1
            except KeyboardInterrupt:
                pass
    except KeyboardInterrupt:  # stopped while logging on or joining: the file is closed too
        pass
    out.emit(f"stopped: {events} events recorded in {args.out}",
             {"event": "stopped", "events": events, "out": args.out})
    return EXIT_OK


def serve_replay(args: argparse.Namespace, out: Output, users: dict[str | int, str],
                 server_options: dict[str, Any]) -> int:
    """The ``serve`` command with ``--replay``: play, wait for the end, report."""
    from ..server.thread import ServerThread  # lazily: keeps the client commands cheap

    try:
        server_cm = ServerThread(users, replay=args.replay, speed=args.speed, **server_options)
    except OSError as exc:
        raise UsageError(f"cannot read --replay {args.replay}: {exc}") from None
    with server_cm as server:
        backtest = server.backtest
        assert backtest is not None
        # The recording's steps and the market's opening live as long as this process:
        # kept out of the cyclic collector's scans, which would otherwise walk them again
        # and again as a fast replay's bets pile up. A bet makes a dozen short-lived
        # dicts and lists (its pushes), nearly all freed by reference counting: the
        # youngest generation is collected every 20,000 allocations rather than 700,
        # which took a tenth of a full-speed replay's time.
        gc.freeze()
        gc.set_threshold(20_000, *gc.get_threshold()[1:])
        ids = sorted(str(u) for u in users)
        out.emit(f"serving on {server.url} for {len(ids)} user(s), replaying {args.replay} "
                 f"at speed {args.speed}; Ctrl-C to stop",
                 {"event": "serving", "url": server.url, "users": ids,
                  "rest_url": server.rest_url, "replay": str(args.replay),
                  "speed": args.speed})
        if not args.users:
            out.emit(f"  export INSTAMRKT_USER_ID=1 INSTAMRKT_SESSION_KEY={users['1']}",
                     {"event": "demo_user", "user_id": "1", "session_key": users["1"]})
        for recorded, served in sorted(backtest.game_ids.items()):
            out.emit(f"game {served} (recorded as {recorded}): join it to start the replay",
                     {"event": "game", "game_id": served, "recorded_game_id": recorded,
                      "source_id": backtest.source_id})
        try:
            seen = False
            while not (server.replay_finished and seen and not server.connected_users()):
                seen = seen or bool(server.connected_users())
                time.sleep(0.05)
        except KeyboardInterrupt:
            out.emit("stopping", {"event": "stopping"})
        report = server.replay_report(ids)
        for line in report:
            out.emit(f"user {line.user_id}{' (recorded)' if line.recorded else ''}: "
                     f"{line.bets} bets, staked {line.staked}, payouts {line.payouts}, "
                     f"profit {line.profit}, still open {line.open_stake}",
                     {"event": "report", **line.as_json()})
        mismatches = server.replay_mismatches()
        out.emit(f"replay {'finished' if server.replay_finished else 'stopped early'}: "
                 f"{len(backtest.refused)} recorded requests refused, {len(mismatches)} pools "
                 f"decided otherwise than recorded",
                 {"event": "replay_summary", "finished": server.replay_finished,
                  "refused": len(backtest.refused),
                  "mismatches": [{"pool_id": p, "recorded": r, "served": s}
                                 for p, r, s in mismatches]})
    return EXIT_OK
