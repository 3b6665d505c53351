"""The API table: every documented op and response code, declared once.

Everything typed about the API derives from these declarations: the name tables, ``REPLIES``,
``IDEMPOTENT`` and ``ECHO_KEYS`` in ``codes``, the request and model classes of ``api``
(generated source: ``python -m instamrkt_proto._codegen``), their decoders and
validators, the test kit's strategies, the reference server's request decoding and
``docs/api.md``. Plain data, no imports of the package: ``codes`` reads it at import.

Parameter kinds (a request's fields): ``str``, ``id`` (a uuid or an int id, sent as given),
``int``, ``bool``, ``millis`` (epoch milliseconds), ``money`` (``Decimal``, ``int`` or a
numeric ``str``; sent as a JSON string of its exact decimal text), ``strs`` (one string or
a list of them), ``ids`` (one id or a list).

Field kinds (a reply's or push's fields), each decoded leniently (``docs/api.md``):
``str``, ``id`` (always a ``str``), ``int``, ``bool``, ``millis``, ``money`` (``Decimal``),
``money_map`` (key -> ``Decimal``), ``count_map`` (key -> ``int``), ``ids``, ``ints``,
``objects`` (a list of JSON objects, kept as sent), ``json`` (any JSON, kept as sent),
``list:Shape`` (a list of a nested shape, structured on first access) and ``obj:Shape``.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ("EXTRA_CODES", "OPS", "RESPONSES", "SHAPES", "Field", "OpSpec", "Param", "ResSpec")


class Param(NamedTuple):
    name: str
    kind: str
    required: bool = False
    default: str | None = None
    """The server's documented default when the parameter is left out (docs only)."""
    doc: str = ""


class Field(NamedTuple):
    name: str
    kind: str
    required: bool = False
    alias: str | None = None
    """Another key the doc's examples use for the same field (read when ``name`` is absent)."""
    doc: str = ""


class OpSpec(NamedTuple):
    op: int
    name: str
    params: tuple[Param, ...]
    replies: tuple[int, ...]
    """The response codes that answer it (the first is the table's; the others alternatives)."""
    read: bool
    """An idempotent read (may be pipelined and retried); otherwise treated as money-moving."""
    pushes: tuple[int, ...] = ()
    """Codes the server also publishes because of it (to subscribers, or to the sender)."""
    role: str = ""
    """Who may send it: "" anyone, "SA" game source admin, "GA" game admin, "dev" developer."""
    doc: str = ""


class ResSpec(NamedTuple):
    res: int
    name: str
    fields: tuple[Field, ...]
    reply: bool
    """Sent as the reply to a request."""
    push: bool
    """Sent unsolicited (a push)."""
    echo: str | None = None
    """The request parameter the reply carries back unchanged (correlation)."""
    base: str | None = None
    """The model this one specialises (same fields), e.g. every leaderboard is a Leaderboard."""
    doc: str = ""
    echo_also: str | None = None
    """A second key the reply carries back, for a request without ``echo``: such a request
    takes the reply only if the reply carries this key with the request's own value."""


P = Param
F = Field

# -- shared parameter and field lists -------------------------------------------------------

