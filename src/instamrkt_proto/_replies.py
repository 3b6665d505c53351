"""Turning a matched reply into the event that settles its request: a pure function.

What a reply then does to the session (state moves, name tables, the game registry) is the
client's business; this module only decides which event the caller gets, so it can be
tested without a connection.
"""

from __future__ import annotations

from typing import Any

from ._models import reply_model as decode_reply
from .codec import converter
from .codes import Op, Res
from .errors import RemoteProtocolError
from .events import LoggedOn, LogonFailed, OpcodeTable, RequestFailed, RequestSettled

__all__ = ("reply_event",)

_LOGON_OK = frozenset({Res.LOGON_SUCCESS, Res.LOGON_FAIL_ALREADY_LOGGED_IN})


def _opcode_table(rid: int, op: int, res: int, fields: dict[str, Any], t: int | None,
                  name: str | None) -> RequestSettled:
    try:
        opcodes = converter.structure(fields.get("opcodes") or {}, dict[str, int])
        response_codes = converter.structure(fields.get("response_codes") or {}, dict[str, int])
    except Exception:
        error = RemoteProtocolError("res 2: 'opcodes' and 'response_codes' must map names to ints")
        return RequestFailed(request_id=rid, op=op, error=error)
    return OpcodeTable(request_id=rid, op=op, res=res, name=name, fields=fields,
                       opcodes=opcodes, response_codes=response_codes, server_time=t)


def reply_event(
    rid: int, op: int, res: int, fields: dict[str, Any], t: int | None, *, name: str | None,
) -> RequestSettled:
    """The settling event for request ``rid`` (op ``op``) answered by ``res``.

    Pongs are not built here: the client settles them on its hot path, with their RTT.
    Other documented codes give their typed model (``instamrkt_proto.api``); one whose
    payload does not fit gives the generic ``Response`` with ``decode_error`` set.
    """
    if op == Op.GET_OPCODES and res == Res.OPCODES:
        return _opcode_table(rid, op, res, fields, t, name)
    if op == Op.LOGON and res in _LOGON_OK:
        return LoggedOn(request_id=rid, op=op, res=res, name=name, server_time=t, fields=fields,
                        already_logged_in=res == Res.LOGON_FAIL_ALREADY_LOGGED_IN)
    if op == Op.LOGON and res == Res.LOGON_FAIL:
        return LogonFailed(request_id=rid, op=op, res=res, name=name, server_time=t,
                           fields=fields)
    return decode_reply(rid, op, res, fields, t, name)
