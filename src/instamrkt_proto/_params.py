"""The request side of ``api``: the ``Request`` base and what each parameter kind accepts.

``Request`` is the generic base of every request class. Its reply type is the class's type
argument (``class JoinGame(Request[GameJoined])``), so ``call(request)`` is typed by mypy.
Names are checked before ``__init__`` runs and values right after it, so a misspelt,
missing or mistyped parameter raises ``LocalProtocolError`` naming the op and the
parameter, before anything can be queued.

Each parameter kind of the table (``Param.kind``) has two readings: the strict check of
what a caller passes (``_PARAMS``) and, for the server role, the lenient reading of what
arrives (``_WIRE_PARAMS``, built on ``_decoders``). ``bind_request`` gives each of
``api``'s request classes its op and its checks, and records the class for
``request_from_wire``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from types import UnionType
from typing import Any, ClassVar, Generic, TypeVar, cast, get_args, get_origin

from ._decoders import d_bool, d_int, d_millis, d_money, describe, required
from ._table import OpSpec, Param
from .errors import LocalProtocolError, RemoteProtocolError, UndecodableReply
from .events import Response

__all__ = ("Request", "bind_request", "request_from_wire")

R_co = TypeVar("R_co", covariant=True)


def _is_int(value: Any) -> bool:
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def p_money(value: Any) -> Decimal:
    if isinstance(value, float):
        raise TypeError("a float is refused for money (pass a Decimal, an int or a str)")
    if isinstance(value, Decimal):
        number = value
    elif _is_int(value):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    else:
        raise TypeError(f"expected a Decimal, int or str, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return number


def _check(ok: Callable[[Any], bool], what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not ok(value):
            raise TypeError(f"expected {what}, got {type(value).__name__}")
        return value
    return check


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or _is_int(value)


def _many(ok: Callable[[Any], bool], what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if ok(value):
            return value
        if isinstance(value, (list, tuple)) and all(ok(v) for v in value):
            return tuple(value)
        raise TypeError(f"expected {what} or a list of them, got {type(value).__name__}")
    return check


_PARAMS: dict[str, Callable[[Any], Any]] = {
    "str": _check(lambda v: isinstance(v, str), "a str"),
    "id": _check(_is_id, "an id (str or int)"),
    "int": _check(_is_int, "an int"),
    "bool": _check(lambda v: isinstance(v, bool), "a bool"),
    "millis": _check(_is_int, "epoch milliseconds (an int)"),
    "money": p_money,
    "strs": _many(lambda v: isinstance(v, str), "a str"),
    "ids": _many(_is_id, "an id"),
}
"""Strict checks of the parameters a caller passes, by kind (us -> server)."""

_WIRE_PARAMS: dict[str, Callable[[Any], Any]] = {
    "str": lambda v: v if isinstance(v, str) else str(v),
    "id": lambda v: v,
    "int": required(d_int),
    "bool": required(d_bool),
    "millis": required(d_millis),
    "money": required(d_money),
    "strs": lambda v: tuple(v) if isinstance(v, list) else v,
    "ids": lambda v: tuple(v) if isinstance(v, list) else v,
}
"""Lenient decoding of a request's parameters as they arrive (server role)."""


