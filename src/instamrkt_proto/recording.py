"""The recording file format: what a recorded session looks like on disk, read and written.

A recording is JSON lines (UTF-8, one object per line). The first line is the header::

    {"format": "instamrkt-recording", "version": 1, "created": <epoch ms>,
     "user_id": "17", "config": {...ClientConfig...}, "library": "instamrkt-python 0.1.0"}

Every other line is one record: ``k`` its kind, ``t`` the monotonic seconds the caller
passed to the core, ``w`` the wall clock (epoch ms) the core read during that call, ``c`` the
connection number (0 before the first connection, then 1, 2... one per connection made), and
the kind's own fields. The kinds are the core's inputs, named after the ``ClientConnection``
method that took them (so a replay calls the same method with the same arguments), its
outputs, and marks:

========================  ==========================================================
``in``                    one message received (``d``: its text, secrets scrubbed)
``out``                   one message sent (``d``: its text, secrets scrubbed)
``send_request``          a request of the application (``op``, ``p`` params, ``to``
                          timeout, ``i`` idempotent, ``e`` expect, ``rt`` retry,
                          ``x`` true when the call raised)
``connect``, ``close``    the caller's actions (``reason``)
``connection_made``,      transport reports (``status``, ``code``, ``reason``, ``size``)
``connection_failed``,
``connection_lost``,
``receive_too_big``,
``flushed``,
``reading_paused``,
``reading_resumed``
``handle_timer``          the timer fired
``update_credentials``    new credentials (``u``: the user id; never the key)
``refresh_failed``        no new credentials (``reason``)
``mark``                  lifecycle, written when the core emits it (``m``: connecting,
                          connected, reconnected, lost, closed; ``reason``)
========================  ==========================================================

An input record may carry ``r``: the random numbers the core drew during that call (backoff
jitter), so a replay draws the same. A replay reads the inputs and ignores the rest;
``out`` records let it check it sent what the live session sent.

Secrets: every request header carries the session key; it is replaced by ``"*"``. The
digest URL is never written (``Connecting`` becomes a mark without it). Any known key or
digest found in any text (a message, a reason) is replaced by ``*`` too. A reader of a newer
``version`` is refused with ``RecordingError``; a record kind it does not know is skipped.

This module does no I/O: the writer returns bytes and the reader takes lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import attrs
import orjson

from .config import ClientConfig
from .errors import InstamrktError

__all__ = ("FORMAT", "HEADER", "INPUTS", "VERSION", "Header", "Record", "RecordingError", "Secrets",
           "config_from_json", "config_to_json", "decode_params", "encode_header",
           "encode_record", "raw_records", "read_header", "read_records")

FORMAT = "instamrkt-recording"
VERSION = 1

INPUTS = frozenset({
    "in", "send_request", "connect", "close", "connection_made", "connection_failed",
    "connection_lost", "receive_too_big", "flushed", "reading_paused", "reading_resumed",
    "handle_timer", "update_credentials", "refresh_failed",
})
"""Record kinds that are inputs to the core: what a replay feeds back."""

HEADER = "$header"
"""The kind ``raw_records`` gives a header line met after the first (an appended session)."""

_dumps = orjson.dumps
REDACTED = "*"
_HEAD_TEXT = '{"header":{"session_key":'
_HEAD_SIZE = len(_HEAD_TEXT)
_AFTER_KEY_TEXT = ',"t":'
_REDACTED_HEAD = f'{_HEAD_TEXT}"{REDACTED}"'


class RecordingError(InstamrktError):
    """A recording that cannot be read: not one, a newer version, or a broken line."""


@attrs.frozen(slots=True)
class Header:
    """The first line of a recording."""

    version: int
    created: int
    user_id: str | None
    config: ClientConfig
    library: str


@attrs.frozen(slots=True)
class Record:
    """One line after the header: ``kind``, times, connection number, the kind's fields."""

    kind: str
    t: float
    wall: int
    conn: int
    fields: dict[str, Any] = attrs.field(factory=dict)


