"""Op and response-code names: the documented tables, extended by the server's op 2.

Numbers are authoritative and names informational (api-notes 7.5): a name resolves to a
number for the caller's convenience, and a number gets a name in events when one is known.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import codes
from .errors import LocalProtocolError

__all__ = ("NameTables",)


class NameTables:
    __slots__ = ("_opcodes", "_res_names")

    def __init__(self) -> None:
        self._opcodes: dict[str, int] = dict(codes.DEFAULT_OPCODES)
        self._res_names: dict[int, str] = {v: k for k, v in codes.DEFAULT_RESPONSE_CODES.items()}

    def opcode(self, op: int | str) -> int:
        """The number of ``op`` (a number, or a name from the documented or received table)."""
        if isinstance(op, bool):
            raise LocalProtocolError("op must be an int or a name")
        if isinstance(op, int):
            return op
        try:
            return self._opcodes[op]
        except KeyError:
            raise LocalProtocolError(f"unknown op name {op!r}") from None
        except TypeError:
            raise LocalProtocolError("op must be an int or a name") from None

    def response_name(self, res: int) -> str | None:
        return self._res_names.get(res)

    def learn(self, opcodes: Mapping[str, int], response_codes: Mapping[str, int]) -> None:
        """Add (or replace) names from a received op-2 table."""
        self._opcodes.update(opcodes)
        self._res_names.update({v: k for k, v in response_codes.items()})
