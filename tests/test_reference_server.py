"""The reference server over real sockets on 127.0.0.1, driven by third-party clients.

Clients here are deliberately not ours (websocket-client, websockets) so that the server is
checked against independent websocket implementations. No sleep is an assertion: a "nothing
arrives" check only ever waits for something the server is configured never to send earlier.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import trustme
import websocket
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as sync_connect

from instamrkt_proto import Credentials, connection_url
from instamrkt_transports.rehearsal import Faults
from instamrkt_transports.server import ReferenceServer
from instamrkt_transports.server_thread import ServerThread

KEY = "reference-key"
FIXED_T = 1_700_000_000_000


def req(op: int, **params: Any) -> str:
    header = {"session_key": KEY, "t": 1, "api_version": 1.0}
    return json.dumps({"header": header, "op": op, **params})


def url_for(server: ServerThread | ReferenceServer, user: str = "1", nonce: int = 5) -> str:
    creds = server.credentials(user) if isinstance(server, ReferenceServer) else \
        server.credentials_for(user)
    return connection_url(server.url, creds, nonce)


@pytest.fixture
def srv() -> Iterator[ServerThread]:
    with ServerThread({"1": KEY, "2": "other-key"}, close_timeout=0.25,
                      wall_clock=lambda: FIXED_T) as server:
        yield server


def open_pool(conn: ClientConnection) -> str:
    """A pool to bet into (on targets t0 and t1), in a game of a source this user opens."""
    source = call(conn, 365, source_name="example.org")["source_id"]
    game = call(conn, 370, source_id=source, game_name="g", targets="t0,t1")["game_id"]
    return str(call(conn, 385, game_id=game, targets="t0,t1")["pool_id"])


def ws(server: ServerThread, user: str = "1", **kwargs: Any) -> ClientConnection:
    return sync_connect(url_for(server, user), open_timeout=5, close_timeout=1, **kwargs)


def call(conn: ClientConnection, op: int, **params: Any) -> dict[str, Any]:
    conn.send(req(op, **params))
    return json.loads(conn.recv(timeout=5))  # type: ignore[no-any-return]


# -- interoperability -----------------------------------------------------------------------


def test_websocket_client_ping_opcodes_logon(srv: ServerThread) -> None:
    conn = websocket.create_connection(url_for(srv), timeout=5)
    try:
        replies = []
        for op in (1, 2, 100, 100):
            conn.send(req(op))
            replies.append(json.loads(conn.recv()))
    finally:
        conn.close()
    assert replies[0] == {"response_header": {"t": FIXED_T}, "res": 1}
    assert replies[1]["res"] == 2 and replies[1]["opcodes"]["logon"] == 100
    assert replies[1]["response_codes"]["logon_fail_already_logged_in"] == 112
    assert [r["res"] for r in replies[2:]] == [100, 112]
    assert srv.stats.received_by_user["1"] == {1: 1, 2: 1, 100: 2}


def test_websockets_sync_client_and_market(srv: ServerThread) -> None:
    with ws(srv) as conn:
        assert call(conn, 363, game_id="g1") == {
            "response_header": {"t": FIXED_T}, "res": 333, "game_id": "g1"}
        assert call(conn, 372, game_id="g1")["game_id"] == "g1"
        assert call(conn, 387, game_id="g1") == {
            "response_header": {"t": FIXED_T}, "res": 3535, "game_id": "g1", "pools_list": []}
        assert call(conn, 392, pool_id="p1", target="t0", amount="30")["text"] == \
            "place_bet_in_betting_pool: unknown betting pool 'p1' (no bet placed, nothing charged)"
        p1 = open_pool(conn)
        bet = call(conn, 392, pool_id=p1, target="t0", amount="30")
        assert (bet["res"], bet["bet_id"], bet["pool_id"]) == (356, "bet-1", p1)
        balance_push = json.loads(conn.recv(timeout=5))
        assert balance_push["res"] == 815
        assert (balance_push["current_balance"], balance_push["available_balance"]) == (1000, 970)
        assert call(conn, 800)["current_balance"] == 1000
        assert call(conn, 392, pool_id=p1, target="t0", amount=10**6)["text"] == \
            "insufficient funds"
        assert call(conn, 364, game_id="g1")["res"] == 334
        assert call(conn, 370)["res"] == 666  # known op the rehearsal market does not do
        assert call(conn, 12345) == {"response_header": {"t": FIXED_T}, "res": 666,
                                     "text": "unknown op 12345"}
        conn.send("[1, 2]")
        assert json.loads(conn.recv(timeout=5))["text"].startswith("malformed request: ")
    assert srv.stats.malformed == 1
    assert srv.stats.ops("1") == [363, 372, 387, 392, 365, 370, 385, 392, 800, 392, 364, 370,
                                  12345]


def test_bad_digest_is_403_and_missing_params_400_before_upgrade(srv: ServerThread) -> None:
    bad = connection_url(srv.url, Credentials("1", "wrong-key"), 1)
    with pytest.raises(InvalidStatus) as refused:
        sync_connect(bad, open_timeout=5)
    assert refused.value.response.status_code == 403
    assert refused.value.response.body == b"authentication failed\n"
    with pytest.raises(websocket.WebSocketBadStatusException) as unknown:
        websocket.create_connection(url_for(srv).replace("id=1", "id=99"), timeout=5)
    assert unknown.value.status_code == 403
    with pytest.raises(InvalidStatus) as missing:
        sync_connect(srv.url + "?id=1&n=1", open_timeout=5)
    assert missing.value.response.status_code == 400
    assert srv.stats.rejected == {403: 2, 400: 1}
    assert srv.stats.connections == 0 and not srv.stats.log


def test_plain_http_and_garbage_do_not_upset_the_server(srv: ServerThread) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw:
        raw.sendall(b"\x00\x01 not http at all\r\n\r\n")
        raw.shutdown(socket.SHUT_WR)
        raw.recv(100)
    with ws(srv) as conn:
        assert call(conn, 1)["res"] == 1


def test_pytest_plugin_fixture(instamrkt_server: ServerThread) -> None:
    creds = instamrkt_server.credentials
    assert isinstance(creds, Credentials) and instamrkt_server.url.startswith("ws://127.0.0.1:")
    instamrkt_server.faults.refuse_logon = True
    with sync_connect(connection_url(instamrkt_server.url, creds, 3), open_timeout=5) as conn:
        assert call(conn, 100)["res"] == 110
        instamrkt_server.faults.refuse_logon = False
        assert call(conn, 100)["res"] == 100
    assert instamrkt_server.stats.received[100] == 2


def test_tls_with_a_test_ca(instamrkt_server_factory: Any) -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    server = instamrkt_server_factory({"1": KEY}, ssl_context=server_ctx)
    assert server.url.startswith("wss://127.0.0.1:")
    with sync_connect(url_for(server), ssl=client_ctx, open_timeout=5) as conn:
        assert call(conn, 1)["res"] == 1
        assert call(conn, 100)["res"] == 100
    with pytest.raises(ssl.SSLError):  # an untrusting client fails the TLS handshake
        sync_connect(url_for(server), ssl=ssl.create_default_context(), open_timeout=5)
    conn2 = websocket.create_connection(url_for(server), sslopt={"context": client_ctx},
                                        timeout=5)
    try:
        conn2.send(req(1))
        assert json.loads(conn2.recv())["res"] == 1
    finally:
        conn2.close()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_runs_under_asyncio_and_trio(backend: str) -> None:
    async def main() -> list[int]:
        async with ReferenceServer({"1": KEY}, close_timeout=0.5) as server:
            def client() -> list[int]:
                with sync_connect(url_for(server), open_timeout=5) as conn:
                    got = [call(conn, op)["res"] for op in (1, 100, 800)]
                    conn.send(req(363, game_id="g"))
                    got.append(json.loads(conn.recv(timeout=5))["res"])
                    return got

            result = await anyio.to_thread.run_sync(client)
            assert server.stats.received == {1: 1, 100: 1, 800: 1, 363: 1}
            return result

    assert anyio.run(main, backend=backend) == [1, 100, 800, 333]


def test_graceful_shutdown_sends_1001() -> None:
    server = ServerThread({"1": KEY}, close_timeout=2).start()
    try:
        with ws(server) as conn:
            assert call(conn, 1)["res"] == 1
            server.close()  # returns once the closing handshake is done
            with pytest.raises(ConnectionClosedOK) as closed:
                conn.recv(timeout=5)
    finally:
        server.close()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert server.stats.connections == 1


def test_fifty_concurrent_clients_get_their_own_replies(instamrkt_server_factory: Any) -> None:
    users = {str(n): f"key-{n}" for n in range(50)}
    server = instamrkt_server_factory(users)

    async def client(n: int) -> list[str]:
        url = connection_url(server.url, Credentials(str(n), users[str(n)]), n)
        async with async_connect(url, open_timeout=10) as conn:
            for i in range(20):  # pipelined: all 20 in flight at once
                await conn.send(req(363, game_id=f"c{n}-g{i}"))
            replies = [json.loads(await conn.recv()) for _ in range(20)]
        assert all(r["res"] == 333 for r in replies)
        return [r["game_id"] for r in replies]

    async def main() -> list[list[str]]:
        return await asyncio.wait_for(asyncio.gather(*(client(n) for n in range(50))), 60)

    results = asyncio.run(main())
    for n, games in enumerate(results):
        assert games == [f"c{n}-g{i}" for i in range(20)]
    assert server.stats.received[363] == 1000
    assert all(server.stats.received_by_user[str(n)][363] == 20 for n in range(50))


# -- pushes ---------------------------------------------------------------------------------


def test_on_demand_push_burst_and_periodic_source(srv: ServerThread) -> None:
    with ws(srv) as conn, ws(srv, "2") as other:
        assert call(conn, 363, game_id="g7")["res"] == 333
        assert call(other, 1)["res"] == 1
        assert srv.burst("g7", 3) == 3
        burst = [json.loads(conn.recv(timeout=5)) for _ in range(3)]
        assert [m["res"] for m in burst] == [366, 362, 815]
        assert burst[0]["game_id"] == burst[1]["game_id"] == "g7"
        assert {"action_id", "target_id", "current_count", "happened_at"} <= set(burst[0])
        assert {"pool_id", "winners", "losers", "is_money_return", "resolved_at"} <= set(burst[1])
        assert {"current_balance", "available_balance", "currency"} <= set(burst[2])
        assert srv.push("2", 901, text="hi") == 1
        assert json.loads(other.recv(timeout=5)) == {
            "response_header": {"t": FIXED_T}, "res": 901, "text": "hi"}
        srv.faults_for("1").push_interval = 0.02
        periodic = [json.loads(conn.recv(timeout=5))["res"] for _ in range(4)]
        srv.faults_for("1").push_interval = None
        assert periodic == [366, 362, 815, 366]
        assert srv.stats.pushes_sent >= 8


def test_full_queue_drops_pushes(instamrkt_server_factory: Any) -> None:
    server = instamrkt_server_factory({"1": KEY}, queue_size=4)
    with ws(server) as conn:
        assert call(conn, 363, game_id="g")["res"] == 333
        server.faults.silent = True  # the writer keeps draining, but nothing is sent
        queued = server.burst("g", 500)
        assert queued < 500
        assert server.stats.pushes_dropped == 500 - queued
        server.faults.silent = False


# -- faults ---------------------------------------------------------------------------------


def test_reply_delay(srv: ServerThread) -> None:
    srv.faults.reply_delay = 0.8
    with ws(srv) as conn:
        conn.send(req(1))
        with pytest.raises(TimeoutError):  # cannot arrive before the 0.8 s delay
            conn.recv(timeout=0.2)
        srv.faults.reply_delay = 0.0
        assert json.loads(conn.recv(timeout=10))["res"] == 1


def test_silent_half_open_then_recovers(srv: ServerThread) -> None:
    with ws(srv) as conn:
        srv.faults.silent = True
        conn.send(req(1))
        conn.send(req(392, pool_id="p", target="t", amount=5))
        with pytest.raises(TimeoutError):  # a silent server never answers
            conn.recv(timeout=0.3)
        srv.faults.silent = False
        assert call(conn, 800)["current_balance"] == 1000  # the bet was never executed
    assert srv.stats.received == {1: 1, 392: 1, 800: 1}


def test_drop_after_replies_without_close_frame(srv: ServerThread) -> None:
    srv.faults.drop_after_replies = 2
    with ws(srv) as conn:
        for _ in range(3):
            conn.send(req(1))
        assert [json.loads(conn.recv(timeout=5))["res"] for _ in range(2)] == [1, 1]
        with pytest.raises(ConnectionClosedError) as dropped:
            conn.recv(timeout=5)
        assert dropped.value.rcvd is None  # no close frame: abnormal closure (1006)
    assert srv.stats.closed_by_fault["drop"] == 1


@pytest.mark.parametrize("mode", ["before", "instead"])
def test_malformed_messages(srv: ServerThread, mode: str) -> None:
    srv.faults.update(malformed=mode, malformed_payload=b"[1, 2]")
    with ws(srv) as conn:
        conn.send(req(1))
        assert conn.recv(timeout=5) == "[1, 2]"
        if mode == "before":
            assert json.loads(conn.recv(timeout=5))["res"] == 1
        srv.faults.reset()
        assert call(conn, 1)["res"] == 1
    with pytest.raises(ValueError):
        srv.faults.malformed = "sometimes"  # type: ignore[assignment]


def test_unsolicited_pushes_before_reply(srv: ServerThread) -> None:
    with ws(srv) as conn:
        assert call(conn, 363, game_id="g2")["res"] == 333
        srv.faults.pushes_before_reply = 2
        conn.send(req(800))
        got = [json.loads(conn.recv(timeout=5)) for _ in range(3)]
        assert [m["res"] for m in got] == [366, 362, 800]
        assert got[0]["game_id"] == "g2"


def test_clock_skew(srv: ServerThread) -> None:
    srv.faults_for("1").clock_skew_ms = -90_000
    with ws(srv) as conn, ws(srv, "2") as other:
        assert call(conn, 1)["response_header"] == {"t": FIXED_T - 90_000}
        assert call(other, 1)["response_header"] == {"t": FIXED_T}


def test_oversized_message(srv: ServerThread) -> None:
    srv.faults.oversized = 100_000
    with ws(srv) as conn:
        conn.send(req(1))
        big = conn.recv(timeout=5)
        assert len(big) == 100_000 and json.loads(big)["res"] == 901
        assert json.loads(conn.recv(timeout=5))["res"] == 1
    with ws(srv, max_size=50_000) as small:
        small.send(req(1))
        with pytest.raises(ConnectionClosedError) as closed:
            small.recv(timeout=5)
        assert closed.value.sent is not None and closed.value.sent.code == 1009


def test_too_many_requests_closes_with_1008(srv: ServerThread) -> None:
    srv.faults_for("1").too_many_requests_after = 2
    with ws(srv) as conn:
        for _ in range(3):
            conn.send(req(1))
        assert [json.loads(conn.recv(timeout=5))["res"] for _ in range(2)] == [1, 1]
        with pytest.raises(ConnectionClosedError) as closed:
            conn.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "too many requests")
    assert srv.stats.received[1] == 3


@pytest.mark.parametrize("once", [True, False])
def test_once_spends_every_knob_on_the_first_close(srv: ServerThread, once: bool) -> None:
    faults = srv.faults_for("1")
    faults.update(drop_after_replies=1, clock_skew_ms=5, once=once)
    for _ in range(2):  # without once, the second connection is cut as the first was
        with ws(srv) as conn:
            assert call(conn, 1)["response_header"] == {"t": FIXED_T + 5}
            with pytest.raises(ConnectionClosedError):
                call(conn, 1)
            if once:  # reset before the drop left the server: nothing can race it
                assert faults == Faults()
                break
    if once:
        with ws(srv) as conn:  # the next connection meets a healthy server
            assert [call(conn, 1)["response_header"]["t"] for _ in range(3)] == [FIXED_T] * 3
    assert srv.stats.closed_by_fault["drop"] == (1 if once else 2)
    assert faults.drop_after_replies == (None if once else 1)


def test_once_after_too_many_requests(srv: ServerThread) -> None:
    srv.faults.update(too_many_requests_after=1, once=True)
    with ws(srv) as conn:
        assert call(conn, 1)["res"] == 1
        with pytest.raises(ConnectionClosedError):
            call(conn, 1)
    assert srv.faults == Faults()
    with ws(srv) as conn:
        assert [call(conn, 1)["res"] for _ in range(3)] == [1, 1, 1]


def test_server_side_close_and_message_size_limit(instamrkt_server_factory: Any) -> None:
    server = instamrkt_server_factory({"1": KEY}, max_message_size=1000)
    with ws(server) as conn:
        assert call(conn, 1)["res"] == 1
        conn.send(req(1, padding="x" * 2000))
        with pytest.raises(ConnectionClosedError) as closed:
            conn.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with ws(server) as conn:
        assert call(conn, 1)["res"] == 1
        assert server.connected_users() == ["1"]
        assert server.close_connections("1", 4000, "bye") == 1
        with pytest.raises(ConnectionClosedError) as closed:
            conn.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


def test_faults_validate_and_per_user_copy_is_independent() -> None:
    faults = Faults()
    with pytest.raises(ValueError):
        faults.reply_delay = -1
    with pytest.raises(TypeError):
        faults.update(nonsense=1)
    with pytest.raises(ValueError):
        faults.update(silent=True, drop_after_replies=-2)
    assert faults.silent is False  # nothing changed on a failed update
    server = ReferenceServer({"1": KEY}, faults=Faults(reply_delay=0.5))
    own = server.faults_for(1)
    own.reply_delay = 0.0
    assert server.faults.reply_delay == 0.5 and server.faults_for("1") is own
    assert KEY not in repr(server) and "not started" in repr(server)


def test_server_thread_on_trio_with_runtime_user() -> None:
    with ServerThread(backend="trio", close_timeout=0.25) as server:
        creds = server.add_user(77, "late-key")
        assert server.credentials == creds and server.port > 0
        server.faults_for(77).refuse_logon = True
        with sync_connect(connection_url(server.url, creds, 1), open_timeout=5) as conn:
            assert call(conn, 100)["res"] == 110
            assert server.connected_users() == ["77"]
        assert "trio" in repr(server) and "late-key" not in repr(server)
    with pytest.raises(RuntimeError):
        server.push(None, 815)


def test_market_reads_and_refusals() -> None:
    from instamrkt_transports.rehearsal import Market

    market = Market(lambda: FIXED_T, initial_balance=100)
    joined: set[str] = set()
    assert market.handle("u", 363, {}, joined)[0] == 666  # game_id required
    assert market.handle("u", 392, {"pool_id": "p", "target": "t", "amount": [1]}, joined)[0] \
        == 666
    res, fields, _pushes = market.handle("u", 392, {"pool_id": "p", "target": "t",
                                                    "amount": 40}, joined)
    assert res == 666 and "unknown betting pool 'p'" in fields["text"]
    source = market.handle("u", 365, {"source_name": "s"}, joined)[1]["source_id"]
    game = market.handle("u", 370, {"source_id": source, "game_name": "g",
                                    "targets": "t,u"}, joined)[1]["game_id"]
    pool = market.handle("u", 385, {"game_id": game, "targets": "t,u"}, joined)[1]["pool_id"]
    res, _fields, pushes = market.handle("u", 392, {"pool_id": pool, "target": "t",
                                                    "amount": 40}, joined)
    assert (res, pushes[-1][1]["available_balance"]) == (356, 60)
    assert market.handle("u", 810, {}, joined)[1]["available_balance"] == 60
    assert market.handle("u", 840, {}, joined)[1]["exposure"] == 40
    assert market.handle("u", 900, {"text": "hi", "targets": "g"}, joined)[:2] == (
        901, {"sender": "u", "text": "hi", "received_at": FIXED_T, "channel": "g"})
    assert market.handle("u", 461, {"game_id": "g"}, joined)[:2] == (
        461, {"game_id": "g", "predictions": {"running": [], "resolved": []}})
    assert market.handle("u", 4505, {}, joined)[:2] == (4505, {
        "leaderboard": [], "break_after_rank": [], "game_type": "INSTAMRKT", "currency": "DON"})
    assert market.handle("u", 380, {"source_id": "s"}, joined)[:2] == (
        666, {"text": "unknown game source 's'"})
    assert [g["game_id"] for g in market.handle("u", 380, {"source_id": source}, joined)[1][
        "games"]] == [game]
    with pytest.raises(ValueError):
        market.make_push(341, "g", "u")
