"""The README's promises: its core walk-through runs as written, its commands match CI."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

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
