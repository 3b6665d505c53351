"""The shared adapter cases (``sync_cases.py``) run against the anyio client on both backends.

The anyio client is driven through ``_client.portal``: its calls run on an asyncio or trio event
loop in a portal thread, so the very cases that pin down the blocking and threaded clients
pin it down too, instead of a hand copy of each in async syntax. ``test_anyio.py`` keeps
what only the async API has (``events()``, task-group concurrency, cancellation).
"""

from __future__ import annotations

import functools
import time
from types import SimpleNamespace
from typing import Any

from sync_cases import SyncAdapterCases

from instamrkt_proto import Pong
from instamrkt_transports._client import portal as _portal


class _OnAnyio(SyncAdapterCases):
    # One read of the event loop's transport (up to 256 KiB) of pushes of 60 bytes or more.
    overshoot = 256 * 1024 // 60
    def provoke_overflow(self, client: Any) -> None:
        time.sleep(0.5)  # the event loop reads the flood while the consumer dawdles

    def burst_of_pings(self, client: Any, n: int) -> None:
        for _ in range(n):
            assert isinstance(client.ping(), Pong)


class TestAnyioOnAsyncio(_OnAnyio):
    adapter = SimpleNamespace(connect=functools.partial(_portal.connect, backend="asyncio"))


class TestAnyioOnTrio(_OnAnyio):
    adapter = SimpleNamespace(connect=functools.partial(_portal.connect, backend="trio"))
