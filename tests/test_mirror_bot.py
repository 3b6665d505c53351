"""The example bot of docs/examples/mirror_bot.py against the reference market.

A scripted game (pools opened one by one while the bot runs) checks each rule: the bot bets
on a pool when it opens, on the target with the best implied payout as the mirror showed
it, and stops once its exposure passes the limit (a pool opened after that gets no bet).
The football scenario checks that it runs against a live game by itself.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from instamrkt_proto import api
from instamrkt_proto.mirror import PoolView
from instamrkt_transports import blocking

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "mirror_bot.py"
USERS = {"1000": "admin-key-0123456789", "1001": "bot-key-0123456789",
         "1002": "other-key-0123456789"}


def load_bot() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mirror_bot", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mirror_bot"] = module
    spec.loader.exec_module(module)
    return module


def test_the_bot_bets_the_best_payout_as_pools_open_and_stops_at_its_limit(
        instamrkt_server_factory: Any) -> None:
    bot = load_bot()
    server = instamrkt_server_factory(USERS)
    with blocking.connect(server.url, server.credentials_for("1000"), timeout=5) as admin, \
            blocking.connect(server.url, server.credentials_for("1002"), timeout=5) as other:
        admin.logon()
        other.logon()
        source = admin.call(api.OpenGameSource(source_name="s"))
        game = admin.call(api.CreateAndOpenGame(source_id=source.source_id or "",
                                                game_name="g", actions="goal",
                                                targets="reds,blues"))
        game_id = game.game_id or ""
        other.call(api.JoinGame(game_id=game_id))
        outcome: list[Any] = []
        client = blocking.connect(server.url, server.credentials_for("1001"), timeout=5,
                                  mirror=True)
        with client as bot_client:
            bot_client.logon()
            runner = threading.Thread(target=lambda: outcome.append(bot.run(
                bot_client, game_id, stake=Decimal(2), exposure_limit=Decimal(5),
                deadline=20.0)))
            runner.start()
            pools = []
            for backing in ("reds", "blues", "reds"):
                pool_id = admin.call(api.CreateAndOpenBettingPool(
                    game_id=game_id, type=1, action_id="goal",
                    targets="reds,blues")).pool_id or ""
                # another bettor backs one side and "none" first: the other side pays most
                other.call(api.PlaceBetInBettingPool(pool_id=pool_id, target="none",
                                                     amount="1"))
                other.call(api.PlaceBetInBettingPool(pool_id=pool_id, target=backing,
                                                     amount="10"))
                pools.append(pool_id)
                deadline = time.monotonic() + 10
                while not any(b.pool_id == pool_id for b in server.market.bets.values()
                              if b.user_id == "1001") and time.monotonic() < deadline:
                    time.sleep(0.02)
            runner.join(20)
            assert not runner.is_alive()
            late = admin.call(api.CreateAndOpenBettingPool(game_id=game_id, type=1,
                                                           action_id="goal",
                                                           targets="reds,blues")).pool_id
        (result,) = outcome
        assert result.stopped_by_limit and result.exposure == Decimal(6)
        placed = {(b.pool_id, b.target) for b in server.market.bets.values()
                  if b.user_id == "1001"}
        # one bet in each pool as it opened, each on a target whose implied payout was the
        # best of all the pool's targets as the mirror showed them then
        assert placed == {(d.pool_id, d.target) for d in result.decisions}
        assert {pool_id for pool_id, _target in placed} == set(pools)
        for decision in result.decisions:
            assert set(decision.implied) == {"reds", "blues", "none"}
            assert decision.implied[decision.target] == max(decision.implied.values())
        assert all(b.pool_id != late for b in server.market.bets.values())


def test_the_bot_plays_the_football_scenario_until_its_limit(instamrkt_server_factory: Any
                                                              ) -> None:
    bot = load_bot()
    server = instamrkt_server_factory(USERS, scenario="football", scenario_interval=0.05)
    game_id = server.server.scenario.game_id
    with blocking.connect(server.url, server.credentials_for("1001"), timeout=5,
                          mirror=True) as client:
        client.logon()
        result = bot.run(client, game_id, stake=Decimal(1), exposure_limit=Decimal("2.5"),
                         deadline=20.0)
        assert result.stopped_by_limit
        assert len(result.decisions) >= 3
        assert result.exposure > Decimal("2.5")
        assert len({d.pool_id for d in result.decisions}) == len(result.decisions)
        for decision in result.decisions:
            assert decision.implied[decision.target] == max(decision.implied.values())


def test_the_best_target_is_the_one_paying_most_per_unit_staked() -> None:
    bot = load_bot()
    pool = PoolView(pool_id="p", targets=("reds", "blues", "none"),
                    distribution={"reds": Decimal(10), "blues": Decimal(0),
                                  "none": Decimal(1)})
    target, implied = bot.best_target(pool, Decimal(2))
    assert target == "blues"
    assert implied == {"reds": Decimal(13) / 12, "blues": Decimal("6.5"),
                       "none": Decimal(13) / 3}
    assert bot.best_target(PoolView(pool_id="q", targets=("a",)), Decimal(1)) is None
