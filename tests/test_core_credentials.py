"""Credentials that outlive their key: the core asks for fresh ones and keeps the session.

Driven by hand on a fake clock: a refused handshake or a refused logon becomes a
``RefreshCredentials`` event; ``update_credentials`` reconnects signed with the new key and
restores the session as after any loss; money-moving requests are never re-sent; a provider
that fails, or whose keys keep being refused, ends the session with ``AuthenticationError``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from core_helpers import SECRET, make

from instamrkt_proto import (
    AuthenticationError,
    Backoff,
    ClientConfig,
    Closed,
    CloseTransport,
    Connected,
    Connecting,
    Credentials,
    LocalProtocolError,
    LoggedOn,
    OutcomeUnknown,
    Reconnected,
    RefreshCredentials,
    RequestFailed,
    State,
    digest,
)
from instamrkt_proto.codec import ClientRequest
from instamrkt_proto.testing import Harness, Reply, standard_reply

FRESH = Credentials("1", "fresh-key-0123456789")
CONFIG = ClientConfig(refresh_on_refusal=True, keepalive_interval=None,
                      backoff=Backoff(base=0.01, cap=0.01))


def _of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def _signed_with(event: Connecting, credentials: Credentials) -> bool:
    query = parse_qs(urlsplit(event.url).query)
    return query["h"][0] == digest(credentials.user_id, query["n"][0], credentials.session_key)


def _refused_handshake(h: Harness) -> list[Any]:
    return h.call(lambda c, now: c.connection_failed(now, 403, "forbidden"))


def _logged_on_in_a_game(config: ClientConfig = CONFIG, peer: Any = standard_reply) -> Harness:
    h = make(config=config, peer=peer)
    h.connect()
    h.request("logon")
    h.request("join_game", game_id="g-1")
    assert h.conn.logged_on and h.conn.joined_games == ("g-1",)
    return h


def test_a_refused_first_handshake_asks_for_credentials_then_connects_with_them() -> None:
    h = make(config=CONFIG, auto_connect=False)
    (connecting,) = h.connect()
    events = _refused_handshake(h)
    assert events == [RefreshCredentials(reason="refused", status=403)]
    assert h.conn.state is State.REFRESHING and h.conn.next_deadline() is None
    (connecting,) = h.call(lambda c, now: c.update_credentials(FRESH, now))
    assert isinstance(connecting, Connecting) and _signed_with(connecting, FRESH)
    assert h.call(lambda c, now: c.connection_made(now)) == [Connected()]
    h.request("ping")
    assert h.sent[-1].header["session_key"] == FRESH.session_key
    assert FRESH.session_key not in repr(h.conn) and SECRET not in repr(h.conn)


def test_a_refused_reconnect_refreshes_and_restores_the_whole_session() -> None:
    h = _logged_on_in_a_game()
    h.auto_connect = False
    h.call(lambda c, now: c.connection_lost(now, 1006, "gone"))
    (connecting,) = [e for e in h.advance(1.0) if isinstance(e, Connecting)]
    assert _of(_refused_handshake(h), RefreshCredentials) == [
        RefreshCredentials(reason="refused", status=403)]
    (connecting,) = h.call(lambda c, now: c.update_credentials(FRESH, now))
    assert _signed_with(connecting, FRESH)
    events = h.call(lambda c, now: c.connection_made(now))
    (reconnected,) = _of(events, Reconnected)
    assert reconnected.credentials_refreshed and reconnected.relogged_on
    assert reconnected.rejoined == ("g-1",)
    assert [r.op for r in h.sent[-2:]] == [100, 363]  # re-logon and re-join, new key
    assert all(r.header["session_key"] == FRESH.session_key for r in h.sent[-2:])
    # The next outage that needs no refresh says so.
    h.auto_connect = True
    h.call(lambda c, now: c.connection_lost(now, 1006, "gone"))
    (again,) = _of(h.advance(1.0), Reconnected)
    assert not again.credentials_refreshed


def test_a_bet_in_flight_when_the_key_dies_is_outcome_unknown_and_never_resent() -> None:
    def silent_on_bets(request: ClientRequest) -> list[Reply]:
        return [] if request.op == 392 else standard_reply(request)

    h = _logged_on_in_a_game(peer=silent_on_bets)
    bet = h.request("place_bet_in_betting_pool", pool_id="p", target="a", amount="1")
    h.auto_connect = False
    events = h.call(lambda c, now: c.connection_lost(now, 1006, "gone"))
    (failed,) = [e for e in events if isinstance(e, RequestFailed)]
    assert failed.request_id == bet and isinstance(failed.error, OutcomeUnknown)
    h.advance(1.0)
    _refused_handshake(h)
    h.call(lambda c, now: c.update_credentials(FRESH, now))
    h.call(lambda c, now: c.connection_made(now))
    assert [r.op for r in h.sent].count(392) == 1
    assert sum(1 for e in h.events if getattr(e, "request_id", None) == bet) == 1


def test_a_refused_re_logon_closes_the_connection_and_refreshes() -> None:
    refuse = {"logon": False}

    def peer(request: ClientRequest) -> list[Reply]:
        if request.op == 100 and refuse["logon"]:
            refuse["logon"] = False
            return [{"res": 110}]
        return standard_reply(request)

    h = _logged_on_in_a_game(peer=peer)
    refuse["logon"] = True
    h.call(lambda c, now: c.connection_lost(now, 1006, "gone"))
    events = h.advance(1.0)  # reconnects; the re-logon gets 110
    assert _of(events, CloseTransport)[-1].reason.startswith("logon refused")
    closed = _of(events, Closed)[-1]
    assert closed.will_reconnect
    assert _of(events, RefreshCredentials) == [RefreshCredentials(reason="refused")]
    assert h.conn.state is State.REFRESHING and not _of(events, Reconnected)
    events = h.call(lambda c, now: c.update_credentials(FRESH, now))
    (reconnected,) = _of(events, Reconnected)
    assert reconnected.credentials_refreshed and reconnected.rejoined == ("g-1",)
    assert h.conn.logged_on


def test_a_callers_logon_refused_is_answered_after_the_refresh() -> None:
    answers = iter([110, 100])

    def peer(request: ClientRequest) -> list[Reply]:
        if request.op == 100:
            return [{"res": next(answers)}]
        return standard_reply(request)

    h = make(config=CONFIG, peer=peer)
    h.connect()
    rid = h.request("logon")
    assert _of(h.events, RefreshCredentials) == [RefreshCredentials(reason="refused")]
    assert not [e for e in h.events if getattr(e, "request_id", None) == rid]  # still open
    h.call(lambda c, now: c.update_credentials(FRESH, now))
    (logged_on,) = [e for e in h.events if getattr(e, "request_id", None) == rid]
    assert isinstance(logged_on, LoggedOn) and h.conn.logged_on
    assert [r.op for r in h.sent] == [100, 100]
    assert h.sent[-1].header["session_key"] == FRESH.session_key


@pytest.mark.parametrize("how", ["same key", "provider failed", "refused again"])
def test_refreshing_ends_the_session_when_it_cannot_help(how: str) -> None:
    h = make(config=CONFIG, auto_connect=False)
    h.connect()
    _refused_handshake(h)
    if how == "same key":
        events = h.call(lambda c, now: c.update_credentials(Credentials("1", SECRET), now))
    elif how == "provider failed":
        events = h.call(lambda c, now: c.refresh_failed(now, "RestError: HTTP 500"))
    else:  # every new key is refused too: max_credential_refreshes (2) tries, then the end
        for n in range(CONFIG.max_credential_refreshes - 1):
            h.call(lambda c, now, n=n: c.update_credentials(Credentials("1", f"k{n}"), now))
            assert _of(_refused_handshake(h), RefreshCredentials)
        h.call(lambda c, now: c.update_credentials(Credentials("1", "last"), now))
        events = _refused_handshake(h)
    (closed,) = _of(events, Closed)
    assert isinstance(closed.error, AuthenticationError) and not closed.will_reconnect
    assert h.conn.state is State.CLOSED and h.conn.next_deadline() is None
    assert SECRET not in str(closed.error)


def test_without_refresh_a_refused_key_ends_the_session_as_before() -> None:
    h = make(config=ClientConfig(keepalive_interval=None), auto_connect=False)
    h.connect()
    events = _refused_handshake(h)
    assert not _of(events, RefreshCredentials)
    (closed,) = _of(events, Closed)
    assert isinstance(closed.error, AuthenticationError) and closed.error.status == 403


def test_credentials_are_refreshed_ahead_of_expiry_on_the_live_connection() -> None:
    config = ClientConfig(refresh_on_refusal=True, credentials_max_age=100.0,
                          keepalive_interval=None)
    h = make(config=config)
    h.connect()
    start = h.clock.now
    assert h.conn.next_deadline() == start + 100.0
    events = h.advance(100.0)
    assert events == [RefreshCredentials(reason="expiring")]
    assert h.conn.next_deadline() is None  # asked once, until answered
    assert h.call(lambda c, now: c.update_credentials(FRESH, now)) == []  # no reconnect
    assert h.conn.state is State.OPEN
    h.request("ping")
    assert h.sent[-1].header["session_key"] == FRESH.session_key
    assert h.conn.next_deadline() == h.clock.now + 100.0
    # A provider that fails now costs nothing yet: the key still works; it asks again.
    h.advance(100.0)
    h.call(lambda c, now: c.refresh_failed(now, "timeout"))
    assert h.conn.state is State.OPEN
    assert _of(h.advance(60.0), RefreshCredentials) == [RefreshCredentials(reason="expiring")]


def test_update_credentials_needs_credentials() -> None:
    h = make(config=CONFIG)
    h.connect()
    with pytest.raises(LocalProtocolError):
        h.conn.update_credentials("key", h.clock.now)  # type: ignore[arg-type]


def test_a_logon_refused_after_a_refresh_is_not_called_a_refused_handshake() -> None:
    refuse = {"logon": False}

    def peer(request: ClientRequest) -> list[Reply]:
        if request.op == 100 and refuse["logon"]:
            return [{"res": 110}]
        return standard_reply(request)

    config = ClientConfig(refresh_on_refusal=True, keepalive_interval=None,
                          max_credential_refreshes=1, backoff=Backoff(base=0.01, cap=0.01))
    h = _logged_on_in_a_game(config=config, peer=peer)
    refuse["logon"] = True
    h.call(lambda c, now: c.connection_lost(now, 1006, "gone"))
    h.advance(1.0)  # the re-logon gets 110: one refresh is allowed
    events = h.call(lambda c, now: c.update_credentials(FRESH, now))
    events += h.advance(1.0)  # the fresh key's re-logon gets 110 too: the end
    (closed,) = [e for e in _of(events, Closed) if not e.will_reconnect]
    error = closed.error
    assert isinstance(error, AuthenticationError) and error.action == "logon"
    assert str(error) == "logon refused: res 110 with refreshed credentials"
    assert "handshake" not in str(error)
