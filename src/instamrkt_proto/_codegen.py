"""Renders ``api.py`` (the typed classes) and ``docs/api.md`` from the table (``_table``).

Run ``python -m instamrkt_proto._codegen`` after changing the table: it rewrites both
files; ``--check`` only reports whether they are current (a test runs that check). The
classes are generated as source, not built at run time, so type checkers and editors see
every parameter and field.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from ._models import camel
from ._table import EXTRA_CODES, OPS, RESPONSES, SHAPES, Field, OpSpec, Param, ResSpec

__all__ = ("main", "render_api", "render_docs")

_CORE_MODELS = {1: "Pong", 2: "OpcodeTable", 100: "LoggedOn", 110: "LogonFailed",
                112: "LoggedOn"}
_CORE_REPLY = {1: "Pong", 2: "OpcodeTable", 100: "LoggedOn"}

_PARAM_TYPES = {
    "str": "str", "id": "str | int", "int": "int", "bool": "bool", "millis": "int",
    "money": "Decimal | int | str", "strs": "str | Sequence[str]",
    "ids": "str | int | Sequence[str | int]",
}
_FIELD_TYPES = {
    "str": "str", "id": "str", "int": "int", "bool": "bool", "millis": "int",
    "money": "Decimal", "money_map": "Mapping[str, Decimal]", "count_map": "Mapping[str, int]",
    "ids": "tuple[str, ...]", "ints": "tuple[int, ...]",
    "objects": "Sequence[Mapping[str, Any]]", "json": "Any",
}
_COLLECTION_DEFAULTS = {"money_map": "EMPTY_MAP", "count_map": "EMPTY_MAP", "ids": "()",
                        "ints": "()", "objects": "()"}


def _field_type(field: Field) -> tuple[str, str | None]:
    """(annotation, default source or None for required)."""
    kind = field.kind
    if kind.startswith("list:"):
        return f"Sequence[{kind[5:]}]", "()"
    if kind.startswith("obj:"):
        base, default = kind[4:], "None"
    else:
        base = _FIELD_TYPES[kind]
        if kind in _COLLECTION_DEFAULTS:
            return base, _COLLECTION_DEFAULTS[kind]
        default = "None"
    if field.required:
        return base, None
    if base == "Any":
        return base, default
    return f"{base} | None", default


def _attr_lines(fields: Iterable[Field], with_defaults: bool = True) -> list[str]:
    lines = []
    for field in fields:
        annotation, default = _field_type(field)
        if not with_defaults or default is None:
            lines.append(f"    {field.name}: {annotation}")
        else:
            lines.append(f"    {field.name}: {annotation} = {default}")
        if field.doc:
            doc = field.doc if field.alias is None else (
                f"{field.doc} (also read from ``{field.alias}``)")
            lines.append(f'    """{doc}"""')
    return lines


def _res_name(res: int) -> str:
    if res in _CORE_MODELS:
        return _CORE_MODELS[res]
    if res in EXTRA_CODES:
        return camel(EXTRA_CODES[res][0])
    return camel(_SPEC[res].name)


_SPEC = {spec.res: spec for spec in RESPONSES}
_BY_OP = {op.op: op for op in OPS}


def reply_type(op: OpSpec) -> str:
    """The reply type of an op, as source: a model, a covering base or a union."""
    if op.op in _CORE_REPLY:
        return _CORE_REPLY[op.op]
    names = list(dict.fromkeys(_res_name(res) for res in op.replies))
    if len(names) == 1:
        return names[0]
    bases = {(_SPEC[r].base if r in _SPEC else EXTRA_CODES[r][0]) or _SPEC[r].name
             for r in op.replies}
    if len(bases) == 1:
        return camel(bases.pop())
    return " | ".join(names)


def _answers(res: int) -> list[OpSpec]:
    return [op for op in OPS if res in op.replies]


def _pushed_by(res: int) -> list[OpSpec]:
    return [op for op in OPS if res in op.pushes]


def _ops_text(ops: list[OpSpec]) -> str:
    return ", ".join(f"{op.name} ({op.op})" for op in ops)


def _wrap(text: str, indent: str, width: int = 92) -> list[str]:
    words, lines, line = text.split(), [], indent
    for word in words:
        if len(line) + len(word) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += word + " "
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _docstring(summary: str, body: str) -> list[str]:
    if len(summary) > 92:
        head, _, rest = summary.partition(": ")
        summary, body = head + ".", f"{rest} {body}"
    lines = [f'    """{summary}', ""]
    lines += _wrap(body, "    ")
    lines.append('    """')
    return lines