_GAME = P("game_id", "id", True, doc="The game.")
_POOL = P("pool_id", "id", True, doc="The betting pool.")
_SOURCE = P("source_id", "id", True, doc="The game source.")
_ACTION = P("action_id", "str", True, doc="An action of the game (e.g. goal).")
_CURRENCY = P("currency", "str", default='"DON"', doc="The currency.")
_GAME_TYPE = P("game_type", "str", default='"INSTAMRKT"', doc="The game type.")
_START = P("start", "int", default="0", doc="The first rank shown.")
_END = P("end", "int", default="1000000", doc="The last rank shown.")
_COUNTS = (
    P("top_count", "int", default="3", doc="Users from the top."),
    P("surrounding_count", "int", default="1", doc="Users around you."),
    P("bottom_count", "int", default="3", doc="Users from the bottom."),
)
_GAME_PARAMS = (
    P("source_id", "id", True, doc="Your game source."),
    P("game_name", "str", True, doc='The name, e.g. "Argentina - Brazil".'),
    P("type", "str", doc='The game type, e.g. "football".'),
)
_GAME_TIMES = (
    P("currency", "str", doc="The currency bets are made in."),
    P("open_at", "millis", default="now", doc="When betting opens."),
    P("close_at", "millis", doc="When the game closes itself (else close_game)."),
    P("live_start_at", "millis", default="now", doc="Real-life start (informative)."),
    P("live_finish_at", "millis", default="now", doc="Real-life finish (informative)."),
    P("hashtag", "str", doc="Social media hashtag (made from the name if left out)."),
    P("image_url", "str", doc="An image shown with the game."),
)
_ACTIONS_TARGETS = (
    P("actions", "strs", doc="Actions (a comma-separated string or a list)."),
    P("targets", "strs", doc='Targets, nested with ":" (a comma-separated string or a list).'),
)

_GAME_ID = F("game_id", "id", doc="The game.")
_POOL_ID = F("pool_id", "id", doc="The betting pool.")
_SOURCE_ID = F("source_id", "id", doc="The game source.")
_GAME_FIELDS = (
    F("source_id", "id", doc="The game source."),
    _GAME_ID,
    F("game_name", "str", doc="The game's name."),
    F("type", "str", doc="The game type."),
    F("currency", "str", doc="The currency."),
    F("open_at", "millis", doc="When betting opened."),
    F("live_start_at", "millis", doc="Real-life start."),
    F("live_finish_at", "millis", doc="Real-life finish."),
    F("close_at", "millis", doc="When the game closes (None: on close_game)."),
    F("hashtag", "str", doc="Social media hashtag."),
    F("image_url", "str", doc="The game's image."),
)
_ACTIONS_TARGETS_FIELDS = (
    F("actions", "objects", doc="The actions: {action_id, name}."),
    F("targets", "objects", doc="The targets, nested: {symbol, display_name, targets}."),
)
_RESOLUTION = (
    _POOL_ID,
    _GAME_ID,
    F("winning_target", "str", doc="The target that won."),
    F("description", "str", doc="The pool's question."),
    F("winners", "money_map", doc="User id -> amount won."),
    F("losers", "money_map", doc="User id -> amount lost."),
    F("invalidated_bettors", "ids", doc="Users whose bets came too late."),
    F("is_money_return", "bool", doc="Stakes were returned."),
)
_POOLS = (_GAME_ID, F("pools_list", "list:Pool", doc="The pools."))
_DISTRIBUTION = (
    _POOL_ID,
    F("target_level", "int", doc="Nesting level of the pool's targets."),
    F("distribution", "list:DistributionEntry", doc="Per target: backing and multiplier."),
)
_LEADERBOARD = (
    F("leaderboard", "list:LeaderboardEntry", doc="Entries sorted by rank."),
    F("break_after_rank", "ints", doc="Ranks after which the list is not continuous."),
    F("game_type", "str", doc="The game type."),
    F("currency", "str", doc="The currency."),
    F("game_id", "id", doc="The game (game leaderboards)."),
    F("source_id", "id", doc="The game source (source leaderboards)."),
)

# -- nested shapes --------------------------------------------------------------------------

