"""How a command gets a session: credentials (environment or REST login) and a client.

One synchronous face over the three transports, so each command is written once.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import ssl
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from instamrkt_proto import Credentials

from .._client.calls import Calls
from .output import UsageError

__all__ = ("TRANSPORTS", "open_client")


TRANSPORTS = ("anyio", "threaded", "blocking")


@contextlib.contextmanager
def open_client(transport: str, url: str, credentials: Credentials, **options: Any
                ) -> Iterator[Calls]:
    """A client with the blocking call surface (``ping()``, ``request()``...) on any
    transport; ``anyio:BACKEND`` runs the anyio client on a portal thread."""
    if transport == "blocking":
        from .. import blocking
        with blocking.connect(url, credentials, **options) as client:
            yield client
    elif transport == "threaded":
        from .. import threaded
        with threaded.connect(url, credentials, **options) as client:
            yield client
    elif transport.startswith("anyio"):
        from .._client import portal as _portal
        backend = transport.partition(":")[2] or "asyncio"
        with _portal.connect(url, credentials, backend=backend, **options) as client:
            yield client
    else:
        raise UsageError(f"unknown transport {transport!r}; choose from {', '.join(TRANSPORTS)}")


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
    from .. import rest

    base_url = args.base_url or os.environ.get("INSTAMRKT_BASE_URL")
    if not base_url:
        raise UsageError("no REST root: pass --base-url or set INSTAMRKT_BASE_URL")
    insecure = bool(getattr(args, "allow_insecure_http", False))
    # Before any question: a URL that cannot be used must not cost the user a password.
    rest.check_base_url(base_url, allow_insecure_http=insecure)
    from_stdin = bool(getattr(args, "password_stdin", False))
    username = args.username or os.environ.get("INSTAMRKT_USERNAME")
    if not username and from_stdin:
        raise UsageError("--password-stdin needs --username (or INSTAMRKT_USERNAME): "
                         "stdin carries the password")
    username = username or _ask("Username: ")
    if not username:
        raise UsageError("no username given")
    password = _password(from_stdin)
    timeout = args.timeout

    def again() -> Credentials:
        return rest.login(base_url, username, password, timeout=timeout,
                          ssl_context=ssl_context, allow_insecure_http=insecure)

    return username, again(), again


def _password(from_stdin: bool) -> str:
    """The password: one line of stdin with ``--password-stdin`` (as ``docker login``
    reads it), else asked on the terminal without echo; never argv or the environment."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    elif not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal, so the password cannot be asked; to "
                         "read it from stdin (its first line), pass --password-stdin")
    else:
        try:
            password = getpass.getpass("Password: ")  # the terminal, without echo
        except EOFError:
            raise UsageError("no password given") from None
    if not password:
        raise UsageError("empty password")
    return password


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


