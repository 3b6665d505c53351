"""Replaying a recording through the core: the recorded inputs, fed back in order.

``replay(source)`` builds a fresh ``ClientConnection`` with the recording's config and
calls, for every input record, the method that took it live, with the same arguments and
``now``; its wall clock answers the recorded milliseconds and its random source the recorded
draws. It yields every event the core emits, in order: the same typed replies, pushes and
lifecycle events as the live session (``Connecting`` carries a URL signed with a stand-in
key, since the key was never recorded). There is one path: no fast path skips the decoding
or the correlation.

With ``check=True`` (the default) every message the replayed core sends is compared with
the recorded one (both with the key scrubbed); the first difference raises
``ReplayDiverged``: the library (or the recording) changed since it was made.

The events are plain values, so a fold over them (a P&L, a bot's state) is a loop:
``for event in replay(path): state = fold(state, event)``. The market mirror is built in:
``replay(path, mirror=True)`` yields each event with the mirror's changes and state.
"""

from __future__ import annotations

import gzip
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Literal, overload

import attrs
import orjson

from .auth import Credentials
from .client import ClientConnection
from .config import DEFAULT
from .events import Event
from .mirror import Change, MarketMirror
from .recording import (
    HEADER,
    INPUTS,
    Header,
    RecordingError,
    Secrets,
    decode_params,
    raw_records,
    read_header,
)

__all__ = ("MirrorStep", "ReplayDiverged", "open_recording", "replay", "replay_lines")

_STAND_IN_KEY = "replay-key"


class ReplayDiverged(RecordingError):
    """The replayed core sent something other than what the live session sent."""



