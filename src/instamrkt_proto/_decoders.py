"""Lenient decoding of received values: one decoder per kind of field in the table.

A server's fields are read the way the docs allow: numbers as strings, ``"None"`` as null,
ids as ints or text (always given as ``str``), times in seconds or milliseconds (always
given as epoch milliseconds), money as a ``Decimal`` (from a string exactly, from a JSON
number through its shortest text). ``SCALARS`` names the decoder of each kind. A nested
list (pools, distributions, bets, leaderboard entries, predictions) becomes a ``Lazy``
sequence, structured on first access, which keeps decoding a long leaderboard cheap.

This module holds no state and knows nothing of the models: ``_models`` compiles its
per-code decoders around these functions (and inlines the commonest cases), and
``_params`` reuses them to read a request's parameters as a server receives them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar, overload

from .errors import RemoteProtocolError

__all__ = (
    "EMPTY_MAP",
    "SCALARS",
    "Lazy",
    "d_bool",
    "d_count_map",
    "d_id",
    "d_ids",
    "d_int",
    "d_ints",
    "d_json",
    "d_millis",
    "d_money",
    "d_money_map",
    "d_objects",
    "d_str",
    "describe",
    "is_null",
    "lazy_list",
    "required",
)

T = TypeVar("T")

EMPTY_MAP: Mapping[str, Any] = MappingProxyType({})
"""What an empty or null map field decodes to, and the models' default for maps (read-only)."""
_SECONDS_BELOW = 10**11
"""An epoch time below this (1973 in milliseconds, year 5138 in seconds) is in seconds."""
_NULLS = frozenset({"None", "null", ""})


def is_null(value: Any) -> bool:
    """``None`` or a null word (``"None"``, ``"null"``, blank text)."""
    return value is None or (type(value) is str and value.strip() in _NULLS)


