"""Op and response-code names: the documented tables, extended by the server's op 2.

Numbers are authoritative and names informational (the server's op-2 table may name things
differently from the documentation): a name resolves to a number for the caller's
convenience, and a number gets a name in events when one is known.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import codes
from .errors import LocalProtocolError

__all__ = ("MAX_OP", "NameTables")

_DEFAULT_OPCODES: dict[str, int] = dict(codes.DEFAULT_OPCODES)
_DEFAULT_RES_NAMES: dict[int, str] = {v: k for k, v in codes.DEFAULT_RESPONSE_CODES.items()}

MAX_OP = 2**31 - 1
"""The largest op number accepted: ops are positive 32-bit ints on every known server."""


class NameTables:
    """Copy-on-write: every instance shares the module's default tables (never mutated)
    until ``learn`` gives it tables of its own; idle connections then cost nothing here."""

    __slots__ = ("_opcodes", "_res_names")

    def __init__(self) -> None:
        self._opcodes: dict[str, int] = _DEFAULT_OPCODES
        self._res_names: dict[int, str] = _DEFAULT_RES_NAMES

    def opcode(self, op: int | str) -> int:
        """The number of ``op`` (a number, or a name from the documented or received table)."""
        if isinstance(op, bool):
            raise LocalProtocolError("op must be an int or a name, not a bool")
        if isinstance(op, int):
            number = op
        else:
            try:
                number = self._opcodes[op]
            except KeyError:
                raise LocalProtocolError(f"unknown op name {op!r}") from None
            except TypeError:
                raise LocalProtocolError("op must be an int or a name") from None
        if not 1 <= number <= MAX_OP:
            raise LocalProtocolError(f"op {number} is out of range (1..{MAX_OP})")
        return number

    def response_name(self, res: int) -> str | None:
        return self._res_names.get(res)

    def learn(self, opcodes: Mapping[str, int], response_codes: Mapping[str, int]) -> None:
        """Add (or replace) names from a received op-2 table."""
        if self._opcodes is _DEFAULT_OPCODES:
            self._opcodes = dict(_DEFAULT_OPCODES)
            self._res_names = dict(_DEFAULT_RES_NAMES)
        self._opcodes.update(opcodes)
        self._res_names.update({v: k for k, v in response_codes.items()})
