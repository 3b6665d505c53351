"""``RecordingConnection``: a ``ClientConnection`` that writes down everything it is told.

A replay must be the live path, not a model of it: so the recording is the core's own
inputs (each method call with its arguments and ``now``), plus the wall-clock milliseconds
and random numbers it read during each call, plus what it sent and the lifecycle marks.
Fed back in order to a fresh ``ClientConnection`` (``instamrkt_proto.replay``), they make
it emit the same events, byte for byte the same messages. The format is in
``recording.py``.

To make the wall clock replayable, it is read once per input and held for the call (the
core only ever needs it to the millisecond); outside an input the real clock is read.

Lines are kept in memory and handed to ``sink`` (a callable taking bytes: one or more whole
lines) in batches, when the adapter collects the core's output (``data_to_send``, after
every input) and either ``batch_ms`` have passed (on the core's own ``now``) since the last batch,
or a lifecycle mark was written: one write per batch, not per line, is what keeps a
recording's cost small. ``on_finish`` is called once when the session ends for good (after
the last batch), so a file sink can close.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from .auth import Credentials
from .client import ClientConnection
from .config import DEFAULT, ClientConfig
from .events import Closed, Connected, Connecting, Event, Reconnected
from .recording import Secrets, encode_header, encode_record

_dumps = orjson.dumps
_MARKED = frozenset({Connecting, Connected, Reconnected, Closed})

_Entry = tuple[str, float, int, int, Any]
"""A line not yet written: kind, monotonic and wall time, connection, and what the kind
carries (a message and its random draws for ``in``, a frame for ``out``, else the fields)."""

__all__ = ("RecordingConnection",)

_LIBRARY = "instamrkt-python"


class RecordingConnection(ClientConnection):
    """A ``ClientConnection`` whose inputs and outputs are written to ``sink`` as recording
    lines (``recording.py``). Secrets never reach the sink."""

    __slots__ = ("_batch_s", "_conn", "_depth", "_draws", "_held_wall", "_last_wall", "_lines",
                 "_on_finish", "_real_random", "_real_wall", "_secrets", "_sent_t", "_sink",
                 "_t", "_urgent")

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        sink: Callable[[bytes], object],
        wall_clock: Callable[[], int],
        random: Callable[[], float],
        config: ClientConfig | None = None,
        nonce_factory: Callable[[int], str] | None = None,
        flush_reports: bool = False,
        on_finish: Callable[[], object] | None = None,
        library: str = _LIBRARY,
        batch_ms: int = 100,
    ) -> None:
        self._sink = sink
        # What happened, kept raw until the batch is written (see _encode)
        self._lines: list[_Entry] = []
        self._batch_s = batch_ms / 1000
        self._sent_t = float("-inf")
        self._urgent = False
        self._on_finish = on_finish
        self._real_wall = wall_clock
        self._real_random = random
        self._held_wall: int | None = None
        self._draws: list[float] = []
        self._depth = 0
        self._conn = 0
        self._t = 0.0
        self._last_wall = 0
        self._secrets = Secrets()
        self._secrets.add(credentials.session_key)
        super().__init__(url, credentials, wall_clock=self._wall_read, random=self._draw,
                         config=config, nonce_factory=nonce_factory,
                         flush_reports=flush_reports)
        sink(encode_header(created=wall_clock(), user_id=credentials.user_id,
                           config=self.config, library=library))

    # -- what the core reads -----------------------------------------------------------------

    def _wall_read(self) -> int:
        held = self._held_wall
        return self._real_wall() if held is None else held

    def _draw(self) -> float:
        value = self._real_random()
        self._draws.append(value)
        return value

    # -- writing -----------------------------------------------------------------------------

    def _begin(self, now: float) -> bool:
        """Enter an input; False when this is a call the core made on itself."""
        self._depth += 1
        if self._depth > 1:
            return False
        self._held_wall = self._last_wall = self._real_wall()
        self._t = now
        return True

    def _end(self, kind: str, fields: dict[str, Any] | None = None) -> None:
        self._depth -= 1
        if self._depth:
            return
        wall = self._held_wall or 0
        self._held_wall = None
        if self._draws:
            fields = dict(fields or {})
            fields["r"] = self._draws
            self._draws = []
        self._lines.append((kind, self._t, wall, self._conn, fields))

    def _write(self, kind: str, fields: dict[str, Any]) -> None:
        self._lines.append((kind, self._t, self._wall_read(), self._conn, fields))

    def _input(self, kind: str, now: float, call: Callable[[], object],
               fields: dict[str, Any] | None = None) -> None:
        if not self._begin(now):
            call()
            self._depth -= 1
            return
        try:
            call()
        finally:
            self._end(kind, fields)

    # -- the core's outputs ------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        # No clock is read here: what goes out was made by the last input, so it carries that
        # input's times, and batches are timed on the core's own ``now``.
        # (The core's own data_to_send is this swap; done here, the hot path saves a call.)
        frames, self._out = self._out, []
        lines = self._lines
        if frames:
            t, wall, conn = self._t, self._last_wall, self._conn
            lines.extend([("out", t, wall, conn, frame) for frame in frames])
        if lines and (self._urgent or self._t - self._sent_t >= self._batch_s):
            self.flush_lines()
        return frames

    def flush_lines(self) -> None:
        """Hand every line kept so far to the sink now."""
        self._sent_t = self._t
        self._urgent = False
        if self._lines:
            entries, self._lines = self._lines, []
            self._sink(self._encode(entries))

    def _encode(self, entries: list[_Entry]) -> bytes:
        """The lines of a batch. Encoded here, in one loop, rather than as each message
        passes: the per-message path then only keeps a reference, which is most of what
        keeps recording cheap. Secrets are cut out now, with every secret known by now (a
        message is never kept past the batch that follows a new connection's digest)."""
        secrets = self._secrets
        lines: list[bytes] = []
        add = lines.append
        for kind, t, wall, conn, payload in entries:
            if kind == "in":
                message, draws = payload
                line = b'{"k":"in","t":%b,"w":%d,"c":%d,"d":%b' % (
                    _dumps(t), wall, conn, _dumps(secrets.incoming(message)))
                add(line + b',"r":' + _dumps(draws) + b"}\n" if draws else line + b"}\n")
            elif kind == "out":
                add(b'{"k":"out","t":%b,"w":%d,"c":%d,"d":%b}\n' % (
                    _dumps(t), wall, conn, _dumps(secrets.outgoing(payload))))
            else:
                add(encode_record(kind, t, wall, conn, payload))
        return b"".join(lines)

    def events_received(self) -> list[Event]:
        events = super().events_received()
        if not events:
            return events
        for event in events:
            if type(event) in _MARKED:
                self._mark(event)
        return events

    def _mark(self, event: Event) -> None:
        self._urgent = True  # lifecycle is what an incident is about: out at the next batch
        if isinstance(event, Connecting):
            digest = dict(parse_qsl(urlsplit(event.url).query)).get("h")
            if digest:
                self._secrets.add(digest, transient=True)
            self._write("mark", {"m": "connecting", "attempt": event.attempt})
        elif isinstance(event, Connected):
            self._write("mark", {"m": "connected"})
        elif isinstance(event, Reconnected):
            self._write("mark", {"m": "reconnected", "attempts": event.attempts})
        elif isinstance(event, Closed):
            final = event.reconnect_at is None
            self._write("mark", {"m": "closed" if final else "lost", "code": event.code,
                                 "reason": self._secrets.text(event.reason)})
            if final:
                self.flush_lines()
                if self._on_finish is not None:
                    finish, self._on_finish = self._on_finish, None
                    finish()

    # -- the core's inputs -------------------------------------------------------------------

    def connect(self, now: float) -> None:
        self._input("connect", now, lambda: super(RecordingConnection, self).connect(now))

    def close(self, now: float, reason: str = "closed by client") -> None:
        self._input("close", now,
                    lambda: super(RecordingConnection, self).close(now, reason),
                    {"reason": self._secrets.text(reason)})

    def send_request(self, op: int | str, params: Mapping[str, Any] | None = None, *,
                     now: float, timeout: float | None = DEFAULT,
                     idempotent: bool | None = None, expect: frozenset[int] | None = None,
                     retry: bool | None = None) -> int:
        if not self._begin(now):
            try:
                return super().send_request(op, params, now=now, timeout=timeout,
                                            idempotent=idempotent, expect=expect, retry=retry)
            finally:
                self._depth -= 1
        fields: dict[str, Any] = {"op": op}
        if params:
            fields["p"] = self._secrets.value(dict(params))
        if timeout is not DEFAULT:
            fields["to"] = timeout
        if idempotent is not None:
            fields["i"] = idempotent
        if expect is not None:
            fields["e"] = sorted(expect)
        if retry is not None:
            fields["rt"] = retry
        try:
            return super().send_request(op, params, now=now, timeout=timeout,
                                        idempotent=idempotent, expect=expect, retry=retry)
        except BaseException:
            fields["x"] = True
            raise
        finally:
            self._end("send_request", fields)

    def update_credentials(self, credentials: Credentials, now: float) -> None:
        if isinstance(credentials, Credentials):
            self._secrets.add(credentials.session_key)
            user = credentials.user_id
        else:
            user = None
        self._input("update_credentials", now,
                    lambda: super(RecordingConnection, self).update_credentials(credentials, now),
                    {"u": user})

    def refresh_failed(self, now: float, reason: str) -> None:
        self._input("refresh_failed", now,
                    lambda: super(RecordingConnection, self).refresh_failed(now, reason),
                    {"reason": self._secrets.text(reason)})

    def connection_made(self, now: float) -> None:
        if self._depth == 0:
            self._conn += 1
        self._input("connection_made", now,
                    lambda: super(RecordingConnection, self).connection_made(now))

    def connection_failed(self, now: float, status: int | None = None, reason: str = "") -> None:
        self._input("connection_failed", now,
                    lambda: super(RecordingConnection, self).connection_failed(now, status,
                                                                               reason),
                    {"status": status, "reason": self._secrets.text(reason)})

    def connection_lost(self, now: float, code: int | None = None, reason: str = "") -> None:
        self._input("connection_lost", now,
                    lambda: super(RecordingConnection, self).connection_lost(now, code, reason),
                    {"code": code, "reason": self._secrets.text(reason)})

    def receive_too_big(self, size: int, now: float) -> None:
        self._input("receive_too_big", now,
                    lambda: super(RecordingConnection, self).receive_too_big(size, now),
                    {"size": size})

    def flushed(self, now: float) -> None:
        self._input("flushed", now, lambda: super(RecordingConnection, self).flushed(now))

    def reading_paused(self, now: float) -> None:
        self._input("reading_paused", now,
                    lambda: super(RecordingConnection, self).reading_paused(now))

    def reading_resumed(self, now: float) -> None:
        self._input("reading_resumed", now,
                    lambda: super(RecordingConnection, self).reading_resumed(now))

    def receive_messages(self, messages: Iterable[bytes | str], now: float) -> None:
        # One record per message, each its own call: a random number drawn while one
        # message is handled (a refused logon backs off) is then written with that message.
        # (The hot path of a recording: _begin and _end written out.)
        if self._depth:
            super().receive_messages(messages, now)
            return
        add, receive = self._lines.append, super().receive_messages
        self._t = now
        for message in messages:
            self._depth = 1
            wall = self._held_wall = self._last_wall = self._real_wall()
            try:
                receive((message,), now)
            finally:
                self._depth = 0
                self._held_wall = None
                draws = self._draws
                if draws:
                    self._draws = []
                add(("in", now, wall, self._conn, (message, draws)))

    def handle_timer(self, now: float) -> None:
        self._input("handle_timer", now,
                    lambda: super(RecordingConnection, self).handle_timer(now))
