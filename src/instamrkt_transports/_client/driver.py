"""The loop every adapter runs after each call into the core, written once.

The core decides; an adapter only moves bytes and time. After every call into the core the
adapter calls ``Driver.drain``: it routes each event (open a link for ``Connecting``, close
it for ``CloseTransport``, settle the caller waiting on a ``RequestSettled``, deliver the
rest to the application), writes the frames the core released, and wakes the adapter's timer
when the core's next deadline moved earlier. What differs between adapters is only how they
wait and wake, so that is all the ``Hooks`` they supply do.

Also here: the glue every adapter shares (the core wired to the real clocks, the value a
call returns for its settling event, the TLS context for a URL).
"""

from __future__ import annotations

import inspect
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from instamrkt_proto import (
    Closed,
    CloseTransport,
    Connected,
    Connecting,
    ConnectionClosed,
    Credentials,
    Event,
    InstamrktError,
    LocalProtocolError,
    LogonError,
    LogonFailed,
    Push,
    RefreshCredentials,
    RemoteProtocolError,
    RequestFailed,
    RequestSettled,
    Response,
    State,
)
from instamrkt_proto.client import ClientConnection
from instamrkt_proto.mirror import MarketMirror

from ..options import Options

__all__ = ("Driver", "Hooks", "Provider", "call_provider", "checked", "new_core", "new_mirror",
           "renewed", "result", "ssl_for", "submit", "wall_ms")

log = logging.getLogger("instamrkt_transports")


class Hooks(Protocol):
    """What an adapter does for the driver; each runs synchronously inside ``drain``."""

    def _open_link(self, url: str) -> None:
        """Start opening a websocket to ``url`` (report the outcome to the core later)."""

    def _close_link(self, code: int, reason: str) -> None:
        """Close the current link (or abandon the attempt); no loss report is needed."""

    def _refresh(self) -> None:
        """Call the credentials provider, away from the core, and report with ``renewed``."""

    def _write(self, frames: list[bytes]) -> None:
        """Write the frames in order; report a failed write to the core (a loss)."""

    def _settle(self, event: RequestSettled) -> None:
        """Hand the settling event to whoever waits for that request id."""

    def _deliver(self, event: Event) -> None:
        """Queue a push or lifecycle event for the application and wake its readers."""

    def _wake_timer(self) -> None:
        """The next deadline moved earlier than the one the timer sleeps towards."""


class Driver:
    """Routes the core's events and output for one adapter; see the module docstring.

    ``ready`` turns True at the first ``Connected``; ``error`` holds why the first attempt
    failed (``connect()`` raises it); ``finished`` turns True once the session is over.
    ``armed`` is the deadline the adapter's timer sleeps towards (None: none armed).
    ``mirror`` (option ``mirror=True``) sees every event before anyone else does.
    """

    __slots__ = ("_hooks", "armed", "core", "error", "finished", "mirror", "ready")

    def __init__(self, core: ClientConnection, hooks: Hooks,
                 mirror: MarketMirror | None = None) -> None:
        self.core = core
        self.mirror = mirror
        self._hooks = hooks
        self.ready = False
        self.error: InstamrktError | None = None
        self.finished = False
        self.armed: float | None = None

    @property
    def started(self) -> bool:
        """The first attempt is decided: connected, or failed with ``error``."""
        return self.ready or self.error is not None

    def drain(self) -> None:
        """Act on everything the core has emitted, until it emits nothing more."""
        core, hooks, mirror = self.core, self._hooks, self.mirror
        while True:
            for event in core.events_received():
                if mirror is not None:
                    try:
                        mirror.update(event)
                    except Exception:  # a fault in the mirror must not end the session
                        log.exception("the market mirror failed on %s", type(event).__name__)
                if isinstance(event, Push):  # most of a flood: straight to the application
                    hooks._deliver(event)
                elif isinstance(event, RequestSettled):
                    hooks._settle(event)
                elif isinstance(event, Connecting):
                    hooks._open_link(event.url)
                elif isinstance(event, CloseTransport):
                    hooks._close_link(event.code, event.reason)
                elif isinstance(event, RefreshCredentials):
                    hooks._refresh()
                else:
                    if isinstance(event, Connected):
                        self.ready = True
                    elif isinstance(event, Closed):
                        if not self.ready and self.error is None:
                            self.error = event.error or ConnectionClosed(event.reason, event.code)
                        if event.reconnect_at is None:
                            self.finished = True
                    hooks._deliver(event)
            frames = core.data_to_send()
            if not frames:
                break
            hooks._write(frames)  # a failed write reports a loss: loop for its events
        deadline = core.next_deadline()
        if deadline is not None and (self.armed is None or deadline < self.armed):
            self.armed = deadline
            hooks._wake_timer()

    def closed_error(self) -> InstamrktError:
        """What a call on a finished session raises."""
        return self.core.closed_error or ConnectionClosed("the client is closed")


