"""The whole Instamrkt API, typed: a request class per op, a model per response code.

GENERATED from the table in ``_table.py`` by ``python -m instamrkt_proto._codegen``: edit
the table, not this file (a test fails when it is out of date).

* Requests: ``JoinGame(game_id=...)``, ``PlaceBetInBettingPool(pool_id=..., target=...,
  amount=...)``... frozen attrs classes, keyword-only. A misspelt, missing or mistyped
  parameter raises ``LocalProtocolError`` naming the op and the parameter. Money is
  ``Decimal``, ``int`` or a numeric ``str`` (a ``float`` is refused) and is sent as a JSON
  string of its exact decimal text. Every client's ``call(request)`` returns the reply
  model, typed: ``client.call(PlaceBetInBettingPool(...))`` is a ``BetPlacedInBettingPool``.
* Models: one per documented response code, named after it. A reply is a
  ``Response`` subclass, a push a ``Push`` subclass; a code that is both (a reply to one
  request, a push to everyone else) has a common base named after it, with ``...Reply``
  and ``...Push`` subclasses: ``isinstance(event, NewGameEvent)`` holds for both. ``res``,
  ``server_time`` and the raw ``fields`` (unknown keys included) stay on every one.
* Alternative replies: logon's 100 and 112 are both ``LoggedOn`` (110 raises
  ``LogonError``); become_an_admin_for_game returns the union of its two models; every
  leaderboard reply is a ``Leaderboard`` (each code a subclass), so ops answered by two
  leaderboard codes return ``Leaderboard``.
* Decoding is lenient where the docs are: numbers as strings, ``"None"`` as null, times
  normalised to epoch **milliseconds** (10-digit seconds are multiplied by 1000), pool
  ``type`` read from ``pool_type`` too, ids as ``str`` whether sent as ints or uuids.
  Nested lists are structured on first access.

See ``docs/api.md`` for every op and code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import attrs

from ._decoders import EMPTY_MAP, Lazy
from ._models import Payload, model_fields, register
from ._models import push_event as decode_push
from ._models import reply_model as decode_reply
from ._params import Request, request_from_wire
from .events import LoggedOn, LogonFailed, OpcodeTable, Pong, Push, Response

__all__ = (
    "MODELS",
    "REQUESTS",
    "AllBettingPoolsForGame",
    "AllowBettingForGameAndAction",
    "AllowBettingInBettingPool",
    "AppointAdminForGameByUsername",
    "BalanceUpdate",
    "BecomeAnAdminForGame",
    "BecomeAnAdminForGameFail",
    "BecomeAnAdminForGameSuccess",
    "BecomeAnAdminForGameSuccessPush",
    "BecomeAnAdminForGameSuccessReply",
    "Bet",
    "BetPlacedInBettingPool",
    "BetPoolExpired",
    "BetPoolResolved",
    "BettingForGameAndActionAllowed",
    "BettingForGameAndActionAllowedPush",
    "BettingForGameAndActionAllowedReply",
    "BettingForGameAndActionBlocked",
    "BettingForGameAndActionBlockedPush",
    "BettingForGameAndActionBlockedReply",
    "BettingInPoolAllowed",
    "BettingInPoolAllowedPush",
    "BettingInPoolAllowedReply",
    "BettingInPoolBlocked",
    "BettingInPoolBlockedPush",
    "BettingInPoolBlockedReply",
    "BettingPoolBetsDistributionUpdate",
    "BettingPoolCreated",
    "BlockBettingForGameAndAction",
    "BlockBettingInBettingPool",
    "CloseGame",
    "CloseGameSource",
    "CreateAndOpenBettingPool",
    "CreateAndOpenGame",
    "CreateGame",
    "DistributionEntry",
    "Error",
    "GameAdminAppointed",
    "GameClosed",
    "GameClosedPush",
    "GameClosedReply",
    "GameCreated",
    "GameCreatedAndOpened",
    "GameCreatedAndOpenedPush",
    "GameCreatedAndOpenedReply",
    "GameCreatedPush",
    "GameCreatedReply",
    "GameDetails",
    "GameDetailsPush",
    "GameDetailsReply",
    "GameDetailsUpdated",
    "GameJoined",
    "GameLeft",
    "GameOpened",
    "GameOpenedPush",
    "GameOpenedReply",
    "GamePredictions",
    "GameSourceClosed",
    "GameSourceOpened",
    "GameSourcesIAmAdminOfList",
    "GamesIAmAdminOfList",
    "GamesListForSource",
    "GetBettingPoolBetsDistribution",
    "GetFriendsLeaderboard",
    "GetFriendsLeaderboardForGame",
    "GetFriendsLeaderboardForGameSource",
    "GetGameDetails",
    "GetLeaderboard",
    "GetLeaderboardForGame",
    "GetLeaderboardForGameSource",
    "GetMyAvailableBalance",
    "GetMyCurrentBalance",
    "GetMyExposure",
    "GetMyFriendsPredictionsForGame",
    "GetMyFriendsPredictionsForPool",
    "GetOpcodes",
    "GetUserTailoredLeaderboard",
    "GetUserTailoredLeaderboardForGame",
    "GetUserTailoredLeaderboardForGameSource",
    "HotBettingPoolSuggested",
    "HotBettingPoolSuggestedPush",
    "HotBettingPoolSuggestedReply",
    "JoinGame",
    "Lazy",
    "Leaderboard",
    "LeaderboardEntry",
    "LeaderboardForGame",
    "LeaderboardForGameSource",
    "LeaderboardForGameSourceTailored",
    "LeaderboardForGameTailored",
    "LeaderboardFriendsForGameSource",
    "LeaderboardTailored",
    "LeaveGame",
    "ListAllBettingPoolsForGame",
    "ListGameSourcesIAmAdminOf",
    "ListGamesForSource",
    "ListGamesIAmAdminOf",
    "ListMyOpenBettingPoolsForGame",
    "ListMyResolvedPoolsForGame",
    "ListMyRunningPoolsForGame",
    "ListUpcomingGamesForSource",
    "LoggedOn",
    "Logon",
    "LogonFail",
    "LogonFailAlreadyLoggedIn",
    "LogonFailed",
    "LogonSuccess",
    "NewBettingPool",
    "NewBettingPoolBetsDistribution",
    "NewGameEvent",
    "NewGameEventPush",
    "NewGameEventReply",
    "NewTextMessage",
    "NewTextMessagePush",
    "NewTextMessageReply",
    "OpcodeTable",
    "Opcodes",
    "OpenGame",
    "OpenGameSource",
    "Payload",
    "Ping",
    "PlaceBetInBettingPool",
    "Pong",
    "Pool",
    "Prediction",
    "RegisterGameEvent",
    "Request",
    "SuggestHotBettingPool",
    "SuggestHotBettingPoolForActionAndTarget",
    "TextMessage",
    "UpcomingGamesListForSource",
    "UpdateGameDetails",
    "UserJoinedGame",
    "UserLeftGame",
    "YouOpenPoolsListForGame",
    "YourAvailableBalance",
    "YourCurrentBalance",
    "YourExposure",
    "YourFriendsPredictionsForGame",
    "YourFriendsPredictionsForPool",
    "YourResolvedPoolsForGame",
    "YourRunningPoolsForGame",
    "decode_push",
    "decode_reply",
    "model_fields",
    "request_from_wire",
)


# -- nested shapes --------------------------------------------------------------------------


@attrs.frozen(slots=True, kw_only=True)
class Bet:
    """A Bet nested in replies and pushes (see ``docs/api.md``)."""

    raw: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    """The object as the server sent it (unknown keys included)."""
    bet_id: str | None = None
    """The bet."""
    user_id: str | None = None
    """Who placed it."""
    amount: Decimal | None = None
    """The stake."""
    placed_at: int | None = None
    """When."""
    target: str | None = None
    """The target backed (where listed)."""


@attrs.frozen(slots=True, kw_only=True)
class DistributionEntry:
    """A DistributionEntry nested in replies and pushes (see ``docs/api.md``)."""

    raw: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    """The object as the server sent it (unknown keys included)."""
    target_id: str | None = None
    """The target."""
    display_name: str | None = None
    """Its display name."""
    backing_people: int | None = None
    """Bettors backing it."""
    backing_money: Decimal | None = None
    """Money backing it."""
    to_win_if_backed: Decimal | None = None
    """Current multiplier."""
    bets: Sequence[Bet] = ()
    """The bets (where listed)."""


@attrs.frozen(slots=True, kw_only=True)
class Pool:
    """A Pool nested in replies and pushes (see ``docs/api.md``)."""

    raw: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    """The object as the server sent it (unknown keys included)."""
    pool_id: str | None = None
    """The betting pool."""
    game_id: str | None = None
    """The game."""
    description: str | None = None
    """The question."""
    name: str | None = None
    """The question (some listings)."""
    type: int | None = None
    """1..4: parimutuel/binary, event/time based. (also read from ``pool_type``)"""
    action_id: str | None = None
    """The action it is about."""
    participants: int | None = None
    """Bettors so far."""
    amount_total: Decimal | None = None
    """Money in the pool."""
    target_level: int | None = None
    """Nesting level of its targets."""
    is_blocked: bool | None = None
    """Betting is blocked."""
    is_hot: bool | None = None
    """Marked hot."""
    distribution: Sequence[DistributionEntry] = ()
    """Per target backing."""
    user_backed: Mapping[str, Decimal] = EMPTY_MAP
    """Your stake per target."""
    start_at: int | None = None
    """Opened at."""
    finish_at: int | None = None
    """Closes at (time-based pools)."""
    stop_accepting_bets_at: int | None = None
    """Stops taking bets at."""
    resolved_at: int | None = None
    """Resolved at."""
    winning_target: str | None = None
    """The winning target (resolved pools)."""
    total_winnings: Decimal | None = None
    """Your winnings (resolved pools)."""
    game_name: str | None = None
    """The game's name (some listings)."""


