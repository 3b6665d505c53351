"""What makes ``api``'s generated classes work: validation, lenient decoding, encoding.

Built once, at import, from the table (``_table``) and the classes ``api`` declares:

* ``Request``: the generic base of every request class. Its reply type is the class's
  type argument (``class JoinGame(Request[GameJoined])``), so ``call(request)`` is typed
  by mypy. Names are checked before ``__init__`` runs and values right after it, so a
  misspelt, missing or mistyped parameter raises ``LocalProtocolError`` naming the op and
  the field, before anything can be queued.
* Decoders: one plain function per response code, compiled from the table (straight-line
  code, no reflection per message), turning a message's fields into its model. Money
  becomes ``Decimal`` (from a string exactly, from a JSON number through its shortest
  text), times become epoch milliseconds, ids become ``str``. Nested lists (pools,
  distributions, bets, leaderboard entries, predictions) are kept as ``Lazy`` sequences
  structured on first access, which keeps decoding a long leaderboard cheap.
* ``push_event`` and ``reply_model``: what the core calls. A payload that cannot be
  structured gives the generic ``Push``/``Response`` with ``decode_error`` set: never an
  exception, never a lost message.
* ``model_fields``: a model back to the fields a server sends (the test kit and the
  reference server use it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from types import MappingProxyType, UnionType
from typing import Any, ClassVar, Generic, TypeVar, cast, get_args, get_origin, overload

import attrs

from ._table import EXTRA_CODES, OPS, RESPONSES, SHAPES, Field, OpSpec, Param, ResSpec
from .errors import LocalProtocolError, RemoteProtocolError, UndecodableReply
from .events import Push, Response

__all__ = (
    "EMPTY_MAP",
    "PUSH_DECODERS",
    "Lazy",
    "Payload",
    "Request",
    "camel",
    "generic_push",
    "model_fields",
    "push_event",
    "register",
    "reply_model",
    "request_from_wire",
)

R_co = TypeVar("R_co", covariant=True)
T = TypeVar("T")

EMPTY_MAP: Mapping[str, Any] = MappingProxyType({})
_SECONDS_BELOW = 10**11
"""An epoch time below this (1973 in milliseconds, year 5138 in seconds) is in seconds."""
_NULLS = frozenset({"None", "null", ""})


def camel(name: str) -> str:
    """``place_bet_in_betting_pool`` -> ``PlaceBetInBettingPool``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


# -- lenient scalar decoding (server -> us) -------------------------------------------------


def _null(value: Any) -> bool:
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
    if _null(value):
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
    if _null(value):
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


def _required(convert: Callable[[Any], T | None]) -> Callable[[Any], T]:
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
    return {str(k): _required(d_money)(v) for k, v in raw.items()}


def d_count_map(value: Any) -> Mapping[str, int]:
    raw = _mapping(value)
    if not raw:
        return EMPTY_MAP
    return {str(k): _required(d_int)(v) for k, v in raw.items()}


def _list(value: Any) -> list[Any] | None:
    if value is None or (type(value) is str and value.strip() in _NULLS):
        return None
    if type(value) is not list:
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def d_ids(value: Any) -> tuple[str, ...]:
    raw = _list(value)
    return () if not raw else tuple(_required(d_id)(v) for v in raw)


def d_ints(value: Any) -> tuple[int, ...]:
    raw = _list(value)
    return () if not raw else tuple(_required(d_int)(v) for v in raw)


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
                        f"{self._path}[{index}]: {_describe(exc)}") from None
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


def _lazy(structure: Callable[[Any], Any], path: str) -> Callable[[Any], Sequence[Any]]:
    def convert(value: Any) -> Sequence[Any]:
        raw = _list(value)
        return _EMPTY_LAZY if not raw else Lazy(raw, structure, path)
    return convert


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "str": d_str, "id": d_id, "int": d_int, "bool": d_bool, "millis": d_millis,
    "money": d_money, "money_map": d_money_map, "count_map": d_count_map, "ids": d_ids,
    "ints": d_ints, "objects": d_objects, "json": d_json,
}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "missing"
    if isinstance(exc, InvalidOperation):
        return "not a number"
    return str(exc) or type(exc).__name__


# -- request parameters (us -> server) ------------------------------------------------------


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

