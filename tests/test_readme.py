"""The README's promises: its core walk-through runs as written, its commands match CI."""

from __future__ import annotations

import doctest
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_readme_walkthrough_produces_the_documented_bytes_and_events() -> None:
    failures, attempted = doctest.testfile(str(README), module_relative=False,
                                           optionflags=doctest.ELLIPSIS)
    assert attempted >= 10
    assert failures == 0


def _commands() -> list[str]:
    text = README.read_text()
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_opens_with_the_demo_and_the_test_command() -> None:
    demo, tests = _commands()
    assert demo.strip().endswith("instamrkt demo")
    assert "pip install -e ." in demo
    assert tests.strip().endswith("pytest")
    assert '".[test]"' in tests


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, tests = _commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.strip() in ci.splitlines()


def test_the_fixture_example_from_the_readme(instamrkt_server):  # type: ignore[no-untyped-def]
    # Verbatim from the README's "pytest fixture" section.
    from instamrkt_transports import blocking

    with blocking.connect(instamrkt_server.url, instamrkt_server.credentials) as client:
        client.logon()
        assert client.request("get_my_current_balance").fields["current_balance"] == 1000
    assert instamrkt_server.stats.received[800] == 1


def test_the_getting_credentials_example_from_the_readme(
        instamrkt_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The section's code, run against the reference server's REST and websocket sides."""
    text = README.read_text()
    section = text[text.index("## Getting credentials"):text.index("## Using a transport")]
    (code,) = re.findall(r"```python\n(.+?)\n```", section, flags=re.S)
    srv = instamrkt_server
    srv.add_account("alice", "alice-password", user_id=srv.credentials.user_id)
    code = code.replace('"https://dev.instamrkt.com/i"', repr(srv.rest_url))
    code = code.replace('"wss://instamrkt.com:9999"', repr(srv.url))
    assert srv.rest_url in code and srv.url in code
    exec(compile(code, "README.md", "exec"), {"password": "alice-password"})
    assert capsys.readouterr().out == "1000\n"
    assert srv.stats.received[100] == 1 and srv.stats.received[800] == 1