def _model_doc(spec: ResSpec) -> str:
    parts = []
    answers, pushed = _answers(spec.res), _pushed_by(spec.res)
    if spec.reply and answers:
        parts.append(f"The reply to {_ops_text(answers)}.")
    if spec.push:
        parts.append("Pushed" + (f" after {_ops_text(pushed)}." if pushed else "."))
    if spec.echo:
        parts.append(f"Echoes ``{spec.echo}``.")
    if spec.reply and spec.push:
        parts.append(f"As a reply it is a ``{camel(spec.name)}Reply`` (a ``Response``), "
                     f"as a push a ``{camel(spec.name)}Push`` (a ``Push``).")
    return " ".join(parts)


HEADER = '''"""The whole Instamrkt API, typed: a request class per op, a model per response code.

GENERATED from the table in ``_table.py`` by ``python -m instamrkt_proto._codegen``: edit
the table, not this file (a test fails when it is out of date).

* Requests: ``JoinGame(game_id=...)``, ``PlaceBetInBettingPool(pool_id=..., target=...,
  amount=...)``... frozen attrs classes, keyword-only. A misspelt, missing or mistyped
  parameter raises ``LocalProtocolError`` naming the op and the parameter. Money is
  ``Decimal``, ``int`` or a numeric ``str`` (a ``float`` is refused) and is sent as a JSON
  string of its exact decimal text. Every client's ``call(request)`` returns the reply
  model, typed: ``client.call(PlaceBetInBettingPool(...))`` is a ``BetPlacedInBettingPool``.
* Models: one per documented response code, named after it. A reply is a
  ``Response`` subclass, a push a ``Push`` subclass; a code that is both (a reply to one
  request, a push to everyone else) has a common base named after it, with ``...Reply``
  and ``...Push`` subclasses: ``isinstance(event, NewGameEvent)`` holds for both. ``res``,
  ``server_time`` and the raw ``fields`` (unknown keys included) stay on every one.
* Alternative replies: logon's 100 and 112 are both ``LoggedOn`` (110 raises
  ``LogonError``); become_an_admin_for_game returns the union of its two models; every
  leaderboard reply is a ``Leaderboard`` (each code a subclass), so ops answered by two
  leaderboard codes return ``Leaderboard``.
* Decoding is lenient where the docs are: numbers as strings, ``"None"`` as null, times
  normalised to epoch **milliseconds** (10-digit seconds are multiplied by 1000), pool
  ``type`` read from ``pool_type`` too, ids as ``str`` whether sent as ints or uuids.
  Nested lists are structured on first access.

See ``docs/api.md`` for every op and code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import attrs

from ._decoders import EMPTY_MAP, Lazy
from ._models import Payload, model_fields, register
from ._models import push_event as decode_push
from ._models import reply_model as decode_reply
from ._params import Request, request_from_wire
from .events import LoggedOn, LogonFailed, OpcodeTable, Pong, Push, Response

'''


def _all_names() -> list[str]:
    names = ["Lazy", "Payload", "Request", "MODELS", "REQUESTS", "decode_push", "decode_reply",
             "model_fields",
             "request_from_wire", "LoggedOn", "LogonFailed", "OpcodeTable", "Pong"]
    names += list(SHAPES)
    for spec in RESPONSES:
        names.append(camel(spec.name))
        if spec.reply and spec.push:
            names += [camel(spec.name) + "Reply", camel(spec.name) + "Push"]
    names += [camel(op.name) for op in OPS]
    upper = sorted({n for n in names if n.isupper()})
    rest = sorted({n for n in names if not n.isupper()})
    return upper + rest


