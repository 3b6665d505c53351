"""The calls every client offers, written once, so the adapters (and the CLI) cannot drift.

Each client supplies ``_call(op, params, timeout, idempotent, retry)``: it returns the
settled ``Response`` (or raises its error) in the blocking and threaded clients, and is a
coroutine in the anyio one; the threaded client also supplies ``_submit``, the same but
returning a ``concurrent.futures.Future`` at once. Each also supplies ``core`` (the sans-IO
session) and ``metrics()``. Errors derive from ``InstamrktError`` (see the README's error
table).

``call(request)`` takes a request object of ``instamrkt_proto.api`` and returns its reply
model, typed by the request's type argument (``Request[R]`` -> ``R``, as aiogram's
``Bot.__call__`` does): the parameters were validated when the object was built, the op's
documented classification (read or money-moving) applies, and a reply whose payload did
not fit its model raises ``UndecodableReply`` (a ``RemoteProtocolError``) carrying the
generic reply as ``.response``.

Timeouts have one meaning everywhere: leave ``timeout`` out for the client's default
(``timeout=`` given to ``connect``, 30 s unless set), pass seconds, or pass ``None`` to wait
for as long as the connection lives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import attrs

from instamrkt_proto import (
    DEFAULT,
    ClockEstimate,
    LoggedOn,
    Metrics,
    OpcodeTable,
    Pong,
    RemoteProtocolError,
    Response,
)
from instamrkt_proto.api import Request
from instamrkt_proto.client import ClientConnection
from instamrkt_proto.codes import Op
from instamrkt_proto.mirror import MarketMirror

from ..delivery import DeliveryMetrics

__all__ = ("AsyncCalls", "Calls", "ClientMetrics", "FutureCalls")

_PING, _OPCODES, _LOGON = Op.PING, Op.GET_OPCODES, Op.LOGON
_R = TypeVar("_R", bound=Response)
_T = TypeVar("_T")


@attrs.frozen(slots=True, kw_only=True)
class ClientMetrics:
    """What a client reports for a dashboard: the session's figures and its push queue's."""

    session: Metrics
    """State, last and smallest round trip, reconnects, outstanding requests, silence."""
    delivery: DeliveryMetrics
    """Events waiting, most pushes queued at once, pushes dropped, events delivered."""


def _expect(kind: type[_R], reply: Response) -> _R:
    """``reply`` as the event its call is documented to return."""
    if not isinstance(reply, kind):  # the core builds these: only a bug gets here
        raise RemoteProtocolError(f"expected {kind.__name__}, got res {reply.res}")
    return reply


def _future_map(future: Future[Response], convert: Callable[[Response], _T]) -> Future[_T]:
    """A future of ``convert(reply)``: the reply as its documented type (or that error)."""
    mapped: Future[_T] = Future()
    mapped.set_running_or_notify_cancel()

    def done(source: Future[Response]) -> None:
        error = source.exception()
        if error is not None:
            mapped.set_exception(error)
            return
        try:
            mapped.set_result(convert(source.result()))
        except RemoteProtocolError as exc:
            mapped.set_exception(exc)

    future.add_done_callback(done)
    return mapped


def _future_as(kind: type[_R], future: Future[Response]) -> Future[_R]:
    return _future_map(future, functools.partial(_expect, kind))


def _future_reply(request: Request[_T], future: Future[Response]) -> Future[_T]:
    return _future_map(future, request.reply)


class _Surface:
    """What every client shows besides calls: the core, its clock estimate."""

    @property
    def core(self) -> ClientConnection:
        """The sans-IO session (read-only use: ``state``, ``logged_on``, ``joined_games``)."""
        raise NotImplementedError

    @property
    def mirror(self) -> MarketMirror | None:
        """The market mirror (option ``mirror=True``; else None), current with every event
        the application has been handed. From a thread other than the one reading events
        (the threaded client), read ``mirror.snapshot()``: a consistent copy."""
        raise NotImplementedError

    @property
    def clock(self) -> ClockEstimate | None:
        """The server clock's offset from ours, from pings (None before the first pong)."""
        return self.core.clock

    def metrics(self) -> ClientMetrics:
        """A snapshot of the session's and the push queue's figures."""
        raise NotImplementedError


