"""Acceptance cases shared by every client: blocking, threaded, and anyio through a portal.

``test_blocking.py``, ``test_threaded.py`` and ``test_anyio_portal.py`` subclass
``SyncAdapterCases`` with a module (or namespace) whose ``connect`` opens their client; all
clients share one call surface, so one set of cases pins down that they behave identically.
Everything runs over real loopback sockets against the reference server; every wait is
bounded.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from conftest import assert_paced

from instamrkt_proto import (
    Backoff,
    Closed,
    Credentials,
    Event,
    LoggedOn,
    LogonFailed,
    MessageTooBig,
    OpcodeTable,
    Pong,
    ProtocolError,
    Push,
    PushesDropped,
    Reconnected,
    Response,
    State,
)
from instamrkt_transports import (
    AuthenticationError,
    ConnectionClosed,
    ConsumerTooSlow,
    LogonError,
    OutcomeUnknown,
    RequestTimeout,
    rest,
)
from instamrkt_transports.rehearsal import Faults

FAST = {"backoff": Backoff(base=0.05, cap=0.2)}


def next_of(client: Any, kind: type[Event], limit: float = 10.0) -> Any:
    """The next event of ``kind`` from ``client.next_event`` (others are skipped)."""
    end = time.monotonic() + limit
    while (remaining := end - time.monotonic()) > 0:
        event = client.next_event(timeout=remaining)
        if isinstance(event, kind):
            return event
        if event is None and client.core.state is State.CLOSED:
            break
    raise AssertionError(f"no {kind.__name__} within {limit} s")


class SyncAdapterCases:
    adapter: Any  # a module (or namespace) with connect(url, credentials, **options)
    overshoot = 1
    """Pushes a back-pressure buffer may hold beyond its capacity: those of one read
    (websocket-client's adapters take no more of a read than there is room for)."""

    def connect(self, srv: Any, credentials: Credentials | None = None, **options: Any) -> Any:
        return self.adapter.connect(srv.url, credentials or srv.credentials, **options)

    def provoke_overflow(self, client: Any) -> None:
        """Make the client read the whole flood before the consumer looks at it."""
        raise NotImplementedError

    # -- the basics ---------------------------------------------------------------------------

    def test_ping_opcodes_logon_request(self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        with self.connect(srv) as client:
            pong = client.ping()
            assert isinstance(pong, Pong) and pong.rtt >= 0 and pong.server_time
            table = client.opcodes()
            assert isinstance(table, OpcodeTable) and table.opcodes["logon"] == 100
            first = client.logon()
            assert isinstance(first, LoggedOn) and not first.already_logged_in
            assert client.logon().already_logged_in
            joined = client.request("join_game", game_id="g-7")
            assert isinstance(joined, Response)
            assert (joined.res, joined.name, joined.fields["game_id"]) == (333, "game_joined",
                                                                           "g-7")
            balance = client.send(800, {}, timeout=5, idempotent=True)
            assert balance.res == 800 and balance.fields["current_balance"] == 1000
            metrics = client.metrics()
            assert metrics.session.state is State.LOGGED_ON and metrics.session.rtt is not None
            assert metrics.delivery.depth >= 1  # the Connected event nobody read
            assert client.clock is not None and client.clock.samples >= 1
        assert srv.stats.ops() == [1, 2, 100, 100, 363, 800]
        client.close()  # idempotent
        with pytest.raises(ConnectionClosed):
            client.ping()

    def test_unknown_option_is_rejected(self, instamrkt_server: Any) -> None:
        with pytest.raises(TypeError, match="keepalive_intervall"), \
                self.connect(instamrkt_server, keepalive_intervall=1):
            pass

    def test_tls_with_a_test_ca(self, instamrkt_server_factory: Any,
                                tls_contexts: tuple[Any, Any]) -> None:
        server_ctx, client_ctx = tls_contexts
        srv = instamrkt_server_factory(ssl_context=server_ctx)
        assert srv.url.startswith("wss://")
        with self.connect(srv, ssl_context=client_ctx) as client:
            assert isinstance(client.ping(), Pong)
            assert client.logon().op == 100
            assert isinstance(client.request("join_game", game_id="g"), Response)
        # The default context verifies certificates, and the test CA is not in it.
        with pytest.raises(ConnectionClosed, match=r"(?i)certificate"), self.connect(srv):
            pass

    def test_wrong_session_key_is_refused(self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        bad = Credentials(srv.credentials.user_id, "not-the-key")
        with pytest.raises(AuthenticationError) as caught, self.connect(srv, bad):
            pass
        assert caught.value.status == 403 and "not-the-key" not in str(caught.value)
        assert str(caught.value) == "handshake refused with HTTP 403: Forbidden"  # as in anyio
        assert srv.stats.log == []

    def test_first_attempt_failing_raises_connection_closed(self) -> None:
        url = "ws://127.0.0.1:1/"  # nothing listens on port 1
        with pytest.raises(ConnectionClosed), \
                self.adapter.connect(url, Credentials("1", "k"), connect_timeout=2):
            pass

    def test_logon_refused_raises_logon_error(self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        srv.faults.refuse_logon = True
        with self.connect(srv) as client:
            with pytest.raises(LogonError) as caught:
                client.logon()
            assert isinstance(caught.value.event, LogonFailed)
            assert client.core.state is State.OPEN

    # -- peer faults --------------------------------------------------------------------------

    def test_half_open_server_is_detected_by_keepalive(self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        with self.connect(srv, keepalive_interval=0.3, keepalive_timeout=0.3,
                          reconnect=False, timeout=None) as client:
            client.ping()
            srv.faults.silent = True
            started = time.monotonic()
            with pytest.raises(ConnectionClosed, match="keepalive"):
                client.ping()  # no timeout of its own: the dead peer ends it
            assert time.monotonic() - started < 0.6 + 3.0  # interval + timeout + margin
            closed = next_of(client, Closed)
            assert closed.reason == "keepalive timed out" and not closed.will_reconnect
            with pytest.raises(ConnectionClosed):
                client.ping()

    def test_dropped_connection_fails_the_call_then_reconnects(self,
                                                               instamrkt_server: Any) -> None:
        srv = instamrkt_server
        with self.connect(srv, **FAST) as client:
            client.logon()  # reply 1 on this connection
            # Reply 2 is garbage, then the server drops TCP without a close frame.
            srv.faults.update(malformed="instead", drop_after_replies=2, once=True)
            with pytest.raises(ConnectionClosed):
                client.opcodes()
            assert next_of(client, Closed).code == 1006  # no close frame: as in anyio
            assert srv.faults == Faults()  # spent before the drop: no race with the reconnection
            assert isinstance(client.ping(), Pong)  # a new connection, logged on again
            assert client.core.logged_on
            assert client.metrics().session.reconnects == 1
        assert srv.stats.received[100] == 2 and srv.stats.connections == 2

    def test_drop_mid_bet_gives_outcome_unknown_and_restores_the_session(
            self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        with self.connect(srv, **FAST) as client:
            client.logon()
            client.request("join_game", game_id="g-1")
            srv.faults.update(malformed="instead", drop_after_replies=3, once=True)
            with pytest.raises(OutcomeUnknown) as caught:
                client.request("place_bet_in_betting_pool", pool_id="p-1", target="t-1",
                               amount="5")
            assert srv.faults == Faults()  # spent before the drop: no race with the reconnection
            assert caught.value.params["pool_id"] == "p-1"
            reconnected = next_of(client, Reconnected)
            assert reconnected.relogged_on and reconnected.rejoined == ("g-1",)
            assert reconnected.gap > 0 and reconnected.advice
            assert isinstance(client.ping(), Pong)
            assert client.core.logged_on and client.core.joined_games == ("g-1",)
        assert srv.stats.received[392] == 1  # never re-sent
        assert srv.stats.received[100] == 2 and srv.stats.received[363] == 2

    # -- credentials that expire ---------------------------------------------------------------

    def _account(self, srv: Any) -> tuple[Credentials, Any]:
        """A REST account for the server's user, logged in; and a counting provider."""
        uid = srv.credentials.user_id
        srv.add_account("bot", "bot-password-1", user_id=uid)
        calls: list[Credentials] = []

        def provider() -> Credentials:
            calls.append(rest.login(srv.rest_url, "bot", "bot-password-1"))
            return calls[-1]

        provider.calls = calls  # type: ignore[attr-defined]
        return rest.login(srv.rest_url, "bot", "bot-password-1"), provider

    def test_an_expired_key_is_refreshed_and_the_session_restored(
            self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        creds, provider = self._account(srv)
        with self.connect(srv, creds, refresh_credentials=provider, **FAST) as client:
            client.logon()
            client.request("join_game", game_id="g-9")
            srv.expire_key(creds.user_id)  # the 24 hours are up: the next handshake is refused
            srv.faults.update(malformed="instead", drop_after_replies=2, once=True)
            with pytest.raises(OutcomeUnknown):  # the bet in flight when the connection died
                client.request("place_bet_in_betting_pool", pool_id="p-9", target="t",
                               amount="2")
            assert srv.faults == Faults()  # spent before the drop: no race with the reconnection
            reconnected = next_of(client, Reconnected)
            assert reconnected.credentials_refreshed and reconnected.relogged_on
            assert reconnected.rejoined == ("g-9",)
            assert client.core.joined_games == ("g-9",) and client.core.logged_on
            assert client.request("get_my_current_balance").res == 800
            assert client.core.credentials == provider.calls[-1]
        assert len(provider.calls) == 1
        assert srv.stats.received[392] == 1  # the bet was never re-sent
        assert srv.stats.rejected[403] == 1  # the expired key, once; then the fresh one

    def test_a_stale_key_at_start_is_refreshed_before_connect_returns(
            self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        creds, provider = self._account(srv)
        stale = Credentials(creds.user_id, "stale-key-from-yesterday")
        with self.connect(srv, stale, refresh_credentials=provider) as client:
            assert client.logon().op == 100
        assert len(provider.calls) == 1 and srv.stats.rejected[403] == 1

    @pytest.mark.parametrize("provider_kind", ["refused", "raises", "not credentials"])
    def test_a_provider_that_cannot_help_ends_the_session(
            self, instamrkt_server: Any, provider_kind: str) -> None:
        srv = instamrkt_server
        uid = srv.credentials.user_id
        calls: list[int] = []

        def provider() -> Any:
            calls.append(1)
            if provider_kind == "raises":
                raise RuntimeError("the login service is down")
            if provider_kind == "not credentials":
                return "a-key"
            return Credentials(uid, f"refused-{len(calls)}")

        with pytest.raises(AuthenticationError) as caught, \
                self.connect(srv, Credentials(uid, "stale"), refresh_credentials=provider,
                             max_credential_refreshes=3):
            pass
        assert calls == [1, 1, 1] if provider_kind == "refused" else calls == [1]
        assert "stale" not in str(caught.value) and "refused-" not in str(caught.value)
        if provider_kind == "raises":  # our own errors are quoted; others only by type
            assert "RuntimeError" in str(caught.value) and "down" not in str(caught.value)

    def test_credentials_are_refreshed_ahead_of_expiry_without_a_reconnect(
            self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        creds, provider = self._account(srv)
        with self.connect(srv, creds, refresh_credentials=provider,
                          credentials_max_age=0.3, **FAST) as client:
            client.logon()
            end = time.monotonic() + 10
            while not provider.calls and time.monotonic() < end:
                time.sleep(0.05)
                client.ping()  # the blocking client runs its timers inside calls
            assert provider.calls and srv.stats.connections == 1
            # The rotated key signs the next handshake: a drop reconnects without a 403.
            srv.close_connections(creds.user_id)
            reconnected = next_of(client, Reconnected)
            assert not reconnected.credentials_refreshed and reconnected.relogged_on
        assert srv.stats.rejected[403] == 0

    def test_refused_digest_stops_reconnecting(self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        uid = srv.credentials.user_id
        with self.connect(srv, **FAST) as client:
            client.logon()
            srv.server.users[uid] = "rotated-key"  # the key changed server-side
            srv.close_connections(uid)
            closed = next_of(client, Closed)
            while closed.will_reconnect:
                closed = next_of(client, Closed)
            assert isinstance(closed.error, AuthenticationError)
            with pytest.raises(AuthenticationError):
                client.ping()
        assert srv.stats.rejected[403] == 1

    def test_malformed_reply_is_a_typed_event_and_nothing_hangs(self,
                                                                instamrkt_server: Any) -> None:
        srv = instamrkt_server
        with self.connect(srv) as client:
            srv.faults.malformed = "instead"
            with pytest.raises(RequestTimeout):
                client.send(1, timeout=0.5)
            assert "JSON" in str(next_of(client, ProtocolError).error)
            srv.faults.reset()
            # The same connection carries on, pings included: the timed-out ping's
            # tombstone expires after its grace period instead of taking the next pong.
            assert isinstance(client.ping(), Pong)
            assert srv.stats.connections == 1

    def test_oversized_message_is_a_typed_error(self, instamrkt_server: Any) -> None:
        srv = instamrkt_server
        with self.connect(srv, max_message_size=2000, **FAST) as client:
            srv.faults.oversized = 5000
            with pytest.raises(ConnectionClosed):
                client.ping()
            event = next_of(client, ProtocolError)
            assert isinstance(event.error, MessageTooBig) and event.error.max_size == 2000
            srv.faults.reset()
            assert isinstance(client.ping(), Pong)
            # Far beyond the limit: refused before it is buffered, reported the same way.
            srv.faults.oversized = 50_000
            with pytest.raises(ConnectionClosed):
                client.ping()
            event = next_of(client, ProtocolError)
            assert isinstance(event.error, MessageTooBig) and event.error.size > 2000
            assert next_of(client, Closed).code == 1009
            srv.faults.reset()
            assert isinstance(client.ping(), Pong)

    def test_pushes_arrive_as_events_and_never_settle_a_request(self,
                                                                instamrkt_server: Any) -> None:
        srv = instamrkt_server
        with self.connect(srv) as client:
            client.request("join_game", game_id="g-2")
            srv.faults.pushes_before_reply = 3
            balance = client.request("get_my_current_balance")
            assert balance.res == 800
            pushes = [next_of(client, Push) for _ in range(3)]
            assert [p.res for p in pushes] == [366, 362, 815]
            assert all(p.fields["game_id"] == "g-2" for p in pushes[:2])
            srv.faults.reset()
            assert srv.push(srv.credentials.user_id, 901, text="hi") == 1
            assert next_of(client, Push).fields["text"] == "hi"

    # -- bounded delivery ---------------------------------------------------------------------

    @pytest.mark.parametrize("policy", ["backpressure", "drop_oldest", "fail"])
    def test_push_flood_with_a_slow_consumer(self, instamrkt_server_factory: Any,
                                             policy: str) -> None:
        sent, capacity = 20_000, 500
        srv = instamrkt_server_factory(queue_size=sent + 100)
        with self.connect(srv, queue_size=capacity, overflow=policy) as client:
            client.request("join_game", game_id="flood")
            assert srv.burst("flood", sent) == sent
            if policy != "backpressure":
                self.provoke_overflow(client)
            delivered = gaps = too_slow = 0
            while delivered + client.metrics().delivery.dropped < sent:
                try:
                    event = client.next_event(timeout=10)
                except ConsumerTooSlow:
                    too_slow += 1
                    continue
                assert event is not None, (delivered, client.metrics())
                if isinstance(event, Push):
                    delivered += 1
                    if delivered % 2000 == 0:
                        time.sleep(0.02)  # a slow consumer
                elif isinstance(event, PushesDropped):
                    gaps += event.count
            delivery = client.metrics().delivery
            assert delivery.high_water <= capacity + self.overshoot
            if policy == "backpressure":
                assert delivered == sent and delivery.dropped == 0
            elif policy == "drop_oldest":
                assert gaps == delivery.dropped > 0 and delivered + gaps == sent
            else:
                assert too_slow >= 1 and delivery.dropped > 0 and gaps == 0
            assert isinstance(client.ping(), Pong)  # still healthy
        assert srv.stats.pushes_sent >= sent and srv.stats.pushes_dropped == 0

    # -- pacing -------------------------------------------------------------------------------

    def burst_of_pings(self, client: Any, n: int) -> None:
        raise NotImplementedError

    def test_pacing_never_exceeds_the_window_at_the_server(self, server_process: Any) -> None:
        # The server runs in its own process: its arrival stamps are not delayed by ours.
        count, window, n = 100, 0.2, 1000
        creds = Credentials("pacer", "pacer-key")
        with self.adapter.connect(server_process.url, creds,
                                  rate_limit=(count, window)) as client:
            self.burst_of_pings(client, n)
        times = [at for at, _op in server_process.log()]
        assert len(times) == n
        assert_paced(times, count, window)
        assert times[-1] - times[0] >= (n / count - 1) * window * 0.9

    def test_a_server_that_never_answers_the_handshake_times_out(self) -> None:
        with socket.socket() as listener:  # accepts TCP, then says nothing at all
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            started = time.monotonic()
            with pytest.raises(ConnectionClosed, match=r"(?i)timed out"), \
                    self.adapter.connect(f"ws://127.0.0.1:{port}/", Credentials("1", "k"),
                                         connect_timeout=0.3, reconnect=False):
                pass
            assert time.monotonic() - started < 0.3 + 5.0

    def test_a_handshake_answer_that_is_not_http_is_a_typed_error(
            self, garbage_server: str) -> None:
        with pytest.raises(ConnectionClosed), self.adapter.connect(
                garbage_server, Credentials("1", "k"), reconnect=False):
            pass

    def test_a_peer_that_stops_reading_cannot_wedge_the_client(self, deaf_peer: str) -> None:
        # 8 MB cannot be written to a peer that reads nothing: the call still ends on time,
        # as outcome unknown (it may have left), and closing stays prompt.
        started = time.monotonic()
        with self.adapter.connect(deaf_peer, Credentials("1", "k"), timeout=1.0,
                                  keepalive_interval=0.5, keepalive_timeout=0.5,
                                  reconnect=False) as client:
            with pytest.raises(OutcomeUnknown):
                client.send("place_bet_in_betting_pool",
                            {"pool_id": "p", "target": "t", "amount": "1",
                             "memo": "x" * 8_000_000})
            closing = time.monotonic()
        assert time.monotonic() - closing < 2.0  # prompt, even with a stuck socket
        assert time.monotonic() - started < 1.0 + 5.0  # the timeout plus a generous margin

    # -- proxies ------------------------------------------------------------------------------

    def test_through_an_http_connect_proxy(self, instamrkt_server: Any, http_proxy: int,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
        srv = instamrkt_server
        for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                     "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        with self.connect(srv, proxy=f"http://127.0.0.1:{http_proxy}") as client:
            assert isinstance(client.ping(), Pong)
            assert client.logon().op == 100
        # A dead proxy fails the attempt: the option really routes through the proxy.
        with pytest.raises(ConnectionClosed), self.connect(srv, proxy="http://127.0.0.1:1"):
            pass
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{http_proxy}")
        with self.connect(srv) as client:
            assert isinstance(client.ping(), Pong)
        monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")  # bypass the (dead) proxy
        with self.connect(srv) as client:
            assert isinstance(client.ping(), Pong)
        assert srv.stats.connections == 3

    def test_wss_through_the_proxy_from_https_proxy(self, instamrkt_server_factory: Any,
                                                    tls_contexts: tuple[Any, Any],
                                                    http_proxy: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
        server_ctx, client_ctx = tls_contexts
        srv = instamrkt_server_factory(ssl_context=server_ctx)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{http_proxy}")
        with self.connect(srv, ssl_context=client_ctx) as client:
            assert isinstance(client.ping(), Pong)
        monkeypatch.setenv("https_proxy", "http://127.0.0.1:1")
        with pytest.raises(ConnectionClosed), self.connect(srv, ssl_context=client_ctx):
            pass
