"""Shared helpers for the core tests (tests/test_core_*.py): a harness with a known secret."""

from __future__ import annotations

from collections.abc import Callable

from instamrkt_proto import ClientConfig, Credentials
from instamrkt_proto.codec import ClientRequest
from instamrkt_proto.testing import FakeClock, Harness, Reply, SequenceRandom, standard_reply

SECRET = "s3cr3t-SESSION-key"
WALL0 = 1_422_006_034_742


def silent(_request: ClientRequest) -> list[Reply]:
    """A peer that never answers by itself (the test answers with ``receive``)."""
    return []


def make(
    *,
    config: ClientConfig | None = None,
    peer: Callable[[ClientRequest], list[Reply]] | None = standard_reply,
    randoms: tuple[float, ...] = (0.5,),
    auto_connect: bool = True,
    user_id: str | int = "1",
) -> Harness:
    return Harness.create(
        config=config,
        credentials=Credentials(user_id, SECRET),
        clock=FakeClock(now=100.0, wall_ms=WALL0),
        random=SequenceRandom(randoms),
        peer=peer,
        auto_connect=auto_connect,
    )
