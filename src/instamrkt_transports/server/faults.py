"""The reference server's fault knobs and its record of what it received.

Plain synchronous Python with no I/O, kept apart from the networking in ``websocket.py``
and ``connection.py``.
``Faults`` are the misbehaviours a client must survive. ``ServerStats`` records what the
server received so tests can assert on the server side (pacing, retries, no duplicate bets)
instead of trusting the client.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

import attrs

__all__ = ("PUSH_KINDS", "Faults", "Received", "ServerStats")

PUSH_KINDS = (366, 362, 815)
"""The pushes the push source cycles through: new_game_event, bet_pool_resolved, balance_update."""


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.define(slots=True, kw_only=True)
class Faults:
    """Misbehaviour knobs, read at each use: flipping one takes effect at the next message.

    Set server-wide (``ReferenceServer.faults``) or for one user
    (``ReferenceServer.faults_for(user_id)``). Counters such as ``drop_after_replies`` count
    per connection, from the moment the connection was accepted.

    * ``reply_delay``: seconds to wait before writing each reply (reading goes on; order kept).
    * ``silent``: half-open server: keep the TCP connection open, read and count requests, but
      never reply, never answer websocket pings and never close. Requests are not executed.
    * ``drop_after_replies``: a connection never carries more than this many replies: right
      after the Nth (or, if the knob is set later, instead of the next one) the TCP
      connection is closed abruptly, with no websocket close frame (the client sees 1006).
    * ``malformed``: send ``malformed_payload`` ``"before"`` each reply or ``"instead"`` of it.
    * ``pushes_before_reply``: send this many unsolicited pushes just before each reply.
    * ``push_interval``: seconds between pushes from the push source of each joined game
      (``None``: only on demand via ``push``/``burst``).
    * ``clock_skew_ms``: added to every ``response_header.t``.
    * ``oversized``: before each reply, send an unsolicited 901 message padded to this many
      bytes (to trip a client's ``max_message_size``).
    * ``too_many_requests_after``: once a connection has sent more requests than this, close
      it with websocket code 1008 ``"too many requests"``.
    * ``refuse_logon``: answer logon with 110 (logon_fail).
    * ``once``: the knobs of this set act until one of them closes a connection
      (``drop_after_replies``, ``too_many_requests_after``); then they all go back to good
      behaviour, before the close leaves the server. A client that reconnects at once, even
      before the test or the script that set the fault has woken up, meets a healthy
      server. Without it the knobs stay until ``reset``, and a fast reconnection meets them.
    * ``rest_fault`` (server-wide only: a REST call has no user yet): every REST POST answers
      ``"error"``: HTTP 500 ``{"msg": ...}``, as a server bug would; ``"not_json"``: HTTP 200
      with an HTML page, as a misrouted proxy or a captive portal would.
    * ``rest_no_xsrf_cookie``: the REST root sets no ``_xsrf`` cookie, so clients must
      double-submit one of their own.
    """

    reply_delay: float = attrs.field(default=0.0, validator=_non_negative)
    silent: bool = False
    drop_after_replies: int | None = attrs.field(default=None, validator=_non_negative)
    malformed: Literal["before", "instead"] | None = attrs.field(
        default=None, validator=attrs.validators.in_((None, "before", "instead")))
    malformed_payload: bytes = b"{not json"
    pushes_before_reply: int = attrs.field(default=0, validator=_non_negative)
    push_interval: float | None = attrs.field(default=None, validator=_non_negative)
    clock_skew_ms: int = 0
    oversized: int | None = attrs.field(default=None, validator=_non_negative)
    too_many_requests_after: int | None = attrs.field(default=None, validator=_non_negative)
    refuse_logon: bool = False
    once: bool = False
    rest_fault: Literal["error", "not_json"] | None = attrs.field(
        default=None, validator=attrs.validators.in_((None, "error", "not_json")))
    rest_no_xsrf_cookie: bool = False

    def reset(self) -> None:
        """Back to good behaviour."""
        for field in attrs.fields(Faults):
            setattr(self, field.name, field.default)

    def update(self, **changes: Any) -> None:
        """Set several knobs at once (validated; unknown names raise ``TypeError``)."""
        names = {f.name for f in attrs.fields(Faults)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown fault knob(s): {sorted(unknown)}")
        checked = attrs.evolve(self, **changes)  # validates before anything changes
        for name in changes:
            setattr(self, name, getattr(checked, name))


@attrs.frozen(slots=True)
class Received:
    """One request as the server read it: monotonic seconds, user, op and parameters."""

    at: float
    user_id: str
    op: int
    params: dict[str, Any] = attrs.field(factory=dict)


@attrs.define(slots=True)
class ServerStats:
    """What the server saw. Mutated only on the server's event loop; read from anywhere.

    ``received[op]`` counts requests over all users, ``received_by_user[user][op]`` per user
    and ``log`` keeps every request in arrival order (for pacing assertions).
    """

    received: Counter[int] = attrs.field(factory=Counter)
    received_by_user: dict[str, Counter[int]] = attrs.field(factory=dict)
    log: list[Received] = attrs.field(factory=list)
    malformed: int = 0
    connections: int = 0
    rejected: Counter[int] = attrs.field(factory=Counter)
    replies_sent: int = 0
    pushes_sent: int = 0
    pushes_dropped: int = 0
    closed_by_fault: Counter[str] = attrs.field(factory=Counter)

    def record(self, at: float, user_id: str, op: int, params: dict[str, Any]) -> None:
        self.received[op] += 1
        self.received_by_user.setdefault(user_id, Counter())[op] += 1
        self.log.append(Received(at, user_id, op, params))

    def ops(self, user_id: str | None = None) -> list[int]:
        """The ops received, in order (for one user or all)."""
        return [r.op for r in self.log if user_id is None or r.user_id == user_id]