@attrs.frozen(slots=True, kw_only=True)
class LeaderboardEntry:
    """A LeaderboardEntry nested in replies and pushes (see ``docs/api.md``)."""

    raw: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    """The object as the server sent it (unknown keys included)."""
    username: str | None = None
    """The user."""
    points: Decimal | None = None
    """Their points."""
    rank: int | None = None
    """Their rank."""


@attrs.frozen(slots=True, kw_only=True)
class Prediction:
    """A Prediction nested in replies and pushes (see ``docs/api.md``)."""

    raw: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    """The object as the server sent it (unknown keys included)."""
    user_id: str | None = None
    """The friend."""
    username: str | None = None
    """Their name."""
    target: str | None = None
    """What they backed."""
    amount: Decimal | None = None
    """Their stake."""
    placed_at: int | None = None
    """When."""
    bet_id: str | None = None
    """The bet."""
    pool_id: str | None = None
    """The pool (game-wide listings)."""


@attrs.frozen(slots=True, kw_only=True)
class GamePredictions:
    """A GamePredictions nested in replies and pushes (see ``docs/api.md``)."""

    raw: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    """The object as the server sent it (unknown keys included)."""
    running: Sequence[Prediction] = ()
    """In running pools."""
    resolved: Sequence[Prediction] = ()
    """In resolved pools."""


# -- models, one per response code ----------------------------------------------------------

Opcodes = OpcodeTable
"""res 2 ``opcodes``: The server's tables. (the core's own event)."""

LogonSuccess = LoggedOn
"""res 100 ``logon_success``: Logged on. (the core's own event)."""

LogonFail = LogonFailed
"""res 110 ``logon_fail``: Not logged on: the key is not valid. (the core's own event)."""

LogonFailAlreadyLoggedIn = LoggedOn
"""res 112 ``logon_fail_already_logged_in``: Already logged on: success. (the core's own event)."""


@attrs.frozen(slots=True, kw_only=True)
class GameSourceOpened(Response):
    """res 335 ``game_source_opened``: Source registered.

    The reply to open_game_source (365).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""


@attrs.frozen(slots=True, kw_only=True)
class GameSourceClosed(Response):
    """res 336 ``game_source_closed``: Source closed.

    The reply to close_game_source (366). Echoes ``source_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""


@attrs.frozen(slots=True, kw_only=True)
class GameSourcesIAmAdminOfList(Response):
    """res 621 ``game_sources_i_am_admin_of_list``: Sources you administer.

    The reply to list_game_sources_i_am_admin_of (611).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    sources: Sequence[Mapping[str, Any]] = ()
    """{id, name, description} each."""


class GameCreatedAndOpened(Payload):
    """res 340 ``game_created_and_opened``.

    Game created and opened (also published through the source). The reply to
    create_and_open_game (370). Pushed after create_and_open_game (370). Echoes
    ``source_id``. As a reply it is a ``GameCreatedAndOpenedReply`` (a ``Response``), as a
    push a ``GameCreatedAndOpenedPush`` (a ``Push``).
    """

    __slots__ = ()

    source_id: str | None
    """The game source."""
    game_id: str | None
    """The game."""
    game_name: str | None
    """The game's name."""
    type: str | None
    """The game type."""
    currency: str | None
    """The currency."""
    open_at: int | None
    """When betting opened."""
    live_start_at: int | None
    """Real-life start."""
    live_finish_at: int | None
    """Real-life finish."""
    close_at: int | None
    """When the game closes (None: on close_game)."""
    hashtag: str | None
    """Social media hashtag."""
    image_url: str | None
    """The game's image."""
    actions: Sequence[Mapping[str, Any]]
    """The actions: {action_id, name}."""
    targets: Sequence[Mapping[str, Any]]
    """The targets, nested: {symbol, display_name, targets}."""


@attrs.frozen(slots=True, kw_only=True)
class GameCreatedAndOpenedReply(Response, GameCreatedAndOpened):
    """``GameCreatedAndOpened`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    game_id: str | None = None
    """The game."""
    game_name: str | None = None
    """The game's name."""
    type: str | None = None
    """The game type."""
    currency: str | None = None
    """The currency."""
    open_at: int | None = None
    """When betting opened."""
    live_start_at: int | None = None
    """Real-life start."""
    live_finish_at: int | None = None
    """Real-life finish."""
    close_at: int | None = None
    """When the game closes (None: on close_game)."""
    hashtag: str | None = None
    """Social media hashtag."""
    image_url: str | None = None
    """The game's image."""
    actions: Sequence[Mapping[str, Any]] = ()
    """The actions: {action_id, name}."""
    targets: Sequence[Mapping[str, Any]] = ()
    """The targets, nested: {symbol, display_name, targets}."""


@attrs.frozen(slots=True, kw_only=True)
class GameCreatedAndOpenedPush(Push, GameCreatedAndOpened):
    """``GameCreatedAndOpened`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    game_id: str | None = None
    """The game."""
    game_name: str | None = None
    """The game's name."""
    type: str | None = None
    """The game type."""
    currency: str | None = None
    """The currency."""
    open_at: int | None = None
    """When betting opened."""
    live_start_at: int | None = None
    """Real-life start."""
    live_finish_at: int | None = None
    """Real-life finish."""
    close_at: int | None = None
    """When the game closes (None: on close_game)."""
    hashtag: str | None = None
    """Social media hashtag."""
    image_url: str | None = None
    """The game's image."""
    actions: Sequence[Mapping[str, Any]] = ()
    """The actions: {action_id, name}."""
    targets: Sequence[Mapping[str, Any]] = ()
    """The targets, nested: {symbol, display_name, targets}."""


class GameCreated(Payload):
    """res 3401 ``game_created``: Game created, upcoming (also published through the source).

    The reply to create_game (3701). Pushed after create_game (3701). Echoes ``source_id``.
    As a reply it is a ``GameCreatedReply`` (a ``Response``), as a push a
    ``GameCreatedPush`` (a ``Push``).
    """

    __slots__ = ()

    source_id: str | None
    """The game source."""
    game_id: str | None
    """The game."""
    game_name: str | None
    """The game's name."""
    type: str | None
    """The game type."""
    currency: str | None
    """The currency."""
    open_at: int | None
    """When betting opened."""
    live_start_at: int | None
    """Real-life start."""
    live_finish_at: int | None
    """Real-life finish."""
    close_at: int | None
    """When the game closes (None: on close_game)."""
    hashtag: str | None
    """Social media hashtag."""
    image_url: str | None
    """The game's image."""


@attrs.frozen(slots=True, kw_only=True)
class GameCreatedReply(Response, GameCreated):
    """``GameCreated`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    game_id: str | None = None
    """The game."""
    game_name: str | None = None
    """The game's name."""
    type: str | None = None
    """The game type."""
    currency: str | None = None
    """The currency."""
    open_at: int | None = None
    """When betting opened."""
    live_start_at: int | None = None
    """Real-life start."""
    live_finish_at: int | None = None
    """Real-life finish."""
    close_at: int | None = None
    """When the game closes (None: on close_game)."""
    hashtag: str | None = None
    """Social media hashtag."""
    image_url: str | None = None
    """The game's image."""


@attrs.frozen(slots=True, kw_only=True)
class GameCreatedPush(Push, GameCreated):
    """``GameCreated`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    game_id: str | None = None
    """The game."""
    game_name: str | None = None
    """The game's name."""
    type: str | None = None
    """The game type."""
    currency: str | None = None
    """The currency."""
    open_at: int | None = None
    """When betting opened."""
    live_start_at: int | None = None
    """Real-life start."""
    live_finish_at: int | None = None
    """Real-life finish."""
    close_at: int | None = None
    """When the game closes (None: on close_game)."""
    hashtag: str | None = None
    """Social media hashtag."""
    image_url: str | None = None
    """The game's image."""


