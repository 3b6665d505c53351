"""Turning a call into a checked, encoded request with the next local id.

Everything a caller can get wrong is refused here, before anything is queued: the op (a
known name, or a number in the protocol's range), a retry asked for a money-moving op, the
timeout, and parameters JSON cannot carry (NaN included). The parameters are encoded once,
now, so sending later only splices in the header.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ._correlation import PendingRequest
from ._names import MAX_OP, NameTables
from .codec import encode_params
from .codes import IDEMPOTENT, REPLIES
from .config import DEFAULT, ClientConfig
from .errors import LocalProtocolError

__all__ = ("RequestFactory",)


class RequestFactory:
    __slots__ = ("_config", "_names", "_next_id")

    def __init__(self, config: ClientConfig, names: NameTables) -> None:
        self._config = config
        self._names = names
        self._next_id = 1

    def caller(self, op: int | str, params: Mapping[str, Any] | None, now: float,
               timeout: float | None, idempotent: bool | None, expect: frozenset[int] | None,
               retry: bool | None) -> PendingRequest:
        """A request of the application's, with the documented defaults filled in."""
        number = op if type(op) is int and 0 < op <= MAX_OP else self._names.opcode(op)
        is_read = number in IDEMPOTENT if idempotent is None else idempotent
        if retry and not is_read:
            raise LocalProtocolError(f"op {number} is not idempotent; it cannot be retried")
        request = self.build(number, params or {}, now, timeout, expect, is_read)
        wants_retry = self._config.retry_idempotent if retry is None else retry
        request.retries = 1 if (wants_retry and is_read) else 0
        return request

    def build(self, op: int, params: Mapping[str, Any], now: float, timeout: float | None,
              expect: frozenset[int] | None, idempotent: bool, internal: str | None = None
              ) -> PendingRequest:
        """Any request, the core's own (``internal`` names its kind) included."""
        if timeout is DEFAULT:
            timeout = self._config.request_timeout
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            raise LocalProtocolError("timeout must be a positive finite number, or None")
        body = encode_params(op, params)  # validates before anything changes
        request = PendingRequest(
            id=self._next_id,
            op=op,
            params=dict(params),
            expects=expect or REPLIES.get(op) or frozenset((op,)),
            idempotent=idempotent,
            deadline=None if timeout is None else now + timeout,
            timeout=timeout,
            internal=internal,
        )
        request.body = body
        self._next_id += 1
        return request
