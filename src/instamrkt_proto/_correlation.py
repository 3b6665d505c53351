"""Matching replies to requests on a protocol that has no request ids.

The protocol carries no request id (``docs/protocol.md``, "Correlation"), so these rules
decide which request a reply answers, all honest about doubt:

* A request expects a set of response codes (``codes.REPLIES``). A reply goes to the oldest
  request on the wire that expects its code, narrowed by an echoed key where the reply
  carries one (``codes.ECHO_KEYS``: two join_game calls for different games can be told
  apart by ``game_id``). A request without that key takes such a reply only where the
  code has a second key (``codes.ECHO_ALSO``) that the reply carries with the request's
  value: 368 answers close_game by ``game_id``, since it is pushed for any pool too.
* Two requests that expect the same code and cannot be told apart by an echoed key never
  share the wire, unless both are idempotent reads: those pipeline FIFO. Anything else waits
  in the queue until the first is answered, so no reply can ever go to the wrong request.
* A request that timed out stays on the wire as a *tombstone* until its reply arrives (it is
  then reported as ``LateReply``), the connection ends, or a grace period as long as its
  timeout passes: a late reply must not be taken for the answer to a newer request. A reply
  later than twice its request's timeout is past saving and may be misattributed; the grace
  period is what lets the connection recover when a reply was lost (it came malformed).
* A res 666 carries nothing to match on; it belongs to a request only when exactly one is on
  the wire. Otherwise it answered one of them, no one knows which, so FIFO order among them
  no longer holds: each becomes *doubtful*, and a reply that could belong to a doubtful
  request or to another one is not attributed at all (it is reported as a push). A message
  that cannot be decoded may have been a reply too, so it casts the same doubt.
* While a tombstone or a doubtful request expects a code, every new request expecting it
  waits (reads included): FIFO order is only trusted again once the doubt is resolved.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from .codes import ECHO_ALSO, ECHO_KEYS
from .errors import InstamrktError, OutcomeUnknown, RequestTimeout

__all__ = ("Correlator", "PendingRequest", "timeout_outcome")


@attrs.define(slots=True, eq=False)
class PendingRequest:
    """One request from submission until its reply (or the end of its connection)."""

    id: int
    op: int
    params: dict[str, Any]
    expects: frozenset[int]
    idempotent: bool
    deadline: float | None
    timeout: float | None
    internal: str | None = None  # None for the caller's requests
    retries: int = 0
    sent_at: float | None = None
    sent_wall: int | None = None
    settled: bool = False  # its one settling event is out (a tombstone if still on the wire)
    sends: int = 0  # times put on the wire (a retried read: on more than one connection)
    doubtful: bool = False  # on the wire when a res 666 came that nobody could claim
    body: bytes = b"{}"  # the parameters, JSON-encoded once at submission


def _same(a: Any, b: Any) -> bool:
    return a == b or str(a) == str(b)


def _distinguishable(a: PendingRequest, b: PendingRequest, shared: frozenset[int]) -> bool:
    for res in shared:
        key = ECHO_KEYS.get(res)
        if key is None:
            return False
        va, vb = a.params.get(key), b.params.get(key)
        if va is None or vb is None or _same(va, vb):
            return False
    return True


def conflicts(a: PendingRequest, b: PendingRequest) -> bool:
    """True if a reply to one could be mistaken for a reply to the other."""
    unclean = a.settled or b.settled or a.doubtful or b.doubtful
    if not unclean and a.idempotent and b.idempotent:
        return False  # first, before a set per pair: a hundred pipelined reads are many
    shared = a.expects & b.expects
    if not shared:
        return False
    if unclean:
        return True
    return not _distinguishable(a, b, shared)


def _conflicts_any(request: PendingRequest, others: list[PendingRequest]) -> bool:
    for other in others:  # noqa: SIM110 - a plain loop is faster than any() on short lists
        if conflicts(request, other):
            return True
    return False


def _unambiguous(candidates: list[PendingRequest]) -> PendingRequest | None:
    """The oldest candidate if FIFO order can be trusted among them, else None."""
    if len(candidates) == 1 or all(r.idempotent and not r.doubtful for r in candidates):
        return candidates[0]
    return None  # ambiguous: better a push and a timeout than a wrong attribution


class Correlator:
    """The queue of requests waiting to be sent and the list of those on the wire."""

    __slots__ = ("queue", "wire")

    def __init__(self) -> None:
        self.queue: list[PendingRequest] = []
        self.wire: list[PendingRequest] = []

    def __iter__(self) -> Iterator[PendingRequest]:
        yield from self.queue
        yield from self.wire

    def submit(self, request: PendingRequest, *, first: bool = False) -> None:
        if first:
            self.queue.insert(0, request)
        else:
            self.queue.append(request)

    def next_sendable(self, *, callers_allowed: bool) -> PendingRequest | None:
        """The first queued request that may go on the wire now, without removing it.

        A request is held while it conflicts with one on the wire or with an earlier queued
        one (so requests expecting the same reply keep their order); unrelated requests
        overtake a held one. Caller requests are skipped while ``callers_allowed`` is False
        (during a reconnect's restore), internal ones are not.
        """
        held: list[PendingRequest] = []
        wire = self.wire
        for request in self.queue:
            if request.internal is None and not callers_allowed:
                continue
            if _conflicts_any(request, wire) or _conflicts_any(request, held):
                held.append(request)
                continue
            return request
        return None

    def mark_sent(self, request: PendingRequest, now: float, wall: int) -> None:
        queue = self.queue
        if queue[0] is request:
            del queue[0]
        else:
            queue.remove(request)
        request.sent_at = now
        request.sent_wall = wall
        request.sends += 1
        self.wire.append(request)

    def match(self, res: int, fields: Mapping[str, Any]) -> PendingRequest | None:
        """The request (possibly a tombstone) that this reply answers, or None for a push."""
        wire = self.wire
        if not wire:  # a push while nothing is in flight
            return None
        if len(wire) == 1 and res not in ECHO_KEYS:  # the usual case: one call in flight
            return wire[0] if res in wire[0].expects else None
        candidates = [r for r in wire if res in r.expects]
        if not candidates:
            return None
        key = ECHO_KEYS.get(res)
        if key is not None and key in fields:
            echoed = fields[key]
            exact = [r for r in candidates if key in r.params and _same(r.params[key], echoed)]
            if exact:
                return _unambiguous(exact)
            candidates = [r for r in candidates if key not in r.params]
        also = ECHO_ALSO.get(res)
        if also is not None:  # a request without the key must match on the second one
            value = fields.get(also)
            candidates = [r for r in candidates if (key is not None and key in r.params) or (
                value is not None and also in r.params and _same(r.params[also], value))]
        if not candidates:
            return None
        return _unambiguous(candidates)

    def expire_tombstones(self, now: float) -> None:
        """Forget tombstones whose grace period (kept in ``deadline``) is over."""
        self.wire = [r for r in self.wire if not (r.settled and r.deadline is not None
                                                  and now >= r.deadline)]

    def doubt(self) -> None:
        """A message arrived that any request on the wire may have answered."""
        for request in self.wire:
            request.doubtful = True

    def claim_error(self) -> PendingRequest | None:
        """The request a res 666 answers: the only one on the wire, or None (then all doubt).

        The error carries nothing to match on, so only a lone request can own it.
        """
        wire = self.wire
        if len(wire) == 1:
            return wire[0]
        self.doubt()
        return None

    def remove(self, request: PendingRequest) -> None:
        wire = self.wire
        if wire and wire[0] is request:  # the usual case: the oldest is answered
            del wire[0]
        elif request in wire:
            self.wire.remove(request)
        elif request in self.queue:
            self.queue.remove(request)

    def live(self) -> Iterator[PendingRequest]:
        """Requests not yet settled (queued or on the wire)."""
        return (r for r in self if not r.settled)

    def abandon(
        self, error: InstamrktError, *, keep_queue: bool
    ) -> list[tuple[PendingRequest, InstamrktError]]:
        """The connection is gone: settle what it carried; returns (request, error) pairs.

        A non-idempotent request on the wire gets ``OutcomeUnknown`` (it may have taken
        effect; it is never re-sent). A read with a retry left goes back to the front of the
        queue. Queued requests never reached the wire: they wait for the next connection
        (``keep_queue``) or fail with ``error``. Internal requests and tombstones vanish.
        """
        failed: list[tuple[PendingRequest, InstamrktError]] = []
        retry: list[PendingRequest] = []
        for request in self.wire:
            if request.settled or request.internal is not None:
                continue
            if not request.idempotent:
                failed.append((request, OutcomeUnknown(request.op, request.params, str(error))))
            elif keep_queue and request.retries > 0:
                request.retries -= 1
                request.sent_at = request.sent_wall = None
                retry.append(request)
            else:
                failed.append((request, error))
        queue = []
        for request in self.queue:
            if request.internal is None:
                queue.append(request)
            else:
                request.settled = True
        if not keep_queue:
            failed.extend((request, error) for request in queue)
            queue = []
        self.wire = []
        self.queue = retry + queue
        return failed


def timeout_outcome(request: PendingRequest) -> InstamrktError:
    """What a caller's request becomes when its own timeout fires."""
    timeout = request.timeout or 0.0
    if request.sent_at is None or request.idempotent:
        return RequestTimeout(request.op, timeout, sent=request.sends > 0)
    return OutcomeUnknown(request.op, request.params, f"no reply within {timeout:g} s")
