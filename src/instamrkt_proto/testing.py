"""Helpers for property-testing code built on ``instamrkt_proto``.

**This module needs hypothesis** (a test dependency, not a runtime one: install the ``test``
extra). Importing it without hypothesis raises ``ImportError``.

* ``server_messages()``: a hypothesis strategy for valid server messages, as UTF-8 JSON
  bytes: pong, the op-2 tables, logon 100/110/112, error 666, the documented pushes
  362/366/815, and any other ``res`` with arbitrary JSON fields; half-lenient variants too
  (``response_header`` missing or empty, ``t`` sent as a string).
* ``requests()``: a strategy for ``(op, params)`` pairs accepted by
  ``ClientConnection.send_request``; ``op`` is a number or a documented name.
* ``request_objects()``: a strategy for instances of every request class of
  ``instamrkt_proto.api`` (or of one op), with valid parameters, derived from the API table.
* ``models()``: a strategy for every model of ``instamrkt_proto.api`` (replies and pushes,
  or one response code), derived from the table.
* ``model_messages()``: ``(model, bytes)`` pairs: a model and the message a server sends for
  it, in its exact form or with the docs' lenient variants (numbers as strings, money as
  JSON numbers, ``"None"`` for null, 10-digit seconds, ``pool_type``, int ids, unknown
  extra fields). ``decode_model(data)`` decodes such a message as the core does; the
  round-trip property is ``decode_model(data, ...) == model``.
* ``FakeClock``: monotonic seconds and wall-clock epoch milliseconds you advance by hand.
* ``SequenceRandom``: a replayable ``random()`` for the backoff jitter.
* ``replay(path)``: the events a recorded session (``record=`` option) produces when its
  recorded inputs are fed to a fresh ``ClientConnection`` (``instamrkt_proto.replay``;
  it needs no hypothesis and can be imported from there).
* ``Harness``: a ``ClientConnection`` wired to a fake clock and a scripted peer. It opens
  the connection when the core asks, decodes what the core sends, feeds back replies, and
  runs the core's timers in order while time advances.

Like the rest of the core, this module reads no clock and no random source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import orjson
from hypothesis import strategies as st

from . import api
from ._models import model_fields
from ._table import EXTRA_CODES, RESPONSES, SHAPES, Field
from .auth import Credentials
from .client import ClientConnection
from .codec import ClientRequest, decode_request, decode_server_message, encode_response
from .codes import DEFAULT_OPCODES, ECHO_KEYS, REPLIES, Op, Res
from .config import ClientConfig
from .events import Connecting, Event, Push, Response
from .replay import replay

__all__ = (
    "FakeClock",
    "Harness",
    "Reply",
    "SequenceRandom",
    "decode_model",
    "json_values",
    "model_messages",
    "models",
    "replay",
    "request_objects",
    "requests",
    "server_messages",
    "standard_reply",
)

# -- strategies ----------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=12)
_ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_millis = st.integers(min_value=0, max_value=4_102_444_800_000)
_ids = st.one_of(st.integers(min_value=1, max_value=10**6), st.uuids().map(str))


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON value orjson can encode (no NaN, no lone surrogates, 64-bit ints)."""
    scalars = st.one_of(
        st.none(), st.booleans(), _ints, st.floats(allow_nan=False, allow_infinity=False), _text
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def _fields(reserved: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
    keys = _text.filter(lambda k: k not in reserved)
    return st.dictionaries(keys, json_values(), max_size=5)


_RESERVED_RES = frozenset({"response_header", "res"})


@st.composite
def _header(draw: st.DrawFn) -> dict[str, Any] | None:
    """A response header: populated, empty, missing (None), or with ``t`` as a string."""
    kind = draw(st.sampled_from(("t", "empty", "missing", "t-string")))
    if kind == "missing":
        return None
    if kind == "empty":
        return {}
    t = draw(_millis)
    return {"t": str(t) if kind == "t-string" else t}


def _message(res: int, fields: Mapping[str, Any], header: dict[str, Any] | None) -> bytes:
    obj: dict[str, Any] = {} if header is None else {"response_header": header}
    obj["res"] = res
    obj.update((k, v) for k, v in fields.items() if k not in _RESERVED_RES)
    return orjson.dumps(obj)


_pool_resolved = st.fixed_dictionaries({
    "pool_id": _ids, "game_id": _ids, "winning_target": _text, "description": _text,
    "winners": st.dictionaries(_ids.map(str), st.integers(0, 10**6), max_size=3),
    "losers": st.dictionaries(_ids.map(str), st.integers(0, 10**6), max_size=3),
    "invalidated_bettors": st.lists(_ids, max_size=3), "is_money_return": st.booleans(),
    "resolved_at": _millis,
})
_game_event = st.fixed_dictionaries({
    "action_id": _ids, "target_id": _ids, "target_display_name": _text,
    "current_count": st.dictionaries(_text, st.integers(0, 1000), max_size=3),
    "game_id": _ids, "happened_at": _millis,
})
_balance = st.fixed_dictionaries({
    "current_balance": st.one_of(st.integers(0, 10**9), st.integers(0, 10**9).map(str)),
    "available_balance": st.one_of(st.integers(0, 10**9), st.integers(0, 10**9).map(str)),
    "currency": st.just("DON"),
})
_name_map = st.dictionaries(_text, st.integers(min_value=0, max_value=10**5), max_size=6)


@st.composite
def server_messages(draw: st.DrawFn, res: int | None = None) -> bytes:
    """One valid server message as UTF-8 JSON bytes (``res`` fixes the code if given).

    Valid means routable: a JSON object with an int ``res``. Documented shapes come with
    their documented fields; other codes carry arbitrary JSON fields.
    """
    header = draw(_header())
    code = res if res is not None else draw(st.sampled_from(
        (1, 2, 100, 110, 112, 666, 362, 366, 815, None)))
    if code is None:
        code = draw(st.integers(min_value=-(2**31), max_value=2**31))
    if code == Res.PONG:
        fields: dict[str, Any] = {}
    elif code == Res.OPCODES:
        fields = {"opcodes": draw(_name_map), "response_codes": draw(_name_map)}
    elif code == Res.LOGON_SUCCESS:
        fields = {"session_key": draw(_text)}
    elif code == Res.ERROR:
        fields = {"text": draw(st.one_of(st.none(), _text))}
    elif code == 362:
        fields = draw(_pool_resolved)
    elif code == 366:
        fields = draw(_game_event)
    elif code == 815:
        fields = draw(_balance)
    else:
        fields = draw(_fields(_RESERVED_RES))
    return _message(code, fields, header)


_op_params: dict[int, st.SearchStrategy[dict[str, Any]]] = {
    Op.JOIN_GAME: st.fixed_dictionaries({"game_id": _ids}),
    Op.LEAVE_GAME: st.fixed_dictionaries({"game_id": _ids}),
    Op.PLACE_BET: st.fixed_dictionaries({
        "pool_id": _ids, "target": _text, "amount": st.integers(1, 10**6).map(str)}),
    Op.GET_MY_CURRENT_BALANCE: st.fixed_dictionaries({}, optional={"currency": st.just("DON")}),
}


@st.composite
def requests(draw: st.DrawFn) -> tuple[int | str, dict[str, Any]]:
    """``(op, params)`` for ``send_request``: ``op`` a documented name or any valid number."""
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(DEFAULT_OPCODES)))
        number = DEFAULT_OPCODES[name]
        op: int | str = name if draw(st.booleans()) else number
    else:
        op = number = draw(st.one_of(st.integers(min_value=1, max_value=10**5),
                                     st.just(2**31 - 1)))
    strategy = _op_params.get(number)
    params = draw(strategy) if strategy is not None else draw(
        _fields(frozenset({"header", "op"})))
    return op, params


