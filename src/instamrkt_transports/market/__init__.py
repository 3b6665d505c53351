"""The reference market: the documented Instamrkt API played in memory, money that adds up.

Plain synchronous Python with no I/O and no clock of its own (``now`` is passed in), so it
can be driven by the reference server, by a property test, or by a scenario alone. It never
imports the server; the server imports it.

* ``market``: ``Market``, the application behind every op (see ``docs/market.md``).
* ``ledger``: balances (current, available, exposure) and every movement of money.
* ``pools``: betting pools, their bets, resolution and what is due to whom.
* ``views``: the reply shapes the reads answer with.
* ``records``: the plain records (games, pools, bets) and the market's error.
* ``synthetic``: the generated pushes of the server's push source.
* ``scenario``: scripted games that run by themselves (``instamrkt serve --scenario``).
"""

from __future__ import annotations

from .market import Audience, Bet, Game, Market, MarketError, Out, Pool, Source
from .scenario import SCENARIOS, Scenario, make_scenario

__all__ = ("SCENARIOS", "Audience", "Bet", "Game", "Market", "MarketError", "Out", "Pool",
           "Scenario", "Source", "make_scenario")
