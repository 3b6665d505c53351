"""The ``instamrkt`` command: demo, serve, login, ping, opcodes, logon, request.

Credentials come from ``--user-id`` or ``INSTAMRKT_USER_ID`` and from the environment
variable ``INSTAMRKT_SESSION_KEY`` only: a secret on the command line ends up in shell
history and ``ps``. ``instamrkt login`` gets them from the REST API and prints them as
``export`` lines for ``eval``; it asks for the password on the terminal, without echo, for
the same reason. Errors are one line on stderr with a documented exit code, never a
traceback, never a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import math
import os
import secrets
import shlex
import signal
import ssl
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn, TextIO

import attrs

from instamrkt_proto import (
    AuthenticationError,
    ConnectionClosed,
    Credentials,
    InstamrktError,
    LocalProtocolError,
    LoggedOn,
    LogonError,
    LogonFailed,
    OpcodeTable,
    OutcomeUnknown,
    Pong,
    RequestTimeout,
    RestConnectionError,
    RestError,
    ServerError,
)

from ._calls import Calls
from ._scenario import SCENARIOS

__all__ = ("EXIT_CODES", "main")

_CORE_REPLIES = (Pong, OpcodeTable, LoggedOn, LogonFailed)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_LOGON = 4
EXIT_TIMEOUT = 5
EXIT_CONNECTION = 6
EXIT_SERVER_ERROR = 7
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_ERROR: "unexpected error",
    EXIT_USAGE: "bad arguments or missing credentials",
    EXIT_AUTH: "credentials refused (handshake HTTP 403/400, or REST login 401/403)",
    EXIT_LOGON: "logon refused (res 110)",
    EXIT_TIMEOUT: "no reply in time (or outcome unknown)",
    EXIT_CONNECTION: "connection failed or lost",
    EXIT_SERVER_ERROR: "the server answered an error (res 666, or a failed REST call)",
}
TRANSPORTS = ("anyio", "threaded", "blocking")


class UsageError(Exception):
    pass


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


def _exit_code(error: BaseException) -> int:
    for kind, code in ((AuthenticationError, EXIT_AUTH), (LogonError, EXIT_LOGON),
                       (RequestTimeout, EXIT_TIMEOUT), (OutcomeUnknown, EXIT_TIMEOUT),
                       (ConnectionClosed, EXIT_CONNECTION), (ServerError, EXIT_SERVER_ERROR),
                       (RestConnectionError, EXIT_CONNECTION), (RestError, EXIT_SERVER_ERROR),
                       (LocalProtocolError, EXIT_USAGE), (UsageError, EXIT_USAGE),
                       (OSError, EXIT_CONNECTION)):
        if isinstance(error, kind):
            return code
    return EXIT_ERROR


# -- one synchronous face over the three transports -------------------------------------------


@contextlib.contextmanager
def open_client(transport: str, url: str, credentials: Credentials, **options: Any
                ) -> Iterator[Calls]:
    """A client with the blocking call surface (``ping()``, ``request()``...) on any
    transport; ``anyio:BACKEND`` runs the anyio client on a portal thread."""
    if transport == "blocking":
        from . import blocking
        with blocking.connect(url, credentials, **options) as client:
            yield client
    elif transport == "threaded":
        from . import threaded
        with threaded.connect(url, credentials, **options) as client:
            yield client
    elif transport.startswith("anyio"):
        from . import _portal
        backend = transport.partition(":")[2] or "asyncio"
        with _portal.connect(url, credentials, backend=backend, **options) as client:
            yield client
    else:
        raise UsageError(f"unknown transport {transport!r}; choose from {', '.join(TRANSPORTS)}")


# -- output -----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if attrs.has(type(value)):
        data = {"event": type(value).__name__}
        for field in attrs.fields(type(value)):
            if field.repr is False:
                continue
            data[field.name] = _jsonable(getattr(value, field.name))
        return data
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, BaseException):
        return {"error": type(value).__name__, "message": str(value)}
    return value


class Output:
    def __init__(self, as_json: bool, stream: TextIO | None = None) -> None:
        self.as_json = as_json
        # looked up now, not at import: honours redirect_stdout and pytest's capsys
        self.stream = sys.stdout if stream is None else stream

    def emit(self, text: str, data: dict[str, Any]) -> None:
        if self.as_json:
            print(json.dumps(data, separators=(",", ":"), default=str), file=self.stream,
                  flush=True)
        else:
            print(text, file=self.stream, flush=True)


# -- commands ---------------------------------------------------------------------------------


def _credentials(args: argparse.Namespace) -> Credentials:
    user_id = args.user_id or os.environ.get("INSTAMRKT_USER_ID")
    key = os.environ.get("INSTAMRKT_SESSION_KEY")
    if not user_id:
        raise UsageError("no user id: pass --user-id or set INSTAMRKT_USER_ID "
                         "(or --username to log in first)")
    if not key:
        raise UsageError("no session key: set INSTAMRKT_SESSION_KEY (never on the command line)")
    return Credentials(user_id, key)


def _login(args: argparse.Namespace, ssl_context: ssl.SSLContext | None
           ) -> tuple[str, Credentials, Callable[[], Credentials]]:
    """Log in over REST, asking for the password; also a provider that logs in again.

    The password stays in this process's memory only, for the provider: a key refused
    later (24 hours on) is replaced by logging in again instead of ending the session.
    """
    from . import rest

    base_url = args.base_url or os.environ.get("INSTAMRKT_BASE_URL")
    if not base_url:
        raise UsageError("no REST root: pass --base-url or set INSTAMRKT_BASE_URL")
    username = args.username or os.environ.get("INSTAMRKT_USERNAME") or _ask("Username: ")
    if not username:
        raise UsageError("no username given")
    try:
        password = getpass.getpass("Password: ")  # the terminal, never argv or the env
    except EOFError:
        raise UsageError("no password given") from None
    if not password:
        raise UsageError("empty password")
    timeout = args.timeout

    def again() -> Credentials:
        return rest.login(base_url, username, password, timeout=timeout,
                          ssl_context=ssl_context)

    return username, again(), again


def _session(args: argparse.Namespace) -> tuple[Credentials, dict[str, Any]]:
    """The credentials and client options a client command connects with."""
    options = _options(args)
    if not args.username:
        return _credentials(args), options
    _username, creds, provider = _login(args, options.get("ssl_context"))
    options["refresh_credentials"] = provider
    return creds, options


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"timeout": args.timeout, "reconnect": False,
                               "connect_timeout": args.timeout}
    if args.cafile:
        try:
            options["ssl_context"] = ssl.create_default_context(cafile=args.cafile)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot load --cafile {args.cafile}: {exc}") from None
    return options


def _stats(rtts: Sequence[float]) -> dict[str, float]:
    ordered = sorted(rtts)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"min_ms": ordered[0] * 1e3, "median_ms": statistics.median(ordered) * 1e3,
            "p99_ms": p99 * 1e3}


def _progress(i: int, count: int, enabled: bool) -> None:
    if enabled:
        width = 30
        done = width * i // count
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {i}/{count}")
        sys.stderr.flush()
        if i == count:
            sys.stderr.write("\n")


def _ping_run(client: Any, count: int, interval: float, progress: bool,
              each: Callable[[int, Any], None] | None = None) -> list[float]:
    rtts = []
    for i in range(1, count + 1):
        pong = client.ping()
        rtts.append(pong.rtt)
        if each is not None:
            each(i, pong)
        _progress(i, count, progress)
        if interval and i < count:
            time.sleep(interval)
    return rtts


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


def _ask(prompt: str) -> str:
    """A line typed at the terminal; prompts go to stderr so stdout stays ``eval``-able."""
    if not sys.stdin.isatty():
        raise UsageError(f"no {prompt.rstrip(': ').lower()}: pass it as an option")
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise UsageError(f"no {prompt.rstrip(': ').lower()} given")
    return line.rstrip("\r\n")


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
    from ._demo import run_demo  # the demo's session lives in its own module

    return run_demo(args.count, out)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def cmd_serve(args: argparse.Namespace, out: Output) -> int:
    from .server_thread import ServerThread

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
    try:
        with ServerThread(users, host=args.host, port=args.port, ssl_context=context,
                          rest_port=args.rest_port, scenario=args.scenario,
                          scenario_seed=args.scenario_seed) as server:
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
                       help="seed of the scenario's choices (0)")
    serve.add_argument("--json", action="store_true", help="one JSON object per line")
    serve.set_defaults(func=cmd_serve)

    login = sub.add_parser(
        "login", help="log in over REST; print export lines for the credentials",
        description="Log in over REST and print the credentials as shell export lines, "
                    "for: eval \"$(instamrkt login)\". The password is asked on the "
                    "terminal, without echo (never an argument: argv shows in ps and shell "
                    "history). Every login issues a new session key; the previous one "
                    "stops working.")
    login.add_argument("--base-url", help="REST root, e.g. https://dev.instamrkt.com/i "
                                          "(default: $INSTAMRKT_BASE_URL)")
    login.add_argument("--username", help="(default: $INSTAMRKT_USERNAME, else asked)")
    login.add_argument("--timeout", type=_number(float, 0, low_open=True), default=30.0,
                       help="seconds for each HTTP exchange (30)")
    login.add_argument("--cafile", help="PEM CA bundle to verify the server (default: system)")
    login.add_argument("--json", action="store_true",
                       help="print one JSON object instead of export lines")
    login.set_defaults(func=cmd_login)

    def client_command(name: str, helptext: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("url", help="ws:// or wss:// endpoint, e.g. wss://instamrkt.com:9999")
        p.add_argument("--user-id", help="user id (default: $INSTAMRKT_USER_ID)")
        p.add_argument("--username", help="log in over REST first (the password is asked); "
                                          "the login is repeated if the key expires")
        p.add_argument("--base-url", help="REST root for --username "
                                          "(default: $INSTAMRKT_BASE_URL)")
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
    return parser


def _scrub(message: str) -> str:
    """Defence in depth: no error line ever shows the session key from the environment.

    (Keys shorter than 8 characters are not secrets worth mangling every message for.)
    """
    key = os.environ.get("INSTAMRKT_SESSION_KEY", "")
    return message.replace(key, "***") if len(key) >= 8 else message


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