# -- the typed API: requests, models, their messages ----------------------------------------

_money = st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False,
                     allow_infinity=False, places=2)
_uuid_text = st.uuids().map(str)
_id_text = st.one_of(st.integers(0, 2**53).map(str), _uuid_text)
_big_millis = st.integers(min_value=10**11, max_value=4_102_444_800_000)
_plain_text = _text.filter(lambda v: v.strip() not in {"None", "null", ""})

_PARAM_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "str": _text,
    "id": st.one_of(_uuid_text, st.integers(1, 10**9)),
    "int": st.integers(0, 10**6),
    "bool": st.booleans(),
    "millis": _big_millis,
    "money": st.one_of(_money, st.integers(0, 10**6), _money.map(str)),
    "strs": st.one_of(_text, st.lists(_text, max_size=3)),
    "ids": st.one_of(_uuid_text, st.lists(_uuid_text, max_size=3)),
}


@st.composite
def request_objects(draw: st.DrawFn, op: int | None = None) -> api.Request[Any]:
    """An instance of the request class of ``op`` (any op if None), with valid values."""
    cls = api.REQUESTS[op] if op is not None else draw(
        st.sampled_from([api.REQUESTS[k] for k in sorted(api.REQUESTS)]))
    values: dict[str, Any] = {}
    for param in cls.SPEC.params:
        if param.required or draw(st.booleans()):
            values[param.name] = draw(_PARAM_VALUES[param.kind])
    request: api.Request[Any] = cls(**values)
    return request


