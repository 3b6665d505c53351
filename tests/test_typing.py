"""The public API as a type checker sees it: every call has a declared, precise return type.

A snippet that uses each client the way an application would is checked with
``mypy --strict``; ``reveal_type`` notes must name the concrete types (never ``Any``).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from mypy import api as mypy_api

SNIPPET = textwrap.dedent('''
    from instamrkt_proto import Credentials
    from instamrkt_transports import anyio, blocking, threaded

    creds = Credentials("1", "key")

    with blocking.connect("ws://h/", creds) as b:
        reveal_type(b.request("get_my_current_balance"))
        reveal_type(b.ping())
        reveal_type(b.core)
        reveal_type(b.metrics())
        reveal_type(b.clock)

    with threaded.connect("ws://h/", creds) as t:
        reveal_type(t.request("join_game", game_id="g"))
        reveal_type(t.request_async("join_game", game_id="g"))
        reveal_type(t.logon_async())

    async def main() -> None:
        async with anyio.connect("ws://h/", creds) as a:
            reveal_type(await a.request("get_my_current_balance"))
            reveal_type(await a.opcodes())
            reveal_type(a.metrics().session.rtt)
            reveal_type(await a.next_event())
''')

EXPECTED = [
    "instamrkt_proto.events.Response",
    "instamrkt_proto.events.Pong",
    "instamrkt_proto.client.ClientConnection",
    "instamrkt_transports._calls.ClientMetrics",
    "instamrkt_proto._timing.ClockEstimate | None",
    "instamrkt_proto.events.Response",
    "concurrent.futures._base.Future[instamrkt_proto.events.Response]",
    "concurrent.futures._base.Future[instamrkt_proto.events.LoggedOn]",
    "instamrkt_proto.events.Response",
    "instamrkt_proto.events.OpcodeTable",
    "float | None",
    "instamrkt_proto.events.Event | None",
]


def test_calls_have_precise_types(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text(SNIPPET, encoding="utf-8")
    out, err, _status = mypy_api.run([
        "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)])
    revealed = re.findall(r'Revealed type is "([^"]+)"', out)
    assert revealed == EXPECTED, out + err
    assert "error" not in out.replace("note:", ""), out
