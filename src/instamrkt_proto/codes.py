"""The documented op and response-code tables, and what the core knows about each op.

Numbers are authoritative; names are informational (the server's op-2 table may name things
differently, see ``docs/protocol.md``). These defaults let ``request("join_game", ...)``
work before op 2 has been called; a received ``OpcodeTable`` extends them.

Three facts per op drive correlation and safety:

* ``REPLIES``: the response codes that answer it (an op absent here is answered by its own
  number). Where the doc's table and example disagree (leaderboards), both are listed.
* ``IDEMPOTENT``: reads that may be pipelined FIFO and, on request, retried once after a
  reconnect. Everything else is treated as money-moving: never pipelined against a
  same-reply request, never re-sent, and settled as *outcome unknown* if its reply is lost.
* ``ECHO_KEYS``: parameters a reply carries back, so two requests for different games (or
  pools) can be told apart even though they expect the same response code. Taken from the
  documented reply examples and field tables; the reference server echoes them.

All of them are derived from the one API table (``_table``), which also gives the typed
request and model classes of ``instamrkt_proto.api``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ._table import EXTRA_CODES, OPS, RESPONSES

__all__ = (
    "DEFAULT_OPCODES",
    "DEFAULT_RESPONSE_CODES",
    "ECHO_ALSO",
    "ECHO_KEYS",
    "ERROR_RES",
    "IDEMPOTENT",
    "REPLIES",
    "Op",
    "Res",
)


class Op:
    """Op codes the core itself sends or inspects."""

    PING = 1
    GET_OPCODES = 2
    LOGON = 100
    JOIN_GAME = 363
    LEAVE_GAME = 364
    PLACE_BET = 392
    GET_MY_CURRENT_BALANCE = 800


class Res:
    """Response codes the core itself interprets."""

    PONG = 1
    OPCODES = 2
    LOGON_SUCCESS = 100
    LOGON_FAIL = 110
    LOGON_FAIL_ALREADY_LOGGED_IN = 112
    GAME_JOINED = 333
    GAME_LEFT = 334
    ERROR = 666


ERROR_RES = Res.ERROR

DEFAULT_OPCODES: Mapping[str, int] = MappingProxyType({op.name: op.op for op in OPS})
"""Name -> op, from the documentation's tables."""

DEFAULT_RESPONSE_CODES: Mapping[str, int] = MappingProxyType(
    {spec.name: spec.res for spec in RESPONSES})
"""Name -> res, from the documentation's tables (the doc's ``bet_pool_expored`` spelt right)."""

REPLIES: Mapping[int, frozenset[int]] = MappingProxyType(
    {op.op: frozenset(op.replies) for op in OPS})
"""Op -> the response codes that answer it."""

IDEMPOTENT: frozenset[int] = frozenset(op.op for op in OPS if op.read)
"""Ops that only read: ping, get_opcodes and every list_*/get_* call."""

ECHO_KEYS: Mapping[int, str] = MappingProxyType({
    **{spec.res: spec.echo for spec in RESPONSES if spec.echo is not None},
    **{res: echo for res, (_name, echo) in EXTRA_CODES.items() if echo is not None},
})
"""Res -> the request parameter its documented reply carries back unchanged.

Only codes whose reply example *and* field table show the key are listed: a key the server
did not echo would make requests that it was meant to tell apart look ambiguous (safe,
since ambiguous replies are never attributed, but slower). Codes with no single key (450)
stay out.
"""

ECHO_ALSO: Mapping[int, str] = MappingProxyType(
    {spec.res: spec.echo_also for spec in RESPONSES if spec.echo_also is not None})
"""Res -> a second key, for requests that lack the ``ECHO_KEYS`` one: such a request takes
the reply only if the reply carries this key with the request's value. 368 answers
close_game (no ``pool_id`` in the request) and is also pushed for any pool of any game
joined: without the game id a stranger's push could pass for close_game's answer."""
