"""Recording (the ``record=`` option, every client) and replay through the core.

The live sessions run against the reference server's football scenario on 127.0.0.1; the
replays need no network. ``data/incident-reconnect.jsonl`` is a recording of a connection
cut with a bet in flight, kept in the repository: its replay needs nothing but the file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from instamrkt_proto import (
    ClientConfig,
    Closed,
    Connected,
    LoggedOn,
    OutcomeUnknown,
    Reconnected,
    RequestFailed,
    RequestSettled,
    api,
)
from instamrkt_proto.codec import encode_request
from instamrkt_proto.recording import (
    VERSION,
    RecordingError,
    Secrets,
    decode_params,
    encode_header,
    encode_record,
    read_records,
)
from instamrkt_proto.replay import ReplayDiverged
from instamrkt_proto.testing import replay
from instamrkt_transports import blocking, rest
from instamrkt_transports.cli.session import open_client

INCIDENT = Path(__file__).parent / "data" / "incident-reconnect.jsonl"
TRANSPORTS = ["blocking", "threaded", "anyio:asyncio"]


def live_session(server: Any, path: Any, transport: str, pushes: int = 25
                 ) -> tuple[list[Any], list[Any]]:
    """A bot's session, recorded: what its calls returned and what next_event gave."""
    game = server.scenario.game_id
    replies: list[Any] = []
    events: list[Any] = []
    with open_client(transport, server.url, server.credentials, timeout=10,
                     record=path) as client:
        reader: Any = client
        replies.append(client.logon())
        replies.append(client.call(api.JoinGame(game_id=game)))
        replies.append(client.call(api.ListAllBettingPoolsForGame(game_id=game)))
        pool = replies[-1].pools_list[0]
        replies.append(client.call(api.PlaceBetInBettingPool(
            pool_id=pool.pool_id, target=pool.distribution[0].target_id, amount=Decimal(3))))
        while sum(1 for e in events if isinstance(e, api.Push)) < pushes:
            event = reader.next_event(timeout=10)
            assert event is not None, "the scenario stopped pushing"
            events.append(event)
        replies.append(client.call(api.GetMyCurrentBalance()))
        replies.append(client.ping())
    while (event := reader.next_event(timeout=0.5)) is not None:
        events.append(event)
    return replies, events


def comparable(event: Any) -> Any:
    """An event as a value: exceptions (equal only to themselves) by type and text."""
    fields = attrs.asdict(event, recurse=False)
    return type(event), {k: (type(v), str(v)) if isinstance(v, BaseException) else v
                         for k, v in fields.items()}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_replay_yields_the_live_sessions_typed_events(instamrkt_server_factory: Any,
                                                      tmp_path: Path, transport: str) -> None:
    server = instamrkt_server_factory(scenario="football", scenario_interval=0.05)
    path = tmp_path / "session.jsonl"
    replies, events = live_session(server, path, transport)
    replayed = list(replay(path))
    assert [e for e in replayed if isinstance(e, RequestSettled)] == replies
    delivered = [e for e in replayed if isinstance(e, (api.Push, Connected, Closed,
                                                       Reconnected))]
    replayed_events = [comparable(e) for e in delivered if not isinstance(e, Connected)]
    live_events = [comparable(e) for e in events if not isinstance(e, Connected)]
    # The portal's anyio client stops delivering at close(); what the core had received
    # by then but the application never read is the replay's extra tail.
    assert replayed_events[:len(live_events)] == live_events
    tail = delivered[len(live_events) + 1:]
    assert transport.startswith("anyio") or not tail
    assert all(isinstance(e, (api.Push, Closed)) for e in tail)
    assert any(isinstance(e, api.BetPoolResolved) for e in events)


def test_a_recorded_incident_replays_without_a_network() -> None:
    events = list(replay(INCIDENT))
    failed = [e for e in events if isinstance(e, RequestFailed)]
    assert len(failed) == 1 and isinstance(failed[0].error, OutcomeUnknown)
    assert failed[0].op == 392  # the bet in flight
    lost = [e for e in events if isinstance(e, Closed)]
    assert lost[0].will_reconnect and lost[0].code == 1006
    back = next(e for e in events if isinstance(e, Reconnected))
    assert back.relogged_on and back.rejoined == ("game-1",)
    assert events.index(failed[0]) < events.index(lost[0]) < events.index(back)
    balance = next(e for e in events if isinstance(e, api.YourCurrentBalance))
    assert balance.current_balance == Decimal(1000)  # the bet never reached the market
    assert not lost[-1].will_reconnect  # the client closed at the end
    assert [comparable(e) for e in replay(INCIDENT)] == [comparable(e) for e in events]


