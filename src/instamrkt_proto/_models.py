"""The models of ``api``: bound to the table, decoded from a message's fields, encoded back.

Built once, at import, from the table (``_table``) and the classes ``api`` declares
(``register``):

* Decoders: one plain function per response code, compiled from the table (straight-line
  code, no reflection per message), turning a message's fields into its model. Each field
  is read by its kind's decoder from ``_decoders``; the commonest wire types (text, ints,
  money, non-empty lists) are decoded inline in the compiled code. Money becomes
  ``Decimal``, times epoch milliseconds, ids ``str``, nested lists ``Lazy``.
* ``push_event`` and ``reply_model``: what the core calls. A payload that cannot be
  structured gives the generic ``Push``/``Response`` with ``decode_error`` set: never an
  exception, never a lost message.
* ``model_fields``: a model back to the fields a server sends (the test kit and the
  reference server use it).

``register`` binds the request classes too; what they check lives in ``_params``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from ._decoders import SCALARS, Lazy, describe, is_null, lazy_list, required
from ._params import bind_request
from ._table import EXTRA_CODES, OPS, RESPONSES, SHAPES, Field, ResSpec
from .events import Push, Response

__all__ = (
    "PUSH_DECODERS",
    "Payload",
    "camel",
    "generic_push",
    "model_fields",
    "push_event",
    "register",
    "reply_model",
)


def camel(name: str) -> str:
    """``place_bet_in_betting_pool`` -> ``PlaceBetInBettingPool``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


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
        convert = lazy_list(_SHAPE_BUILDERS[shape], f"{where}.{field.name}")  # built before
    elif kind.startswith("obj:"):
        shape = kind[4:]

        def convert(value: Any) -> Any:
            return None if is_null(value) else _SHAPE_BUILDERS[shape](value)
    else:
        convert = SCALARS[kind]
    return required(convert) if field.required else convert


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
                tuple(value)  # structures every item
        except Exception as inner:
            return f"res {res}: field {field.name!r}: {describe(inner)}"
    return f"res {res}: {describe(exc)}"


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


# -- registration ---------------------------------------------------------------------------

_SPECS: dict[int, ResSpec] = {spec.res: spec for spec in RESPONSES}
_EVENT_ATTRIBUTES = frozenset({"res", "name", "fields", "server_time", "request_id", "op",
                               "decode_error"})


def register(namespace: Mapping[str, Any]) -> tuple[dict[int, type], dict[int, type]]:
    """Bind ``api``'s classes to the table: returns (op -> request class, res -> model)."""
    for shape in SHAPES:
        cls = namespace[shape]
        _SHAPE_CLASSES[shape] = cls
        _SHAPE_BUILDERS[shape] = _shape_builder(shape, cls)
    requests: dict[int, type] = {}
    for op in OPS:
        requests[op.op] = bind_request(namespace[camel(op.name)], op)
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
