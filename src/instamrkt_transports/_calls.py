"""The calls every client offers, written once, so the three adapters cannot drift apart.

Each adapter supplies ``_call(op, params, timeout, **options)``: it returns the settled
result (or raises its error) in the blocking and threaded clients, and is a coroutine in the
anyio one. The threaded client also supplies ``_submit``, the same but returning a
``concurrent.futures.Future`` at once. Results are the core's events; errors derive from
``InstamrktError`` (see the README's error table).
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from instamrkt_proto import LoggedOn, OpcodeTable, Pong
from instamrkt_proto.codes import Op

__all__ = ("AsyncCalls", "Calls", "FutureCalls")

_PING, _OPCODES, _LOGON = Op.PING, Op.GET_OPCODES, Op.LOGON


class Calls:
    """Blocking calls: each returns once its own reply (or error) has come."""

    def _call(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
              **options: Any) -> Any:
        raise NotImplementedError

    def ping(self, *, timeout: float | None = None) -> Pong:
        """Op 1; ``Pong.rtt`` is the round trip in seconds."""
        return self._call(_PING, None, timeout)  # type: ignore[no-any-return]

    def opcodes(self, *, timeout: float | None = None) -> OpcodeTable:
        """Op 2; the table also teaches the client the server's names for ops and replies."""
        return self._call(_OPCODES, None, timeout)  # type: ignore[no-any-return]

    def logon(self, *, timeout: float | None = None) -> LoggedOn:
        """Log on; raises ``LogonError`` if refused. ``already_logged_in`` flags res 112."""
        return self._call(_LOGON, None, timeout)  # type: ignore[no-any-return]

    def request(self, op: int | str, /, **params: Any) -> Any:
        """Send op (a number or a documented name) and return its ``Response``."""
        return self._call(op, params, None)

    def send(self, op: int | str, params: dict[str, Any] | None = None, *,
             timeout: float | None = None, idempotent: bool | None = None,
             retry: bool | None = None) -> Any:
        """``request`` with the core's per-request options."""
        return self._call(op, params, timeout, idempotent=idempotent, retry=retry)


class FutureCalls:
    """The same calls, returning a ``Future`` at once (it cannot be cancelled: the core
    settles it, with the result or the error)."""

    def _submit(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
                **options: Any) -> Future[Any]:
        raise NotImplementedError

    def ping_async(self, *, timeout: float | None = None) -> Future[Pong]:
        return self._submit(_PING, None, timeout)

    def opcodes_async(self, *, timeout: float | None = None) -> Future[OpcodeTable]:
        return self._submit(_OPCODES, None, timeout)

    def logon_async(self, *, timeout: float | None = None) -> Future[LoggedOn]:
        return self._submit(_LOGON, None, timeout)

    def request_async(self, op: int | str, /, **params: Any) -> Future[Any]:
        return self._submit(op, params, None)

    def send_async(self, op: int | str, params: dict[str, Any] | None = None, *,
                   timeout: float | None = None, idempotent: bool | None = None,
                   retry: bool | None = None) -> Future[Any]:
        return self._submit(op, params, timeout, idempotent=idempotent, retry=retry)


class AsyncCalls:
    """The same calls as coroutines."""

    async def _call(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
                    **options: Any) -> Any:
        raise NotImplementedError

    async def ping(self, *, timeout: float | None = None) -> Pong:
        """Op 1; ``Pong.rtt`` is the round trip in seconds."""
        return await self._call(_PING, None, timeout)  # type: ignore[no-any-return]

    async def opcodes(self, *, timeout: float | None = None) -> OpcodeTable:
        """Op 2; the table also teaches the client the server's names for ops and replies."""
        return await self._call(_OPCODES, None, timeout)  # type: ignore[no-any-return]

    async def logon(self, *, timeout: float | None = None) -> LoggedOn:
        """Log on; raises ``LogonError`` if refused. ``already_logged_in`` flags res 112."""
        return await self._call(_LOGON, None, timeout)  # type: ignore[no-any-return]

    async def request(self, op: int | str, /, **params: Any) -> Any:
        """Send op (a number or a documented name) and return its ``Response``."""
        return await self._call(op, params, None)

    async def send(self, op: int | str, params: dict[str, Any] | None = None, *,
                   timeout: float | None = None, idempotent: bool | None = None,
                   retry: bool | None = None) -> Any:
        """``request`` with the core's per-request options."""
        return await self._call(op, params, timeout, idempotent=idempotent, retry=retry)