def new_mirror(credentials: Credentials, options: Options) -> MarketMirror | None:
    """The mirror the ``mirror`` option asks for, "me" being the credentials' user."""
    return MarketMirror(credentials.user_id) if options.mirror else None


Provider = Callable[[], "Credentials | Awaitable[Credentials]"]
"""The ``refresh_credentials`` option: fresh credentials when the server refuses the key."""


def renewed(core: ClientConnection, now: float, outcome: Credentials | BaseException) -> None:
    """Report what the credentials provider gave (or raised) to the core."""
    if isinstance(outcome, Credentials):
        core.update_credentials(outcome, now)
        return
    # Our own errors never carry a secret; anyone else's message might, so only its type.
    detail = str(outcome) if isinstance(outcome, InstamrktError) else type(outcome).__name__
    log.warning("refresh_credentials failed: %s", detail)
    core.refresh_failed(now, detail)


def checked(value: object) -> Credentials | BaseException:
    """What a provider returned, if it is credentials."""
    if isinstance(value, Credentials):
        return value
    return TypeError(f"refresh_credentials returned {type(value).__name__}, not Credentials")


def call_provider(provider: Provider | None) -> Credentials | BaseException:
    """A synchronous provider's outcome; a coroutine function is refused here."""
    if provider is None:  # make_options pairs the core's requests with a provider
        return LocalProtocolError("no refresh_credentials provider")
    try:
        value = provider()
    except Exception as exc:
        return exc
    if inspect.isawaitable(value):
        close = getattr(value, "close", None)
        if close is not None:
            close()  # never awaited: do not leave a warning behind
        return TypeError("refresh_credentials is a coroutine function: use the anyio client")
    return checked(value)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def new_core(url: str, credentials: Credentials, options: Options, *,
             flush_reports: bool = False) -> ClientConnection:
    """The core, wired to the real clocks and the real random source."""
    if options.record is not None:  # the same core, writing down what it is told
        from .recordsink import recording_core
        return recording_core(url, credentials, options, flush_reports, wall_ms)
    return ClientConnection(url, credentials, wall_clock=wall_ms, random=random.random,
                            config=options.config, flush_reports=flush_reports)


def ssl_for(url: str, options: Options) -> ssl.SSLContext | None:
    """The TLS context for ``url``: the caller's, or a verifying default for wss://."""
    if urlsplit(url).scheme != "wss":
        return None
    return options.ssl_context or ssl.create_default_context()


def result(event: RequestSettled) -> Response:
    """The value a call returns for its settling event, or raise the error it carries."""
    if isinstance(event, RequestFailed):
        raise event.error
    if isinstance(event, LogonFailed):
        raise LogonError(event)
    if isinstance(event, Response):
        return event
    raise RemoteProtocolError(f"op {event.op}: no reply event")  # every reply is a Response


def submit(driver: Driver, op: int | str, params: dict[str, Any] | None, now: float,
           timeout: float | None, idempotent: bool | None, retry: bool | None) -> int:
    """Queue a caller's request in the core; raises the error that ended the session."""
    if driver.core.state is State.CLOSED:
        raise driver.closed_error()
    return driver.core.send_request(op, params, now=now, timeout=timeout,
                                    idempotent=idempotent, retry=retry)
