"""No session key and no digest in any log line, repr or error, over whole sessions."""

from __future__ import annotations

import logging
import re
from typing import Any

import anyio
import pytest

from instamrkt_proto import Credentials, Reconnected
from instamrkt_transports import AuthenticationError, blocking, threaded
from instamrkt_transports import anyio as anyio_transport

KEY = "s3cr3t-session-key-do-not-log"
DIGEST = re.compile(r"[0-9a-f]{64}")


def assert_clean(text: str) -> None:
    assert KEY not in text
    assert not DIGEST.search(text), "a SHA-256 digest leaked"


def session(adapter: Any, srv: Any) -> list[str]:
    """Log on, request, survive a dropped connection, then fail a wrong-key connect."""
    seen: list[str] = []
    creds = Credentials(srv.credentials.user_id, KEY)
    srv.server.users[creds.user_id] = KEY
    with adapter.connect(srv.url, creds, backoff=_fast()) as client:
        seen.append(repr(client.logon()))
        seen.append(repr(client.request("join_game", game_id="g-1")))
        srv.close_connections(creds.user_id)
        while not seen[-1].startswith("Reconnected"):  # logs the new Connecting URL
            event = client.next_event(timeout=10)
            assert event is not None
            seen.append(repr(event))
        seen.append(repr(client.ping()))
        seen.append(repr(client.core))
    wrong = Credentials(creds.user_id, KEY + "-wrong")
    with pytest.raises(AuthenticationError) as caught, adapter.connect(srv.url, wrong):
        pass
    seen.append(str(caught.value))
    seen.append(repr(creds))
    return seen


def _fast() -> Any:
    from instamrkt_proto import Backoff
    return Backoff(base=0.01, cap=0.05)


@pytest.mark.parametrize("adapter", [blocking, threaded], ids=["blocking", "threaded"])
def test_sync_sessions_never_reveal_secrets(adapter: Any, instamrkt_server: Any,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen = session(adapter, instamrkt_server)
    assert any("LoggedOn" in text for text in seen)
    assert caplog.records, "DEBUG logging captured nothing: the test would prove nothing"
    for text in [*seen, caplog.text]:
        assert_clean(text)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_anyio_sessions_never_reveal_secrets(backend: str, instamrkt_server: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    srv = instamrkt_server
    creds = Credentials(srv.credentials.user_id, KEY)
    srv.server.users[creds.user_id] = KEY
    seen: list[str] = []

    async def main() -> None:
        async with anyio_transport.connect(srv.url, creds, backoff=_fast()) as client:
            seen.append(repr(await client.logon()))
            srv.close_connections(creds.user_id)
            with anyio.fail_after(10):
                async for event in client.events():
                    seen.append(repr(event))
                    if isinstance(event, Reconnected):
                        break
            seen.append(repr(await client.ping()))
        with pytest.raises(AuthenticationError) as caught:
            async with anyio_transport.connect(srv.url, Credentials(creds.user_id, "x")):
                pass
        seen.append(str(caught.value))

    anyio.run(main, backend=backend)
    assert any("Reconnected" in text for text in seen)
    assert caplog.records
    for text in [*seen, caplog.text]:
        assert_clean(text)
