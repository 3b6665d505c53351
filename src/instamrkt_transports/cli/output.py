"""What the ``instamrkt`` command prints: exit codes, one-line errors, text or JSON lines."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

import attrs

from instamrkt_proto import (
    AuthenticationError,
    ConnectionClosed,
    LocalProtocolError,
    LogonError,
    OutcomeUnknown,
    RequestTimeout,
    RestConnectionError,
    RestError,
    ServerError,
)

__all__ = ("EXIT_CODES", "EXIT_OK", "Output", "UsageError")


EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_LOGON = 4
EXIT_TIMEOUT = 5
EXIT_CONNECTION = 6
EXIT_SERVER_ERROR = 7
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_ERROR: "unexpected error",
    EXIT_USAGE: "bad arguments or missing credentials",
    EXIT_AUTH: "credentials refused (handshake HTTP 403/400, or REST login 401/403)",
    EXIT_LOGON: "logon refused (res 110)",
    EXIT_TIMEOUT: "no reply in time (or outcome unknown)",
    EXIT_CONNECTION: "connection failed or lost",
    EXIT_SERVER_ERROR: "the server answered an error (res 666, or a failed REST call)",
}


class UsageError(Exception):
    pass


def _exit_code(error: BaseException) -> int:
    for kind, code in ((AuthenticationError, EXIT_AUTH), (LogonError, EXIT_LOGON),
                       (RequestTimeout, EXIT_TIMEOUT), (OutcomeUnknown, EXIT_TIMEOUT),
                       (ConnectionClosed, EXIT_CONNECTION), (ServerError, EXIT_SERVER_ERROR),
                       (RestConnectionError, EXIT_CONNECTION), (RestError, EXIT_SERVER_ERROR),
                       (LocalProtocolError, EXIT_USAGE), (UsageError, EXIT_USAGE),
                       (OSError, EXIT_CONNECTION)):
        if isinstance(error, kind):
            return code
    return EXIT_ERROR


def _jsonable(value: Any) -> Any:
    if attrs.has(type(value)):
        data = {"event": type(value).__name__}
        for field in attrs.fields(type(value)):
            if field.repr is False:
                continue
            data[field.name] = _jsonable(getattr(value, field.name))
        return data
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, BaseException):
        return {"error": type(value).__name__, "message": str(value)}
    return value


class Output:
    def __init__(self, as_json: bool, stream: TextIO | None = None) -> None:
        self.as_json = as_json
        # looked up now, not at import: honours redirect_stdout and pytest's capsys
        self.stream = sys.stdout if stream is None else stream

    def emit(self, text: str, data: dict[str, Any]) -> None:
        if self.as_json:
            print(json.dumps(data, separators=(",", ":"), default=str), file=self.stream,
                  flush=True)
        else:
            print(text, file=self.stream, flush=True)


def _scrub(message: str) -> str:
    """Defence in depth: no error line ever shows the session key from the environment.

    (Keys shorter than 8 characters are not secrets worth mangling every message for.)
    """
    key = os.environ.get("INSTAMRKT_SESSION_KEY", "")
    return message.replace(key, "***") if len(key) >= 8 else message


