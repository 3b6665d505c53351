"""The ``record=`` option: a recording core writing to a file (the format is the core's,
``instamrkt_proto.recording``; this module only owns the file).

A path is opened for appending (a second session in the same file starts with its own
header line). A plain file gets every line written through at once, so a crash loses
nothing the core had handled; a ``.gz`` file is compressed with the standard library's
gzip and flushed at each lifecycle mark and when the session ends (compression needs
blocks: a crash loses the last unflushed lines). ``.zst`` is refused: zstandard would be
a dependency for a few percent of size over gzip on text this repetitive.
An open binary file is written to and flushed, never closed: it is the caller's.
"""

from __future__ import annotations

import gzip
import os
import random
from collections.abc import Callable
from typing import IO

from instamrkt_proto import Credentials
from instamrkt_proto.recorder import RecordingConnection
from instamrkt_proto.recording import RecordingError

from ..options import Options

__all__ = ("RecordSink", "recording_core")

_MARK = b'"k":"mark"'


class RecordSink:
    """Where recording lines go: a file opened here (closed by ``close``) or the caller's."""

    __slots__ = ("_compressed", "_file", "_owned", "closed")

    def __init__(self, target: str | os.PathLike[str] | IO[bytes]) -> None:
        self.closed = False
        if isinstance(target, (str, os.PathLike)):
            path = os.fspath(target)
            if path.endswith(".zst"):
                raise RecordingError("record: zstandard (.zst) is not supported; use a .gz "
                                     "path for a compressed recording")
            self._compressed = path.endswith(".gz")
            # Closed by close(), when the session ends: no context manager can span that.
            self._file: IO[bytes] = (
                gzip.open(path, "ab") if self._compressed  # type: ignore[assignment]  # noqa: SIM115
                else open(path, "ab"))  # noqa: SIM115
            self._owned = True
        elif hasattr(target, "write"):
            if isinstance(target, (str, bytes)) or "b" not in getattr(target, "mode", "b"):
                raise RecordingError("record: an open file must be opened in binary mode")
            self._file = target
            self._compressed = isinstance(target, gzip.GzipFile)
            self._owned = False
        else:
            raise RecordingError(f"record must be a path or an open binary file, not "
                                 f"{type(target).__name__}")

    def write(self, line: bytes) -> None:
        if self.closed:
            return
        self._file.write(line)
        if not self._compressed or _MARK in line:
            self._file.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._owned:
            self._file.close()
        else:
            self._file.flush()


def recording_core(url: str, credentials: Credentials, options: Options,
                   flush_reports: bool, wall_clock: Callable[[], int]) -> RecordingConnection:
    """The core for a client with ``record=``: every input and output goes to the file."""
    assert options.record is not None
    sink = RecordSink(options.record)
    return RecordingConnection(url, credentials, sink=sink.write, on_finish=sink.close,
                               wall_clock=wall_clock,
                               random=random.random, config=options.config,
                               flush_reports=flush_reports)