def test_replay_finds_what_changed_since_the_recording(tmp_path: Path) -> None:
    lines = INCIDENT.read_bytes().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if b'\\"op\\":392' in line)
    assert lines[at].startswith(b'{"k":"out"')  # what was sent: the library changed
    lines[at] = lines[at].replace(b'\\"amount\\":\\"5\\"', b'\\"amount\\":\\"6\\"')
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"".join(lines))
    with pytest.raises(ReplayDiverged, match="amount"):
        list(replay(tampered))
    assert len(list(replay(tampered, check=False))) == len(list(replay(INCIDENT)))


def _digests(user: str, key: str, start_ms: int, end_ms: int) -> set[str]:
    """Every digest the session could have signed with: nonces are epoch ms in the run."""
    return {hashlib.sha256(f"{user}{n}{key}".encode()).hexdigest()
            for n in range(start_ms - 2000, end_ms + 2000)}


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_no_key_digest_or_password_reaches_the_file(instamrkt_server_factory: Any,
                                                    tmp_path: Path, suffix: str) -> None:
    server = instamrkt_server_factory(scenario="football", scenario_interval=0.05)
    password = "correct-horse-battery-staple"
    server.add_account("alice", password, user_id="1001")
    creds = rest.login(server.rest_url, "alice", password)
    path = tmp_path / f"secret{suffix}"
    with blocking.connect(server.url, creds, timeout=10, record=path) as client:
        client.logon()
        client.call(api.JoinGame(game_id=server.scenario.game_id))
        server.close_connections(code=1011)  # a reconnect: a second nonce, a second digest
        while not isinstance(client.next_event(timeout=10), Reconnected):
            pass
        client.ping()
    data = path.read_bytes()
    if suffix.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode()
    header, records = read_records(io.BytesIO(data))
    created = header.created
    walls = [r.wall for r in records]
    assert creds.session_key not in text and password not in text
    found = [d for d in _digests(creds.user_id, creds.session_key, created, max(walls))
             if d in text]
    assert found == []
    assert text.count('\\"session_key\\":\\"*\\"') >= 4  # logon, join, relogon, ping...
    assert '"m":"reconnected"' in text


def test_every_client_closes_its_file_and_appends_a_second_session(
        instamrkt_server_factory: Any, tmp_path: Path) -> None:
    server = instamrkt_server_factory(scenario="football", scenario_interval=0.05)
    path = tmp_path / "two.jsonl.gz"
    for transport in TRANSPORTS:
        with open_client(transport, server.url, server.credentials, timeout=10,
                         record=path) as client:
            client.logon()
    events = list(replay(path))
    assert sum(isinstance(e, LoggedOn) for e in events) == len(TRANSPORTS)
    assert sum(isinstance(e, Closed) for e in events) == len(TRANSPORTS)


def test_an_open_binary_file_is_written_and_left_open(instamrkt_server: Any) -> None:
    sink = io.BytesIO()
    with blocking.connect(instamrkt_server.url, instamrkt_server.credentials, timeout=10,
                          record=sink) as client:
        client.ping()
    assert not sink.closed
    assert any(isinstance(e, api.Response) and e.op == 1
               for e in replay(sink.getvalue().splitlines(keepends=True)))


def test_bad_record_targets_are_refused_clearly(instamrkt_server: Any, tmp_path: Path) -> None:
    url, creds = instamrkt_server.url, instamrkt_server.credentials

    def connect(target: Any) -> None:
        with blocking.connect(url, creds, record=target):
            pass

    with pytest.raises(RecordingError, match="zstandard"):
        connect(tmp_path / "x.jsonl.zst")
    with (tmp_path / "text.jsonl").open("w") as text_file, \
            pytest.raises(RecordingError, match="binary mode"):
        connect(text_file)
    with pytest.raises(RecordingError, match="path or an open binary file"):
        connect(42)
    with pytest.raises(RecordingError, match="zstandard"):
        list(replay(tmp_path / "x.jsonl.zst"))
    assert instamrkt_server.stats.connections == 0  # refused before connecting


def _header(**changes: Any) -> bytes:
    data = orjson.loads(encode_header(created=1, user_id="1", config=ClientConfig(),
                                      library="test"))
    data.update(changes)
    return orjson.dumps(data) + b"\n"


@pytest.mark.parametrize(("lines", "message"), [
    ([], "empty"),
    ([b"hello\n"], "first line is not JSON"),
    ([b'{"some": "json"}\n'], "no header"),
    ([_header(version=VERSION + 1)], "newer than this library reads"),
    ([_header(version="one")], "not valid"),
    ([_header(config={"keepalive_timeout": "soon"})], "config is not valid"),
    ([_header(config={"max_credential_refreshes": 0})], "config is not valid"),
    ([_header(config="fast")], "config is not an object"),
    ([_header(), b'{"k":"connect","t":1,"w":1,"c":0}\n', b"{broken\n",
      b'{"k":"connect","t":1,"w":1,"c":0}\n'], "line 3"),
    ([_header(), b"[1, 2]\n"], "not a record"),
])
def test_a_bad_recording_is_a_recording_error(lines: list[bytes], message: str) -> None:
    with pytest.raises(RecordingError, match=message):
        list(replay(lines))