def open_recording(source: str | os.PathLike[str] | IO[bytes] | Iterable[bytes | str]
                   ) -> tuple[Iterator[bytes | str], Callable[[], None]]:
    """Lines of a recording (a path, ``.gz`` decompressed; an open binary file; or lines)
    and how to close what was opened here."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.endswith(".zst"):
            raise RecordingError("zstandard recordings are not supported: record to .gz")
        raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by the returned callable
        stream: IO[bytes] = raw
        if path.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]

        def close() -> None:
            stream.close()
            raw.close()
        return iter(stream), close
    return iter(source), lambda: None


@attrs.frozen(slots=True)
class MirrorStep:
    """One replayed event with what it changed in the market mirror, and the mirror itself.

    ``mirror`` is the same ``MarketMirror`` at every step, already holding the state after
    ``event``: read it at once, or keep ``mirror.snapshot()`` to compare steps later.
    """

    event: Event
    changes: tuple[Change, ...]
    mirror: MarketMirror


@overload
def replay(source: str | os.PathLike[str] | IO[bytes] | Iterable[bytes | str], *,
           check: bool = ..., mirror: Literal[False] = ...) -> Iterator[Event]: ...
@overload
def replay(source: str | os.PathLike[str] | IO[bytes] | Iterable[bytes | str], *,
           check: bool = ..., mirror: Literal[True]) -> Iterator[MirrorStep]: ...
def replay(source: str | os.PathLike[str] | IO[bytes] | Iterable[bytes | str], *,
           check: bool = True, mirror: bool = False) -> Iterator[Event] | Iterator[MirrorStep]:
    """The events a recording's session produced, produced again by a fresh core.

    With ``mirror=True`` each event comes as a ``MirrorStep``: the event, applied to a
    ``MarketMirror`` of the recorded user (the header's ``user_id``), with the changes it
    made. The mirror is fed exactly what a live client with ``mirror=True`` feeds it, so a
    replayed mirror ends where the live one did.
    """
    if mirror:
        return _with_mirror(source, check)
    return _events(source, check)


def _events(source: str | os.PathLike[str] | IO[bytes] | Iterable[bytes | str],
            check: bool) -> Iterator[Event]:
    lines, close = open_recording(source)
    try:
        yield from replay_lines(lines, check=check)
    finally:
        close()


def _with_mirror(source: str | os.PathLike[str] | IO[bytes] | Iterable[bytes | str],
                 check: bool) -> Iterator[MirrorStep]:
    lines, close = open_recording(source)
    try:
        first = next(lines, None)
        if first is None:
            raise RecordingError("the recording is empty")
        header = read_header(first)
        folded = MarketMirror(header.user_id)
        for event in replay_lines(lines, check=check, header=header):
            yield MirrorStep(event, folded.apply(event), folded)
    finally:
        close()


class _Feed:
    """The recorded wall clock and random draws, served to the replayed core."""

    __slots__ = ("draws", "wall")

    def __init__(self, wall: int) -> None:
        self.wall = wall
        self.draws: deque[float] = deque()

    def read_wall(self) -> int:
        return self.wall

    def draw(self) -> float:
        if not self.draws:
            raise ReplayDiverged("the replayed core drew a random number the live one did not")
        return self.draws.popleft()


def replay_lines(lines: Iterable[bytes | str], *, check: bool = True,
                 header: Header | None = None) -> Iterator[Event]:
    """``replay`` over lines already opened (the header line first, unless ``header``)."""
    it = iter(lines)
    if header is None:
        first = next(it, None)
        if first is None:
            raise RecordingError("the recording is empty")
        header = read_header(first)
    feed = _Feed(header.created)
    keys = 0
    core = _fresh_core(header, feed)
    secrets = Secrets()
    secrets.add(_STAND_IN_KEY)
    sent: deque[str] = deque()
    # Messages the live core took one call each, at the same now and wall millisecond,
    # are given in one call: the same per-message work, one call's overhead.
    batch: list[str] = []
    batch_t, batch_w = 0.0, 0

    def flush() -> list[Event]:
        feed.wall = batch_w
        core.receive_messages(batch, batch_t)
        batch.clear()
        frames = core.data_to_send()
        if check:
            sent.extend(secrets.outgoing(frame) for frame in frames)
        return core.events_received()

    for data in raw_records(it):
        kind = data["k"]
        if kind == "in" and "r" not in data:
            t, w = data["t"], data["w"]
            if batch and (t != batch_t or w != batch_w):
                yield from flush()
            batch_t, batch_w = t, w
            batch.append(data["d"])
            continue
        if batch:
            yield from flush()
        if kind == "out":
            if check:
                _check_sent(sent, data["d"])
            continue
        if kind == HEADER:  # the file was appended to: the next session starts afresh
            header = read_header(orjson.dumps({k: v for k, v in data.items() if k != "k"}))
            if check and sent:
                raise ReplayDiverged(f"the replay sent {sent[0][:200]!r}; the live session "
                                     "sent nothing more")
            feed, keys = _Feed(header.created), 0
            core = _fresh_core(header, feed)
            continue
        if kind not in INPUTS:
            continue  # marks, and kinds a later version added
        now = data["t"]
        feed.wall = data["w"]
        draws = data.get("r")
        if draws:
            feed.draws.extend(draws)
        if kind == "in":
            core.receive_messages((data["d"],), now)
        else:
            keys = _call(core, kind, data, now, keys)
        frames = core.data_to_send()
        if check:
            sent.extend(secrets.outgoing(frame) for frame in frames)
        yield from core.events_received()
    if batch:
        yield from flush()


def _fresh_core(header: Header, feed: _Feed) -> ClientConnection:
    credentials = Credentials(header.user_id or "0", _STAND_IN_KEY)
    return ClientConnection("ws://recorded.invalid/", credentials, wall_clock=feed.read_wall,
                            random=feed.draw, config=header.config)


def _check_sent(sent: deque[str], recorded: str) -> None:
    if not sent:
        raise ReplayDiverged(f"the live session sent {recorded[:200]!r}; the replay sent "
                             "nothing")
    mine = sent.popleft()
    if mine != recorded:
        raise ReplayDiverged(f"the live session sent {recorded[:200]!r}; the replay sent "
                             f"{mine[:200]!r}")


def _call(core: ClientConnection, kind: str, data: dict[str, Any], now: float,
          keys: int) -> int:
    """Call the core method an input record names, as the live session did."""
    if kind == "send_request":
        try:
            core.send_request(data["op"], decode_params(data.get("p")), now=now,
                              timeout=data.get("to", DEFAULT) if "to" in data else DEFAULT,
                              idempotent=data.get("i"),
                              expect=frozenset(data["e"]) if data.get("e") is not None else None,
                              retry=data.get("rt"))
        except Exception:
            if not data.get("x"):
                raise
        return keys
    if kind == "connect":
        core.connect(now)
    elif kind == "close":
        core.close(now, data.get("reason", "closed by client"))
    elif kind == "connection_made":
        core.connection_made(now)
    elif kind == "connection_failed":
        core.connection_failed(now, data.get("status"), data.get("reason", ""))
    elif kind == "connection_lost":
        core.connection_lost(now, data.get("code"), data.get("reason", ""))
    elif kind == "receive_too_big":
        core.receive_too_big(int(data["size"]), now)
    elif kind == "flushed":
        core.flushed(now)
    elif kind == "reading_paused":
        core.reading_paused(now)
    elif kind == "reading_resumed":
        core.reading_resumed(now)
    elif kind == "handle_timer":
        core.handle_timer(now)
    elif kind == "update_credentials":
        keys += 1
        core.update_credentials(Credentials(data.get("u") or "0", f"{_STAND_IN_KEY}-{keys}"),
                                now)
    elif kind == "refresh_failed":
        core.refresh_failed(now, data.get("reason", ""))
    return keys