_WIRE_PARAMS: dict[str, Callable[[Any], Any]] = {
    "str": lambda v: v if isinstance(v, str) else str(v),
    "id": lambda v: v,
    "int": _required(d_int),
    "bool": _required(d_bool),
    "millis": _required(d_millis),
    "money": _required(d_money),
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


class Payload:
    """Base of the models of codes that are both a reply and a push.

    ``api.NewGameEvent`` is one: the reply to register_game_event is a
    ``NewGameEventReply`` (a ``Response``) and the push a ``NewGameEventPush`` (a
    ``Push``); both are ``NewGameEvent``s with the same fields.
    """

    __slots__ = ()

    res: int
    name: str | None
    fields: Mapping[str, Any]
    server_time: int | None


# -- compiled decoders ----------------------------------------------------------------------

_PUSH_BUILDERS: dict[int, Callable[[dict[str, Any], int, str | None, int | None], Push]] = {}
_REPLY_BUILDERS: dict[int, Callable[..., Response]] = {}
_SHAPE_CLASSES: dict[str, type] = {}
_SHAPE_BUILDERS: dict[str, Callable[[Any], Any]] = {}
_MODEL_SPECS: dict[type, tuple[int, tuple[Field, ...]]] = {}
_FIELD_CONVERTERS: dict[tuple[str, str], Callable[[Any], Any]] = {}


def _converter(field: Field, where: str) -> Callable[[Any], Any]:
    kind = field.kind
    if kind.startswith("list:"):
        shape = kind[5:]
        convert = _lazy(_SHAPE_BUILDERS[shape], f"{where}.{field.name}")  # built before
    elif kind.startswith("obj:"):
        shape = kind[4:]

        def convert(value: Any) -> Any:
            return None if _null(value) else _SHAPE_BUILDERS[shape](value)
    else:
        convert = _SCALARS[kind]
    return _required(convert) if field.required else convert


def _slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None:
            setter: Callable[[Any, Any], None] = descriptor.__set__
            return setter
    raise TypeError(f"{cls.__name__}.{name} is not a slot")


def _compile(cls: type, fields: tuple[Field, ...], where: str, given: dict[str, str],
             args: str, fallback: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """A straight-line function building ``cls`` from a message's fields dict.

    It fills the frozen instance's slots directly, as attrs' own ``__init__`` would (the
    models have no validators, converters or post-init hooks: ``register`` checks), minus
    its keyword handling: half the cost, on every push. ``given`` maps attributes to the
    argument holding them; every other attribute is a table field or keeps its default.
    With ``fallback``, an exception returns ``fallback(args..., exc)`` instead.
    """
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls, "fallback": fallback,
                                 "D": Decimal}
    table = {field.name: (index, field) for index, field in enumerate(fields)}
    lines = [f"def build({args}):", "    g = fields.get", "    o = new(cls)"]
    if "raw" in given:  # a nested shape: the value must be an object
        lines.insert(1, "    if type(fields) is not dict: raise TypeError(f'expected an object, "
                        "got {type(fields).__name__}')")
    for attribute in attrs.fields(cls):
        if attribute.validator is not None or attribute.converter is not None:
            raise TypeError(f"{cls.__name__}.{attribute.name}: models take values as they are")
        setter = f"s_{attribute.name}"
        namespace[setter] = _slot_setter(cls, attribute.name)
        if attribute.name in given:
            value = given[attribute.name]
        elif attribute.name in table:
            index, field = table[attribute.name]
            converter = _FIELD_CONVERTERS[(where, field.name)] = _converter(field, where)
            namespace[f"c{index}"] = converter
            if field.required:
                raw = f"fields[{field.name!r}]"
            elif field.alias is not None:
                raw = f"(g({field.name!r}) if {field.name!r} in fields else g({field.alias!r}))"
            else:
                raw = f"g({field.name!r})"
            value = f"c{index}({raw})"
            # The usual wire types inline (the converter handles everything else): text as
            # is, an int as is, money from text ending in a digit (never a null word, never
            # NaN or infinity) or a JSON number through its shortest text.
            if field.kind == "str":
                value = (f"(v{index} if (v{index} := {raw}).__class__ is str "
                         f"else c{index}(v{index}))")
            elif field.kind == "int":
                value = (f"(v{index} if (v{index} := {raw}).__class__ is int "
                         f"else c{index}(v{index}))")
            elif field.kind.startswith("list:"):  # a non-empty list: lazily structured
                namespace[f"l{index}"] = _SHAPE_BUILDERS[field.kind[5:]]
                namespace["Lazy"] = Lazy
                value = (f"(Lazy(v{index}, l{index}, {where + '.' + field.name!r}) "
                         f"if (v{index} := {raw}).__class__ is list and v{index} "
                         f"else c{index}(v{index}))")
            elif field.kind == "money":
                value = (f"(m{index} if ((v{index} := {raw}).__class__ is str and "
                         f"v{index}[-1:].isdigit() and (m{index} := D(v{index})).is_finite()) "
                         f"or (v{index}.__class__ is float and "
                         f"(m{index} := D(repr(v{index}))).is_finite()) else c{index}(v{index}))")
        else:
            if hasattr(attribute.default, "factory"):  # an attrs Factory
                raise TypeError(f"{cls.__name__}.{attribute.name}: no factory defaults")
            namespace[f"d_{attribute.name}"] = attribute.default
            value = f"d_{attribute.name}"
        lines.append(f"    {setter}(o, {value})")
    lines.append("    return o")
    if fallback is not None:
        body = ["    try:"] + ["    " + line for line in lines[1:]]
        lines = [lines[0], *body, "    except Exception as exc:",
                 f"        return fallback({args}, exc)"]
    if cls.__dict__.get("__attrs_post_init__") or hasattr(cls, "__attrs_post_init__"):
        raise TypeError(f"{cls.__name__}: models have no post-init hook")
    exec("\n".join(lines), namespace)  # the source is built from the table, above
    build: Callable[..., Any] = namespace["build"]
    return build


def _shape_builder(shape: str, cls: type) -> Callable[[Any], Any]:
    return _compile(cls, SHAPES[shape], shape, {"raw": "fields"}, "fields")


_HEAD = {"res": "res", "name": "name", "fields": "fields", "server_time": "t"}


def _model_builder(res: int, cls: type, fields: tuple[Field, ...], reply: bool
                   ) -> Callable[..., Any]:
    if reply:
        return _compile(cls, fields, f"res {res}", {**_HEAD, "request_id": "rid", "op": "op"},
                        "fields, res, name, t, rid, op")
    return _compile(cls, fields, f"res {res}", _HEAD, "fields, res, name, t", _undecodable_push)


def _diagnose(res: int, fields: Mapping[str, Any], exc: BaseException) -> str:
    """Which field made decoding fail (the slow path, only taken on failure)."""
    spec = _SPECS.get(res)
    for field in spec.fields if spec is not None else ():
        converter = _FIELD_CONVERTERS.get((f"res {res}", field.name))
        if converter is None:
            continue
        try:
            raw = fields[field.name] if field.required else (
                fields.get(field.name) if field.name in fields or field.alias is None
                else fields.get(field.alias))
            value = converter(raw)
            if isinstance(value, Lazy):
                value._load()
        except Exception as inner:
            return f"res {res}: field {field.name!r}: {_describe(inner)}"
    return f"res {res}: {_describe(exc)}"


def generic_push(fields: dict[str, Any], res: int, name: str | None, t: int | None) -> Push:
    """The push of a code with no model."""
    return Push(res=res, name=name, fields=fields, server_time=t)


def _undecodable_push(fields: dict[str, Any], res: int, name: str | None, t: int | None,
                      exc: BaseException) -> Push:
    return Push(res=res, name=name, fields=fields, server_time=t,
                decode_error=_diagnose(res, fields, exc))


PUSH_DECODERS: Mapping[int, Callable[[dict[str, Any], int, str | None, int | None], Push]]
PUSH_DECODERS = _PUSH_BUILDERS
"""res -> ``decode(fields, res, name, t)``, giving the model or, if the payload does not
fit, the generic ``Push`` with ``decode_error``; never raises. Codes absent: ``generic_push``.
"""


def push_event(res: int, name: str | None, fields: dict[str, Any], t: int | None) -> Push:
    """The push for a message nobody was waiting for: its model if the code is known."""
    decode = _PUSH_BUILDERS.get(res, generic_push)
    return decode(fields, res, name, t)


def reply_model(rid: int, op: int, res: int, fields: dict[str, Any], t: int | None,
                name: str | None) -> Response:
    """The reply to request ``rid``: its model if the code is known."""
    build = _REPLY_BUILDERS.get(res)
    if build is None:
        return Response(request_id=rid, op=op, res=res, name=name, fields=fields,
                        server_time=t)
    try:
        return build(fields, res, name, t, rid, op)
    except Exception as exc:
        return Response(request_id=rid, op=op, res=res, name=name, fields=fields,
                        server_time=t, decode_error=_diagnose(res, fields, exc))


# -- encoding models back to fields ---------------------------------------------------------


def _encode_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "money":
        return format(value, "f")
    if kind == "money_map":
        return {k: format(v, "f") for k, v in value.items()}
    if kind == "count_map":
        return dict(value)
    if kind in ("ids", "ints", "objects"):
        return list(value)
    if kind.startswith("list:"):
        return [shape_fields(item) for item in value]
    if kind.startswith("obj:"):
        return shape_fields(value)
    return value


def shape_fields(obj: Any) -> dict[str, Any]:
    """A nested shape back to the JSON object a server sends."""
    spec = SHAPES[type(obj).__name__]
    out = {}
    for field in spec:
        value = getattr(obj, field.name)
        if value is not None:
            out[field.name] = _encode_value(field.kind, value)
    return out


def model_fields(model: Any) -> dict[str, Any]:
    """A model's typed fields as a server sends them (money as exact text, None left out)."""
    spec = _MODEL_SPECS.get(type(model))
    if spec is None:
        raise TypeError(f"{type(model).__name__} is not a generated model")
    out = {}
    for field in spec[1]:
        value = getattr(model, field.name)
        if value is not None:
            out[field.name] = _encode_value(field.kind, value)
    return out


# -- the server role: a request's parameters as they arrived --------------------------------


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
                f"{cls.NAME}: parameter {param.name!r}: {_describe(exc)}") from None
    try:
        request: Request[Any] = cls(**values)
    except LocalProtocolError as exc:
        raise RemoteProtocolError(str(exc)) from None
    return request


