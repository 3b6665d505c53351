"""The reference server's in-memory market, its fault knobs and its bookkeeping.

Kept apart from the networking in ``server.py`` so each can be read on its own: this module
is plain synchronous Python with no I/O. ``Market`` answers the requests a client needs to
rehearse a session (join, leave, bet, balance, details, the list reads) and builds the
documented pushes (362, 366, 815; see ``docs/protocol.md``, "Pushes"). ``Faults`` are the
misbehaviours a client must survive. ``ServerStats`` records what the server received so
tests can assert on the server side (pacing, retries, no duplicate bets) instead of trusting
the client.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Literal

import attrs

from instamrkt_proto import RemoteProtocolError, api
from instamrkt_proto.codes import ECHO_KEYS, IDEMPOTENT, REPLIES

__all__ = ("PUSH_KINDS", "Faults", "Market", "Received", "ServerStats")

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


_LIST_FIELDS = {
    345: "games", 3461: "games", 620: "games", 621: "sources", 3535: "pools_list",
    353: "pools", 354: "pools", 355: "pools", 360: "distribution", 460: "predictions",
    450: "leaderboard", 4505: "leaderboard", 451: "leaderboard", 4515: "leaderboard",
    4516: "leaderboard", 4517: "leaderboard", 454: "leaderboard", 452: "leaderboard",
}
_IDS = ("game_id", "pool_id", "source_id")


def _money(amount: Decimal) -> int | str:
    """Money on the wire: a JSON number when integral (as the docs' examples), else the
    exact decimal text (as the docs' place_bet example)."""
    return int(amount) if amount == amount.to_integral_value() else format(amount, "f")


class Market:
    """An in-memory market good enough to rehearse a client session against.

    Balances start at ``initial_balance`` DON per user and are kept as ``Decimal``. Bets are
    accepted into any pool id (any positive amount, fractions included) and only move money
    from available balance to exposure. Requests are read through the API table
    (``api.request_from_wire``): a parameter of the wrong kind is answered with res 666.
    Ids are deterministic (``bet-1``, ``bet-2``...) so tests can assert on them. ``clock``
    gives epoch ms.
    """

    def __init__(self, clock: Callable[[], int], initial_balance: int = 1000) -> None:
        self._clock = clock
        self.initial_balance = initial_balance
        self.available: dict[str, Decimal] = {}
        self.exposure: dict[str, Decimal] = {}
        self.bets: dict[str, tuple[str, str, str, Decimal]] = {}  # bet_id -> user, pool, ...
        self._bet_ids = itertools.count(1)
        self._push_seq = itertools.count(1)

    def _balance(self, user: str) -> tuple[Decimal, Decimal]:
        available = self.available.setdefault(user, Decimal(self.initial_balance))
        return available, self.exposure.get(user, Decimal(0))

    def balance_fields(self, user: str) -> dict[str, Any]:
        available, exposure = self._balance(user)
        return {"current_balance": _money(available + exposure),
                "available_balance": _money(available), "currency": "DON"}

    def handle(self, user: str, op: int, params: dict[str, Any], joined: set[str]
               ) -> tuple[int, dict[str, Any], list[tuple[int, dict[str, Any]]]]:
        """Execute one request: ``(res, fields, pushes)``; res 666 carries ``text``.

        ``joined`` is the connection's set of joined game ids (updated in place).
        """
        game = params.get("game_id")
        if op in (363, 364, 372) and not isinstance(game, (str, int)):
            return 666, {"text": f"op {op}: game_id is required"}, []
        if op == 363:
            joined.add(str(game))
            return 333, {"game_id": game}, []
        if op == 364:
            joined.discard(str(game))
            return 334, {"game_id": game}, []
        if op == 372:
            return 342, {"game_id": game, "name": f"game {game}", "status":
                         "pre_game_betting_active", "actions": [], "targets": []}, []
        if op == 392:
            return self._bet(user, params)
        if op in (800, 810, 840):
            available, exposure = self._balance(user)
            key, value = {800: ("current_balance", available + exposure),
                          810: ("available_balance", available),
                          840: ("exposure", exposure)}[op]
            return op, {key: _money(value), "currency": params.get("currency", "DON")}, []
        if op == 900:
            return 901, {"sender": user, "text": params.get("text"), "received_at":
                         self._clock(), "channel": params.get("targets")}, []
        if op in IDEMPOTENT and op in REPLIES:
            return self._empty_read(op, params)
        return 666, {"text": f"op {op} is not implemented by the reference server"}, []

    def _bet(self, user: str, params: dict[str, Any]
             ) -> tuple[int, dict[str, Any], list[tuple[int, dict[str, Any]]]]:
        try:
            bet = api.request_from_wire(392, params)
        except RemoteProtocolError as exc:
            return 666, {"text": str(exc)}, []
        assert isinstance(bet, api.PlaceBetInBettingPool)
        pool, target, amount = params["pool_id"], str(bet.target), Decimal(bet.amount)
        if amount <= 0:
            return 666, {"text": "place_bet_in_betting_pool: the amount must be positive"}, []
        available, exposure = self._balance(user)
        if amount > available:
            return 666, {"text": "insufficient funds"}, []
        bet_id = f"bet-{next(self._bet_ids)}"
        self.available[user] = available - amount
        self.exposure[user] = exposure + amount
        self.bets[bet_id] = (user, str(pool), str(target), amount)
        # Like the real server, a balance change is followed by a 815 push to the user.
        return 356, {"bet_id": bet_id, "pool_id": pool, "target": target,
                     "amount": format(amount, "f")}, [(815, self.balance_fields(user))]

    def _empty_read(self, op: int, params: dict[str, Any]
                    ) -> tuple[int, dict[str, Any], list[tuple[int, dict[str, Any]]]]:
        replies = REPLIES[op]
        res = op if op in replies else min(replies)
        fields: dict[str, Any] = {k: params[k] for k in _IDS if k in params}
        echo = ECHO_KEYS.get(res)
        if echo is not None:
            fields.setdefault(echo, params.get(echo))
        if op == 461:
            fields["predictions"] = {"running": [], "resolved": []}
        else:
            fields[_LIST_FIELDS.get(res, "items")] = []
        return res, fields, []

    # -- pushes ------------------------------------------------------------------------------

    def make_push(self, res: int, game_id: str, user: str) -> dict[str, Any]:
        """The documented fields of push ``res`` (362, 366 or 815) for ``game_id``."""
        n = next(self._push_seq)
        now = self._clock()
        if res == 366:
            return {"game_id": game_id, "action_id": "goal", "target_id": f"t{n % 2}",
                    "target_display_name": f"Team {n % 2}", "current_count": {"t0": n, "t1": 0},
                    "happened_at": now}
        if res == 362:
            return {"pool_id": f"pool-{n}", "game_id": game_id, "winning_target": "t0",
                    "description": "resolved by the reference server", "winners": {},
                    "losers": {}, "invalidated_bettors": [], "is_money_return": False,
                    "resolved_at": now}
        if res == 815:
            return self.balance_fields(user)
        raise ValueError(f"the push source makes 362, 366 and 815, not {res}")

    def push_stream(self, game_id: str, user: str, start: int = 0
                    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Endless pushes for one game, cycling through ``PUSH_KINDS``."""
        for kind in itertools.islice(itertools.cycle(PUSH_KINDS), start, None):
            yield kind, self.make_push(kind, game_id, user)
