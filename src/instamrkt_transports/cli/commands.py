"""The ``instamrkt`` command: demo, serve, login, ping, opcodes, logon, request, record.

Credentials come from ``--user-id`` or ``INSTAMRKT_USER_ID`` and from the environment
variable ``INSTAMRKT_SESSION_KEY`` only: a secret on the command line ends up in shell
history and ``ps``. ``instamrkt login`` gets them from the REST API and prints them as
``export`` lines for ``eval``; it asks for the password on the terminal, without echo, for
the same reason (or reads the first line of stdin with ``--password-stdin``; a stdin that
is not a terminal is never read without it). Errors are one line on stderr with a
documented exit code, never a traceback, never a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import shlex
import signal
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from instamrkt_proto import (
    InstamrktError,
    LoggedOn,
    LogonFailed,
    OpcodeTable,
    Pong,
)

from ..market.scenario import SCENARIOS
from .output import (
    EXIT_CODES,
    EXIT_OK,
    Output,
    UsageError,
    _exit_code,
    _jsonable,
    _scrub,
)
from .record import cmd_record, parse_speed, serve_replay
from .session import TRANSPORTS, _login, _options, _ping_run, _session, _stats, open_client

__all__ = ("build_parser", "main")


_CORE_REPLIES = (Pong, OpcodeTable, LoggedOn, LogonFailed)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors go through ``main``: one line on stderr, exit 2, JSON with --json.

    (Stock argparse prints the usage block as well, and knows nothing of ``--json``.)
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _number(kind: Callable[[str], Any], low: float, high: float = math.inf,
            low_open: bool = False) -> Callable[[str], Any]:
    """An argparse ``type``: ``kind(text)`` within [low, high] (or (low, high])."""
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < low or (low_open and value == low) \
                or value > high:
            bound = f"> {low:g}" if low_open else f">= {low:g}"
            if high != math.inf:
                bound += f" and <= {high:g}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text!r}")
        return value
    convert.__name__ = kind.__name__  # argparse names the type in its messages
    return convert


def cmd_ping(args: argparse.Namespace, out: Output) -> int:
    creds, options = _session(args)
    progress = not args.json and args.count >= 20 and sys.stderr.isatty()
    with open_client(args.transport, args.url, creds, **options) as client:
        def each(i: int, pong: Any) -> None:
            if args.json:
                out.emit("", {"event": "Pong", "seq": i, "rtt_ms": pong.rtt * 1e3,
                              "server_time": pong.server_time})
            elif not progress:
                out.emit(f"pong {i}: rtt {pong.rtt * 1e3:.3f} ms", {})

        rtts = _ping_run(client, args.count, args.interval, progress, each)
        summary = {"event": "summary", "count": len(rtts), **_stats(rtts)}
        clock = client.core.clock
        if clock is not None:
            summary["clock_offset_ms"] = clock.offset
        out.emit(f"{len(rtts)} pings: min {summary['min_ms']:.3f} ms, median "
                 f"{summary['median_ms']:.3f} ms, p99 {summary['p99_ms']:.3f} ms", summary)
    return EXIT_OK


def cmd_opcodes(args: argparse.Namespace, out: Output) -> int:
    creds, options = _session(args)
    with open_client(args.transport, args.url, creds, **options) as client:
        table = client.opcodes()
        if args.json:
            out.emit("", _jsonable(table))
        else:
            out.emit(f"{len(table.opcodes)} ops:", {})
            for name, number in sorted(table.opcodes.items(), key=lambda kv: kv[1]):
                out.emit(f"  {number:>6}  {name}", {})
            out.emit(f"{len(table.response_codes)} response codes:", {})
            for name, number in sorted(table.response_codes.items(), key=lambda kv: kv[1]):
                out.emit(f"  {number:>6}  {name}", {})
    return EXIT_OK


def cmd_logon(args: argparse.Namespace, out: Output) -> int:
    creds, options = _session(args)
    with open_client(args.transport, args.url, creds, **options) as client:
        event = client.logon()
        note = " (already logged in)" if event.already_logged_in else ""
        out.emit(f"logged on as user {client.core.credentials.user_id}{note}", _jsonable(event))
    return EXIT_OK


def _param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"parameter {text!r} is not key=value")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def cmd_request(args: argparse.Namespace, out: Output) -> int:
    params = dict(_param(p) for p in args.params)
    op: int | str = int(args.op) if args.op.isdigit() else args.op
    creds, options = _session(args)
    with open_client(args.transport, args.url, creds, **options) as client:
        if args.logon:
            client.logon()
        event = client.request(op, **params)
        if not isinstance(event, _CORE_REPLIES):  # a reply as the server sent it
            data = {"event": "Response", "model": type(event).__name__,
                    "request_id": event.request_id, "op": event.op, "res": event.res,
                    "name": event.name, "fields": _jsonable(event.fields),
                    "server_time": event.server_time}
            if event.decode_error is not None:
                data["decode_error"] = event.decode_error
            text = (f"res {event.res} ({event.name or 'unnamed'}): "
                    f"{json.dumps(event.fields, default=str)}")
        else:  # ops 1, 2 and 100 settle as Pong / OpcodeTable / LoggedOn
            data = _jsonable(event)
            text = f"{data['event']}: {json.dumps(data, default=str)}"
        out.emit(text, data)
    return EXIT_OK


def cmd_login(args: argparse.Namespace, out: Output) -> int:
    username, creds, _again = _login(args, _options(args).get("ssl_context"))
    if args.json:
        out.emit("", {"event": "login", "username": username, "user_id": creds.user_id,
                      "session_key": creds.session_key})
    else:
        out.emit(f"export INSTAMRKT_USER_ID={shlex.quote(creds.user_id)}", {})
        out.emit(f"export INSTAMRKT_SESSION_KEY={shlex.quote(creds.session_key)}", {})
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    from .demo import run_demo  # the demo's session lives in its own module

    return run_demo(args.count, out)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def cmd_serve(args: argparse.Namespace, out: Output) -> int:
    from ..server.thread import ServerThread

    if args.users:
        try:
            with open(args.users, encoding="utf-8") as fh:
                users: dict[str | int, str] = {str(k): str(v) for k, v in json.load(fh).items()}
        except (OSError, ValueError, AttributeError) as exc:
            raise UsageError(f"cannot read users file {args.users}: {exc}") from None
    else:
        users = {"1": secrets.token_urlsafe(24)}
    demo_password = secrets.token_urlsafe(12)
    context = None
    if args.tls_key and not args.tls_cert:
        raise UsageError("--tls-key needs --tls-cert")
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except OSError as exc:  # ssl.SSLError included
            raise UsageError(f"cannot load --tls-cert/--tls-key: {exc}") from None
    # Before the first line goes out: a `kill` right after it stops us as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    if args.replay is not None:
        if args.scenario is not None:
            raise UsageError("--replay and --scenario cannot be combined")
        return serve_replay(args, out, users, {"host": args.host, "port": args.port,
                                               "ssl_context": context,
                                               "rest_port": args.rest_port})
    try:
        with ServerThread(users, host=args.host, port=args.port, ssl_context=context,
                          rest_port=args.rest_port, scenario=args.scenario,
                          scenario_seed=args.scenario_seed,
                          scenario_interval=args.scenario_interval) as server:
            if not args.users:
                server.add_account("demo", demo_password, user_id="1")
            out.emit(f"serving on {server.url} for {len(users)} user(s); Ctrl-C to stop",
                     {"event": "serving", "url": server.url, "users": sorted(users),
                      "rest_url": server.rest_url})
            if not args.users:
                out.emit(f"demo user id 1 (or instamrkt login --base-url {server.rest_url} "
                         f"--username demo, password {demo_password}); its session key is in "
                         f"INSTAMRKT_SESSION_KEY below:\n"
                         f"  export INSTAMRKT_USER_ID=1 INSTAMRKT_SESSION_KEY={users['1']}",
                         {"event": "demo_user", "user_id": "1", "session_key": users["1"],
                          "rest_url": server.rest_url, "username": "demo",
                          "password": demo_password})
            elif not out.as_json:  # the JSON "serving" object carries rest_url already
                out.emit(f"REST root {server.rest_url} (no accounts: sign up there)", {})
            if server.scenario is not None:
                out.emit(f"playing scenario {args.scenario!r}: game source "
                         f"{server.scenario.source_id}, game {server.scenario.game_id}",
                         {"event": "scenario", "scenario": args.scenario,
                          "source_id": server.scenario.source_id,
                          "game_id": server.scenario.game_id})
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        out.emit("stopping", {"event": "stopping"})
    return EXIT_OK


# -- argument parsing -------------------------------------------------------------------------


def _rest_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin (needs --username)")
    p.add_argument("--allow-insecure-http", action="store_true",
                   help="allow a plain http:// REST root on another host (the password "
                        "travels unencrypted)")


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())
    parser = _Parser(
        prog="instamrkt",
        description="Talk to an Instamrkt websocket API endpoint, or run a local one.",
        epilog=f"credentials: --user-id or INSTAMRKT_USER_ID, and INSTAMRKT_SESSION_KEY "
               f"(instamrkt login prints both).\n\n"
               f"exit codes:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="a bot's session against an in-process server playing "
                                       "a scripted game, then every transport's round trips")
    demo.add_argument("--count", type=_number(int, 1), default=200,
                      help="pings per transport (200)")
    demo.add_argument("--json", action="store_true", help="one JSON object per line")
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="run the reference server until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=_number(int, 0, 65535), default=9999,
                       help="port (9999; 0 = any free)")
    serve.add_argument("--tls-cert", help="PEM certificate chain: serve wss://")
    serve.add_argument("--tls-key", help="PEM private key for --tls-cert")
    serve.add_argument("--users", help='JSON file {"user_id": "session_key", ...}')
    serve.add_argument("--rest-port", type=_number(int, 0, 65535), default=0,
                       help="port of the REST root (login, signup, logout; 0 = any free)")
    serve.add_argument("--scenario", choices=sorted(SCENARIOS),
                       help="play a scripted live game (see docs/market.md)")
    serve.add_argument("--scenario-seed", type=int, default=0,
                       help="seed of the scenario's choices: the same seed, the same games (0)")
    serve.add_argument("--scenario-interval", type=_number(float, 0.001), default=1.0,
                       metavar="S", help="seconds between two steps of the scenario (1.0): "
                       "a game lasts 60 steps")
    serve.add_argument("--replay", metavar="FILE",
                       help="play a recording's games (see docs/record-replay.md); at the end "
                            "report what each user did")
    serve.add_argument("--speed", type=parse_speed, default=1.0,
                       help="with --replay: times the recorded pace, or max (1)")
    serve.add_argument("--json", action="store_true", help="one JSON object per line")
    serve.set_defaults(func=cmd_serve)

    login = sub.add_parser(
        "login", allow_abbrev=False,  # "--password x" must not pass for --password-stdin
        help="log in over REST; print export lines for the credentials",
        description="Log in over REST and print the credentials as shell export lines, "
                    "for: eval \"$(instamrkt login)\". The password is asked on the "
                    "terminal, without echo, or read from the first line of stdin with "
                    "--password-stdin (never an argument: argv shows in ps and shell "
                    "history). Every login issues a new session key; the previous one "
                    "stops working.")
    login.add_argument("--base-url", help="REST root, e.g. https://dev.instamrkt.com/i "
                                          "(default: $INSTAMRKT_BASE_URL)")
    login.add_argument("--username", help="(default: $INSTAMRKT_USERNAME, else asked)")
    login.add_argument("--timeout", type=_number(float, 0, low_open=True), default=30.0,
                       help="seconds for the whole login (30)")
    _rest_flags(login)
    login.add_argument("--cafile", help="PEM CA bundle to verify the server (default: system)")
    login.add_argument("--json", action="store_true",
                       help="print one JSON object instead of export lines")
    login.set_defaults(func=cmd_login)

    def client_command(name: str, helptext: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=helptext, description=helptext, allow_abbrev=False)
        p.add_argument("url", help="ws:// or wss:// endpoint, e.g. wss://instamrkt.com:9999")
        p.add_argument("--user-id", help="user id (default: $INSTAMRKT_USER_ID)")
        p.add_argument("--username", help="log in over REST first (the password is asked); "
                                          "the login is repeated if the key expires")
        p.add_argument("--base-url", help="REST root for --username "
                                          "(default: $INSTAMRKT_BASE_URL)")
        _rest_flags(p)
        p.add_argument("--transport", choices=TRANSPORTS, default="blocking",
                       help="client adapter (blocking)")
        p.add_argument("--timeout", type=_number(float, 0, low_open=True), default=10.0,
                       help="seconds per request and for connecting (10)")
        p.add_argument("--cafile", help="PEM CA bundle to verify the server (default: system)")
        p.add_argument("--json", action="store_true", help="one JSON object per line")
        return p

    ping = client_command("ping", "measure round-trip time with op 1")
    ping.add_argument("--count", type=_number(int, 1), default=4, help="pings to send (4)")
    ping.add_argument("--interval", type=_number(float, 0), default=0.0,
                      help="seconds between pings (0)")
    ping.set_defaults(func=cmd_ping)
    client_command("opcodes", "list the ops and response codes (op 2)").set_defaults(
        func=cmd_opcodes)
    client_command("logon", "log on (op 100)").set_defaults(func=cmd_logon)
    request = client_command("request", "send any op by number or name")
    request.add_argument("op", help="op number or documented name, e.g. join_game")
    request.add_argument("params", nargs="*", metavar="key=value",
                         help="parameters; values are JSON if they parse, else text")
    request.add_argument("--logon", action="store_true", help="log on first")
    request.set_defaults(func=cmd_request)
    record = client_command("record", "log on, join games and record every message until "
                                      "stopped (Ctrl-C)")
    record.add_argument("--out", required=True, metavar="FILE",
                        help="the recording (appended to; .gz compresses)")
    record.add_argument("--game", action="append", default=[], metavar="GAME_ID",
                        help="a game to join (repeat for more)")
    record.set_defaults(func=cmd_record)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Output("--json" in argv)  # before parsing, so usage errors honour --json too
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "transport", "anyio") == "anyio":
            args.transport = "anyio:asyncio"
        out = Output(args.json)
        code: int = args.func(args, out)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`instamrkt opcodes URL | head`): not an error
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:
        code = _exit_code(error)
        if isinstance(error, (InstamrktError, UsageError, OSError)):
            message = str(error) or type(error).__name__
        else:  # a bug: still one line, no traceback
            message = f"unexpected error: {type(error).__name__}: {error}"
        message = _scrub(" ".join(message.split()))  # exactly one line
        print(f"instamrkt: error: {message}", file=sys.stderr)
        if out.as_json:
            out.emit("", {"event": "error", "error": type(error).__name__, "message": message,
                          "exit_code": code})
    return code

