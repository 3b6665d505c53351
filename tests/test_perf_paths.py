"""Paths added for performance: shared name tables, waiters made only while somebody waits,
uvloop transports."""

from __future__ import annotations

import sys
from typing import Any

import anyio
import pytest

from instamrkt_proto import Connected, Push
from instamrkt_proto._names import NameTables
from instamrkt_transports.anyio import connect


def test_name_tables_share_the_defaults_until_op_2_teaches_new_names() -> None:
    a, b = NameTables(), NameTables()
    assert a._opcodes is b._opcodes and a._res_names is b._res_names  # shared
    a.learn({"brand_new_op": 4242}, {"brand_new_reply": 4243})
    assert a.opcode("brand_new_op") == 4242 and a.response_name(4243) == "brand_new_reply"
    assert a.opcode("logon") == 100  # the defaults are still there
    with pytest.raises(Exception, match="unknown op name"):
        b.opcode("brand_new_op")  # the other session (and the shared tables) untouched
    assert b.response_name(4243) is None and NameTables().response_name(4243) is None
    c = NameTables()
    c.learn({"logon": 7}, {})
    assert c.opcode("logon") == 7 and NameTables().opcode("logon") == 100


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_waiters_exist_only_while_somebody_waits(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials) as client:
        assert client._push_ready is None and client._ready is None
        assert isinstance(await client.next_event(timeout=5), Connected)
        assert await client.next_event(timeout=0.05) is None  # timed out: waiter gone
        assert client._push_ready is None
        async with anyio.create_task_group() as tg:  # a push arrives while a consumer waits
            got: list[Any] = []

            async def consume() -> None:
                got.append(await client.next_event(timeout=10))

            tg.start_soon(consume)
            await anyio.sleep(0.05)
            assert client._push_ready is not None
            assert srv.push(srv.credentials.user_id, 901, text="hi") == 1
        assert isinstance(got[0], Push) and got[0].fields["text"] == "hi"
        assert client._push_ready is None
        # many pushes in one read: all delivered, in order, through the fast path
        for i in range(50):
            srv.push(srv.credentials.user_id, 901, text=str(i))
        texts = []
        while len(texts) < 50:
            event = await client.next_event(timeout=10)
            assert isinstance(event, Push)
            texts.append(event.fields["text"])
        assert texts == [str(i) for i in range(50)]


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", [("asyncio", {"use_uvloop": True})])
async def test_the_asyncio_fast_path_runs_on_uvloop(instamrkt_server: Any) -> None:
    srv = instamrkt_server
    async with connect(srv.url, srv.credentials) as client:
        assert (await client.ping()).rtt >= 0
        assert srv.push(srv.credentials.user_id, 901, text="hi") == 1
        while not isinstance(event := await client.next_event(timeout=10), Push):
            assert event is not None
        assert event.fields["text"] == "hi"