def render_api() -> str:
    """The source of ``api.py``."""
    out = [HEADER.rstrip("\n"), "", "__all__ = ("]
    out += [f'    "{name}",' for name in _all_names()]
    out += [")", "", "", "# -- nested shapes " + "-" * 74, ""]
    for shape, fields in SHAPES.items():
        out += ["", "@attrs.frozen(slots=True, kw_only=True)", f"class {shape}:",
                f'    """A {shape} nested in replies and pushes (see ``docs/api.md``)."""', "",
                "    raw: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)",
                '    """The object as the server sent it (unknown keys included)."""']
        out += _attr_lines(fields)
        out.append("")
    out += ["", "# -- models, one per response code " + "-" * 58, ""]
    for spec in RESPONSES:
        name = camel(spec.name)
        summary = f"res {spec.res} ``{spec.name}``: {spec.doc}"
        if spec.res in _CORE_MODELS:
            if name != _CORE_MODELS[spec.res]:
                out += [f"{name} = {_CORE_MODELS[spec.res]}",
                        f'"""{summary} (the core\'s own event)."""', ""]
            continue
        doc = _model_doc(spec)
        fields_line = ("    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, "
                       "eq=False, repr=False)")
        if spec.reply and spec.push:
            out += ["", f"class {name}(Payload):"]
            out += _docstring(summary, doc)
            out += ["", "    __slots__ = ()", ""]
            out += _attr_lines(spec.fields, with_defaults=False)
            for role, base in (("Reply", "Response"), ("Push", "Push")):
                out += ["", "", "@attrs.frozen(slots=True, kw_only=True)",
                        f"class {name}{role}({base}, {name}):",
                        f'    """``{name}`` received as a {role.lower()}."""', "",
                        fields_line]
                out += _attr_lines(spec.fields)
            out.append("")
            continue
        base = camel(spec.base) if spec.base else ("Response" if spec.reply else "Push")
        out += ["", "@attrs.frozen(slots=True, kw_only=True)", f"class {name}({base}):"]
        out += _docstring(summary, doc)
        if spec.base is None:
            out += ["", fields_line]
            out += _attr_lines(spec.fields)
        out.append("")
    out += ["", "# -- requests, one per op " + "-" * 67, ""]
    for op in OPS:
        name = camel(op.name)
        kind = "An idempotent read." if op.read else (
            "Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost.")
        replies = ", ".join(f"{res} ``{_res_name(res)}``" for res in op.replies)
        body = f"{kind} Replies: {replies}."
        if op.pushes:
            body += " Then pushed: " + ", ".join(
                f"{res} ``{_res_name(res)}``" for res in op.pushes) + "."
        out += ["", "@attrs.frozen(slots=True, kw_only=True)",
                f"class {name}(Request[{reply_type(op)}]):"]
        out += _docstring(f"op {op.op} ``{op.name}``: {op.doc}", body)
        out += ["", f"    OP: ClassVar[int] = {op.op}"]
        for param in sorted(op.params, key=lambda p: not p.required):
            annotation = _PARAM_TYPES[param.kind]
            if param.required:
                out.append(f"    {param.name}: {annotation}")
            else:
                out.append(f"    {param.name}: {annotation} | None = None")
            if param.doc:
                default = f" Server default: {param.default}." if param.default else ""
                out.append(f'    """{param.doc}{default}"""')
        out.append("")
    out += ["", "REQUESTS: Mapping[int, type[Request[Any]]]",
            'MODELS: Mapping[int, type]',
            "REQUESTS, MODELS = register(globals())",
            '"""Op -> request class; res -> model (the common base for reply-and-push codes)."""',
            ""]
    return "\n".join(out)


# -- docs/api.md ----------------------------------------------------------------------------


def _param_row(param: Param) -> str:
    need = "required" if param.required else (
        f"optional (server default {param.default})" if param.default else "optional")
    return f"`{param.name}` ({_PARAM_TYPES[param.kind]}, {need}): {param.doc}"


def _field_row(field: Field) -> str:
    annotation, _default = _field_type(field)
    extra = " (required)" if field.required else ""
    alias = f" (also `{field.alias}`)" if field.alias else ""
    return f"`{field.name}`{alias}: `{annotation}`{extra}. {field.doc}"