SHAPES: dict[str, tuple[Field, ...]] = {
    "Bet": (
        F("bet_id", "id", doc="The bet."),
        F("user_id", "id", doc="Who placed it."),
        F("amount", "money", doc="The stake."),
        F("placed_at", "millis", doc="When."),
        F("target", "str", doc="The target backed (where listed)."),
    ),
    "DistributionEntry": (
        F("target_id", "str", doc="The target."),
        F("display_name", "str", doc="Its display name."),
        F("backing_people", "int", doc="Bettors backing it."),
        F("backing_money", "money", doc="Money backing it."),
        F("to_win_if_backed", "money", doc="Current multiplier."),
        F("bets", "list:Bet", doc="The bets (where listed)."),
    ),
    "Pool": (
        _POOL_ID,
        _GAME_ID,
        F("description", "str", doc="The question."),
        F("name", "str", doc="The question (some listings)."),
        F("type", "int", alias="pool_type", doc="1..4: parimutuel/binary, event/time based."),
        F("action_id", "str", doc="The action it is about."),
        F("participants", "int", doc="Bettors so far."),
        F("amount_total", "money", doc="Money in the pool."),
        F("target_level", "int", doc="Nesting level of its targets."),
        F("is_blocked", "bool", doc="Betting is blocked."),
        F("is_hot", "bool", doc="Marked hot."),
        F("distribution", "list:DistributionEntry", doc="Per target backing."),
        F("user_backed", "money_map", doc="Your stake per target."),
        F("start_at", "millis", doc="Opened at."),
        F("finish_at", "millis", doc="Closes at (time-based pools)."),
        F("stop_accepting_bets_at", "millis", doc="Stops taking bets at."),
        F("resolved_at", "millis", doc="Resolved at."),
        F("winning_target", "str", doc="The winning target (resolved pools)."),
        F("total_winnings", "money", doc="Your winnings (resolved pools)."),
        F("game_name", "str", doc="The game's name (some listings)."),
    ),
    "LeaderboardEntry": (
        F("username", "str", doc="The user."),
        F("points", "money", doc="Their points."),
        F("rank", "int", doc="Their rank."),
    ),
    "Prediction": (
        F("user_id", "id", doc="The friend."),
        F("username", "str", doc="Their name."),
        F("target", "str", doc="What they backed."),
        F("amount", "money", doc="Their stake."),
        F("placed_at", "millis", doc="When."),
        F("bet_id", "id", doc="The bet."),
        F("pool_id", "id", doc="The pool (game-wide listings)."),
    ),
    "GamePredictions": (
        F("running", "list:Prediction", doc="In running pools."),
        F("resolved", "list:Prediction", doc="In resolved pools."),
    ),
}
"""Objects nested in replies and pushes, by name."""

# -- ops ------------------------------------------------------------------------------------

