"""A stateful property test of ClientConnection against a model server, on a fake clock.

The model server answers what it actually received on the current socket, FIFO among
requests that expect the same reply (as a real server processing in order would), sometimes
with a res 666 instead; it also pushes, sends garbage, and the model transport connects,
fails and drops. Every caller request carries a unique ``marker`` parameter that the model
echoes in its reply, so the test knows which request each reply was generated for.

Invariants: only documented exceptions; every request settled exactly once (all of them
after ``close``) whatever the timing of ``handle_timer`` calls (at the deadline, early,
repeated, or long after); a settling reply always belongs to its request; nothing
non-idempotent on the wire twice; ``next_deadline()`` never in the past after
``handle_timer``; no secret in any repr or error text; nothing sent without an open socket.

Three machines run: one that always reconnects; one with a single reconnect attempt and
tight pacing, where a late timer call can end the whole session while other requests are
overdue (the case that once settled a request twice); and one whose keys are refused and
expire, with a credentials provider that answers with a fresh key, the refused one, or not
at all.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from instamrkt_proto import (
    Backoff,
    ClientConfig,
    ClientConnection,
    Closed,
    CloseTransport,
    Connecting,
    Credentials,
    LateReply,
    LocalProtocolError,
    LoggedOn,
    LogonFailed,
    OpcodeTable,
    OutcomeUnknown,
    Pong,
    RateLimit,
    RefreshCredentials,
    RequestFailed,
    RequestLimitExceeded,
    RequestSettled,
    RequestTimeout,
    Response,
    ServerError,
    State,
)
from instamrkt_proto.codec import ClientRequest, decode_request, encode_response
from instamrkt_proto.codes import ECHO_KEYS, IDEMPOTENT, REPLIES
from instamrkt_proto.errors import RemoteProtocolError
from instamrkt_proto.testing import FakeClock, SequenceRandom

KEY = "STATEFUL-session-key-0xC0FFEE"
GAMES = ("g1", "g2", 3)
POOLS = ("p1", "p2")
KINDS = ("ping", "get_opcodes", "logon", "join_game", "place_bet", "balance")
OPS = {"ping": 1, "get_opcodes": 2, "logon": 100, "join_game": 363, "place_bet": 392,
       "balance": 800}


@attrs.define
class Sent:
    rid: int
    op: int
    params: dict[str, Any]
    marker: int
    idempotent: bool
    retry: bool
    timeout: float | None


def _expects(request: ClientRequest) -> frozenset[int]:
    return REPLIES.get(request.op, frozenset({request.op}))


def _told_apart(a: ClientRequest, b: ClientRequest) -> bool:
    """Replies to these two can be told apart by the key every shared reply echoes."""
    for res in _expects(a) & _expects(b):
        key = ECHO_KEYS.get(res)
        va, vb = a.params.get(key or ""), b.params.get(key or "")
        if key is None or va is None or vb is None or str(va) == str(vb):
            return False
    return True


class CoreMachine(RuleBasedStateMachine):
    CONFIG = ClientConfig(
        request_timeout=5.0, keepalive_interval=8.0, keepalive_timeout=3.0,
        connect_timeout=4.0, backoff=Backoff(base=0.5, cap=4.0), stable_after=10.0,
        max_outstanding=8, rate_limit=RateLimit(6, 1.0), game_stale_after=7.0,
    )

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(now=50.0)
        self.config = self.CONFIG
        self.conn = ClientConnection(
            "wss://model.test:9999", Credentials(7, KEY), wall_clock=self.clock.wall,
            random=SequenceRandom((0.3, 0.9, 0.0, 1.0, 0.5)), config=self.config,
        )
        self.secrets = {KEY}
        self.key = KEY  # the key the core should sign with now
        self.refresh_asked: list[str] = []  # RefreshCredentials not yet answered, in order
        self.transport = "none"  # none | connecting | open
        self.wire: list[ClientRequest] = []  # received by the model, not yet answered
        self.arrived: dict[int, float] = {}  # id(request on the wire) -> when it arrived
        self.requests: dict[int, Sent] = {}
        self.by_marker: dict[int, Sent] = {}
        self.sends: Counter[int] = Counter()
        self.settled: Counter[int] = Counter()
        self.answers: dict[int, list[str]] = {}  # marker -> what the model answered
        self.next_marker = 1

    # -- plumbing ----------------------------------------------------------------------------

    def flush(self) -> None:
        for event in self.conn.events_received():
            self.check_event(event)
        for data in self.conn.data_to_send():
            assert self.transport == "open", "the core sent data without an open socket"
            request = decode_request(data)
            assert request.header["session_key"] == self.key
            self.wire.append(request)
            self.arrived[id(request)] = self.clock.now
            marker = request.params.get("marker")
            if marker is not None:
                self.sends[marker] += 1
                sent = self.by_marker[marker]
                limit = 2 if sent.retry else 1
                if sent.op == 100 and self.config.refresh_on_refusal:
                    limit += self.config.max_credential_refreshes  # answered after a refresh
                assert self.sends[marker] <= limit, f"request {sent} sent twice"

    def socket_gone(self) -> None:
        self.transport = "none"
        self.wire = []

    def check_event(self, event: Any) -> None:
        text = repr(event)
        error = getattr(event, "error", None)
        if error is not None:
            text += str(error) + repr(error)
        for secret in self.secrets:
            assert secret not in text, f"secret in {text}"
        if isinstance(event, Connecting):
            self.secrets.add(parse_qs(urlsplit(event.url).query)["h"][0])
            self.socket_gone()
            self.transport = "connecting"
        elif isinstance(event, (CloseTransport, Closed)):
            self.socket_gone()
        elif isinstance(event, RequestSettled):
            self.check_settled(event)
        elif isinstance(event, RefreshCredentials):
            assert self.config.refresh_on_refusal
            self.refresh_asked.append(event.reason)
        elif isinstance(event, LateReply):
            sent = self.requests[event.request_id]
            marker = event.fields.get("marker")
            if event.res == 666:
                assert event.fields.get("text") == f"marker={sent.marker}"
            else:
                assert marker == sent.marker, f"late reply {event} is not for {sent}"

    def check_settled(self, event: RequestSettled) -> None:
        rid = event.request_id
        self.settled[rid] += 1
        assert self.settled[rid] == 1, f"request {rid} settled twice"
        sent = self.requests[rid]
        assert event.op == sent.op
        answers = self.answers.get(sent.marker, [])
        if isinstance(event, Pong):
            assert sent.op == 1 and "pong" in answers, (sent, answers)
        elif isinstance(event, OpcodeTable):
            assert sent.op == 2 and "opcodes" in answers, (sent, answers)
        elif isinstance(event, (LoggedOn, LogonFailed, Response)):
            assert event.fields.get("marker") == sent.marker, f"{event} is not for {sent}"
            assert "push" not in event.fields
            echo = ECHO_KEYS.get(event.res) if isinstance(event, Response) else None
            if echo is not None and echo in sent.params:
                assert event.fields[echo] == sent.params[echo]
        elif isinstance(event, RequestFailed):
            error = event.error
            if isinstance(error, ServerError):
                assert error.text == f"marker={sent.marker}", f"{error} is not for {sent}"
            elif isinstance(error, OutcomeUnknown):
                assert not sent.idempotent and self.sends[sent.marker] == 1
            elif isinstance(error, RequestTimeout):
                assert error.sent == (self.sends[sent.marker] > 0)
            elif isinstance(error, RemoteProtocolError):
                raise AssertionError(f"unexpected {error!r}")

    # -- caller ------------------------------------------------------------------------------

    @precondition(lambda self: self.conn.state is State.IDLE)
    @rule()
    def connect(self) -> None:
        self.conn.connect(self.clock.now)
        self.flush()

    @rule(kind=st.sampled_from(KINDS), game=st.sampled_from(GAMES), retry=st.booleans(),
          timeout=st.sampled_from([None, 2.0, "default"]), pool=st.sampled_from(POOLS))
    def send(self, kind: str, game: Any, retry: bool, timeout: Any, pool: str) -> None:
        op = OPS[kind]
        marker = self.next_marker
        self.next_marker += 1
        params: dict[str, Any] = {"marker": marker}
        if kind == "join_game":
            params["game_id"] = game
        elif kind == "place_bet":
            params.update(pool_id=pool, target="a", amount="1")
        idempotent = op in IDEMPOTENT
        state = self.conn.state
        outstanding = sum(1 for rid in self.requests if not self.settled[rid])
        kwargs: dict[str, Any] = {"retry": retry}
        if timeout != "default":
            kwargs["timeout"] = timeout
        try:
            rid = self.conn.send_request(op, params, now=self.clock.now, **kwargs)
        except RequestLimitExceeded:
            assert outstanding >= 8
            return
        except LocalProtocolError:
            assert state in (State.IDLE, State.CLOSED) or (retry and not idempotent)
            return
        assert state not in (State.IDLE, State.CLOSED)
        assert not (retry and not idempotent)
        sent = Sent(rid, op, params, marker, idempotent, retry,
                    self.config.request_timeout if timeout == "default" else timeout)
        self.requests[rid] = sent
        self.by_marker[marker] = sent
        self.flush()

    @rule()
    def close(self) -> None:
        self.conn.close(self.clock.now)
        self.flush()
        assert self.conn.state is State.CLOSED
        unsettled = [rid for rid in self.requests if self.settled[rid] != 1]
        assert not unsettled, f"close left {unsettled} unsettled"

    # -- transport ---------------------------------------------------------------------------

    @precondition(lambda self: self.transport == "connecting")
    @rule()
    def connection_made(self) -> None:
        self.transport = "open"
        self.conn.connection_made(self.clock.now)
        self.flush()

    @precondition(lambda self: self.transport == "connecting")
    @rule(status=st.sampled_from([None, None, 503, 502, 403]))
    def connection_failed(self, status: int | None) -> None:
        self.socket_gone()
        self.conn.connection_failed(self.clock.now, status, "model failure")
        self.flush()

    @precondition(lambda self: self.transport == "open")
    @rule(code=st.sampled_from([None, 1006, 1008, 1000]))
    def connection_lost(self, code: int | None) -> None:
        self.socket_gone()
        self.conn.connection_lost(self.clock.now, code, "")
        self.flush()

    @precondition(lambda self: self.transport == "open")
    @rule(paused=st.booleans())
    def reading_paused_or_resumed(self, paused: bool) -> None:
        """Back-pressure: the transport stops (or starts again) reading."""
        if paused:
            self.conn.reading_paused(self.clock.now)
        else:
            self.conn.reading_resumed(self.clock.now)
        self.flush()

    @rule()
    def stale_transport_reports(self) -> None:
        """Reports about a socket the core already gave up on change nothing."""
        if self.conn.state in (State.BACKOFF, State.CLOSED, State.IDLE):
            self.conn.connection_lost(self.clock.now)
            self.conn.connection_failed(self.clock.now, 503)
            self.conn.connection_made(self.clock.now)
            assert self.conn.events_received() == [] and self.conn.data_to_send() == []

    # -- model server ------------------------------------------------------------------------

    def eligible(self) -> list[int]:
        """Indexes of wire requests the server may answer now (FIFO per shared reply)."""
        out = []
        for i, request in enumerate(self.wire):
            earlier = self.wire[:i]
            if all(not (_expects(e) & _expects(request)) or _told_apart(e, request)
                   for e in earlier):
                out.append(i)
        return out

    @precondition(lambda self: self.transport == "open" and self.wire)
    @rule(pick=st.integers(min_value=0, max_value=7),
          mode=st.sampled_from(["ok", "ok", "ok", "alt", "error"]))
    def reply(self, pick: int, mode: str) -> None:
        options = self.eligible()
        request = self.wire.pop(options[pick % len(options)])
        marker = request.params.get("marker")
        op = request.op
        fields: dict[str, Any] = {} if marker is None else {"marker": marker}
        if mode == "error":
            res, fields = 666, {"text": f"marker={marker}"}
            kind = "error"
        elif op == 1:
            res, kind = 1, "pong"
        elif op == 2:
            res, kind = 2, "opcodes"
            fields.update(opcodes={"join_game": 363}, response_codes={"pong": 1})
        elif op == 100:
            res = {"ok": 100, "alt": 112}[mode] if mode == "ok" or marker is None else 110
            if mode == "alt" and marker is None:
                res = 112
            kind = f"logon{res}"
        elif op == 363:
            res, kind = 333, "joined"
        else:
            res, kind = min(REPLIES[op]), "reply"
        echo = ECHO_KEYS.get(res)
        if mode != "error" and echo is not None and echo in request.params:
            fields[echo] = request.params[echo]
        if marker is not None:
            self.answers.setdefault(marker, []).append(kind)
        self.receive(encode_response(res, fields, t=self.clock.wall_ms))

    def receive(self, data: bytes) -> None:
        self.conn.receive_message(data, self.clock.now)
        self.flush()

    @precondition(lambda self: self.transport == "open")
    @rule(res=st.sampled_from([815, 366, 362, 470, 9999]), game=st.sampled_from(GAMES))
    def push(self, res: int, game: Any) -> None:
        self.receive(encode_response(res, {"game_id": game, "push": True}, t=None))

    @precondition(lambda self: self.transport == "open")
    @rule(data=st.one_of(st.binary(max_size=40), st.sampled_from([
        b"[]", b'{"res":"1"}', b"{}", b'{"res":1,"response_header":[]}', b"nul"])))
    def garbage(self, data: bytes) -> None:
        self.conn.receive_message(data, self.clock.now)
        events = self.conn.events_received()
        # undecodable input: a ProtocolError event and nothing else (a lucky valid message
        # would be fine too, but bytes this short and random never route to a request)
        for event in events:
            assert type(event).__name__ in ("ProtocolError", "Push", "UncorrelatedError"), event
            self.check_event(event)
        self.flush()

    # -- time --------------------------------------------------------------------------------

    def give_up_past_saving(self) -> None:
        """The model server never answers a request the core has stopped waiting for.

        The documented limit of correlation without request ids: a reply that comes after
        its request's tombstone expired (a grace period as long as its timeout) may be taken
        for a newer request's. So once the core has dropped a timed-out request from its
        wire, the model drops it too (a lost reply); while the tombstone lives, the model
        may still answer it, late.
        """
        core_wire = self.conn._corr.wire  # white-box: which requests the core still awaits
        markers = {r.params["marker"] for r in core_wire if "marker" in r.params}
        internal = Counter(r.op for r in core_wire if "marker" not in r.params)
        kept: list[ClientRequest] = []
        for request in reversed(self.wire):  # the newest internal ones are those still held
            marker = request.params.get("marker")
            if marker is not None:
                if marker in markers:
                    kept.append(request)
            elif internal[request.op] > 0:
                internal[request.op] -= 1
                kept.append(request)
        self.wire = kept[::-1]

    @rule(dt=st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 9.0]))
    def tick(self, dt: float) -> None:
        now = self.clock.advance(dt)
        self.conn.handle_timer(now)
        self.flush()
        self.give_up_past_saving()
        deadline = self.conn.next_deadline()
        assert deadline is None or deadline > now, (deadline, now)

    @rule(late=st.sampled_from([11.0, 30.0, 100.0]))
    def one_late_timer_call(self, late: float) -> None:
        """A transport that runs timers only inside calls (the blocking client) may call
        long after several deadlines passed: all of them are acted on in one call."""
        now = self.clock.advance(late)
        self.conn.handle_timer(now)
        self.flush()
        self.give_up_past_saving()
        after = self.conn.next_deadline()
        assert after is None or after > now, (after, now)

    @rule(calls=st.integers(min_value=1, max_value=3))
    def early_or_repeated_timer_calls(self, calls: int) -> None:
        """Calls before any deadline is due, or several at the same instant, are harmless."""
        for _ in range(calls):
            self.conn.handle_timer(self.clock.now)
            self.flush()

    @rule()
    def until_next_deadline(self) -> None:
        deadline = self.conn.next_deadline()
        if deadline is None:
            return
        now = self.clock.advance(max(0.0, deadline - self.clock.now))
        self.conn.handle_timer(now)
        self.flush()
        self.give_up_past_saving()
        after = self.conn.next_deadline()
        assert after is None or after > now, (after, now)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def settled_at_most_once(self) -> None:
        assert all(count <= 1 for count in self.settled.values())

    @invariant()
    def no_secret_in_reprs(self) -> None:
        text = repr(self.conn) + repr(self.conn.metrics(self.clock.now))
        text += repr(self.conn.config) + repr(self.conn.credentials)
        for secret in self.secrets:
            assert secret not in text

    @invariant()
    def closed_means_all_settled(self) -> None:
        if self.conn.state is State.CLOSED:
            assert all(self.settled[rid] == 1 for rid in self.requests)
            assert self.conn.next_deadline() is None

    def teardown(self) -> None:
        self.conn.close(self.clock.now)
        self.flush()
        assert all(self.settled[rid] == 1 for rid in self.requests)


class FragileCoreMachine(CoreMachine):
    """One reconnect attempt and one message per 10 s: sessions end while work is queued."""

    CONFIG = ClientConfig(
        request_timeout=5.0, keepalive_interval=None, connect_timeout=4.0,
        backoff=Backoff(base=0.1, cap=1.0), max_reconnect_attempts=1, max_outstanding=8,
        rate_limit=RateLimit(1, 10.0),
    )

    @initialize()
    def logged_on(self) -> None:
        """Start logged on, so a reconnect has a re-logon to wait for behind the pacing."""
        self.connect()
        self.connection_made()
        self.send("logon", "g1", False, "default", "p1")
        self.reply(0, "ok")
        assert self.conn.state is State.LOGGED_ON

    @precondition(lambda self: self.transport == "open" and self.conn.state is State.LOGGED_ON)
    @rule(kind=st.sampled_from(KINDS))
    def reconnect_with_work_queued(self, kind: str) -> None:
        """A loss, a request queued during the backoff, and a new connection whose re-logon
        waits for a pacing slot: one step, so the timer rules meet this state often."""
        self.connection_lost(None)
        self.send(kind, "g1", False, "default", "p1")
        while self.transport != "connecting" and self.conn.state is State.BACKOFF:
            self.until_next_deadline()
        if self.transport == "connecting":
            self.connection_made()


class RefreshingCoreMachine(CoreMachine):
    """Keys get refused (handshake 403, logon 110) and expire; a provider answers, or not."""

    CONFIG = ClientConfig(
        request_timeout=5.0, keepalive_interval=8.0, keepalive_timeout=3.0,
        connect_timeout=4.0, backoff=Backoff(base=0.5, cap=4.0), max_outstanding=8,
        refresh_on_refusal=True, max_credential_refreshes=2, credentials_max_age=15.0,
    )

    @precondition(lambda self: self.refresh_asked)
    @rule(ok=st.booleans(), same=st.booleans())
    def answer_refresh(self, ok: bool, same: bool) -> None:
        """The provider answers the oldest ask (a refusal may come while an ask ahead of
        expiry is still out: both get answered, in order)."""
        self.refresh_asked.pop(0)
        state = self.conn.state
        waiting = state is State.REFRESHING
        if not ok:
            self.conn.refresh_failed(self.clock.now, "the model provider failed")
            self.flush()
            assert self.conn.state is (State.CLOSED if waiting else state)
            return
        key = self.key if same else f"fresh-{self.next_marker}-{len(self.secrets)}"
        self.next_marker += 1
        self.secrets.add(key)
        refused_again = same and waiting  # the refused key handed back: not believed
        if not refused_again:
            self.key = key
        self.conn.update_credentials(Credentials(7, key), self.clock.now)
        self.flush()
        if refused_again:
            assert self.conn.state is State.CLOSED
        elif waiting:
            assert self.conn.state is State.CONNECTING and self.transport == "connecting"
        else:
            assert self.conn.state is state  # ahead of expiry: the connection stays


_SETTINGS = settings(
    max_examples=500, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CoreMachine.TestCase.settings = _SETTINGS
FragileCoreMachine.TestCase.settings = _SETTINGS
RefreshingCoreMachine.TestCase.settings = _SETTINGS
TestCoreMachine = CoreMachine.TestCase
TestFragileCoreMachine = FragileCoreMachine.TestCase
TestRefreshingCoreMachine = RefreshingCoreMachine.TestCase