def config_to_json(config: ClientConfig) -> dict[str, Any]:
    return attrs.asdict(config)


def config_from_json(data: dict[str, Any]) -> ClientConfig:
    """The ``ClientConfig`` a header holds (unknown keys from a later minor change ignored)."""
    from ._timing import Backoff, RateLimit

    if not isinstance(data, dict):
        raise RecordingError("the recording's config is not an object")
    numbers = {a.name for a in attrs.fields(ClientConfig)
               if isinstance(a.default, (int, float)) or a.default is None}
    known = {a.name for a in attrs.fields(ClientConfig)}
    values = {k: v for k, v in data.items() if k in known}
    for name in numbers & set(values):
        value = values[name]
        if value is not None and not isinstance(value, (int, float, dict)):
            raise RecordingError(f"the recording's config is not valid: {name}={value!r}")
    if isinstance(values.get("backoff"), dict):
        values["backoff"] = Backoff(**values["backoff"])
    if isinstance(values.get("rate_limit"), dict):
        values["rate_limit"] = RateLimit(**values["rate_limit"])
    try:
        return ClientConfig(**values)
    except (TypeError, ValueError) as exc:
        raise RecordingError(f"the recording's config is not valid: {exc}") from None


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot record a {type(value).__name__}")


def encode_header(*, created: int, user_id: str | None, config: ClientConfig,
                  library: str) -> bytes:
    return orjson.dumps({"format": FORMAT, "version": VERSION, "created": created,
                         "user_id": user_id, "config": config_to_json(config),
                         "library": library}) + b"\n"


def encode_record(kind: str, t: float, wall: int, conn: int,
                  fields: dict[str, Any] | None = None) -> bytes:
    """One record line. Values orjson cannot write: ``Decimal`` becomes ``{"$decimal": s}``
    (``decode_params`` turns it back), sets and tuples lists."""
    # The fixed keys formatted, the fields spliced in after them: cheaper than a merged dict
    # on the path every request takes.
    head = b'{"k":%b,"t":%b,"w":%d,"c":%d' % (_dumps(kind), _dumps(t), wall, conn)
    if not fields:
        return head + b"}\n"
    return head + b"," + _dumps(fields, default=_default)[1:] + b"\n"


def decode_params(value: Any) -> Any:
    """Recorded request parameters as the application passed them (``Decimal`` restored)."""
    if isinstance(value, dict):
        if len(value) == 1 and "$decimal" in value:
            return Decimal(value["$decimal"])
        return {k: decode_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_params(v) for v in value]
    return value


def read_header(line: bytes | str) -> Header:
    """The header line, checked: the format's name, a version this reader knows."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise RecordingError("not an instamrkt recording: the first line is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RecordingError("not an instamrkt recording: no header line")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise RecordingError(f"recording version {version!r} is not valid")
    if version > VERSION:
        raise RecordingError(f"recording version {version} is newer than this library reads "
                             f"({VERSION}): upgrade instamrkt")
    user_id = data.get("user_id")
    return Header(version=version, created=int(data.get("created") or 0),
                  user_id=None if user_id is None else str(user_id),
                  config=config_from_json(data.get("config", {})),
                  library=str(data.get("library", "")))


def raw_records(lines: Iterator[bytes | str]) -> Iterator[dict[str, Any]]:
    """The record lines after the header as dicts, lazily; a broken line is an error
    except a last line cut short (a recording whose writer was killed mid-line)."""
    loads = orjson.loads
    for number, line in enumerate(lines, 2):
        try:
            data = loads(line)
        except orjson.JSONDecodeError:
            data = NOT_JSON
        if type(data) is not dict or "k" not in data:
            data = odd_line(line, data, number)
            if data is None:
                continue
            if data is CUT_SHORT:
                return
        yield data


CUT_SHORT: dict[str, Any] = {}
"""What ``odd_line`` gives for the cut-off tail of a recording whose writer died: the end."""
NOT_JSON = object()
"""What a line that is not JSON is given to ``odd_line`` as."""


def odd_line(line: bytes | str, data: Any, number: int) -> dict[str, Any] | None:
    """A line that is not a plain record (``data``: what it parsed to, or ``NOT_JSON``): a
    later session's header as a record of kind ``HEADER``, None for a blank line,
    ``CUT_SHORT`` for a last line cut short, else ``RecordingError``. Kept apart so that
    the readers' loops hold only the usual case."""
    if data is NOT_JSON:
        if not line.strip():
            return None
        if not (line.endswith(b"\n") if isinstance(line, bytes) else line.endswith("\n")):
            return CUT_SHORT
        raise RecordingError(f"line {number} of the recording is not JSON")
    if isinstance(data, dict) and data.get("format") == FORMAT:
        data["k"] = HEADER  # a later session appended to the same file
        return data
    raise RecordingError(f"line {number} of the recording is not a record")