OPS: tuple[OpSpec, ...] = (
    OpSpec(1, "ping", (), (1,), True, doc="Check that the connection is alive."),
    OpSpec(2, "get_opcodes", (), (2,), True, doc="The server's op and response-code tables."),
    OpSpec(100, "logon", (), (100, 110, 112), False,
           doc="Log on (needed by some calls; 112 means already logged on)."),
    OpSpec(365, "open_game_source", (
        P("source_name", "str", True, doc="The source's name (your domain suggested)."),
        P("description", "str", doc="Up to 512 characters."),
    ), (335,), False, role="dev", doc="Register as a game provider."),
    OpSpec(366, "close_game_source", (_SOURCE,), (336,), False, role="SA",
           doc="Close a source, its games and their pools."),
    OpSpec(611, "list_game_sources_i_am_admin_of", (), (621,), True,
           doc="The game sources you administer."),
    OpSpec(370, "create_and_open_game", _GAME_PARAMS + _ACTIONS_TARGETS + _GAME_TIMES,
           (340,), False, pushes=(340,), role="SA", doc="Create a game and open it."),
    OpSpec(3701, "create_game", _GAME_PARAMS + _GAME_TIMES, (3401,), False,
           pushes=(3401,), role="SA", doc="Create an upcoming game (open it with open_game)."),
    OpSpec(3702, "open_game", (_GAME, *_ACTIONS_TARGETS), (3402,), False,
           pushes=(3402,), role="SA", doc="Open an upcoming game for betting."),
    OpSpec(616, "become_an_admin_for_game", (_GAME,), (640, 645), False, role="SA",
           doc="Ask for game admin rights (640 granted, 645 refused)."),
    OpSpec(617, "appoint_admin_for_game_by_username", (
        _GAME, P("username", "str", True, doc="Who becomes admin."),
    ), (617,), False, pushes=(640,), role="SA", doc="Make a user admin of a game."),
    OpSpec(372, "get_game_details", (_GAME,), (342,), True, doc="A game's full details."),
    OpSpec(373, "update_game_details", (
        _GAME, *_ACTIONS_TARGETS, P("image_url", "str", doc="A new image."),
    ), (343,), False, pushes=(342,), role="GA", doc="Add actions or targets, change the image."),
    OpSpec(363, "join_game", (_GAME,), (333,), False, pushes=(470,),
           doc="Subscribe to a game's pushes."),
    OpSpec(364, "leave_game", (_GAME,), (334,), False, pushes=(480,),
           doc="Unsubscribe from a game."),
    OpSpec(375, "close_game", (_GAME,), (341, 368), False, pushes=(341, 362, 368), role="GA",
           doc="Close a game: resolves automatic pools, blocks manual ones. Answered by 341 "
               "once no manual (binary) pool is left unresolved: the game is closed. "
               "Otherwise by one 368 per pending manual pool and no 341: the game stays "
               "open; resolve those pools, then send close_game again. The call returns "
               "the first 368 (its `pool_id` is one pending pool; the others follow as "
               "pushes)."),
    OpSpec(380, "list_games_for_source", (_SOURCE,), (345,), True,
           doc="A source's active games."),
    OpSpec(3811, "list_upcoming_games_for_source", (_SOURCE,), (3461,), True,
           doc="A source's upcoming games."),
    OpSpec(610, "list_games_i_am_admin_of", (), (620,), True,
           doc="The games you administer."),
    OpSpec(385, "create_and_open_betting_pool", (
        _GAME,
        P("description", "str", doc="The question shown to users."),
        P("action_id", "str", doc="The action bets are about (binary pools: optional)."),
        P("targets", "strs", doc="Targets of one level (a comma-separated string or a list)."),
        P("type", "int", default="1", doc="1..4: parimutuel/binary, event/time based."),
        P("start_at", "millis", default="now", doc="When the pool opens."),
        P("finish_at", "millis", doc="When it closes (resolves to none)."),
        P("stop_accepting_bets_at", "millis", doc="When it stops taking bets."),
        P("recreate_on_end", "bool", default="False", doc="Recreate it once resolved."),
        P("is_blocked", "bool", default="False", doc="Open it with betting blocked."),
        P("is_hot", "bool", default="False", doc="Mark it hot from the start."),
    ), (350,), False, pushes=(352,), role="GA", doc="Create and open a betting pool."),
    OpSpec(395, "register_game_event", (
        _GAME, _ACTION,
        P("target_id", "str", True, doc="The target (of the deepest level) that acted."),
        P("happened_at", "millis", default="now", doc="When it happened."),
        P("description", "str", doc="A description."),
    ), (366,), False, pushes=(366, 362, 815), role="GA",
           doc="Register an event: resolves the pools it decides."),
    OpSpec(387, "list_all_betting_pools_for_game", (_GAME,), (3535,), True,
           doc="Every open pool of a game."),
    OpSpec(388, "list_my_open_betting_pools_for_game", (_GAME,), (353,), True,
           doc="Open pools you have not bet in."),
    OpSpec(389, "list_my_running_pools_for_game", (_GAME,), (354,), True,
           doc="Open pools you have bet in."),
    OpSpec(390, "list_my_resolved_pools_for_game", (_GAME,), (355,), True,
           doc="Resolved pools you had bet in."),
    OpSpec(392, "place_bet_in_betting_pool", (
        _POOL,
        P("target", "str", True, doc="The target you back."),
        P("amount", "money", True, doc="The stake."),
    ), (356,), False, pushes=(361, 815), doc="Place a bet."),
    OpSpec(393, "get_betting_pool_bets_distribution", (_POOL,), (360,), True,
           doc="A pool's bets per target."),
    OpSpec(397, "block_betting_in_betting_pool", (
        _POOL, P("block_at", "millis", default="now", doc="When to block."),
    ), (368,), False, pushes=(368,), role="GA", doc="Block bets in a pool."),
    OpSpec(3975, "block_betting_for_game_and_action", (
        _GAME, _ACTION, P("block_at", "millis", default="now", doc="When to block."),
    ), (370,), False, pushes=(370, 368), role="GA", doc="Block bets in an action's pools."),
    OpSpec(398, "allow_betting_in_betting_pool", (
        _POOL, P("allow_at", "millis", default="now", doc="When to allow."),
    ), (369,), False, pushes=(369,), role="GA", doc="Allow bets in a blocked pool."),
    OpSpec(3985, "allow_betting_for_game_and_action", (
        _GAME, _ACTION, P("allow_at", "millis", default="now", doc="When to allow."),
    ), (371,), False, pushes=(371, 369), role="GA", doc="Allow bets in an action's pools."),
    OpSpec(396, "suggest_hot_betting_pool", (
        _POOL, P("likely_to_happen_at", "millis", default="now", doc="When to announce it."),
    ), (367,), False, pushes=(367,), role="GA", doc="Mark a pool hot."),
    OpSpec(3961, "suggest_hot_betting_pool_for_action_and_target", (
        _GAME, _ACTION, P("target_id", "str", True, doc="The target."),
        P("likely_to_happen_at", "millis", default="now", doc="When to announce it."),
    ), (367,), False, pushes=(367,), role="GA", doc="Mark every matching pool hot."),
    OpSpec(450, "get_leaderboard", (_GAME_TYPE, _CURRENCY, _START, _END), (450,), True,
           doc="The global leaderboard."),
    OpSpec(4505, "get_user_tailored_leaderboard", (_GAME_TYPE, _CURRENCY, *_COUNTS),
           (4505, 450), True, doc="Top, you and your neighbours, bottom."),
    OpSpec(452, "get_friends_leaderboard", (_GAME_TYPE, _CURRENCY, _START, _END),
           (450, 452), True, doc="Your friends' leaderboard."),
    OpSpec(451, "get_leaderboard_for_game", (_GAME, _START, _END), (451,), True,
           doc="A game's leaderboard."),
    OpSpec(4515, "get_user_tailored_leaderboard_for_game",
           (_GAME, _GAME_TYPE, _CURRENCY, *_COUNTS), (4515, 450), True,
           doc="A game's leaderboard around you. The docs give this call op 4505 (and the "
               "name get_user_tailored_leaderboard), the global call's op; we send 4515, "
               "the number of its documented reply code, so the two stay apart."),
    OpSpec(453, "get_friends_leaderboard_for_game", (_GAME, _START, _END), (451, 453), True,
           doc="A game's leaderboard of your friends."),
    OpSpec(4516, "get_leaderboard_for_game_source", (_SOURCE, _START, _END), (4516,), True,
           doc="A game source's leaderboard."),
    OpSpec(4517, "get_user_tailored_leaderboard_for_game_source", (_SOURCE, *_COUNTS),
           (4517,), True, doc="A game source's leaderboard around you."),
    OpSpec(454, "get_friends_leaderboard_for_game_source", (_SOURCE, _START, _END), (454,),
           True, doc="A game source's leaderboard of your friends."),
    OpSpec(460, "get_my_friends_predictions_for_pool", (
        _POOL, P("is_resolved", "bool", default="False", doc="The pool is resolved."),
    ), (460,), True, doc="Your friends' bets in a pool."),
    OpSpec(461, "get_my_friends_predictions_for_game", (_GAME,), (461,), True,
           doc="Your friends' bets in a game's pools."),
    OpSpec(800, "get_my_current_balance", (_CURRENCY,), (800,), True,
           doc="Current balance (available + exposure)."),
    OpSpec(810, "get_my_available_balance", (_CURRENCY,), (810,), True,
           doc="What you can bet now."),
    OpSpec(840, "get_my_exposure", (_CURRENCY,), (840,), True,
           doc="Money in unresolved pools."),
    OpSpec(900, "text_message", (
        P("text", "str", True, doc="The message."),
        P("targets", "ids", doc="A game id or a list (left out: every game you joined)."),
    ), (901,), False, pushes=(901,), doc="Send a chat message to games' subscribers."),
)