DOC_HEADER = """# The typed API: every op and response code

GENERATED from the library's API table by `python -m instamrkt_proto._codegen`; do not edit
(a test fails when this file is out of date). `from instamrkt_proto import api`: one request
class per op and one model per response code, named after the documented names in CamelCase.

- **Calling.** `client.call(api.JoinGame(game_id="g-1"))` returns the reply model, typed
  (`await` it on anyio; the threaded client also has `call_async`, returning a `Future`).
  `request(name, **params)` stays for dynamic use and returns the same models.
- **Validation.** A misspelt, missing or mistyped parameter raises `LocalProtocolError`
  naming the op and the parameter before anything is queued. Optional parameters left
  out (`None`) are not sent: the server applies its default.
- **Money** is `decimal.Decimal` everywhere (amounts, balances, exposure, winners and losers,
  distributions, points). A request takes `Decimal`, `int` or a numeric `str`, refuses
  `float`, NaN and infinity, and sends the exact decimal text as a JSON string (`"amount":
  "1.50"`). A reply's money is read from a string exactly, or from a JSON number through its
  shortest text (`10.1` is `Decimal("10.1")`).
- **Times** are epoch **milliseconds** (`int`). The docs' examples also show 10-digit
  seconds: any time below 10^11 is taken as seconds and multiplied by 1000.
- **Leniency.** Numbers sent as strings are read; `"None"`, `"null"` and `""` are null; ids
  are `str` whether sent as ints (`17`) or uuids; a pool's `type` is also read from
  `pool_type`; `"True"`/`"False"` are booleans. Unknown fields are kept in `fields` (and in
  each nested object's `raw`), never an error.
- **Both reply and push.** A code the server sends both ways (342, 366, 367, 368, 369, 370,
  371, 341, 640, 901, 340, 3401, 3402) has a common base named after it and two
  subclasses, `...Reply` (a `Response`) and `...Push` (a `Push`): `isinstance(event,
  api.NewGameEvent)` holds for both, and `call()` is typed with the base.
- **Alternatives.** logon's 100 and 112 are both `LoggedOn` (`already_logged_in` tells them
  apart; 110 raises `LogonError`); become_an_admin_for_game returns
  `BecomeAnAdminForGameSuccess | BecomeAnAdminForGameFail`; every leaderboard reply is an
  `api.Leaderboard` (each code a subclass; 452 and 453, which only the examples use, are
  plain `Leaderboard`s), so an op answered by two codes returns `Leaderboard`.
  close_game returns `GameClosed | BettingInPoolBlocked`: the second means the game is
  still open because a manual (binary) pool is unresolved (see its entry below).
- **Payloads that do not fit.** A documented code whose payload cannot be structured (a
  required field missing, text where money belongs) arrives as the generic `Push` or
  `Response` with `decode_error` saying why, counted in the session metrics
  (`undecodable`); `call()` raises `UndecodableReply` (a `RemoteProtocolError`) for it,
  carrying the generic reply as `.response`. Nested
  lists (pools, distributions, bets, leaderboard entries, predictions) are structured on
  first access: an item that does not fit raises `RemoteProtocolError` then.
- **Moves money** means: never pipelined against a request it cannot be told apart from,
  never re-sent, and `OutcomeUnknown` if its reply is lost (`docs/protocol.md`).
"""


def render_docs() -> str:
    """The text of ``docs/api.md``."""
    out = [DOC_HEADER, "## Ops", ""]
    for op in OPS:
        name = camel(op.name)
        out += [f"### {op.op} `{op.name}`: `api.{name}`", "", op.doc, ""]
        if op.role:
            role = {"SA": "game source admins", "GA": "game admins",
                    "dev": "developer accounts"}[op.role]
            out += [f"Only for {role}.", ""]
        out.append("- Parameters:" + (" none" if not op.params else ""))
        out += [f"  - {_param_row(p)}" for p in op.params]
        out.append(f"- Reply: `{reply_type(op)}` (res "
                   + " or ".join(str(r) for r in op.replies) + ")")
        if op.pushes:
            out.append("- Pushes that follow: " + ", ".join(
                f"{res} `{_res_name(res)}`" for res in op.pushes))
        out.append("- Moves money: " + ("no (idempotent read)" if op.read else "yes"))
        out.append("")
    out += ["## Response codes", ""]
    for spec in RESPONSES:
        name = camel(spec.name)
        roles = " and ".join(r for r, on in (("reply", spec.reply), ("push", spec.push)) if on)
        model = f"`api.{name}`"
        if spec.res in _CORE_MODELS:
            model += f" (= `{_CORE_MODELS[spec.res]}`)"
        elif spec.base:
            model += f" (a `{camel(spec.base)}`)"
        elif spec.reply and spec.push:
            model += f" (`{name}Reply` / `{name}Push`)"
        out += [f"### {spec.res} `{spec.name}`: {model}", "", f"{spec.doc} Sent as a {roles}.",
                ""]
        if spec.res == 666:
            out += ["Never returned: the request fails with `ServerError(text)`, or "
                    "`UncorrelatedError` is reported.", ""]
        detail = _model_doc(spec)
        if detail:
            out += [detail, ""]
        if spec.base is None and spec.fields:
            out += [f"- {_field_row(f)}" for f in spec.fields]
            out.append("")
    out += ["## Nested objects", ""]
    for shape, fields in SHAPES.items():
        out += [f"### `api.{shape}`", ""]
        out += [f"- {_field_row(f)}" for f in fields]
        out.append("")
    extra = ", ".join(f"{res} (as `{camel(name)}`)" for res, (name, _e) in EXTRA_CODES.items())
    out += ["## Codes only the examples use", "", f"{extra}.", ""]
    return "\n".join(out)


ROOT = Path(__file__).resolve().parent
API_PATH = ROOT / "api.py"


def docs_path() -> Path:
    return ROOT.parent.parent / "docs" / "api.md"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    targets = [(API_PATH, render_api()), (docs_path(), render_docs())]
    stale = [path for path, text in targets
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if "--check" in args:
        for path in stale:
            print(f"out of date: {path}")
        return 1 if stale else 0
    for path, text in targets:
        if path in stale:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
