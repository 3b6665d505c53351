"""``ServerThread`` by the path test suites have always imported it from.

It lives in ``instamrkt_transports.server.thread``; ``instamrkt_transports.server`` and
``instamrkt_transports.rehearsal`` export it too.
"""

from __future__ import annotations

from .server.thread import ServerThread

__all__ = ("ServerThread",)