def read_records(lines: Iterable[bytes | str]) -> tuple[Header, Iterator[Record]]:
    """The header and a lazy iterator of the records of a recording's lines (a file opened
    in binary mode is such an iterable; it is read one line at a time, never whole)."""
    it = iter(lines)
    first = next(it, None)
    if first is None:
        raise RecordingError("the recording is empty")
    header = read_header(first)

    def records() -> Iterator[Record]:
        for data in raw_records(it):
            kind = data.pop("k")
            yield Record(kind=str(kind), t=float(data.pop("t", 0.0)),
                         wall=int(data.pop("w", 0)), conn=int(data.pop("c", 0)), fields=data)

    return header, records()


class Secrets:
    """The secrets a recording must not hold, and the replacing of them.

    Every outgoing message's header carries the session key: it is cut out by position
    (the codec writes that header first, the key then ``,"t":``, and a JSON string cannot
    hold an unescaped quote). A known key or digest anywhere else in a message (as written,
    or JSON-escaped) makes the message be parsed, every string holding it replaced by
    ``*``, and written again, so the line stays valid JSON. Plain text (a close reason) has
    the secret replaced in place.
    """

    __slots__ = ("_forms", "_kept", "_recent", "_values")

    RECENT = 4
    """Transient secrets (digests: one per connection attempt) remembered at once; older
    ones are dropped, so a session that reconnected a thousand times does not check every
    message for a thousand strings."""

    def __init__(self) -> None:
        self._kept: list[str] = []
        self._recent: list[str] = []
        self._values: list[str] = []
        self._forms: list[str] = []  # each secret as written and as a JSON string holds it

    def add(self, secret: str, *, transient: bool = False) -> None:
        """Never write ``secret``; a ``transient`` one only while it is among the last
        ``RECENT`` transient ones added."""
        if not secret or secret in self._values:
            return
        if transient:
            self._recent = [*self._recent, secret][-self.RECENT:]
        else:
            self._kept.append(secret)
        self._values = self._kept + self._recent
        forms: list[str] = []
        for value in self._values:
            for form in (value, orjson.dumps(value).decode()[1:-1]):
                if form not in forms:
                    forms.append(form)
        self._forms = forms

    def text(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def value(self, value: Any) -> Any:
        """``value`` (JSON-like) with every string holding a secret replaced by ``*``."""
        if isinstance(value, str):
            return REDACTED if any(s in value for s in self._values) else value
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def _message(self, text: str) -> str:
        """``text`` (a message known to hold a secret) with every string holding one
        replaced."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            return self.text(text)  # not JSON anyway: keep what is left readable
        return orjson.dumps(self.value(data)).decode()

    def outgoing(self, frame: bytes | str) -> str:
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        if text.startswith(_HEAD_TEXT):
            end = text.find(_AFTER_KEY_TEXT, _HEAD_SIZE)
            if end > 0:
                text = _REDACTED_HEAD + text[end:]
        for form in self._forms:
            if form in text:
                return self._message(text)
        return text

    def incoming(self, message: bytes | str) -> str:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        for form in self._forms:
            if form in text:
                return self._message(text)
        return text