# -- registration ---------------------------------------------------------------------------

_SPECS: dict[int, ResSpec] = {spec.res: spec for spec in RESPONSES}
_EVENT_ATTRIBUTES = frozenset({"res", "name", "fields", "server_time", "request_id", "op",
                               "decode_error"})
_REQUESTS: dict[int, type[Request[Any]]] = {}


def _reply_types(cls: type) -> tuple[type, ...]:
    for base in getattr(cls, "__orig_bases__", ()):
        if get_origin(base) is Request:
            (reply,) = get_args(base)
            if isinstance(reply, UnionType):
                return tuple(get_args(reply))
            return (reply,)
    raise TypeError(f"{cls.__name__} does not name its reply type")


def register(namespace: Mapping[str, Any]) -> tuple[dict[int, type], dict[int, type]]:
    """Bind ``api``'s classes to the table: returns (op -> request class, res -> model)."""
    for shape in SHAPES:
        cls = namespace[shape]
        _SHAPE_CLASSES[shape] = cls
        _SHAPE_BUILDERS[shape] = _shape_builder(shape, cls)
    requests: dict[int, type] = {}
    for op in OPS:
        rcls = namespace[camel(op.name)]
        params: tuple[Param, ...] = op.params
        rcls.OP, rcls.NAME, rcls.SPEC = op.op, op.name, op
        rcls.REPLIES, rcls.READ, rcls.PUSHES = frozenset(op.replies), op.read, op.pushes
        rcls.REPLY_TYPES = _reply_types(rcls)
        rcls._names = frozenset(p.name for p in params)
        rcls._needed = tuple(p.name for p in params if p.required)
        rcls._checks = tuple((p.name, _PARAMS[p.kind]) for p in params)
        requests[op.op] = _REQUESTS[op.op] = rcls
    models: dict[int, type] = {}
    for spec in RESPONSES:
        clash = _EVENT_ATTRIBUTES.intersection(f.name for f in spec.fields)
        if clash and spec.res not in (1, 2, 100, 110, 112):
            raise TypeError(f"res {spec.res}: fields {sorted(clash)} clash with the event's")
        public = namespace[camel(spec.name)]
        models[spec.res] = public
        if spec.res in (1, 2, 100, 110, 112, 666):
            continue  # the core's own events (666: raised as ServerError)
        both = spec.reply and spec.push
        reply_cls = namespace[camel(spec.name) + "Reply"] if both else public
        push_cls = namespace[camel(spec.name) + "Push"] if both else public
        if spec.reply:
            _REPLY_BUILDERS[spec.res] = _model_builder(spec.res, reply_cls, spec.fields, True)
            _MODEL_SPECS[reply_cls] = (spec.res, spec.fields)
        if spec.push:
            _PUSH_BUILDERS[spec.res] = _model_builder(spec.res, push_cls, spec.fields, False)
            _MODEL_SPECS[push_cls] = (spec.res, spec.fields)
    for res, (name, _echo) in EXTRA_CODES.items():
        base = _SPECS[DEFAULT_CODE[name]]
        _SPECS[res] = base._replace(res=res)
        cls = namespace[camel(name)]
        _REPLY_BUILDERS[res] = _model_builder(res, cls, base.fields, True)
    return requests, models


DEFAULT_CODE = {spec.name: spec.res for spec in RESPONSES}
