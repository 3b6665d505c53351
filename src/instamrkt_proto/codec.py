"""JSON wire codec for both roles: requests and server messages as UTF-8 JSON bytes.

Decoding is strict where a mistake would misroute a message (a message must be a JSON object;
``res`` and ``op`` must be ints) and lenient where the doc is inconsistent (a missing or empty
``response_header``, ``t`` sent as a string or float). The hot path (a pong) is one
``orjson.loads`` and a few dict lookups; cattrs (with the orjson preset) structures the
payloads that need types, such as the op-2 tables.

Encoding refuses what JSON cannot carry faithfully before anything is queued: orjson would
write NaN and infinity as ``null``, which on a money op means a different request. A
``Decimal`` goes out as a JSON string of its exact decimal text (``"1.50"``), as the docs'
place_bet example sends its amount.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

import attrs
import orjson
from cattrs.preconf.orjson import make_converter

from .errors import LocalProtocolError, RemoteProtocolError

__all__ = (
    "API_VERSION",
    "ClientRequest",
    "ServerMessage",
    "converter",
    "decode_request",
    "decode_server_message",
    "encode_params",
    "encode_request",
    "encode_response",
    "frame_request",
    "lenient_int",
)

API_VERSION = 1.0
_RESERVED = frozenset({"header", "op"})
_RESERVED_RES = frozenset({"response_header", "res"})
_loads = orjson.loads
_dumps = orjson.dumps


def lenient_int(value: Any) -> int | None:
    """An int from an int, an integral float or a numeric string; None for null/"None"."""
    if value is None or (type(value) is str and value in {"None", ""}):  # lists are unhashable
        return None
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not integral")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            number = float(text)
            if not number.is_integer():
                raise ValueError(f"{value!r} is not integral") from None
            return int(number)
    raise ValueError(f"{type(value).__name__} is not a number")


converter = make_converter(detailed_validation=False)
"""The cattrs converter (orjson preset) used for typed payloads; numbers may be strings."""
converter.register_structure_hook(int, lambda v, _t: _strict(lenient_int(v)))


def _strict(value: int | None) -> int:
    if value is None:
        raise ValueError("missing number")
    return value


class ServerMessage(NamedTuple):
    """A decoded server message: ``res``, the header's ``t`` and the remaining fields.

    A named tuple, not an attrs class: it is built for every message received and never
    outlives the call that decodes it, so construction cost is what matters.
    """

    res: int
    t: int | None
    fields: dict[str, Any]


@attrs.frozen(slots=True)
class ClientRequest:
    """A decoded client request (server role). ``header`` may hold the session key."""

    op: int
    t: int | None
    header: Mapping[str, Any] = attrs.field(repr=False)
    params: dict[str, Any] = attrs.field(factory=dict)


def _object(data: bytes | str) -> dict[str, Any]:
    try:
        obj = _loads(data)
    except orjson.JSONDecodeError as exc:
        raise RemoteProtocolError(f"message is not valid JSON: {exc.msg}") from None
    if type(obj) is not dict:
        raise RemoteProtocolError(f"message is a JSON {type(obj).__name__}, not an object")
    return obj


def _header_t(header: Any, key: str) -> int | None:
    if header is None:
        return None
    if type(header) is not dict:
        raise RemoteProtocolError(f"{key} is a {type(header).__name__}, not an object")
    t = header.get("t")
    if t is None or type(t) is int:
        return t
    try:
        return lenient_int(t)
    except ValueError:
        return None  # a garbled timestamp is not worth dropping the message over


def _pop_code(obj: dict[str, Any], key: str) -> int:
    """The routing number (``res`` or ``op``): an int, or the message cannot be routed."""
    code = obj.pop(key, None)
    if type(code) is not int:
        what = "missing" if code is None else f"a {type(code).__name__}"
        raise RemoteProtocolError(f"'{key}' must be an int, got {what}")
    return code


_new_tuple = tuple.__new__


def decode_server_message(data: bytes | str) -> ServerMessage:
    """Decode one server message. Raises ``RemoteProtocolError`` if it cannot be routed.

    Runs for every message received: the usual shape (an object with an int ``res`` and a
    header whose ``t`` is an int or absent) takes no function call beyond ``orjson.loads``.
    """
    try:
        obj = _loads(data)
    except orjson.JSONDecodeError:
        obj = None
    if type(obj) is not dict:
        _object(data)  # raises the precise error
    res = obj.pop("res", None)
    if type(res) is not int:
        obj["res"] = res
        _pop_code(obj, "res")  # raises the precise error
    header = obj.pop("response_header", None)
    t = header.get("t") if type(header) is dict else None
    if (t is not None and type(t) is not int) or (header is not None and type(header) is not dict):
        t = _header_t(header, "response_header")
    return _new_tuple(ServerMessage, (res, t, obj))  # skips the named tuple's Python __new__


def decode_request(data: bytes | str) -> ClientRequest:
    """Decode one client request (server role). Raises ``RemoteProtocolError``."""
    obj = _object(data)
    op = _pop_code(obj, "op")
    header = obj.pop("header", None)
    if type(header) is not dict:
        raise RemoteProtocolError("request has no 'header' object")
    return ClientRequest(op, _header_t(header, "header"), header, obj)


def _check_params(params: Mapping[str, Any], reserved: frozenset[str]) -> None:
    clash = reserved.intersection(params)
    if clash:
        raise LocalProtocolError(f"parameter names {sorted(clash)} are reserved")


_PLAIN = frozenset({str, int, bool, type(None)})  # cannot hold a NaN: checked by type alone


def _non_finite(value: Any, path: str) -> str | None:
    """The path of the first NaN or infinity inside ``value``, or None."""
    if type(value) in _PLAIN:
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, Decimal):
        return None if value.is_finite() else path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _non_finite(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _decimal_text(value: Any) -> str:
    """orjson's hook for what it cannot encode: a (finite) ``Decimal`` as its exact text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def encode_params(op: int, params: Mapping[str, Any]) -> bytes:
    """The parameters of a request as a JSON object, checked once at submission.

    Raises ``LocalProtocolError`` for reserved names, NaN or infinity anywhere (JSON has no
    such numbers, and a ``Decimal`` NaN is no amount), and values JSON cannot carry.
    """
    if not params:
        return b"{}"
    _check_params(params, _RESERVED)
    plain = _PLAIN
    for key, value in params.items():
        if type(value) not in plain:
            bad = _non_finite(value, key)
            if bad is not None:
                raise LocalProtocolError(f"op {op}: parameter {bad} is not a finite number")
    try:
        return _dumps(params, default=_decimal_text)
    except TypeError as exc:
        raise LocalProtocolError(f"op {op}: parameters are not JSON-serialisable: {exc}") from None


def frame_request(op: int, body: bytes, key_json: bytes, t: int) -> bytes:
    """Splice the header in front of pre-encoded parameters (``body`` from encode_params).

    ``key_json`` is the session key already JSON-encoded. Building the header by hand saves
    a second serialisation of the parameters at send time, when ``t`` is known.
    """
    head = b'{"header":{"session_key":%b,"t":%d,"api_version":1.0},"op":%d' % (key_json, t, op)
    if body == b"{}":
        return head + b"}"
    return head + b"," + body[1:]


def encode_request(op: int, params: Mapping[str, Any], *, session_key: str, t: int) -> bytes:
    """``{"header": {session_key, t, api_version}, "op": op, **params}`` as UTF-8 bytes."""
    return frame_request(op, encode_params(op, params), _dumps(session_key), t)


def encode_response(res: int, fields: Mapping[str, Any], *, t: int | None) -> bytes:
    """``{"response_header": {"t": t}, "res": res, **fields}`` as UTF-8 bytes."""
    if "res" in fields or "response_header" in fields:  # every push: two lookups, no set
        _check_params(fields, _RESERVED_RES)
    header = {} if t is None else {"t": t}
    return _dumps({"response_header": header, "res": res, **fields})