class GameOpened(Payload):
    """res 3402 ``game_opened``: Game opened (also published through the source).

    The reply to open_game (3702). Pushed after open_game (3702). Echoes ``game_id``. As a
    reply it is a ``GameOpenedReply`` (a ``Response``), as a push a ``GameOpenedPush`` (a
    ``Push``).
    """

    __slots__ = ()

    source_id: str | None
    """The game source."""
    game_id: str | None
    """The game."""
    game_name: str | None
    """The game's name."""
    type: str | None
    """The game type."""
    currency: str | None
    """The currency."""
    open_at: int | None
    """When betting opened."""
    live_start_at: int | None
    """Real-life start."""
    live_finish_at: int | None
    """Real-life finish."""
    close_at: int | None
    """When the game closes (None: on close_game)."""
    hashtag: str | None
    """Social media hashtag."""
    image_url: str | None
    """The game's image."""
    actions: Sequence[Mapping[str, Any]]
    """The actions: {action_id, name}."""
    targets: Sequence[Mapping[str, Any]]
    """The targets, nested: {symbol, display_name, targets}."""


@attrs.frozen(slots=True, kw_only=True)
class GameOpenedReply(Response, GameOpened):
    """``GameOpened`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    game_id: str | None = None
    """The game."""
    game_name: str | None = None
    """The game's name."""
    type: str | None = None
    """The game type."""
    currency: str | None = None
    """The currency."""
    open_at: int | None = None
    """When betting opened."""
    live_start_at: int | None = None
    """Real-life start."""
    live_finish_at: int | None = None
    """Real-life finish."""
    close_at: int | None = None
    """When the game closes (None: on close_game)."""
    hashtag: str | None = None
    """Social media hashtag."""
    image_url: str | None = None
    """The game's image."""
    actions: Sequence[Mapping[str, Any]] = ()
    """The actions: {action_id, name}."""
    targets: Sequence[Mapping[str, Any]] = ()
    """The targets, nested: {symbol, display_name, targets}."""


@attrs.frozen(slots=True, kw_only=True)
class GameOpenedPush(Push, GameOpened):
    """``GameOpened`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    game_id: str | None = None
    """The game."""
    game_name: str | None = None
    """The game's name."""
    type: str | None = None
    """The game type."""
    currency: str | None = None
    """The currency."""
    open_at: int | None = None
    """When betting opened."""
    live_start_at: int | None = None
    """Real-life start."""
    live_finish_at: int | None = None
    """Real-life finish."""
    close_at: int | None = None
    """When the game closes (None: on close_game)."""
    hashtag: str | None = None
    """Social media hashtag."""
    image_url: str | None = None
    """The game's image."""
    actions: Sequence[Mapping[str, Any]] = ()
    """The actions: {action_id, name}."""
    targets: Sequence[Mapping[str, Any]] = ()
    """The targets, nested: {symbol, display_name, targets}."""


class BecomeAnAdminForGameSuccess(Payload):
    """res 640 ``become_an_admin_for_game_success``.

    You are a game admin (pushed when someone appoints you). The reply to
    become_an_admin_for_game (616). Pushed after appoint_admin_for_game_by_username (617).
    Echoes ``game_id``. As a reply it is a ``BecomeAnAdminForGameSuccessReply`` (a
    ``Response``), as a push a ``BecomeAnAdminForGameSuccessPush`` (a ``Push``).
    """

    __slots__ = ()

    game_id: str | None
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class BecomeAnAdminForGameSuccessReply(Response, BecomeAnAdminForGameSuccess):
    """``BecomeAnAdminForGameSuccess`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class BecomeAnAdminForGameSuccessPush(Push, BecomeAnAdminForGameSuccess):
    """``BecomeAnAdminForGameSuccess`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class BecomeAnAdminForGameFail(Response):
    """res 645 ``become_an_admin_for_game_fail``: You were not made a game admin.

    The reply to become_an_admin_for_game (616). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    reason: str | None = None
    """Why not."""


@attrs.frozen(slots=True, kw_only=True)
class GameAdminAppointed(Response):
    """res 617 ``game_admin_appointed``: Admin appointed.

    The reply to appoint_admin_for_game_by_username (617). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    username: str | None = None
    """The new admin."""


class GameDetails(Payload):
    """res 342 ``game_details``: A game's details (pushed after update_game_details).

    The reply to get_game_details (372). Pushed after update_game_details (373). Echoes
    ``game_id``. As a reply it is a ``GameDetailsReply`` (a ``Response``), as a push a
    ``GameDetailsPush`` (a ``Push``).
    """

    __slots__ = ()

    source_id: str | None
    """The game source."""
    game_id: str | None
    """The game."""
    game_name: str | None
    """The game's name. (also read from ``name``)"""
    type: str | None
    """The game type."""
    currency: str | None
    """The currency."""
    open_at: int | None
    """When betting opened."""
    live_start_at: int | None
    """Real-life start."""
    live_finish_at: int | None
    """Real-life finish."""
    close_at: int | None
    """When the game closes (None: on close_game)."""
    hashtag: str | None
    """Social media hashtag."""
    image_url: str | None
    """The game's image."""
    actions: Sequence[Mapping[str, Any]]
    """The actions: {action_id, name}."""
    targets: Sequence[Mapping[str, Any]]
    """The targets, nested: {symbol, display_name, targets}."""
    status: str | None
    """betting_not_yet_active ... game_closed."""
    game_state: Sequence[Mapping[str, Any]]
    """Action counts per target."""
    past_events: Sequence[Mapping[str, Any]]
    """Events so far, newest first."""


@attrs.frozen(slots=True, kw_only=True)
class GameDetailsReply(Response, GameDetails):
    """``GameDetails`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    game_id: str | None = None
    """The game."""
    game_name: str | None = None
    """The game's name. (also read from ``name``)"""
    type: str | None = None
    """The game type."""
    currency: str | None = None
    """The currency."""
    open_at: int | None = None
    """When betting opened."""
    live_start_at: int | None = None
    """Real-life start."""
    live_finish_at: int | None = None
    """Real-life finish."""
    close_at: int | None = None
    """When the game closes (None: on close_game)."""
    hashtag: str | None = None
    """Social media hashtag."""
    image_url: str | None = None
    """The game's image."""
    actions: Sequence[Mapping[str, Any]] = ()
    """The actions: {action_id, name}."""
    targets: Sequence[Mapping[str, Any]] = ()
    """The targets, nested: {symbol, display_name, targets}."""
    status: str | None = None
    """betting_not_yet_active ... game_closed."""
    game_state: Sequence[Mapping[str, Any]] = ()
    """Action counts per target."""
    past_events: Sequence[Mapping[str, Any]] = ()
    """Events so far, newest first."""


@attrs.frozen(slots=True, kw_only=True)
class GameDetailsPush(Push, GameDetails):
    """``GameDetails`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    game_id: str | None = None
    """The game."""
    game_name: str | None = None
    """The game's name. (also read from ``name``)"""
    type: str | None = None
    """The game type."""
    currency: str | None = None
    """The currency."""
    open_at: int | None = None
    """When betting opened."""
    live_start_at: int | None = None
    """Real-life start."""
    live_finish_at: int | None = None
    """Real-life finish."""
    close_at: int | None = None
    """When the game closes (None: on close_game)."""
    hashtag: str | None = None
    """Social media hashtag."""
    image_url: str | None = None
    """The game's image."""
    actions: Sequence[Mapping[str, Any]] = ()
    """The actions: {action_id, name}."""
    targets: Sequence[Mapping[str, Any]] = ()
    """The targets, nested: {symbol, display_name, targets}."""
    status: str | None = None
    """betting_not_yet_active ... game_closed."""
    game_state: Sequence[Mapping[str, Any]] = ()
    """Action counts per target."""
    past_events: Sequence[Mapping[str, Any]] = ()
    """Events so far, newest first."""


@attrs.frozen(slots=True, kw_only=True)
class GameDetailsUpdated(Response):
    """res 343 ``game_details_updated``: Details updated.

    The reply to update_game_details (373). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class GameJoined(Response):
    """res 333 ``game_joined``: Joined.

    The reply to join_game (363). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class GameLeft(Response):
    """res 334 ``game_left``: Left.

    The reply to leave_game (364). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class UserJoinedGame(Push):
    """res 470 ``user_joined_game``: Another user joined a game you joined.

    Pushed after join_game (363).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    user_id: str | None = None
    """Who."""
    user_name: str | None = None
    """Their name."""


@attrs.frozen(slots=True, kw_only=True)
class UserLeftGame(Push):
    """res 480 ``user_left_game``: Another user left a game you joined.

    Pushed after leave_game (364).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    user_id: str | None = None
    """Who."""
    user_name: str | None = None
    """Their name."""


class GameClosed(Payload):
    """res 341 ``game_closed``: Game closed.

    The reply to close_game (375). Pushed after close_game (375). Echoes ``game_id``. As a
    reply it is a ``GameClosedReply`` (a ``Response``), as a push a ``GameClosedPush`` (a
    ``Push``).
    """

    __slots__ = ()

    game_id: str | None
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class GameClosedReply(Response, GameClosed):
    """``GameClosed`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class GameClosedPush(Push, GameClosed):
    """``GameClosed`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class GamesListForSource(Response):
    """res 345 ``games_list_for_source``: A source's active games.

    The reply to list_games_for_source (380). Echoes ``source_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    games: Sequence[Mapping[str, Any]] = ()
    """The games."""


@attrs.frozen(slots=True, kw_only=True)
class UpcomingGamesListForSource(Response):
    """res 3461 ``upcoming_games_list_for_source``: A source's upcoming games.

    The reply to list_upcoming_games_for_source (3811). Echoes ``source_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    source_id: str | None = None
    """The game source."""
    games: Sequence[Mapping[str, Any]] = ()
    """The games."""


