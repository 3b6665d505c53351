"""Credentials, the handshake digest and the connection URL (spec: General / Connecting).

The spec's digest sample is Python 2 code that feeds ``str`` to hashlib; we encode each part
as UTF-8 and hash ``user_id || nonce || session_key`` with no separator, which is what that
sample computes. The nonce always comes from the caller: the core owns no clock and no
random source.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode, urlsplit, urlunsplit

import attrs

from .errors import LocalProtocolError

__all__ = ("Credentials", "connection_url", "digest")


def _to_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"user_id must be str or int, not {type(value).__name__}")
    return str(value)


def _user_id(value: object) -> str:
    text = _to_text(value)
    if not text:
        raise LocalProtocolError("user_id must not be empty")
    return text


@attrs.frozen(slots=True)
class Credentials:
    """A user id and session key, as returned by the REST login.

    The session key never appears in ``repr`` or ``str``. Integer user ids are accepted and
    kept as their decimal text, since the id goes on the wire as text.
    """

    user_id: str = attrs.field(converter=_user_id)
    session_key: str = attrs.field(repr=False)

    @session_key.validator
    def _check_key(self, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value:
            raise LocalProtocolError("session_key must be a non-empty str")

    def digest(self, nonce: str) -> str:
        """The ``h`` query parameter for ``nonce``."""
        return digest(self.user_id, nonce, self.session_key)


def digest(user_id: str | int, nonce: str | int, session_key: str) -> str:
    """Lowercase hex SHA-256 of ``user_id + nonce + session_key``, each UTF-8 encoded."""
    sha = hashlib.sha256()
    sha.update(_to_text(user_id).encode())
    sha.update(str(nonce).encode())
    sha.update(session_key.encode())
    return sha.hexdigest()


def connection_url(base: str, credentials: Credentials, nonce: str | int) -> str:
    """``base`` with ``id``, ``n`` and ``h`` set in its query string.

    An existing query on ``base`` is kept; an empty path becomes ``/`` (the spec writes
    ``wss://host:9999?id=...`` with no path, and the request target must be ``/?id=...``).
    """
    parts = urlsplit(base)
    if parts.scheme not in ("ws", "wss"):
        raise LocalProtocolError(f"URL scheme must be ws or wss, not {parts.scheme!r}")
    if not parts.hostname:
        raise LocalProtocolError("URL has no host")
    query = urlencode(
        {"id": credentials.user_id, "n": str(nonce), "h": credentials.digest(str(nonce))}
    )
    if parts.query:
        query = f"{parts.query}&{query}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))
