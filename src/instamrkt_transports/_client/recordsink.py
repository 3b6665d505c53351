"""The ``record=`` option: a recording core writing to a file (the format is the core's,
``instamrkt_proto.recording``; this module only owns the file).

A path is opened for appending (a second session in the same file starts with its own
header line). The recording core hands lines over in batches (``RecordingConnection``):
at every lifecycle mark, when the session ends, and otherwise after each input once 0.1 s
have passed since the last batch; each batch is written through to the OS at once (a
system call per line would cost a recording session more than a tenth of its
throughput). A process killed outright loses the lines of its last 0.1 s (or, on a session
that went quiet, those since its last input); a ``close()``, Ctrl-C or SIGTERM that the
program handles loses nothing. A ``.gz`` path is
compressed with the standard library's gzip (one compressed member per session).
``.zst`` is refused: zstandard would be a dependency for a few percent of size over gzip on
text this repetitive.
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



class RecordSink:
    """Where recording lines go: a file opened here (closed by ``close``) or the caller's."""

    __slots__ = ("_file", "_owned", "closed")

    def __init__(self, target: str | os.PathLike[str] | IO[bytes]) -> None:
        self.closed = False
        if isinstance(target, (str, os.PathLike)):
            path = os.fspath(target)
            if path.endswith(".zst"):
                raise RecordingError("record: zstandard (.zst) is not supported; use a .gz "
                                     "path for a compressed recording")
            # Closed by close(), when the session ends: no context manager can span that.
            raw: IO[bytes] = open(path, "ab")  # noqa: SIM115
            self._file = raw
            if path.endswith(".gz"):
                # Level 3: most of the size win at a fraction of the default level's CPU.
                self._file = gzip.GzipFile(fileobj=raw, mode="ab",  # type: ignore[assignment]
                                           compresslevel=3)
            self._owned = True
        elif hasattr(target, "write"):
            if isinstance(target, (str, bytes)) or "b" not in getattr(target, "mode", "b"):
                raise RecordingError("record: an open file must be opened in binary mode")
            self._file = target
            self._owned = False
        else:
            raise RecordingError(f"record must be a path or an open binary file, not "
                                 f"{type(target).__name__}")

    def write(self, lines: bytes) -> None:
        """Write a batch of whole lines through to the OS."""
        if self.closed:
            return
        self._file.write(lines)
        self._file.flush()

    def close(self) -> None:
        if self.closed:
            return
        self._file.flush()
        self.closed = True
        if self._owned:
            inner = getattr(self._file, "fileobj", None)
            self._file.close()
            if inner is not None:
                inner.close()


def recording_core(url: str, credentials: Credentials, options: Options,
                   flush_reports: bool, wall_clock: Callable[[], int]) -> RecordingConnection:
    """The core for a client with ``record=``: every input and output goes to the file."""
    assert options.record is not None
    sink = RecordSink(options.record)
    return RecordingConnection(url, credentials, sink=sink.write, on_finish=sink.close,
                               wall_clock=wall_clock,
                               random=random.random, config=options.config,
                               flush_reports=flush_reports)