@attrs.frozen(slots=True, kw_only=True)
class GamesIAmAdminOfList(Response):
    """res 620 ``games_i_am_admin_of_list``: Games you administer.

    The reply to list_games_i_am_admin_of (610).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    games: Sequence[Mapping[str, Any]] = ()
    """{id, name} each."""


@attrs.frozen(slots=True, kw_only=True)
class BettingPoolCreated(Response):
    """res 350 ``betting_pool_created``: Your pool was created.

    The reply to create_and_open_betting_pool (385). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    pool_id: str | None = None
    """The betting pool."""
    description: str | None = None
    """The question."""
    type: int | None = None
    """1..4. (also read from ``pool_type``)"""


@attrs.frozen(slots=True, kw_only=True)
class NewBettingPool(Push):
    """res 352 ``new_betting_pool``: A new pool in a game you joined (the full pool).

    Pushed after create_and_open_betting_pool (385).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    game_id: str | None = None
    """The game."""
    description: str | None = None
    """The question."""
    type: int | None = None
    """1..4: parimutuel/binary, event/time based. (also read from ``pool_type``)"""
    action_id: str | None = None
    """The action it is about."""
    participants: int | None = None
    """Bettors so far."""
    amount_total: Decimal | None = None
    """Money in the pool."""
    target_level: int | None = None
    """Nesting level of its targets."""
    is_blocked: bool | None = None
    """Betting is blocked."""
    is_hot: bool | None = None
    """Marked hot."""
    distribution: Sequence[DistributionEntry] = ()
    """Per target backing."""
    user_backed: Mapping[str, Decimal] = EMPTY_MAP
    """Your stake per target."""
    start_at: int | None = None
    """Opened at."""
    finish_at: int | None = None
    """Closes at (time-based pools)."""
    stop_accepting_bets_at: int | None = None
    """Stops taking bets at."""
    resolved_at: int | None = None
    """Resolved at."""
    winning_target: str | None = None
    """The winning target (resolved pools)."""
    total_winnings: Decimal | None = None
    """Your winnings (resolved pools)."""
    game_name: str | None = None
    """The game's name (some listings)."""
    live_start_at: int | None = None
    """The game's real-life start (informative)."""


class NewGameEvent(Payload):
    """res 366 ``new_game_event``: An event happened in a game you joined.

    The reply to register_game_event (395). Pushed after register_game_event (395). Echoes
    ``game_id``. As a reply it is a ``NewGameEventReply`` (a ``Response``), as a push a
    ``NewGameEventPush`` (a ``Push``).
    """

    __slots__ = ()

    game_id: str | None
    """The game."""
    action_id: str | None
    """The action."""
    target_id: str | None
    """The target that acted."""
    target_display_name: str | None
    """Its display name."""
    current_count: Mapping[str, int]
    """Target -> count of this action so far."""
    happened_at: int | None
    """When."""
    description: str | None
    """A description."""


@attrs.frozen(slots=True, kw_only=True)
class NewGameEventReply(Response, NewGameEvent):
    """``NewGameEvent`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    action_id: str | None = None
    """The action."""
    target_id: str | None = None
    """The target that acted."""
    target_display_name: str | None = None
    """Its display name."""
    current_count: Mapping[str, int] = EMPTY_MAP
    """Target -> count of this action so far."""
    happened_at: int | None = None
    """When."""
    description: str | None = None
    """A description."""


@attrs.frozen(slots=True, kw_only=True)
class NewGameEventPush(Push, NewGameEvent):
    """``NewGameEvent`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    action_id: str | None = None
    """The action."""
    target_id: str | None = None
    """The target that acted."""
    target_display_name: str | None = None
    """Its display name."""
    current_count: Mapping[str, int] = EMPTY_MAP
    """Target -> count of this action so far."""
    happened_at: int | None = None
    """When."""
    description: str | None = None
    """A description."""


@attrs.frozen(slots=True, kw_only=True)
class BetPoolExpired(Push):
    """res 363 ``bet_pool_expired``: A time-based pool expired: resolved to none.

    Pushed.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    game_id: str | None = None
    """The game."""
    winning_target: str | None = None
    """The target that won."""
    description: str | None = None
    """The pool's question."""
    winners: Mapping[str, Decimal] = EMPTY_MAP
    """User id -> amount won."""
    losers: Mapping[str, Decimal] = EMPTY_MAP
    """User id -> amount lost."""
    invalidated_bettors: tuple[str, ...] = ()
    """Users whose bets came too late."""
    is_money_return: bool | None = None
    """Stakes were returned."""
    expired_at: int | None = None
    """When (the example's name)."""
    resolved_at: int | None = None
    """When (the table's name)."""


@attrs.frozen(slots=True, kw_only=True)
class BetPoolResolved(Push):
    """res 362 ``bet_pool_resolved``: A pool was resolved.

    Pushed after close_game (375), register_game_event (395).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    game_id: str | None = None
    """The game."""
    winning_target: str | None = None
    """The target that won."""
    description: str | None = None
    """The pool's question."""
    winners: Mapping[str, Decimal] = EMPTY_MAP
    """User id -> amount won."""
    losers: Mapping[str, Decimal] = EMPTY_MAP
    """User id -> amount lost."""
    invalidated_bettors: tuple[str, ...] = ()
    """Users whose bets came too late."""
    is_money_return: bool | None = None
    """Stakes were returned."""
    resolved_at: int | None = None
    """When."""


@attrs.frozen(slots=True, kw_only=True)
class AllBettingPoolsForGame(Response):
    """res 3535 ``all_betting_pools_for_game``: A game's open pools.

    The reply to list_all_betting_pools_for_game (387). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    pools_list: Sequence[Pool] = ()
    """The pools."""


@attrs.frozen(slots=True, kw_only=True)
class YouOpenPoolsListForGame(Response):
    """res 353 ``you_open_pools_list_for_game``: Open pools you have not bet in.

    The reply to list_my_open_betting_pools_for_game (388). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    pools_list: Sequence[Pool] = ()
    """The pools."""


@attrs.frozen(slots=True, kw_only=True)
class YourRunningPoolsForGame(Response):
    """res 354 ``your_running_pools_for_game``: Open pools you have bet in.

    The reply to list_my_running_pools_for_game (389). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    pools_list: Sequence[Pool] = ()
    """The pools."""


@attrs.frozen(slots=True, kw_only=True)
class YourResolvedPoolsForGame(Response):
    """res 355 ``your_resolved_pools_for_game``: Resolved pools you had bet in.

    The reply to list_my_resolved_pools_for_game (390). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    pools_list: Sequence[Pool] = ()
    """The pools."""


@attrs.frozen(slots=True, kw_only=True)
class BetPlacedInBettingPool(Response):
    """res 356 ``bet_placed_in_betting_pool``: Your bet was placed.

    The reply to place_bet_in_betting_pool (392). Echoes ``pool_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    bet_id: str | None = None
    """The new bet."""
    target: str | None = None
    """Backed."""
    amount: Decimal | None = None
    """The stake."""


@attrs.frozen(slots=True, kw_only=True)
class NewBettingPoolBetsDistribution(Response):
    """res 360 ``new_betting_pool_bets_distribution``: A pool's distribution, with its bets.

    The reply to get_betting_pool_bets_distribution (393). Echoes ``pool_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    target_level: int | None = None
    """Nesting level of the pool's targets."""
    distribution: Sequence[DistributionEntry] = ()
    """Per target: backing and multiplier."""


@attrs.frozen(slots=True, kw_only=True)
class BettingPoolBetsDistributionUpdate(Push):
    """res 361 ``betting_pool_bets_distribution_update``: New bets changed a pool's distribution.

    Pushed after place_bet_in_betting_pool (392).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    target_level: int | None = None
    """Nesting level of the pool's targets."""
    distribution: Sequence[DistributionEntry] = ()
    """Per target: backing and multiplier."""
    new_bets: Sequence[Bet] = ()
    """The bets that changed it."""


class BettingInPoolBlocked(Payload):
    """res 368 ``betting_in_pool_blocked``.

    Betting in a pool is blocked (also: a pool close_game cannot resolve). The reply to
    close_game (375), block_betting_in_betting_pool (397). Pushed after close_game (375),
    block_betting_in_betting_pool (397), block_betting_for_game_and_action (3975). Echoes
    ``pool_id``. As a reply it is a ``BettingInPoolBlockedReply`` (a ``Response``), as a
    push a ``BettingInPoolBlockedPush`` (a ``Push``).
    """

    __slots__ = ()

    pool_id: str | None
    """The betting pool."""
    blocked_at: int | None
    """When."""
    game_id: str | None
    """The pool's game (an addition: sent in answers to close_game)."""


@attrs.frozen(slots=True, kw_only=True)
class BettingInPoolBlockedReply(Response, BettingInPoolBlocked):
    """``BettingInPoolBlocked`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    blocked_at: int | None = None
    """When."""
    game_id: str | None = None
    """The pool's game (an addition: sent in answers to close_game)."""


