"""The documented op and response-code tables, and what the core knows about each op.

Numbers are authoritative; names are informational (the server's op-2 table may name things
differently, see ``docs/protocol.md``). These defaults let ``request("join_game", ...)``
work before op 2 has been called; a received ``OpcodeTable`` extends them.

Three facts per op drive correlation and safety:

* ``REPLIES``: the response codes that answer it (an op absent here is answered by its own
  number). Where the doc's table and example disagree (leaderboards), both are listed.
* ``IDEMPOTENT``: reads that may be pipelined FIFO and, on request, retried once after a
  reconnect. Everything else is treated as money-moving: never pipelined against a
  same-reply request, never re-sent, and settled as *outcome unknown* if its reply is lost.
* ``ECHO_KEYS``: parameters a reply carries back, so two requests for different games (or
  pools) can be told apart even though they expect the same response code. Taken from the
  documented reply examples and field tables; the reference server echoes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = (
    "DEFAULT_OPCODES",
    "DEFAULT_RESPONSE_CODES",
    "ECHO_KEYS",
    "ERROR_RES",
    "IDEMPOTENT",
    "REPLIES",
    "Op",
    "Res",
)


class Op:
    """Op codes the core itself sends or inspects."""

    PING = 1
    GET_OPCODES = 2
    LOGON = 100
    JOIN_GAME = 363
    LEAVE_GAME = 364
    PLACE_BET = 392
    GET_MY_CURRENT_BALANCE = 800


class Res:
    """Response codes the core itself interprets."""

    PONG = 1
    OPCODES = 2
    LOGON_SUCCESS = 100
    LOGON_FAIL = 110
    LOGON_FAIL_ALREADY_LOGGED_IN = 112
    GAME_JOINED = 333
    GAME_LEFT = 334
    ERROR = 666


ERROR_RES = Res.ERROR

DEFAULT_OPCODES: Mapping[str, int] = MappingProxyType({
    "ping": 1,
    "get_opcodes": 2,
    "logon": 100,
    "open_game_source": 365,
    "close_game_source": 366,
    "list_game_sources_i_am_admin_of": 611,
    "create_and_open_game": 370,
    "create_game": 3701,
    "open_game": 3702,
    "become_an_admin_for_game": 616,
    "appoint_admin_for_game_by_username": 617,
    "get_game_details": 372,
    "update_game_details": 373,
    "join_game": 363,
    "leave_game": 364,
    "close_game": 375,
    "list_games_for_source": 380,
    "list_upcoming_games_for_source": 3811,
    "list_games_i_am_admin_of": 610,
    "create_and_open_betting_pool": 385,
    "register_game_event": 395,
    "list_all_betting_pools_for_game": 387,
    "list_my_open_betting_pools_for_game": 388,
    "list_my_running_pools_for_game": 389,
    "list_my_resolved_pools_for_game": 390,
    "place_bet_in_betting_pool": 392,
    "get_betting_pool_bets_distribution": 393,
    "block_betting_in_betting_pool": 397,
    "block_betting_for_game_and_action": 3975,
    "allow_betting_in_betting_pool": 398,
    "allow_betting_for_game_and_action": 3985,
    "suggest_hot_betting_pool": 396,
    "suggest_hot_betting_pool_for_action_and_target": 3961,
    "get_leaderboard": 450,
    "get_user_tailored_leaderboard": 4505,
    "get_friends_leaderboard": 452,
    "get_leaderboard_for_game": 451,
    "get_user_tailored_leaderboard_for_game": 4515,
    "get_friends_leaderboard_for_game": 453,
    "get_leaderboard_for_game_source": 4516,
    "get_user_tailored_leaderboard_for_game_source": 4517,
    "get_friends_leaderboard_for_game_source": 454,
    "get_my_friends_predictions_for_pool": 460,
    "get_my_friends_predictions_for_game": 461,
    "get_my_current_balance": 800,
    "get_my_available_balance": 810,
    "get_my_exposure": 840,
    "text_message": 900,
})
"""Name -> op, from the documentation's tables."""