class Calls(_Surface):
    """Blocking calls: each returns once its own reply (or error) has come."""

    def _call(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
              idempotent: bool | None = None, retry: bool | None = None) -> Response:
        raise NotImplementedError

    def ping(self, *, timeout: float | None = DEFAULT) -> Pong:
        """Op 1; ``Pong.rtt`` is the round trip in seconds."""
        return _expect(Pong, self._call(_PING, None, timeout))

    def opcodes(self, *, timeout: float | None = DEFAULT) -> OpcodeTable:
        """Op 2; the table also teaches the client the server's names for ops and replies."""
        return _expect(OpcodeTable, self._call(_OPCODES, None, timeout))

    def logon(self, *, timeout: float | None = DEFAULT) -> LoggedOn:
        """Log on; raises ``LogonError`` if refused. ``already_logged_in`` flags res 112."""
        return _expect(LoggedOn, self._call(_LOGON, None, timeout))

    def call(self, request: Request[_T], *, timeout: float | None = DEFAULT) -> _T:
        """Send a typed request (``instamrkt_proto.api``) and return its typed reply."""
        return request.reply(self._call(request.OP, request.params(), timeout))

    def request(self, op: int | str, /, **params: Any) -> Response:
        """Send op (a number or a documented name) and return its reply (typed if known)."""
        return self._call(op, params, DEFAULT)

    def send(self, op: int | str, params: dict[str, Any] | None = None, *,
             timeout: float | None = DEFAULT, idempotent: bool | None = None,
             retry: bool | None = None) -> Response:
        """``request`` with the core's per-request options."""
        return self._call(op, params, timeout, idempotent, retry)


class FutureCalls:
    """The same calls, returning a ``Future`` at once (it cannot be cancelled: the core
    settles it, with the result or the error)."""

    def _submit(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
                idempotent: bool | None = None, retry: bool | None = None
                ) -> Future[Response]:
        raise NotImplementedError

    def ping_async(self, *, timeout: float | None = DEFAULT) -> Future[Pong]:
        return _future_as(Pong, self._submit(_PING, None, timeout))

    def opcodes_async(self, *, timeout: float | None = DEFAULT) -> Future[OpcodeTable]:
        return _future_as(OpcodeTable, self._submit(_OPCODES, None, timeout))

    def logon_async(self, *, timeout: float | None = DEFAULT) -> Future[LoggedOn]:
        return _future_as(LoggedOn, self._submit(_LOGON, None, timeout))

    def call_async(self, request: Request[_T], *, timeout: float | None = DEFAULT
                   ) -> Future[_T]:
        """``call`` returning a ``Future`` of the typed reply at once."""
        return _future_reply(request, self._submit(request.OP, request.params(), timeout))

    def request_async(self, op: int | str, /, **params: Any) -> Future[Response]:
        return self._submit(op, params, DEFAULT)

    def send_async(self, op: int | str, params: dict[str, Any] | None = None, *,
                   timeout: float | None = DEFAULT, idempotent: bool | None = None,
                   retry: bool | None = None) -> Future[Response]:
        return self._submit(op, params, timeout, idempotent, retry)


class AsyncCalls(_Surface):
    """The same calls as coroutines."""

    async def _call(self, op: int | str, params: dict[str, Any] | None, timeout: float | None,
                    idempotent: bool | None = None, retry: bool | None = None) -> Response:
        raise NotImplementedError

    async def ping(self, *, timeout: float | None = DEFAULT) -> Pong:
        """Op 1; ``Pong.rtt`` is the round trip in seconds."""
        return _expect(Pong, await self._call(_PING, None, timeout))

    async def opcodes(self, *, timeout: float | None = DEFAULT) -> OpcodeTable:
        """Op 2; the table also teaches the client the server's names for ops and replies."""
        return _expect(OpcodeTable, await self._call(_OPCODES, None, timeout))

    async def logon(self, *, timeout: float | None = DEFAULT) -> LoggedOn:
        """Log on; raises ``LogonError`` if refused. ``already_logged_in`` flags res 112."""
        return _expect(LoggedOn, await self._call(_LOGON, None, timeout))

    async def call(self, request: Request[_T], *, timeout: float | None = DEFAULT) -> _T:
        """Send a typed request (``instamrkt_proto.api``) and return its typed reply."""
        return request.reply(await self._call(request.OP, request.params(), timeout))

    async def request(self, op: int | str, /, **params: Any) -> Response:
        """Send op (a number or a documented name) and return its reply (typed if known)."""
        return await self._call(op, params, DEFAULT)

    async def send(self, op: int | str, params: dict[str, Any] | None = None, *,
                   timeout: float | None = DEFAULT, idempotent: bool | None = None,
                   retry: bool | None = None) -> Response:
        """``request`` with the core's per-request options."""
        return await self._call(op, params, timeout, idempotent, retry)