@attrs.frozen(slots=True, kw_only=True)
class BettingInPoolBlockedPush(Push, BettingInPoolBlocked):
    """``BettingInPoolBlocked`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    blocked_at: int | None = None
    """When."""
    game_id: str | None = None
    """The pool's game (an addition: sent in answers to close_game)."""


class BettingInPoolAllowed(Payload):
    """res 369 ``betting_in_pool_allowed``: Betting in a pool is allowed again.

    The reply to allow_betting_in_betting_pool (398). Pushed after
    allow_betting_in_betting_pool (398), allow_betting_for_game_and_action (3985). Echoes
    ``pool_id``. As a reply it is a ``BettingInPoolAllowedReply`` (a ``Response``), as a
    push a ``BettingInPoolAllowedPush`` (a ``Push``).
    """

    __slots__ = ()

    pool_id: str | None
    """The betting pool."""
    allowed_at: int | None
    """When."""


@attrs.frozen(slots=True, kw_only=True)
class BettingInPoolAllowedReply(Response, BettingInPoolAllowed):
    """``BettingInPoolAllowed`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    allowed_at: int | None = None
    """When."""


@attrs.frozen(slots=True, kw_only=True)
class BettingInPoolAllowedPush(Push, BettingInPoolAllowed):
    """``BettingInPoolAllowed`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    allowed_at: int | None = None
    """When."""


class BettingForGameAndActionBlocked(Payload):
    """res 370 ``betting_for_game_and_action_blocked``: Betting on an action is blocked.

    The reply to block_betting_for_game_and_action (3975). Pushed after
    block_betting_for_game_and_action (3975). Echoes ``game_id``. As a reply it is a
    ``BettingForGameAndActionBlockedReply`` (a ``Response``), as a push a
    ``BettingForGameAndActionBlockedPush`` (a ``Push``).
    """

    __slots__ = ()

    game_id: str | None
    """The game."""
    action_id: str | None
    """The action."""
    blocked_at: int | None
    """When."""


@attrs.frozen(slots=True, kw_only=True)
class BettingForGameAndActionBlockedReply(Response, BettingForGameAndActionBlocked):
    """``BettingForGameAndActionBlocked`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    action_id: str | None = None
    """The action."""
    blocked_at: int | None = None
    """When."""


@attrs.frozen(slots=True, kw_only=True)
class BettingForGameAndActionBlockedPush(Push, BettingForGameAndActionBlocked):
    """``BettingForGameAndActionBlocked`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    action_id: str | None = None
    """The action."""
    blocked_at: int | None = None
    """When."""


class BettingForGameAndActionAllowed(Payload):
    """res 371 ``betting_for_game_and_action_allowed``: Betting on an action is allowed again.

    The reply to allow_betting_for_game_and_action (3985). Pushed after
    allow_betting_for_game_and_action (3985). Echoes ``game_id``. As a reply it is a
    ``BettingForGameAndActionAllowedReply`` (a ``Response``), as a push a
    ``BettingForGameAndActionAllowedPush`` (a ``Push``).
    """

    __slots__ = ()

    game_id: str | None
    """The game."""
    action_id: str | None
    """The action."""
    allowed_at: int | None
    """When."""


@attrs.frozen(slots=True, kw_only=True)
class BettingForGameAndActionAllowedReply(Response, BettingForGameAndActionAllowed):
    """``BettingForGameAndActionAllowed`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    action_id: str | None = None
    """The action."""
    allowed_at: int | None = None
    """When."""


@attrs.frozen(slots=True, kw_only=True)
class BettingForGameAndActionAllowedPush(Push, BettingForGameAndActionAllowed):
    """``BettingForGameAndActionAllowed`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    action_id: str | None = None
    """The action."""
    allowed_at: int | None = None
    """When."""


class HotBettingPoolSuggested(Payload):
    """res 367 ``hot_betting_pool_suggested``: A pool is hot.

    The reply to suggest_hot_betting_pool (396),
    suggest_hot_betting_pool_for_action_and_target (3961). Pushed after
    suggest_hot_betting_pool (396), suggest_hot_betting_pool_for_action_and_target (3961).
    Echoes ``pool_id``. As a reply it is a ``HotBettingPoolSuggestedReply`` (a
    ``Response``), as a push a ``HotBettingPoolSuggestedPush`` (a ``Push``).
    """

    __slots__ = ()

    pool_id: str | None
    """The betting pool."""
    hot_since: int | None
    """Since when."""


