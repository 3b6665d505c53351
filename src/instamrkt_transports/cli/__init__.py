"""The ``instamrkt`` command line.

* ``commands``: argument parsing and the commands (``main``).
* ``session``: credentials (environment or REST login) and a client on any transport.
* ``output``: exit codes, one-line errors, text or JSON lines.
* ``demo``: ``instamrkt demo``, a whole session against an embedded reference server.

Imports run one way: ``commands`` uses the other three; ``demo`` uses ``session`` and
``output``; nothing here is imported by the library.
"""

from __future__ import annotations

from .commands import build_parser, main
from .output import EXIT_CODES

__all__ = ("EXIT_CODES", "build_parser", "main")
