"""A small betting bot that decides from the market mirror alone.

It joins a game, reads what the mirror says is stale, then, for every open pool of the game
that holds money and none of its own, stakes ``stake`` on the target with the best implied
payout (the parimutuel payout per unit if that target won with this stake added). It stops once its
exposure passes ``exposure_limit``, or at ``deadline`` seconds.

Every decision reads ``client.mirror``: no reply or push is inspected by hand. The mirror
is current with every event the client has handed over, so after ``next_event`` returns
(whatever it returned) the mirror already holds it.

Run it against the reference server's scripted football game:

    instamrkt serve --scenario football --port 8765 &       # prints the user and key
    python docs/examples/mirror_bot.py ws://127.0.0.1:8765 USER_ID SESSION_KEY game-1
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal

import attrs

from instamrkt_proto import Credentials, ServerError, api
from instamrkt_proto.mirror import MarketMirror, PoolStatus, PoolView
from instamrkt_transports import blocking

BETTABLE = (PoolStatus.OPEN, PoolStatus.HOT)


@attrs.frozen(slots=True, kw_only=True)
class Decision:
    """One bet the bot placed, with the payouts it compared (what the mirror showed)."""

    pool_id: str
    target: str
    stake: Decimal
    implied: dict[str, Decimal]


@attrs.frozen(slots=True, kw_only=True)
class Outcome:
    decisions: tuple[Decision, ...]
    refused: int  # bets the server refused (the pool ended or was blocked meanwhile)
    exposure: Decimal | None
    stopped_by_limit: bool


def best_target(pool: PoolView, stake: Decimal) -> tuple[str, dict[str, Decimal]] | None:
    """The target with the highest implied payout for ``stake``, and every one compared;
    None when the mirror knows no backing for any target of the pool."""
    implied = {}
    for target in pool.targets:
        payout = pool.implied_payout(target, stake)
        if payout is not None:
            implied[target] = payout
    if not implied:
        return None
    return max(implied, key=lambda t: (implied[t], t)), implied


def over_limit(mirror: MarketMirror, limit: Decimal) -> bool:
    exposure = mirror.balance.exposure
    return exposure is not None and exposure > limit


def run(client: blocking.BlockingClient, game_id: str, *, stake: Decimal = Decimal(1),
        exposure_limit: Decimal = Decimal(10), deadline: float = 30.0) -> Outcome:
    """Bet from ``client.mirror`` (the client connected with ``mirror=True``)."""
    mirror = client.mirror
    if mirror is None:
        raise ValueError("the bot needs a client connected with mirror=True")
    client.call(api.JoinGame(game_id=game_id))
    decisions: list[Decision] = []
    refused = 0
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for request in mirror.resync_requests():  # a gap, or never read: read it again
            client.call(request)
        if over_limit(mirror, exposure_limit):
            return Outcome(decisions=tuple(decisions), refused=refused,
                           exposure=mirror.balance.exposure, stopped_by_limit=True)
        for pool_id, pool in list(mirror.pools.items()):
            if pool.game_id != game_id or pool.status not in BETTABLE or pool.my_stake:
                continue
            if not pool.total:  # no money in it yet: no odds to compare
                continue
            if mirror.is_stale(pool_id):
                continue
            choice = best_target(pool, stake)
            if choice is None:
                continue
            target, implied = choice
            try:
                client.call(api.PlaceBetInBettingPool(pool_id=pool_id, target=target,
                                                      amount=stake))
            except ServerError:  # resolved or blocked between the push and our bet
                refused += 1
                continue
            decisions.append(Decision(pool_id=pool_id, target=target, stake=stake,
                                      implied=implied))
            if over_limit(mirror, exposure_limit):
                break
        client.next_event(timeout=0.2)  # wait for pushes; the mirror applies them
    return Outcome(decisions=tuple(decisions), refused=refused,
                   exposure=mirror.balance.exposure, stopped_by_limit=False)


def main(argv: list[str]) -> int:
    url, user_id, session_key, game_id = argv[1:5]
    with blocking.connect(url, Credentials(user_id, session_key), mirror=True,
                          timeout=10) as client:
        client.logon()
        outcome = run(client, game_id)
    for decision in outcome.decisions:
        print(f"{decision.pool_id}: {decision.stake} on {decision.target} "
              f"(implied {decision.implied[decision.target]:.3f})")
    print(f"exposure {outcome.exposure}, stopped by the limit: {outcome.stopped_by_limit}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