def test_a_last_line_cut_short_is_the_end_of_the_recording() -> None:
    lines = INCIDENT.read_bytes().splitlines(keepends=True)
    cut = [*lines[:20], lines[20][:15]]  # the writer died mid-line
    assert [comparable(e) for e in replay(cut)] == [comparable(e) for e in replay(lines[:20])]


def test_kinds_from_a_later_version_are_skipped() -> None:
    lines = INCIDENT.read_bytes().splitlines(keepends=True)
    extra = [lines[0], encode_record("annotation", 0.0, 0, 0, {"text": "hi"}), *lines[1:]]
    assert [comparable(e) for e in replay(extra)] == [comparable(e) for e in replay(lines)]


@given(key=st.text(min_size=8), pool=st.text(max_size=20),
       amount=st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=0,
                          max_value=10**6))
def test_the_key_is_cut_from_every_request(key: str, pool: str, amount: Decimal) -> None:
    frame = encode_request(392, {"pool_id": pool, "target": "t", "amount": amount},
                           session_key=key, t=1)
    secrets = Secrets()
    secrets.add(key)
    message = orjson.loads(secrets.outgoing(frame))  # still one JSON object
    assert message["header"]["session_key"] == "*"
    assert key not in json_strings(message)
    assert message["pool_id"] == ("*" if key in pool else pool)


@given(key=st.text(min_size=8), text=st.text(max_size=30))
def test_a_key_echoed_by_the_server_is_replaced(key: str, text: str) -> None:
    incoming = orjson.dumps({"res": 901, "text": text + key + text})
    secrets = Secrets()
    secrets.add(key)
    message = orjson.loads(secrets.incoming(incoming))
    assert message == {"res": 901, "text": "*"}


def test_only_the_last_digests_are_looked_for() -> None:
    secrets = Secrets()
    secrets.add("the-session-key")
    digests = [f"{n:064x}" for n in range(Secrets.RECENT + 2)]
    for digest in digests:
        secrets.add(digest, transient=True)
    text = " ".join(["the-session-key", *digests])
    assert secrets.text(text).split() == ["*", digests[0], digests[1]] + ["*"] * Secrets.RECENT


def json_strings(value: Any) -> str:
    """Every string inside a decoded JSON value, joined: what a reader of the line sees."""
    if isinstance(value, str):
        return value + "\n"
    if isinstance(value, dict):
        return "".join(json_strings(k) + json_strings(v) for k, v in value.items())
    if isinstance(value, list):
        return "".join(json_strings(v) for v in value)
    return ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)


@given(params=st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=4),
       t=st.floats(0, 1e9, allow_nan=False), wall=st.integers(0, 2**50),
       conn=st.integers(0, 1000))
def test_records_read_back_as_written(params: dict[str, Any], t: float, wall: int,
                                      conn: int) -> None:
    lines = [_header(), encode_record("send_request", t, wall, conn, {"op": 1, "p": params})]
    header, records = read_records(lines)
    (record,) = list(records)
    assert header.user_id == "1" and header.config == ClientConfig()
    assert (record.kind, record.t, record.wall, record.conn) == ("send_request", t, wall, conn)
    assert decode_params(record.fields["p"]) == params


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_record_command_records_until_stopped(instamrkt_server_factory: Any,
                                                  tmp_path: Path, stop: int) -> None:
    server = instamrkt_server_factory(scenario="football", scenario_interval=0.05)
    creds = server.credentials
    out = tmp_path / "night.jsonl.gz"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INSTAMRKT_")}
    env.update(INSTAMRKT_SESSION_KEY=creds.session_key, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "instamrkt_transports", "record", server.url, "--user-id",
         creds.user_id, "--out", str(out), "--game", server.scenario.game_id, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        assert started == {"event": "recording", "out": str(out),
                           "games": [server.scenario.game_id]}
        time.sleep(1.0)  # a second of the game: about twenty steps
        proc.send_signal(stop)
        proc.wait(timeout=30)  # then read through the reader the first line came from
        assert proc.stderr is not None
        stdout, stderr = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    stopped = json.loads(stdout.splitlines()[-1])
    assert stopped["event"] == "stopped" and stopped["events"] > 5
    text = gzip.decompress(out.read_bytes()).decode()
    assert creds.session_key not in text
    assert text.rstrip().endswith('"m":"closed","code":1000,"reason":"closed by client"}')
    events = list(replay(out))
    assert any(isinstance(e, api.GameJoined) for e in events)
    assert sum(isinstance(e, api.Push) for e in events) >= stopped["events"] - 2
