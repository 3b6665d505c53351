"""Connection attempts: each gets a fresh nonce, the digest URL it signs, and a deadline.

Kept apart from the session because it owns the credentials and the nonce sequence: the
session only asks for the next attempt. The nonce is epoch milliseconds from the injected
wall clock, made strictly increasing so two attempts within one millisecond still differ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson

from .auth import Credentials, connection_url
from .events import Connecting

__all__ = ("Dialer",)

log = logging.getLogger("instamrkt_proto.client")


class Dialer:
    __slots__ = ("_last_nonce", "_nonce_factory", "_timeout", "_wall", "credentials",
                 "deadline", "key_json", "url")

    def __init__(self, url: str, credentials: Credentials, wall: Callable[[], int],
                 nonce_factory: Callable[[int], str] | None, timeout: float | None) -> None:
        self.url = url
        self.credentials = credentials
        self.key_json = orjson.dumps(credentials.session_key)  # spliced into every header
        self.deadline: float | None = None  # the current attempt's, while one is under way
        self._wall = wall
        self._nonce_factory = nonce_factory
        self._timeout = timeout
        self._last_nonce = 0

    def attempt(self, now: float, number: int) -> Connecting:
        """The event that asks the transport for attempt ``number``, started at ``now``."""
        wall = self._wall()
        if self._nonce_factory is not None:
            nonce = self._nonce_factory(wall)
        else:
            self._last_nonce = max(wall, self._last_nonce + 1)
            nonce = str(self._last_nonce)
        event = Connecting(url=connection_url(self.url, self.credentials, nonce), attempt=number)
        log.info("connecting to %s (attempt %d)", event.redacted_url, number)
        self.deadline = None if self._timeout is None else now + self._timeout
        return event
