"""Connection attempts and the credentials they are signed with.

Each attempt gets a fresh nonce, the digest URL it signs, and a deadline. The nonce is epoch
milliseconds from the injected wall clock, made strictly increasing so two attempts within
one millisecond still differ.

The credentials can be replaced while the session lives (keys last 24 hours): this part
remembers a key the server refused (a provider that hands it back is not believed), counts
the refreshes since the key was last proven good (so a provider whose keys keep being
refused cannot loop), and knows when a key is old enough to be refreshed ahead of expiry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson

from .auth import Credentials, connection_url
from .events import Connecting

__all__ = ("Dialer",)

log = logging.getLogger("instamrkt_proto.client")


def _json(text: str) -> bytes:
    """``text`` as JSON, in a bytes object of its own size: orjson's result keeps a buffer of
    a few KiB, which a value held for the life of the session should not."""
    return bytes(memoryview(orjson.dumps(text)))


class Dialer:
    __slots__ = (
        "_last_nonce",
        "_max_age",
        "_nonce_factory",
        "_timeout",
        "_wall",
        "credentials",
        "deadline",
        "key_json",
        "refresh_at",
        "refreshed",
        "refreshes",
        "refused_at_handshake",
        "refused_key",
        "url",
    )

    def __init__(self, url: str, credentials: Credentials, wall: Callable[[], int],
                 nonce_factory: Callable[[int], str] | None, timeout: float | None,
                 max_age: float | None = None) -> None:
        self.url = url
        self.credentials = credentials
        self.key_json = _json(credentials.session_key)  # spliced into every header
        self.deadline: float | None = None  # the current attempt's, while one is under way
        self.refused_key: str | None = None  # the key the server last refused
        self.refused_at_handshake = False  # ... at a handshake (else: by a logon 110)
        self.refreshes = 0  # refreshes since the key was last proven good
        self.refreshed = False  # replaced after a refusal, since the last (Re)connected
        self.refresh_at: float | None = None  # when to ask for a fresh key ahead of expiry
        self._max_age = max_age
        self._wall = wall
        self._nonce_factory = nonce_factory
        self._timeout = timeout
        self._last_nonce = 0

    def obtained(self, now: float) -> None:
        """The current credentials are fresh as of ``now`` (start of their age)."""
        self.refresh_at = None if self._max_age is None else now + self._max_age

    def refused(self, *, at_handshake: bool) -> None:
        self.refused_key = self.credentials.session_key
        self.refused_at_handshake = at_handshake
        self.refreshes += 1
        self.refresh_at = None  # the refresh this asks for re-arms it (or the session ends)

    def proven(self) -> None:
        """The server accepted the key (a handshake after a refused one, or a logon)."""
        self.refreshes = 0
        self.refused_key = None

    def replace(self, credentials: Credentials, now: float) -> bool:
        """Use ``credentials`` from now on; False if they hold the key just refused."""
        if credentials.session_key == self.refused_key:
            return False
        self.credentials = credentials
        self.key_json = _json(credentials.session_key)
        self.obtained(now)
        return True

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