def d_str(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if type(value) in (int, float):
        return str(value)
    raise TypeError(f"expected text, got {type(value).__name__}")


def d_id(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        return None if value in _NULLS else value
    if value is None:
        return None
    if kind is int:
        return str(value)
    if kind is float and value.is_integer():
        return str(int(value))
    raise TypeError(f"expected an id, got {kind.__name__}")


def d_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if is_null(value):
        return None
    if type(value) is bool:
        raise TypeError("a boolean is not a number")
    if type(value) is float:
        if not value.is_integer():
            raise ValueError(f"{value!r} is not integral")
        return int(value)
    if type(value) is str:
        number = Decimal(value.strip())
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError(f"{value!r} is not an integer")
        return int(number)
    raise TypeError(f"expected a number, got {type(value).__name__}")


_TRUE = frozenset({"true", "True", "TRUE", "1"})
_FALSE = frozenset({"false", "False", "FALSE", "0"})


def d_bool(value: Any) -> bool | None:
    if value is True or value is False or value is None:
        return value
    if type(value) is str:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        if value.strip() in _NULLS:
            return None
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise ValueError(f"{value!r} is not a boolean")


def d_millis(value: Any) -> int | None:
    """Epoch milliseconds; 10-digit seconds (anything below 10**11) are multiplied by 1000."""
    if type(value) is int:
        return value if value >= _SECONDS_BELOW or value <= -_SECONDS_BELOW else value * 1000
    if is_null(value):
        return None
    if type(value) is bool:
        raise TypeError("a boolean is not a time")
    if isinstance(value, (float, str)):
        number = Decimal(repr(value) if isinstance(value, float) else value.strip())
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a time")
        if abs(number) < _SECONDS_BELOW:
            number *= 1000
        return int(number.to_integral_value())
    raise TypeError(f"expected a time, got {type(value).__name__}")


def d_money(value: Any) -> Decimal | None:
    """A ``Decimal``: from a string exactly, from a JSON number through its shortest text."""
    kind = type(value)
    if kind is float:  # what orjson makes of the docs' 1000.0 (its repr is that text)
        number = Decimal(repr(value))
        if number.is_finite():
            return number
        raise ValueError(f"{value!r} is not an amount")
    if kind is int:
        return Decimal(value)
    if kind is str:
        text = value.strip()
        if text in _NULLS:
            return None
        number = Decimal(text)
    elif kind is Decimal:
        number = value
    elif value is None:
        return None
    else:
        raise TypeError(f"expected an amount, got {kind.__name__}")
    if not number.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    return number


def required(convert: Callable[[Any], T | None]) -> Callable[[Any], T]:
    """``convert``, refusing a null: for a field or parameter that must be there."""
    def required(value: Any) -> T:
        result = convert(value)
        if result is None:
            raise ValueError("missing (null)")
        return result
    return required


def _mapping(value: Any) -> dict[Any, Any] | None:
    if value is None or (type(value) is str and value.strip() in _NULLS):
        return None
    if type(value) is not dict:
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def d_money_map(value: Any) -> Mapping[str, Decimal]:
    raw = _mapping(value)
    if not raw:
        return EMPTY_MAP
    return {str(k): required(d_money)(v) for k, v in raw.items()}


def d_count_map(value: Any) -> Mapping[str, int]:
    raw = _mapping(value)
    if not raw:
        return EMPTY_MAP
    return {str(k): required(d_int)(v) for k, v in raw.items()}


def _list(value: Any) -> list[Any] | None:
    if value is None or (type(value) is str and value.strip() in _NULLS):
        return None
    if type(value) is not list:
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def d_ids(value: Any) -> tuple[str, ...]:
    raw = _list(value)
    return () if not raw else tuple(required(d_id)(v) for v in raw)


def d_ints(value: Any) -> tuple[int, ...]:
    raw = _list(value)
    return () if not raw else tuple(required(d_int)(v) for v in raw)


def d_objects(value: Any) -> Sequence[Mapping[str, Any]]:
    raw = _list(value)
    if not raw:
        return ()
    for item in raw:
        if type(item) is not dict:
            raise TypeError(f"expected a list of objects, found a {type(item).__name__}")
    return tuple(raw)


def d_json(value: Any) -> Any:
    return value


class Lazy(Sequence[T]):
    """A list from a message, structured into models on first access (then kept).

    Decoding a message only checks that the value is a list; the items become models the
    first time the sequence is read, compared or printed. An item that cannot be
    structured raises ``RemoteProtocolError`` naming it then (the raw list stays in the
    message's ``fields``).
    """

    __slots__ = ("_items", "_path", "_raw", "_structure")

    def __init__(self, raw: list[Any], structure: Callable[[Any], T], path: str = "") -> None:
        self._raw = raw
        self._structure = structure
        self._path = path
        self._items: tuple[T, ...] | None = None

    def _load(self) -> tuple[T, ...]:
        items = self._items
        if items is None:
            structure = self._structure
            built = []
            for index, item in enumerate(self._raw):
                try:
                    built.append(structure(item))
                except Exception as exc:
                    raise RemoteProtocolError(
                        f"{self._path}[{index}]: {describe(exc)}") from None
            items = self._items = tuple(built)
        return items

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._load()[index]

    def __len__(self) -> int:
        return len(self._raw)

    def __iter__(self) -> Iterator[T]:
        return iter(self._load())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Lazy):
            return self._load() == other._load()
        if isinstance(other, (tuple, list)):
            return self._load() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        raise TypeError("a Lazy sequence is not hashable (it compares equal to tuples)")

    def __repr__(self) -> str:
        return repr(list(self._load()))

    @property
    def raw(self) -> list[Any]:
        """The list as the server sent it."""
        return self._raw


_EMPTY_LAZY: Lazy[Any] = Lazy([], lambda item: item)


def lazy_list(structure: Callable[[Any], Any], path: str) -> Callable[[Any], Sequence[Any]]:
    """The decoder of a list of shapes: a ``Lazy`` of ``structure`` (``path`` names it)."""
    def convert(value: Any) -> Sequence[Any]:
        raw = _list(value)
        return _EMPTY_LAZY if not raw else Lazy(raw, structure, path)
    return convert


SCALARS: dict[str, Callable[[Any], Any]] = {
    "str": d_str, "id": d_id, "int": d_int, "bool": d_bool, "millis": d_millis,
    "money": d_money, "money_map": d_money_map, "count_map": d_count_map, "ids": d_ids,
    "ints": d_ints, "objects": d_objects, "json": d_json,
}
"""The decoder of each field kind of the table but nested shapes (``list:``, ``obj:``)."""


def describe(exc: BaseException) -> str:
    """What a decoding error says of the value (the caller names the field)."""
    if isinstance(exc, KeyError):
        return "missing"
    if isinstance(exc, InvalidOperation):
        return "not a number"
    return str(exc) or type(exc).__name__

