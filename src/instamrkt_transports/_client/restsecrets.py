"""What of the REST calls' text may reach a message or a log, and how secrets are kept out.

Apart from the calls because it is the one place that decides what a user may see: every
error the REST functions raise takes server or httpx text through ``shown``, and importing
this module installs the filter that keeps session keys out of httpcore's DEBUG log.
"""

from __future__ import annotations

import logging
import re
import urllib.parse

__all__ = ("MSG_LIMIT", "WITHHELD", "Secrets", "shown")

MSG_LIMIT = 500
WITHHELD = "(withheld: it contains the password or the session key)"
"""What a message shows instead of server or library text that holds a secret."""


# -- keeping secrets out of httpcore's DEBUG log ----------------------------------------------


_COOKIE_HEADER = re.compile(r"""(b(['"])(?:set-cookie|cookie)\2,\s*b)(['"])(?:\\.|(?!\3).)*\3""",
                            re.IGNORECASE)


class _RedactCookies(logging.Filter):
    """Blanks cookie header values in httpcore's records, which log headers verbatim."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "cookie" in message.lower():
            record.msg = _COOKIE_HEADER.sub(r"\1\3[redacted]\3", message)
            record.args = None
        return True


def _install_log_filter() -> None:
    for name in ("httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
                 "httpcore.socks"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactCookies) for f in logger.filters):
            logger.addFilter(_RedactCookies())


_install_log_filter()


# -- text that may reach a message ------------------------------------------------------------

# Terminal escapes (CSI and OSC sequences, lone ESC pairs), then any C0/C1 control character.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?"
                      r"|[\x00-\x1f\x7f-\x9f]", re.DOTALL)


def _squeeze(text: str) -> str:
    return "".join(text.split()).casefold()


class Secrets:
    """The values no message may show: the password and every session key seen."""

    __slots__ = ("_values",)

    def __init__(self, *values: object) -> None:
        self._values: list[str] = []
        for value in values:
            self.add(value)

    def add(self, value: object) -> None:
        if isinstance(value, str) and value and value not in self._values:
            self._values.append(value)

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds a secret, as sent or with its case, spacing (whitespace
        added, removed or changed) or URL quoting changed (a server may echo any of those)."""
        if not self._values:
            return False
        variants = {_squeeze(text), _squeeze(urllib.parse.unquote_plus(text))}
        for value in self._values:
            squeezed = _squeeze(value)
            if value in text or any(squeezed in variant for variant in variants):
                return True
        return False


def shown(text: str, secrets_: Secrets, limit: int = MSG_LIMIT) -> str:
    """Text from the server or from httpx made fit for a message.

    Withheld whole if it holds a secret: checked first, on the text as it came, so no
    cutting or collapsing can split a secret past the check, and nothing is masked, since
    the words around a masked short password would tell what it is. Then terminal escapes
    and control characters go and the text becomes one line (withheld if that reveals a
    secret the escapes split), and is cut to ``limit``.
    """
    if secrets_.found_in(text):
        return WITHHELD
    text = " ".join(_ESCAPES.sub(" ", text).split())
    if secrets_.found_in(text):  # a secret split by escapes or control characters
        return WITHHELD
    return text[:limit] + "..." if len(text) > limit else text