def _field_value(field: Field, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = field.kind
    strategy: st.SearchStrategy[Any]
    if kind.startswith("list:"):
        shape = _shape(kind[5:], depth + 1)
        return st.lists(shape, max_size=2 if depth else 3).map(tuple)
    if kind.startswith("obj:"):
        strategy = _shape(kind[4:], depth + 1)
    elif kind == "money_map":
        return st.dictionaries(_id_text, _money, max_size=3)
    elif kind == "count_map":
        return st.dictionaries(_text, st.integers(0, 1000), max_size=3)
    elif kind == "ids":
        return st.lists(_id_text, max_size=3).map(tuple)
    elif kind == "ints":
        return st.lists(st.integers(0, 10**6), max_size=3).map(tuple)
    elif kind == "objects":
        return st.lists(st.dictionaries(_text, json_values(4), max_size=3),
                        max_size=3).map(tuple)
    elif kind == "json":
        return json_values(4)
    else:
        strategy = {"str": _plain_text, "id": _id_text, "int": _ints, "bool": st.booleans(),
                    "millis": _big_millis, "money": _money}[kind]
    return strategy if field.required else st.one_of(st.none(), strategy)


def _shape(shape: str, depth: int) -> st.SearchStrategy[Any]:
    cls = getattr(api, shape)
    return st.fixed_dictionaries(
        {f.name: _field_value(f, depth) for f in SHAPES[shape]}).map(lambda kw: cls(**kw))


_SPECS = {spec.res: spec for spec in RESPONSES}
_MODEL_CODES = sorted(
    [s.res for s in RESPONSES if s.res not in (1, 2, 100, 110, 112, 666)] + list(EXTRA_CODES))


def _model_class(res: int, reply: bool) -> tuple[type, tuple[Field, ...]]:
    if res in EXTRA_CODES:
        return api.Leaderboard, _SPECS[450].fields
    spec = _SPECS[res]
    cls = api.MODELS[res]
    if spec.reply and spec.push:
        cls = getattr(api, cls.__name__ + ("Reply" if reply else "Push"))
    return cls, spec.fields


@st.composite
def models(draw: st.DrawFn, res: int | None = None, reply: bool | None = None) -> Any:
    """A model of ``api``: for ``res`` (any documented code if None), as a reply or a push.

    Replies carry ``request_id=1`` and the op that expects them (see ``decode_model``).
    """
    code = res if res is not None else draw(st.sampled_from(_MODEL_CODES))
    spec = _SPECS.get(code, _SPECS[450])
    roles = [r for r, on in ((True, spec.reply), (False, spec.push)) if on]
    as_reply = reply if reply is not None else draw(st.sampled_from(roles))
    cls, fields = _model_class(code, as_reply)
    values = {f.name: draw(_field_value(f)) for f in fields}
    common: dict[str, Any] = {"res": code, "name": _name(code),
                              "server_time": draw(st.one_of(st.none(), _millis))}
    if as_reply:
        common.update(request_id=1, op=_op_for(code))
    return cls(**common, **values)


def _name(res: int) -> str | None:
    spec = _SPECS.get(res)
    return spec.name if spec is not None else None


def _op_for(res: int) -> int:
    return next((op for op, replies in REPLIES.items() if res in replies), res)


def _lenient_scalar(draw: st.DrawFn, kind: str, value: Any) -> Any:
    """``value`` (already as a server sends it) in one of the forms the docs show."""
    if kind == "money":
        exact = Decimal(value)
        forms = [value]
        if exact == exact.to_integral_value() and abs(exact) < 2**53:
            forms.append(int(exact))
        if Decimal(repr(float(exact))) == exact:
            forms.append(float(exact))
        return draw(st.sampled_from(forms))
    if kind == "int":
        forms = [value, str(value)]
        if abs(value) < 2**53:
            forms.append(float(value))
        return draw(st.sampled_from(forms))
    if kind == "millis":
        forms = [value, str(value)]
        if value % 1000 == 0:
            forms.append(value // 1000)  # the examples' 10-digit seconds
        return draw(st.sampled_from(forms))
    if kind == "id" and value.isdigit() and value == str(int(value)) and int(value) < 2**63:
        return draw(st.sampled_from([value, int(value)]))
    if kind == "bool":
        return draw(st.sampled_from([value, str(value)]))
    return value


def _lenient(draw: st.DrawFn, fields: tuple[Field, ...], out: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for field in fields:
        if field.name not in out:
            if field.kind in ("str", "json") or draw(st.booleans()):
                continue  # left out
            result[field.name] = draw(st.sampled_from([None, "None"]))
            continue
        value = out[field.name]
        kind = field.kind
        if kind.startswith("list:"):
            shape_fields = SHAPES[kind[5:]]
            value = [_lenient(draw, shape_fields, item) for item in value]
        elif kind.startswith("obj:"):
            value = _lenient(draw, SHAPES[kind[4:]], value)
        elif kind == "money_map":
            value = {k: _lenient_scalar(draw, "money", v) for k, v in value.items()}
        elif kind == "ids":
            value = [_lenient_scalar(draw, "id", v) for v in value]
        else:
            value = _lenient_scalar(draw, kind, value)
        key = field.alias if field.alias is not None and draw(st.booleans()) else field.name
        result[key] = value
    if draw(st.booleans()):
        result["an_undocumented_field"] = draw(json_values(3))
    return result


@st.composite
def model_messages(draw: st.DrawFn, res: int | None = None,
                   lenient: bool | None = None) -> tuple[Any, bytes]:
    """``(model, message)``: a model and a message a server could send for it.

    The message is exact (money as strings, times in ms, null fields left out) or, if
    ``lenient`` (drawn when None), uses the docs' inconsistent forms, which must decode to
    the same model.
    """
    model = draw(models(res))
    fields = model_fields(model)
    spec = _SPECS.get(model.res, _SPECS[450])
    if lenient if lenient is not None else draw(st.booleans()):
        fields = _lenient(draw, spec.fields, fields)
    header = None if model.server_time is None else {"t": model.server_time}
    return model, _message(model.res, fields, header)


def decode_model(data: bytes, *, request_id: int | None = None, op: int | None = None
                 ) -> Response | Push:
    """Decode a server message as the core does: a reply to ``op`` if ``request_id`` is
    given (``op`` defaults to the op that expects the code), else a push."""
    res, t, fields = decode_server_message(data)
    name = _name(res)
    if request_id is None:
        return api.decode_push(res, name, fields, t)
    return api.decode_reply(request_id, op if op is not None else _op_for(res), res, fields,
                            t, name)


# -- clock, randomness ---------------------------------------------------------------------


class FakeClock:
    """Monotonic seconds (``now``) and epoch milliseconds (``wall()``), advanced by hand."""

    __slots__ = ("now", "wall_ms")

    def __init__(self, now: float = 1000.0, wall_ms: int = 1_422_006_034_742) -> None:
        self.now = now
        self.wall_ms = wall_ms

    def advance(self, seconds: float) -> float:
        """Move both clocks forward; returns the new ``now``."""
        if seconds < 0:
            raise ValueError("a monotonic clock never goes back")
        self.now += seconds
        self.wall_ms += round(seconds * 1000)
        return self.now

    def wall(self) -> int:
        """The ``wall_clock`` callable for ``ClientConnection``."""
        return self.wall_ms


class SequenceRandom:
    """A ``random()`` that returns ``values`` in turn, cycling; records how often it ran."""

    __slots__ = ("calls", "values")

    def __init__(self, values: Iterable[float] = (0.5,)) -> None:
        self.values = tuple(values)
        if not self.values:
            raise ValueError("need at least one value")
        self.calls = 0

    def __call__(self) -> float:
        value = self.values[self.calls % len(self.values)]
        self.calls += 1
        return value


# -- a scripted peer -----------------------------------------------------------------------

Reply = bytes | str | Mapping[str, Any]
"""What a peer answers: ready bytes or text, or a mapping with ``res`` (and optional ``t``)."""


def standard_reply(request: ClientRequest) -> list[Reply]:
    """The documented success reply to ``request``, echoing the keys replies echo."""
    op = request.op
    if op == Op.PING:
        return [{"res": Res.PONG}]
    if op == Op.GET_OPCODES:
        return [{"res": Res.OPCODES, "opcodes": dict(DEFAULT_OPCODES), "response_codes": {}}]
    res = min(REPLIES.get(op, frozenset({op})))
    fields: dict[str, Any] = {"res": res}
    key = ECHO_KEYS.get(res)
    if key is not None and key in request.params:
        fields[key] = request.params[key]
    return [fields]


def _encode(reply: Reply, t: int) -> bytes | str:
    if isinstance(reply, (bytes, str)):
        return reply
    fields = dict(reply)
    res = fields.pop("res")
    return encode_response(res, fields, t=fields.pop("t", t))


@attrs.define
class Harness:
    """A ``ClientConnection`` on a ``FakeClock``, talking to a scripted peer.

    ``peer`` maps each decoded request to the replies the server sends at once (default:
    ``standard_reply``; return ``[]`` to stay silent and answer later with ``receive``).
    ``auto_connect`` completes every ``Connecting`` with ``connection_made`` (set it False
    to script handshake failures). Every method returns the events the core produced.
    """

    conn: ClientConnection
    clock: FakeClock
    peer: Callable[[ClientRequest], list[Reply]] | None = standard_reply
    auto_connect: bool = True
    sent: list[ClientRequest] = attrs.Factory(list)
    """Every request the core put on the wire, decoded, in order."""
    events: list[Event] = attrs.Factory(list)
    """Every event the core produced, in order."""

    @classmethod
    def create(
        cls,
        *,
        config: ClientConfig | None = None,
        credentials: Credentials | None = None,
        url: str = "wss://instamrkt.test:9999",
        clock: FakeClock | None = None,
        random: Callable[[], float] | None = None,
        peer: Callable[[ClientRequest], list[Reply]] | None = standard_reply,
        auto_connect: bool = True,
    ) -> Harness:
        clock = clock or FakeClock()
        conn = ClientConnection(
            url,
            credentials or Credentials("1", "test-session-key"),
            wall_clock=clock.wall,
            random=random or SequenceRandom(),
            config=config,
        )
        return cls(conn, clock, peer, auto_connect)

    def _run(self, action: Callable[[], None]) -> list[Event]:
        """Do ``action``, then flush: deliver sent data to the peer until quiet."""
        start = len(self.events)
        action()
        while True:
            events = self.conn.events_received()
            data = self.conn.data_to_send()
            if not events and not data:
                return self.events[start:]
            self.events.extend(events)
            now = self.clock.now
            for event in events:
                if isinstance(event, Connecting) and self.auto_connect:
                    self.conn.connection_made(now)
            for item in data:
                request = decode_request(item)
                self.sent.append(request)
                if self.peer is not None:
                    for reply in self.peer(request):
                        self.conn.receive_message(_encode(reply, self.clock.wall_ms), now)

    def connect(self) -> list[Event]:
        return self._run(lambda: self.conn.connect(self.clock.now))

    def request(self, op: int | str, /, **params: Any) -> int:
        """``send_request`` now; the events it produced land in ``events``."""
        ids: list[int] = []
        self._run(lambda: ids.append(self.conn.send_request(op, params, now=self.clock.now)))
        return ids[0]

    def receive(self, message: Reply) -> list[Event]:
        """Feed one server message (bytes, str, or a mapping with ``res``)."""
        data = _encode(message, self.clock.wall_ms)
        return self._run(lambda: self.conn.receive_message(data, self.clock.now))

    def call(self, action: Callable[[ClientConnection, float], None]) -> list[Event]:
        """Run ``action(conn, now)`` (any other core call) and flush."""
        return self._run(lambda: action(self.conn, self.clock.now))

    def advance(self, seconds: float) -> list[Event]:
        """Let ``seconds`` pass, firing each core deadline at its exact time, in order."""
        end = self.clock.now + seconds
        start = len(self.events)
        while True:
            deadline = self.conn.next_deadline()
            if deadline is None or deadline > end:
                break
            self.clock.advance(max(0.0, deadline - self.clock.now))
            self._run(lambda: self.conn.handle_timer(self.clock.now))
            after = self.conn.next_deadline()
            if after is not None and after <= self.clock.now:
                raise AssertionError(f"handle_timer({self.clock.now}) left a deadline {after}")
        self.clock.advance(end - self.clock.now)
        self._run(lambda: self.conn.handle_timer(self.clock.now))
        return self.events[start:]