# -- response codes -------------------------------------------------------------------------

RESPONSES: tuple[ResSpec, ...] = (
    ResSpec(1, "pong", (), True, False, doc="Reply to ping."),
    ResSpec(2, "opcodes", (
        F("opcodes", "json", doc="Op name -> number."),
        F("response_codes", "json", doc="Response name -> number."),
    ), True, False, doc="The server's tables."),
    ResSpec(100, "logon_success", (F("session_key", "json", doc="Opaque."),), True, False,
            doc="Logged on."),
    ResSpec(110, "logon_fail", (), True, False, doc="Not logged on: the key is not valid."),
    ResSpec(112, "logon_fail_already_logged_in", (F("session_key", "json", doc="Opaque."),),
            True, False, doc="Already logged on: success."),
    ResSpec(335, "game_source_opened", (_SOURCE_ID,), True, False, doc="Source registered."),
    ResSpec(336, "game_source_closed", (_SOURCE_ID,), True, False, echo="source_id",
            doc="Source closed."),
    ResSpec(621, "game_sources_i_am_admin_of_list", (
        F("sources", "objects", doc="{id, name, description} each."),
    ), True, False, doc="Sources you administer."),
    ResSpec(340, "game_created_and_opened", _GAME_FIELDS + _ACTIONS_TARGETS_FIELDS, True, True,
            echo="source_id", doc="Game created and opened (also published through the source)."),
    ResSpec(3401, "game_created", _GAME_FIELDS, True, True, echo="source_id",
            doc="Game created, upcoming (also published through the source)."),
    ResSpec(3402, "game_opened", _GAME_FIELDS + _ACTIONS_TARGETS_FIELDS, True, True,
            echo="game_id", doc="Game opened (also published through the source)."),
    ResSpec(640, "become_an_admin_for_game_success", (_GAME_ID,), True, True, echo="game_id",
            doc="You are a game admin (pushed when someone appoints you)."),
    ResSpec(645, "become_an_admin_for_game_fail", (
        _GAME_ID, F("reason", "str", doc="Why not."),
    ), True, False, echo="game_id", doc="You were not made a game admin."),
    ResSpec(617, "game_admin_appointed", (
        _GAME_ID, F("username", "str", doc="The new admin."),
    ), True, False, echo="game_id", doc="Admin appointed."),
    ResSpec(342, "game_details", tuple(
        F("game_name", "str", alias="name", doc="The game's name.") if f.name == "game_name"
        else f for f in _GAME_FIELDS) + _ACTIONS_TARGETS_FIELDS + (
        F("status", "str", doc="betting_not_yet_active ... game_closed."),
        F("game_state", "objects", doc="Action counts per target."),
        F("past_events", "objects", doc="Events so far, newest first."),
    ), True, True, echo="game_id", doc="A game's details (pushed after update_game_details)."),
    ResSpec(343, "game_details_updated", (_GAME_ID,), True, False, echo="game_id",
            doc="Details updated."),
    ResSpec(333, "game_joined", (_GAME_ID,), True, False, echo="game_id", doc="Joined."),
    ResSpec(334, "game_left", (_GAME_ID,), True, False, echo="game_id", doc="Left."),
    ResSpec(470, "user_joined_game", (
        _GAME_ID, F("user_id", "id", doc="Who."), F("user_name", "str", doc="Their name."),
    ), False, True, doc="Another user joined a game you joined."),
    ResSpec(480, "user_left_game", (
        _GAME_ID, F("user_id", "id", doc="Who."), F("user_name", "str", doc="Their name."),
    ), False, True, doc="Another user left a game you joined."),
    ResSpec(341, "game_closed", (_GAME_ID,), True, True, echo="game_id", doc="Game closed."),
    ResSpec(345, "games_list_for_source", (
        _SOURCE_ID, F("games", "objects", doc="The games."),
    ), True, False, echo="source_id", doc="A source's active games."),
    ResSpec(3461, "upcoming_games_list_for_source", (
        _SOURCE_ID, F("games", "objects", doc="The games."),
    ), True, False, echo="source_id", doc="A source's upcoming games."),
    ResSpec(620, "games_i_am_admin_of_list", (
        F("games", "objects", doc="{id, name} each."),
    ), True, False, doc="Games you administer."),
    ResSpec(350, "betting_pool_created", (
        _GAME_ID, _POOL_ID, F("description", "str", doc="The question."),
        F("type", "int", alias="pool_type", doc="1..4."),
    ), True, False, echo="game_id", doc="Your pool was created."),
    ResSpec(352, "new_betting_pool", (
        *(f for f in SHAPES["Pool"] if f.name != "name"),
        F("live_start_at", "millis", doc="The game's real-life start (informative)."),
    ), False, True,
            doc="A new pool in a game you joined (the full pool)."),
    ResSpec(366, "new_game_event", (
        _GAME_ID,
        F("action_id", "str", doc="The action."),
        F("target_id", "str", doc="The target that acted."),
        F("target_display_name", "str", doc="Its display name."),
        F("current_count", "count_map", doc="Target -> count of this action so far."),
        F("happened_at", "millis", doc="When."),
        F("description", "str", doc="A description."),
    ), True, True, echo="game_id", doc="An event happened in a game you joined."),
    ResSpec(363, "bet_pool_expired", (
        *_RESOLUTION,
        F("expired_at", "millis", doc="When (the example's name)."),
        F("resolved_at", "millis", doc="When (the table's name)."),
    ), False, True, doc="A time-based pool expired: resolved to none."),
    ResSpec(362, "bet_pool_resolved", (
        *_RESOLUTION, F("resolved_at", "millis", doc="When."),
    ), False, True, doc="A pool was resolved."),
    ResSpec(3535, "all_betting_pools_for_game", _POOLS, True, False, echo="game_id",
            doc="A game's open pools."),
    ResSpec(353, "you_open_pools_list_for_game", _POOLS, True, False, echo="game_id",
            doc="Open pools you have not bet in."),
    ResSpec(354, "your_running_pools_for_game", _POOLS, True, False, echo="game_id",
            doc="Open pools you have bet in."),
    ResSpec(355, "your_resolved_pools_for_game", _POOLS, True, False, echo="game_id",
            doc="Resolved pools you had bet in."),
    ResSpec(356, "bet_placed_in_betting_pool", (
        _POOL_ID, F("bet_id", "id", doc="The new bet."), F("target", "str", doc="Backed."),
        F("amount", "money", doc="The stake."),
    ), True, False, echo="pool_id", doc="Your bet was placed."),
    ResSpec(360, "new_betting_pool_bets_distribution", _DISTRIBUTION, True, False,
            echo="pool_id", doc="A pool's distribution, with its bets."),
    ResSpec(361, "betting_pool_bets_distribution_update", (
        *_DISTRIBUTION, F("new_bets", "list:Bet", doc="The bets that changed it."),
    ), False, True, doc="New bets changed a pool's distribution."),
    ResSpec(368, "betting_in_pool_blocked", (
        _POOL_ID, F("blocked_at", "millis", doc="When."),
        F("game_id", "id", doc="The pool's game (an addition: sent in answers to close_game)."),
    ), True, True, echo="pool_id", echo_also="game_id",
            doc="Betting in a pool is blocked (also: a pool close_game cannot resolve)."),
    ResSpec(369, "betting_in_pool_allowed", (
        _POOL_ID, F("allowed_at", "millis", doc="When."),
    ), True, True, echo="pool_id", doc="Betting in a pool is allowed again."),
    ResSpec(370, "betting_for_game_and_action_blocked", (
        _GAME_ID, F("action_id", "str", doc="The action."), F("blocked_at", "millis", doc="When."),
    ), True, True, echo="game_id", doc="Betting on an action is blocked."),
    ResSpec(371, "betting_for_game_and_action_allowed", (
        _GAME_ID, F("action_id", "str", doc="The action."), F("allowed_at", "millis", doc="When."),
    ), True, True, echo="game_id", doc="Betting on an action is allowed again."),
    ResSpec(367, "hot_betting_pool_suggested", (
        _POOL_ID, F("hot_since", "millis", doc="Since when."),
    ), True, True, echo="pool_id", doc="A pool is hot."),
    ResSpec(450, "leaderboard", _LEADERBOARD, True, False,
            doc="A leaderboard (every leaderboard reply is one)."),
    ResSpec(4505, "leaderboard_tailored", _LEADERBOARD, True, False, base="leaderboard",
            doc="The global leaderboard around you."),
    ResSpec(451, "leaderboard_for_game", _LEADERBOARD, True, False, echo="game_id",
            base="leaderboard", doc="A game's leaderboard."),
    ResSpec(4515, "leaderboard_for_game_tailored", _LEADERBOARD, True, False,
            base="leaderboard", doc="A game's leaderboard around you."),
    ResSpec(4516, "leaderboard_for_game_source", _LEADERBOARD, True, False,
            base="leaderboard", doc="A game source's leaderboard."),
    ResSpec(4517, "leaderboard_for_game_source_tailored", _LEADERBOARD, True, False,
            echo="source_id", base="leaderboard", doc="A game source's leaderboard around you."),
    ResSpec(454, "leaderboard_friends_for_game_source", _LEADERBOARD, True, False,
            echo="source_id", base="leaderboard", doc="A game source's friends leaderboard."),
    ResSpec(460, "your_friends_predictions_for_pool", (
        _POOL_ID, F("predictions", "list:Prediction", doc="Your friends' bets."),
    ), True, False, echo="pool_id", doc="Your friends' bets in a pool."),
    ResSpec(461, "your_friends_predictions_for_game", (
        _GAME_ID, F("predictions", "obj:GamePredictions", doc="Running and resolved bets."),
    ), True, False, echo="game_id", doc="Your friends' bets in a game."),
    ResSpec(800, "your_current_balance", (
        F("current_balance", "money", True, doc="Available + exposure."),
        F("currency", "str", doc="The currency."),
    ), True, False, doc="Your current balance."),
    ResSpec(810, "your_available_balance", (
        F("available_balance", "money", True, doc="What you can bet."),
        F("currency", "str", doc="The currency."),
    ), True, False, doc="Your available balance."),
    ResSpec(840, "your_exposure", (
        F("exposure", "money", True, doc="Money in unresolved pools."),
        F("currency", "str", doc="The currency."),
    ), True, False, doc="Your exposure."),
    ResSpec(815, "balance_update", (
        F("current_balance", "money", True, doc="Available + exposure."),
        F("available_balance", "money", True, doc="What you can bet."),
        F("currency", "str", doc="The currency."),
    ), False, True, doc="Your balance changed."),
    ResSpec(901, "new_text_message", (
        F("sender", "str", doc="Who wrote it."),
        F("text", "str", doc="The message."),
        F("received_at", "millis", doc="When the server got it."),
        F("channel", "json", doc="Where it went (a game id, or the targets sent)."),
    ), True, True, doc="A chat message (your own included)."),
    ResSpec(666, "error", (F("text", "str", doc="The explanation."),), True, False,
            doc="The request failed (raised as ServerError, never returned)."),
)

EXTRA_CODES: dict[int, tuple[str, str | None]] = {
    452: ("leaderboard", None),
    453: ("leaderboard", "game_id"),
}
"""Codes only the doc's examples use (no name in its tables): res -> (the response it is
decoded as, its echo key)."""
