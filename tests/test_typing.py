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
    from decimal import Decimal

    from instamrkt_proto import Credentials, api
    from instamrkt_transports import anyio, blocking, threaded

    creds = Credentials("1", "key")
    bet = api.PlaceBetInBettingPool(pool_id="p", target="t", amount=Decimal("1"))

    with blocking.connect("ws://h/", creds) as b:
        reveal_type(b.request("get_my_current_balance"))
        reveal_type(b.ping())
        reveal_type(b.core)
        reveal_type(b.metrics())
        reveal_type(b.clock)
        reveal_type(b.call(bet))
        reveal_type(b.call(bet).amount)
        reveal_type(b.call(api.Logon()))
        reveal_type(b.call(api.BecomeAnAdminForGame(game_id="g")))
        reveal_type(b.call(api.GetUserTailoredLeaderboard()).leaderboard[0].points)

    with threaded.connect("ws://h/", creds) as t:
        reveal_type(t.request("join_game", game_id="g"))
        reveal_type(t.request_async("join_game", game_id="g"))
        reveal_type(t.logon_async())
        reveal_type(t.call(bet))
        reveal_type(t.call_async(bet))

    async def main() -> None:
        async with anyio.connect("ws://h/", creds) as a:
            reveal_type(await a.request("get_my_current_balance"))
            reveal_type(await a.opcodes())
            reveal_type(a.metrics().session.rtt)
            reveal_type(await a.next_event())
            reveal_type(await a.call(bet))
            reveal_type((await a.call(api.RegisterGameEvent(
                game_id="g", action_id="goal", target_id="t"))).current_count)
''')

# Mistakes a type checker catches before the code runs: a float amount, a misspelt or
# missing parameter.
BAD_SNIPPET = textwrap.dedent('''
    from instamrkt_proto import api

    api.PlaceBetInBettingPool(pool_id="p", target="t", amount=1.5)
    api.PlaceBetInBettingPool(pool_id="p", target="t", amout="1")
    api.JoinGame()
''')

EXPECTED = [
    "instamrkt_proto.events.Response",
    "instamrkt_proto.events.Pong",
    "instamrkt_proto.client.ClientConnection",
    "instamrkt_transports._client.calls.ClientMetrics",
    "instamrkt_proto._timing.ClockEstimate | None",
    "instamrkt_proto.api.BetPlacedInBettingPool",
    "decimal.Decimal | None",
    "instamrkt_proto.events.LoggedOn",
    ("instamrkt_proto.api.BecomeAnAdminForGameSuccess"
     " | instamrkt_proto.api.BecomeAnAdminForGameFail"),
    "decimal.Decimal | None",
    "instamrkt_proto.events.Response",
    "concurrent.futures._base.Future[instamrkt_proto.events.Response]",
    "concurrent.futures._base.Future[instamrkt_proto.events.LoggedOn]",
    "instamrkt_proto.api.BetPlacedInBettingPool",
    "concurrent.futures._base.Future[instamrkt_proto.api.BetPlacedInBettingPool]",
    "instamrkt_proto.events.Response",
    "instamrkt_proto.events.OpcodeTable",
    "float | None",
    "instamrkt_proto.events.Event | None",
    "instamrkt_proto.api.BetPlacedInBettingPool",
    "typing.Mapping[str, int]",
]


def test_calls_have_precise_types(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text(SNIPPET, encoding="utf-8")
    out, err, _status = mypy_api.run([
        "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)])
    revealed = re.findall(r'Revealed type is "([^"]+)"', out)
    assert revealed == EXPECTED, out + err
    assert "error" not in out.replace("note:", ""), out


def test_request_mistakes_are_type_errors(tmp_path: Path) -> None:
    source = tmp_path / "bad.py"
    source.write_text(BAD_SNIPPET, encoding="utf-8")
    out, _err, _status = mypy_api.run([
        "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 3, out
    assert '"amount"' in errors[0] and "float" in errors[0]
    assert '"amout"' in errors[1]
    assert '"game_id"' in errors[2]