DEFAULT_RESPONSE_CODES: Mapping[str, int] = MappingProxyType({
    "pong": 1,
    "opcodes": 2,
    "logon_success": 100,
    "logon_fail": 110,
    "logon_fail_already_logged_in": 112,
    "game_source_opened": 335,
    "game_source_closed": 336,
    "game_sources_i_am_admin_of_list": 621,
    "game_created_and_opened": 340,
    "game_created": 3401,
    "game_opened": 3402,
    "become_an_admin_for_game_success": 640,
    "become_an_admin_for_game_fail": 645,
    "game_admin_appointed": 617,
    "game_details": 342,
    "game_details_updated": 343,
    "game_joined": 333,
    "game_left": 334,
    "user_joined_game": 470,
    "user_left_game": 480,
    "game_closed": 341,
    "games_list_for_source": 345,
    "upcoming_games_list_for_source": 3461,
    "games_i_am_admin_of_list": 620,
    "betting_pool_created": 350,
    "new_betting_pool": 352,
    "new_game_event": 366,
    "bet_pool_expired": 363,
    "bet_pool_resolved": 362,
    "all_betting_pools_for_game": 3535,
    "you_open_pools_list_for_game": 353,
    "your_running_pools_for_game": 354,
    "your_resolved_pools_for_game": 355,
    "bet_placed_in_betting_pool": 356,
    "new_betting_pool_bets_distribution": 360,
    "betting_pool_bets_distribution_update": 361,
    "betting_in_pool_blocked": 368,
    "betting_in_pool_allowed": 369,
    "betting_for_game_and_action_blocked": 370,
    "betting_for_game_and_action_allowed": 371,
    "hot_betting_pool_suggested": 367,
    "leaderboard": 450,
    "leaderboard_tailored": 4505,
    "leaderboard_for_game": 451,
    "leaderboard_for_game_tailored": 4515,
    "leaderboard_for_game_source": 4516,
    "leaderboard_for_game_source_tailored": 4517,
    "leaderboard_friends_for_game_source": 454,
    "your_friends_predictions_for_pool": 460,
    "your_friends_predictions_for_game": 461,
    "your_current_balance": 800,
    "your_available_balance": 810,
    "your_exposure": 840,
    "balance_update": 815,
    "new_text_message": 901,
    "error": 666,
})
"""Name -> res, from the documentation's tables."""

REPLIES: Mapping[int, frozenset[int]] = MappingProxyType({
    1: frozenset({1}),
    2: frozenset({2}),
    100: frozenset({100, 110, 112}),
    365: frozenset({335}),
    366: frozenset({336}),
    611: frozenset({621}),
    370: frozenset({340}),
    3701: frozenset({3401}),
    3702: frozenset({3402}),
    616: frozenset({640, 645}),
    617: frozenset({617}),
    372: frozenset({342}),
    373: frozenset({343}),
    363: frozenset({333}),
    364: frozenset({334}),
    375: frozenset({341}),
    380: frozenset({345}),
    3811: frozenset({3461}),
    610: frozenset({620}),
    385: frozenset({350}),
    395: frozenset({366}),
    387: frozenset({3535}),
    388: frozenset({353}),
    389: frozenset({354}),
    390: frozenset({355}),
    392: frozenset({356}),
    393: frozenset({360}),
    397: frozenset({368}),
    3975: frozenset({370}),
    398: frozenset({369}),
    3985: frozenset({371}),
    396: frozenset({367}),
    3961: frozenset({367}),
    450: frozenset({450}),
    4505: frozenset({4505, 450}),
    452: frozenset({450, 452}),
    451: frozenset({451}),
    4515: frozenset({4515, 450}),
    453: frozenset({451, 453}),
    4516: frozenset({4516}),
    4517: frozenset({4517}),
    454: frozenset({454}),
    460: frozenset({460}),
    461: frozenset({461}),
    800: frozenset({800}),
    810: frozenset({810}),
    840: frozenset({840}),
    900: frozenset({901}),
})
"""Op -> the response codes that answer it."""

IDEMPOTENT: frozenset[int] = frozenset({
    1, 2, 611, 372, 380, 3811, 610, 387, 388, 389, 390, 393,
    450, 4505, 452, 451, 4515, 453, 4516, 4517, 454, 460, 461, 800, 810, 840,
})
"""Ops that only read: ping, get_opcodes and every list_*/get_* call."""

ECHO_KEYS: Mapping[int, str] = MappingProxyType({
    333: "game_id",
    334: "game_id",
    336: "source_id",
    341: "game_id",
    342: "game_id",
    343: "game_id",
    345: "source_id",
    350: "game_id",
    3402: "game_id",
    3461: "source_id",
    3535: "game_id",
    353: "game_id",
    354: "game_id",
    355: "game_id",
    356: "pool_id",
    360: "pool_id",
    366: "game_id",
    367: "pool_id",
    368: "pool_id",
    369: "pool_id",
    370: "game_id",
    371: "game_id",
    451: "game_id",
    453: "game_id",
    454: "source_id",
    4517: "source_id",
    460: "pool_id",
    461: "game_id",
    617: "game_id",
    640: "game_id",
    645: "game_id",
})
"""Res -> the request parameter its documented reply carries back unchanged.

Only codes whose reply example *and* field table show the key are listed: a key the server
did not echo would make requests that it was meant to tell apart look ambiguous (safe,
since ambiguous replies are never attributed, but slower). Codes with no single key (450)
stay out.
"""