class Request(Generic[R_co]):
    """Base of every request class: ``Request[Reply]`` names what ``call`` returns.

    Subclasses are frozen, slotted, keyword-only attrs classes generated from the table.
    ``OP`` and ``NAME`` identify the op; ``REPLIES`` are the codes that answer it and
    ``READ`` says whether it is an idempotent read (else money-moving).
    """

    __slots__ = ()

    OP: ClassVar[int]
    NAME: ClassVar[str]
    REPLIES: ClassVar[frozenset[int]]
    READ: ClassVar[bool]
    PUSHES: ClassVar[tuple[int, ...]]
    SPEC: ClassVar[OpSpec]
    REPLY_TYPES: ClassVar[tuple[type, ...]]
    """The classes a reply is an instance of (runtime copy of the type argument)."""
    _names: ClassVar[frozenset[str]]
    _needed: ClassVar[tuple[str, ...]]
    _checks: ClassVar[tuple[tuple[str, Callable[[Any], Any]], ...]]

    def __new__(cls, *args: Any, **params: Any) -> Any:
        if args:
            raise LocalProtocolError(f"{cls.NAME}: parameters are keyword-only")
        unknown = [name for name in params if name not in cls._names]
        if unknown:
            valid = ", ".join(sorted(cls._names)) or "none"
            raise LocalProtocolError(
                f"{cls.NAME}: unknown parameter {unknown[0]!r} (parameters: {valid})")
        for name in cls._needed:
            if name not in params:
                raise LocalProtocolError(f"{cls.NAME}: parameter {name!r} is required")
        return super().__new__(cls)

    def __attrs_post_init__(self) -> None:
        for name, check in self._checks:
            value = getattr(self, name)
            if value is None:
                continue
            try:
                checked = check(value)
            except (TypeError, ValueError) as exc:
                raise LocalProtocolError(f"{self.NAME}: parameter {name!r}: {exc}") from None
            if checked is not value:
                object.__setattr__(self, name, checked)

    def params(self) -> dict[str, Any]:
        """The parameters as sent: unset ones left out, money as its exact decimal text."""
        out: dict[str, Any] = {}
        for param in self.SPEC.params:
            value = getattr(self, param.name)
            if value is None:
                continue
            if param.kind == "money":
                value = format(value, "f")
            elif type(value) is tuple:
                value = list(value)
            out[param.name] = value
        return out

    def reply(self, response: Response) -> R_co:
        """``response`` as this request's reply type, else ``UndecodableReply``."""
        if isinstance(response, self.REPLY_TYPES):
            return cast(R_co, response)
        reason = getattr(response, "decode_error", None) or (
            f"res {getattr(response, 'res', '?')} is not a documented reply")
        raise UndecodableReply(f"{self.NAME}: the reply could not be decoded: {reason}",
                               response)


_REQUESTS: dict[int, type[Request[Any]]] = {}


def _reply_types(cls: type) -> tuple[type, ...]:
    for base in getattr(cls, "__orig_bases__", ()):
        if get_origin(base) is Request:
            (reply,) = get_args(base)
            if isinstance(reply, UnionType):
                return tuple(get_args(reply))
            return (reply,)
    raise TypeError(f"{cls.__name__} does not name its reply type")


def bind_request(cls: type[Request[Any]], op: OpSpec) -> type[Request[Any]]:
    """Give ``api``'s class for ``op`` its identity, reply types and parameter checks."""
    params: tuple[Param, ...] = op.params
    cls.OP, cls.NAME, cls.SPEC = op.op, op.name, op
    cls.REPLIES, cls.READ, cls.PUSHES = frozenset(op.replies), op.read, op.pushes
    cls.REPLY_TYPES = _reply_types(cls)
    cls._names = frozenset(p.name for p in params)
    cls._needed = tuple(p.name for p in params if p.required)
    cls._checks = tuple((p.name, _PARAMS[p.kind]) for p in params)
    _REQUESTS[op.op] = cls
    return cls


def request_from_wire(op: int, params: Mapping[str, Any]) -> Request[Any]:
    """The typed request for a received op, its parameters decoded leniently.

    Unknown parameters are ignored (a server may accept more than the docs list). Raises
    ``RemoteProtocolError`` for an unknown op or a parameter that cannot be read.
    """
    cls = _REQUESTS.get(op)
    if cls is None:
        raise RemoteProtocolError(f"op {op} is not documented")
    values: dict[str, Any] = {}
    for param in cls.SPEC.params:
        raw = params.get(param.name)
        if raw is None:
            continue
        try:
            values[param.name] = _WIRE_PARAMS[param.kind](raw)
        except Exception as exc:
            raise RemoteProtocolError(
                f"{cls.NAME}: parameter {param.name!r}: {describe(exc)}") from None
    try:
        request: Request[Any] = cls(**values)
    except LocalProtocolError as exc:
        raise RemoteProtocolError(str(exc)) from None
    return request