@attrs.frozen(slots=True, kw_only=True)
class HotBettingPoolSuggestedReply(Response, HotBettingPoolSuggested):
    """``HotBettingPoolSuggested`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    hot_since: int | None = None
    """Since when."""


@attrs.frozen(slots=True, kw_only=True)
class HotBettingPoolSuggestedPush(Push, HotBettingPoolSuggested):
    """``HotBettingPoolSuggested`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    hot_since: int | None = None
    """Since when."""


@attrs.frozen(slots=True, kw_only=True)
class Leaderboard(Response):
    """res 450 ``leaderboard``: A leaderboard (every leaderboard reply is one).

    The reply to get_leaderboard (450), get_user_tailored_leaderboard (4505),
    get_friends_leaderboard (452), get_user_tailored_leaderboard_for_game (4515).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    leaderboard: Sequence[LeaderboardEntry] = ()
    """Entries sorted by rank."""
    break_after_rank: tuple[int, ...] = ()
    """Ranks after which the list is not continuous."""
    game_type: str | None = None
    """The game type."""
    currency: str | None = None
    """The currency."""
    game_id: str | None = None
    """The game (game leaderboards)."""
    source_id: str | None = None
    """The game source (source leaderboards)."""


@attrs.frozen(slots=True, kw_only=True)
class LeaderboardTailored(Leaderboard):
    """res 4505 ``leaderboard_tailored``: The global leaderboard around you.

    The reply to get_user_tailored_leaderboard (4505).
    """


@attrs.frozen(slots=True, kw_only=True)
class LeaderboardForGame(Leaderboard):
    """res 451 ``leaderboard_for_game``: A game's leaderboard.

    The reply to get_leaderboard_for_game (451), get_friends_leaderboard_for_game (453).
    Echoes ``game_id``.
    """


@attrs.frozen(slots=True, kw_only=True)
class LeaderboardForGameTailored(Leaderboard):
    """res 4515 ``leaderboard_for_game_tailored``: A game's leaderboard around you.

    The reply to get_user_tailored_leaderboard_for_game (4515).
    """


@attrs.frozen(slots=True, kw_only=True)
class LeaderboardForGameSource(Leaderboard):
    """res 4516 ``leaderboard_for_game_source``: A game source's leaderboard.

    The reply to get_leaderboard_for_game_source (4516).
    """


@attrs.frozen(slots=True, kw_only=True)
class LeaderboardForGameSourceTailored(Leaderboard):
    """res 4517 ``leaderboard_for_game_source_tailored``: A game source's leaderboard around you.

    The reply to get_user_tailored_leaderboard_for_game_source (4517). Echoes
    ``source_id``.
    """


@attrs.frozen(slots=True, kw_only=True)
class LeaderboardFriendsForGameSource(Leaderboard):
    """res 454 ``leaderboard_friends_for_game_source``: A game source's friends leaderboard.

    The reply to get_friends_leaderboard_for_game_source (454). Echoes ``source_id``.
    """


@attrs.frozen(slots=True, kw_only=True)
class YourFriendsPredictionsForPool(Response):
    """res 460 ``your_friends_predictions_for_pool``: Your friends' bets in a pool.

    The reply to get_my_friends_predictions_for_pool (460). Echoes ``pool_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    pool_id: str | None = None
    """The betting pool."""
    predictions: Sequence[Prediction] = ()
    """Your friends' bets."""


@attrs.frozen(slots=True, kw_only=True)
class YourFriendsPredictionsForGame(Response):
    """res 461 ``your_friends_predictions_for_game``: Your friends' bets in a game.

    The reply to get_my_friends_predictions_for_game (461). Echoes ``game_id``.
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    game_id: str | None = None
    """The game."""
    predictions: GamePredictions | None = None
    """Running and resolved bets."""


@attrs.frozen(slots=True, kw_only=True)
class YourCurrentBalance(Response):
    """res 800 ``your_current_balance``: Your current balance.

    The reply to get_my_current_balance (800).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    current_balance: Decimal
    """Available + exposure."""
    currency: str | None = None
    """The currency."""


@attrs.frozen(slots=True, kw_only=True)
class YourAvailableBalance(Response):
    """res 810 ``your_available_balance``: Your available balance.

    The reply to get_my_available_balance (810).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    available_balance: Decimal
    """What you can bet."""
    currency: str | None = None
    """The currency."""


@attrs.frozen(slots=True, kw_only=True)
class YourExposure(Response):
    """res 840 ``your_exposure``: Your exposure.

    The reply to get_my_exposure (840).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    exposure: Decimal
    """Money in unresolved pools."""
    currency: str | None = None
    """The currency."""


@attrs.frozen(slots=True, kw_only=True)
class BalanceUpdate(Push):
    """res 815 ``balance_update``: Your balance changed.

    Pushed after register_game_event (395), place_bet_in_betting_pool (392).
    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    current_balance: Decimal
    """Available + exposure."""
    available_balance: Decimal
    """What you can bet."""
    currency: str | None = None
    """The currency."""


class NewTextMessage(Payload):
    """res 901 ``new_text_message``: A chat message (your own included).

    The reply to text_message (900). Pushed after text_message (900). As a reply it is a
    ``NewTextMessageReply`` (a ``Response``), as a push a ``NewTextMessagePush`` (a
    ``Push``).
    """

    __slots__ = ()

    sender: str | None
    """Who wrote it."""
    text: str | None
    """The message."""
    received_at: int | None
    """When the server got it."""
    channel: Any
    """Where it went (a game id, or the targets sent)."""


@attrs.frozen(slots=True, kw_only=True)
class NewTextMessageReply(Response, NewTextMessage):
    """``NewTextMessage`` received as a reply."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    sender: str | None = None
    """Who wrote it."""
    text: str | None = None
    """The message."""
    received_at: int | None = None
    """When the server got it."""
    channel: Any = None
    """Where it went (a game id, or the targets sent)."""


@attrs.frozen(slots=True, kw_only=True)
class NewTextMessagePush(Push, NewTextMessage):
    """``NewTextMessage`` received as a push."""

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    sender: str | None = None
    """Who wrote it."""
    text: str | None = None
    """The message."""
    received_at: int | None = None
    """When the server got it."""
    channel: Any = None
    """Where it went (a game id, or the targets sent)."""


@attrs.frozen(slots=True, kw_only=True)
class Error(Response):
    """res 666 ``error``: The request failed (raised as ServerError, never returned).

    """

    fields: Mapping[str, Any] = attrs.field(default=EMPTY_MAP, eq=False, repr=False)
    text: str | None = None
    """The explanation."""


# -- requests, one per op -------------------------------------------------------------------


@attrs.frozen(slots=True, kw_only=True)
class Ping(Request[Pong]):
    """op 1 ``ping``: Check that the connection is alive.

    An idempotent read. Replies: 1 ``Pong``.
    """

    OP: ClassVar[int] = 1


@attrs.frozen(slots=True, kw_only=True)
class GetOpcodes(Request[OpcodeTable]):
    """op 2 ``get_opcodes``: The server's op and response-code tables.

    An idempotent read. Replies: 2 ``OpcodeTable``.
    """

    OP: ClassVar[int] = 2


@attrs.frozen(slots=True, kw_only=True)
class Logon(Request[LoggedOn]):
    """op 100 ``logon``: Log on (needed by some calls; 112 means already logged on).

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 100
    ``LoggedOn``, 110 ``LogonFailed``, 112 ``LoggedOn``.
    """

    OP: ClassVar[int] = 100


@attrs.frozen(slots=True, kw_only=True)
class OpenGameSource(Request[GameSourceOpened]):
    """op 365 ``open_game_source``: Register as a game provider.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 335
    ``GameSourceOpened``.
    """

    OP: ClassVar[int] = 365
    source_name: str
    """The source's name (your domain suggested)."""
    description: str | None = None
    """Up to 512 characters."""


@attrs.frozen(slots=True, kw_only=True)
class CloseGameSource(Request[GameSourceClosed]):
    """op 366 ``close_game_source``: Close a source, its games and their pools.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 336
    ``GameSourceClosed``.
    """

    OP: ClassVar[int] = 366
    source_id: str | int
    """The game source."""


@attrs.frozen(slots=True, kw_only=True)
class ListGameSourcesIAmAdminOf(Request[GameSourcesIAmAdminOfList]):
    """op 611 ``list_game_sources_i_am_admin_of``: The game sources you administer.

    An idempotent read. Replies: 621 ``GameSourcesIAmAdminOfList``.
    """

    OP: ClassVar[int] = 611


@attrs.frozen(slots=True, kw_only=True)
class CreateAndOpenGame(Request[GameCreatedAndOpened]):
    """op 370 ``create_and_open_game``: Create a game and open it.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 340
    ``GameCreatedAndOpened``. Then pushed: 340 ``GameCreatedAndOpened``.
    """

    OP: ClassVar[int] = 370
    source_id: str | int
    """Your game source."""
    game_name: str
    """The name, e.g. "Argentina - Brazil"."""
    type: str | None = None
    """The game type, e.g. "football"."""
    actions: str | Sequence[str] | None = None
    """Actions (a comma-separated string or a list)."""
    targets: str | Sequence[str] | None = None
    """Targets, nested with ":" (a comma-separated string or a list)."""
    currency: str | None = None
    """The currency bets are made in."""
    open_at: int | None = None
    """When betting opens. Server default: now."""
    close_at: int | None = None
    """When the game closes itself (else close_game)."""
    live_start_at: int | None = None
    """Real-life start (informative). Server default: now."""
    live_finish_at: int | None = None
    """Real-life finish (informative). Server default: now."""
    hashtag: str | None = None
    """Social media hashtag (made from the name if left out)."""
    image_url: str | None = None
    """An image shown with the game."""


@attrs.frozen(slots=True, kw_only=True)
class CreateGame(Request[GameCreated]):
    """op 3701 ``create_game``: Create an upcoming game (open it with open_game).

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 3401
    ``GameCreated``. Then pushed: 3401 ``GameCreated``.
    """

    OP: ClassVar[int] = 3701
    source_id: str | int
    """Your game source."""
    game_name: str
    """The name, e.g. "Argentina - Brazil"."""
    type: str | None = None
    """The game type, e.g. "football"."""
    currency: str | None = None
    """The currency bets are made in."""
    open_at: int | None = None
    """When betting opens. Server default: now."""
    close_at: int | None = None
    """When the game closes itself (else close_game)."""
    live_start_at: int | None = None
    """Real-life start (informative). Server default: now."""
    live_finish_at: int | None = None
    """Real-life finish (informative). Server default: now."""
    hashtag: str | None = None
    """Social media hashtag (made from the name if left out)."""
    image_url: str | None = None
    """An image shown with the game."""


@attrs.frozen(slots=True, kw_only=True)
class OpenGame(Request[GameOpened]):
    """op 3702 ``open_game``: Open an upcoming game for betting.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 3402
    ``GameOpened``. Then pushed: 3402 ``GameOpened``.
    """

    OP: ClassVar[int] = 3702
    game_id: str | int
    """The game."""
    actions: str | Sequence[str] | None = None
    """Actions (a comma-separated string or a list)."""
    targets: str | Sequence[str] | None = None
    """Targets, nested with ":" (a comma-separated string or a list)."""


@attrs.frozen(slots=True, kw_only=True)
class BecomeAnAdminForGame(Request[BecomeAnAdminForGameSuccess | BecomeAnAdminForGameFail]):
    """op 616 ``become_an_admin_for_game``: Ask for game admin rights (640 granted, 645 refused).

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 640
    ``BecomeAnAdminForGameSuccess``, 645 ``BecomeAnAdminForGameFail``.
    """

    OP: ClassVar[int] = 616
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class AppointAdminForGameByUsername(Request[GameAdminAppointed]):
    """op 617 ``appoint_admin_for_game_by_username``: Make a user admin of a game.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 617
    ``GameAdminAppointed``. Then pushed: 640 ``BecomeAnAdminForGameSuccess``.
    """

    OP: ClassVar[int] = 617
    game_id: str | int
    """The game."""
    username: str
    """Who becomes admin."""


@attrs.frozen(slots=True, kw_only=True)
class GetGameDetails(Request[GameDetails]):
    """op 372 ``get_game_details``: A game's full details.

    An idempotent read. Replies: 342 ``GameDetails``.
    """

    OP: ClassVar[int] = 372
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class UpdateGameDetails(Request[GameDetailsUpdated]):
    """op 373 ``update_game_details``: Add actions or targets, change the image.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 343
    ``GameDetailsUpdated``. Then pushed: 342 ``GameDetails``.
    """

    OP: ClassVar[int] = 373
    game_id: str | int
    """The game."""
    actions: str | Sequence[str] | None = None
    """Actions (a comma-separated string or a list)."""
    targets: str | Sequence[str] | None = None
    """Targets, nested with ":" (a comma-separated string or a list)."""
    image_url: str | None = None
    """A new image."""


@attrs.frozen(slots=True, kw_only=True)
class JoinGame(Request[GameJoined]):
    """op 363 ``join_game``: Subscribe to a game's pushes.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 333
    ``GameJoined``. Then pushed: 470 ``UserJoinedGame``.
    """

    OP: ClassVar[int] = 363
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class LeaveGame(Request[GameLeft]):
    """op 364 ``leave_game``: Unsubscribe from a game.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 334
    ``GameLeft``. Then pushed: 480 ``UserLeftGame``.
    """

    OP: ClassVar[int] = 364
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class CloseGame(Request[GameClosed | BettingInPoolBlocked]):
    """op 375 ``close_game``.

    Close a game: resolves automatic pools, blocks manual ones. Answered by 341 once no
    manual (binary) pool is left unresolved: the game is closed. Otherwise by one 368 per
    pending manual pool and no 341: the game stays open; resolve those pools, then send
    close_game again. The call returns the first 368 (its `pool_id` is one pending pool;
    the others follow as pushes). Moves money: never sent twice; ``OutcomeUnknown`` if its
    reply is lost. Replies: 341 ``GameClosed``, 368 ``BettingInPoolBlocked``. Then pushed:
    341 ``GameClosed``, 362 ``BetPoolResolved``, 368 ``BettingInPoolBlocked``.
    """

    OP: ClassVar[int] = 375
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class ListGamesForSource(Request[GamesListForSource]):
    """op 380 ``list_games_for_source``: A source's active games.

    An idempotent read. Replies: 345 ``GamesListForSource``.
    """

    OP: ClassVar[int] = 380
    source_id: str | int
    """The game source."""


@attrs.frozen(slots=True, kw_only=True)
class ListUpcomingGamesForSource(Request[UpcomingGamesListForSource]):
    """op 3811 ``list_upcoming_games_for_source``: A source's upcoming games.

    An idempotent read. Replies: 3461 ``UpcomingGamesListForSource``.
    """

    OP: ClassVar[int] = 3811
    source_id: str | int
    """The game source."""


@attrs.frozen(slots=True, kw_only=True)
class ListGamesIAmAdminOf(Request[GamesIAmAdminOfList]):
    """op 610 ``list_games_i_am_admin_of``: The games you administer.

    An idempotent read. Replies: 620 ``GamesIAmAdminOfList``.
    """

    OP: ClassVar[int] = 610


@attrs.frozen(slots=True, kw_only=True)
class CreateAndOpenBettingPool(Request[BettingPoolCreated]):
    """op 385 ``create_and_open_betting_pool``: Create and open a betting pool.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 350
    ``BettingPoolCreated``. Then pushed: 352 ``NewBettingPool``.
    """

    OP: ClassVar[int] = 385
    game_id: str | int
    """The game."""
    description: str | None = None
    """The question shown to users."""
    action_id: str | None = None
    """The action bets are about (binary pools: optional)."""
    targets: str | Sequence[str] | None = None
    """Targets of one level (a comma-separated string or a list)."""
    type: int | None = None
    """1..4: parimutuel/binary, event/time based. Server default: 1."""
    start_at: int | None = None
    """When the pool opens. Server default: now."""
    finish_at: int | None = None
    """When it closes (resolves to none)."""
    stop_accepting_bets_at: int | None = None
    """When it stops taking bets."""
    recreate_on_end: bool | None = None
    """Recreate it once resolved. Server default: False."""
    is_blocked: bool | None = None
    """Open it with betting blocked. Server default: False."""
    is_hot: bool | None = None
    """Mark it hot from the start. Server default: False."""


@attrs.frozen(slots=True, kw_only=True)
class RegisterGameEvent(Request[NewGameEvent]):
    """op 395 ``register_game_event``: Register an event: resolves the pools it decides.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 366
    ``NewGameEvent``. Then pushed: 366 ``NewGameEvent``, 362 ``BetPoolResolved``, 815
    ``BalanceUpdate``.
    """

    OP: ClassVar[int] = 395
    game_id: str | int
    """The game."""
    action_id: str
    """An action of the game (e.g. goal)."""
    target_id: str
    """The target (of the deepest level) that acted."""
    happened_at: int | None = None
    """When it happened. Server default: now."""
    description: str | None = None
    """A description."""


@attrs.frozen(slots=True, kw_only=True)
class ListAllBettingPoolsForGame(Request[AllBettingPoolsForGame]):
    """op 387 ``list_all_betting_pools_for_game``: Every open pool of a game.

    An idempotent read. Replies: 3535 ``AllBettingPoolsForGame``.
    """

    OP: ClassVar[int] = 387
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class ListMyOpenBettingPoolsForGame(Request[YouOpenPoolsListForGame]):
    """op 388 ``list_my_open_betting_pools_for_game``: Open pools you have not bet in.

    An idempotent read. Replies: 353 ``YouOpenPoolsListForGame``.
    """

    OP: ClassVar[int] = 388
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class ListMyRunningPoolsForGame(Request[YourRunningPoolsForGame]):
    """op 389 ``list_my_running_pools_for_game``: Open pools you have bet in.

    An idempotent read. Replies: 354 ``YourRunningPoolsForGame``.
    """

    OP: ClassVar[int] = 389
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class ListMyResolvedPoolsForGame(Request[YourResolvedPoolsForGame]):
    """op 390 ``list_my_resolved_pools_for_game``: Resolved pools you had bet in.

    An idempotent read. Replies: 355 ``YourResolvedPoolsForGame``.
    """

    OP: ClassVar[int] = 390
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class PlaceBetInBettingPool(Request[BetPlacedInBettingPool]):
    """op 392 ``place_bet_in_betting_pool``: Place a bet.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 356
    ``BetPlacedInBettingPool``. Then pushed: 361 ``BettingPoolBetsDistributionUpdate``, 815
    ``BalanceUpdate``.
    """

    OP: ClassVar[int] = 392
    pool_id: str | int
    """The betting pool."""
    target: str
    """The target you back."""
    amount: Decimal | int | str
    """The stake."""


@attrs.frozen(slots=True, kw_only=True)
class GetBettingPoolBetsDistribution(Request[NewBettingPoolBetsDistribution]):
    """op 393 ``get_betting_pool_bets_distribution``: A pool's bets per target.

    An idempotent read. Replies: 360 ``NewBettingPoolBetsDistribution``.
    """

    OP: ClassVar[int] = 393
    pool_id: str | int
    """The betting pool."""


@attrs.frozen(slots=True, kw_only=True)
class BlockBettingInBettingPool(Request[BettingInPoolBlocked]):
    """op 397 ``block_betting_in_betting_pool``: Block bets in a pool.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 368
    ``BettingInPoolBlocked``. Then pushed: 368 ``BettingInPoolBlocked``.
    """

    OP: ClassVar[int] = 397
    pool_id: str | int
    """The betting pool."""
    block_at: int | None = None
    """When to block. Server default: now."""


@attrs.frozen(slots=True, kw_only=True)
class BlockBettingForGameAndAction(Request[BettingForGameAndActionBlocked]):
    """op 3975 ``block_betting_for_game_and_action``: Block bets in an action's pools.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 370
    ``BettingForGameAndActionBlocked``. Then pushed: 370
    ``BettingForGameAndActionBlocked``, 368 ``BettingInPoolBlocked``.
    """

    OP: ClassVar[int] = 3975
    game_id: str | int
    """The game."""
    action_id: str
    """An action of the game (e.g. goal)."""
    block_at: int | None = None
    """When to block. Server default: now."""


@attrs.frozen(slots=True, kw_only=True)
class AllowBettingInBettingPool(Request[BettingInPoolAllowed]):
    """op 398 ``allow_betting_in_betting_pool``: Allow bets in a blocked pool.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 369
    ``BettingInPoolAllowed``. Then pushed: 369 ``BettingInPoolAllowed``.
    """

    OP: ClassVar[int] = 398
    pool_id: str | int
    """The betting pool."""
    allow_at: int | None = None
    """When to allow. Server default: now."""


@attrs.frozen(slots=True, kw_only=True)
class AllowBettingForGameAndAction(Request[BettingForGameAndActionAllowed]):
    """op 3985 ``allow_betting_for_game_and_action``: Allow bets in an action's pools.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 371
    ``BettingForGameAndActionAllowed``. Then pushed: 371
    ``BettingForGameAndActionAllowed``, 369 ``BettingInPoolAllowed``.
    """

    OP: ClassVar[int] = 3985
    game_id: str | int
    """The game."""
    action_id: str
    """An action of the game (e.g. goal)."""
    allow_at: int | None = None
    """When to allow. Server default: now."""


@attrs.frozen(slots=True, kw_only=True)
class SuggestHotBettingPool(Request[HotBettingPoolSuggested]):
    """op 396 ``suggest_hot_betting_pool``: Mark a pool hot.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 367
    ``HotBettingPoolSuggested``. Then pushed: 367 ``HotBettingPoolSuggested``.
    """

    OP: ClassVar[int] = 396
    pool_id: str | int
    """The betting pool."""
    likely_to_happen_at: int | None = None
    """When to announce it. Server default: now."""


@attrs.frozen(slots=True, kw_only=True)
class SuggestHotBettingPoolForActionAndTarget(Request[HotBettingPoolSuggested]):
    """op 3961 ``suggest_hot_betting_pool_for_action_and_target``: Mark every matching pool hot.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 367
    ``HotBettingPoolSuggested``. Then pushed: 367 ``HotBettingPoolSuggested``.
    """

    OP: ClassVar[int] = 3961
    game_id: str | int
    """The game."""
    action_id: str
    """An action of the game (e.g. goal)."""
    target_id: str
    """The target."""
    likely_to_happen_at: int | None = None
    """When to announce it. Server default: now."""


@attrs.frozen(slots=True, kw_only=True)
class GetLeaderboard(Request[Leaderboard]):
    """op 450 ``get_leaderboard``: The global leaderboard.

    An idempotent read. Replies: 450 ``Leaderboard``.
    """

    OP: ClassVar[int] = 450
    game_type: str | None = None
    """The game type. Server default: "INSTAMRKT"."""
    currency: str | None = None
    """The currency. Server default: "DON"."""
    start: int | None = None
    """The first rank shown. Server default: 0."""
    end: int | None = None
    """The last rank shown. Server default: 1000000."""


@attrs.frozen(slots=True, kw_only=True)
class GetUserTailoredLeaderboard(Request[Leaderboard]):
    """op 4505 ``get_user_tailored_leaderboard``: Top, you and your neighbours, bottom.

    An idempotent read. Replies: 4505 ``LeaderboardTailored``, 450 ``Leaderboard``.
    """

    OP: ClassVar[int] = 4505
    game_type: str | None = None
    """The game type. Server default: "INSTAMRKT"."""
    currency: str | None = None
    """The currency. Server default: "DON"."""
    top_count: int | None = None
    """Users from the top. Server default: 3."""
    surrounding_count: int | None = None
    """Users around you. Server default: 1."""
    bottom_count: int | None = None
    """Users from the bottom. Server default: 3."""


@attrs.frozen(slots=True, kw_only=True)
class GetFriendsLeaderboard(Request[Leaderboard]):
    """op 452 ``get_friends_leaderboard``: Your friends' leaderboard.

    An idempotent read. Replies: 450 ``Leaderboard``, 452 ``Leaderboard``.
    """

    OP: ClassVar[int] = 452
    game_type: str | None = None
    """The game type. Server default: "INSTAMRKT"."""
    currency: str | None = None
    """The currency. Server default: "DON"."""
    start: int | None = None
    """The first rank shown. Server default: 0."""
    end: int | None = None
    """The last rank shown. Server default: 1000000."""


@attrs.frozen(slots=True, kw_only=True)
class GetLeaderboardForGame(Request[LeaderboardForGame]):
    """op 451 ``get_leaderboard_for_game``: A game's leaderboard.

    An idempotent read. Replies: 451 ``LeaderboardForGame``.
    """

    OP: ClassVar[int] = 451
    game_id: str | int
    """The game."""
    start: int | None = None
    """The first rank shown. Server default: 0."""
    end: int | None = None
    """The last rank shown. Server default: 1000000."""


@attrs.frozen(slots=True, kw_only=True)
class GetUserTailoredLeaderboardForGame(Request[Leaderboard]):
    """op 4515 ``get_user_tailored_leaderboard_for_game``.

    A game's leaderboard around you. The docs give this call op 4505 (and the name
    get_user_tailored_leaderboard), the global call's op; we send 4515, the number of its
    documented reply code, so the two stay apart. An idempotent read. Replies: 4515
    ``LeaderboardForGameTailored``, 450 ``Leaderboard``.
    """

    OP: ClassVar[int] = 4515
    game_id: str | int
    """The game."""
    game_type: str | None = None
    """The game type. Server default: "INSTAMRKT"."""
    currency: str | None = None
    """The currency. Server default: "DON"."""
    top_count: int | None = None
    """Users from the top. Server default: 3."""
    surrounding_count: int | None = None
    """Users around you. Server default: 1."""
    bottom_count: int | None = None
    """Users from the bottom. Server default: 3."""


@attrs.frozen(slots=True, kw_only=True)
class GetFriendsLeaderboardForGame(Request[Leaderboard]):
    """op 453 ``get_friends_leaderboard_for_game``: A game's leaderboard of your friends.

    An idempotent read. Replies: 451 ``LeaderboardForGame``, 453 ``Leaderboard``.
    """

    OP: ClassVar[int] = 453
    game_id: str | int
    """The game."""
    start: int | None = None
    """The first rank shown. Server default: 0."""
    end: int | None = None
    """The last rank shown. Server default: 1000000."""


@attrs.frozen(slots=True, kw_only=True)
class GetLeaderboardForGameSource(Request[LeaderboardForGameSource]):
    """op 4516 ``get_leaderboard_for_game_source``: A game source's leaderboard.

    An idempotent read. Replies: 4516 ``LeaderboardForGameSource``.
    """

    OP: ClassVar[int] = 4516
    source_id: str | int
    """The game source."""
    start: int | None = None
    """The first rank shown. Server default: 0."""
    end: int | None = None
    """The last rank shown. Server default: 1000000."""


@attrs.frozen(slots=True, kw_only=True)
class GetUserTailoredLeaderboardForGameSource(Request[LeaderboardForGameSourceTailored]):
    """op 4517 ``get_user_tailored_leaderboard_for_game_source``.

    A game source's leaderboard around you. An idempotent read. Replies: 4517
    ``LeaderboardForGameSourceTailored``.
    """

    OP: ClassVar[int] = 4517
    source_id: str | int
    """The game source."""
    top_count: int | None = None
    """Users from the top. Server default: 3."""
    surrounding_count: int | None = None
    """Users around you. Server default: 1."""
    bottom_count: int | None = None
    """Users from the bottom. Server default: 3."""


@attrs.frozen(slots=True, kw_only=True)
class GetFriendsLeaderboardForGameSource(Request[LeaderboardFriendsForGameSource]):
    """op 454 ``get_friends_leaderboard_for_game_source``.

    A game source's leaderboard of your friends. An idempotent read. Replies: 454
    ``LeaderboardFriendsForGameSource``.
    """

    OP: ClassVar[int] = 454
    source_id: str | int
    """The game source."""
    start: int | None = None
    """The first rank shown. Server default: 0."""
    end: int | None = None
    """The last rank shown. Server default: 1000000."""


@attrs.frozen(slots=True, kw_only=True)
class GetMyFriendsPredictionsForPool(Request[YourFriendsPredictionsForPool]):
    """op 460 ``get_my_friends_predictions_for_pool``: Your friends' bets in a pool.

    An idempotent read. Replies: 460 ``YourFriendsPredictionsForPool``.
    """

    OP: ClassVar[int] = 460
    pool_id: str | int
    """The betting pool."""
    is_resolved: bool | None = None
    """The pool is resolved. Server default: False."""


@attrs.frozen(slots=True, kw_only=True)
class GetMyFriendsPredictionsForGame(Request[YourFriendsPredictionsForGame]):
    """op 461 ``get_my_friends_predictions_for_game``: Your friends' bets in a game's pools.

    An idempotent read. Replies: 461 ``YourFriendsPredictionsForGame``.
    """

    OP: ClassVar[int] = 461
    game_id: str | int
    """The game."""


@attrs.frozen(slots=True, kw_only=True)
class GetMyCurrentBalance(Request[YourCurrentBalance]):
    """op 800 ``get_my_current_balance``: Current balance (available + exposure).

    An idempotent read. Replies: 800 ``YourCurrentBalance``.
    """

    OP: ClassVar[int] = 800
    currency: str | None = None
    """The currency. Server default: "DON"."""


@attrs.frozen(slots=True, kw_only=True)
class GetMyAvailableBalance(Request[YourAvailableBalance]):
    """op 810 ``get_my_available_balance``: What you can bet now.

    An idempotent read. Replies: 810 ``YourAvailableBalance``.
    """

    OP: ClassVar[int] = 810
    currency: str | None = None
    """The currency. Server default: "DON"."""


@attrs.frozen(slots=True, kw_only=True)
class GetMyExposure(Request[YourExposure]):
    """op 840 ``get_my_exposure``: Money in unresolved pools.

    An idempotent read. Replies: 840 ``YourExposure``.
    """

    OP: ClassVar[int] = 840
    currency: str | None = None
    """The currency. Server default: "DON"."""


@attrs.frozen(slots=True, kw_only=True)
class TextMessage(Request[NewTextMessage]):
    """op 900 ``text_message``: Send a chat message to games' subscribers.

    Moves money: never sent twice; ``OutcomeUnknown`` if its reply is lost. Replies: 901
    ``NewTextMessage``. Then pushed: 901 ``NewTextMessage``.
    """

    OP: ClassVar[int] = 900
    text: str
    """The message."""
    targets: str | int | Sequence[str | int] | None = None
    """A game id or a list (left out: every game you joined)."""


REQUESTS: Mapping[int, type[Request[Any]]]
MODELS: Mapping[int, type]
REQUESTS, MODELS = register(globals())
"""Op -> request class; res -> model (the common base for reply-and-push codes)."""
