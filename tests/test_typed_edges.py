"""Where the typed API met the docs only partly: each case against the core or the reference
server over real websockets, with the library's blocking client."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from core_helpers import make

from instamrkt_proto import OutcomeUnknown, Push, Response, ServerError, api
from instamrkt_proto.codec import ClientRequest
from instamrkt_proto.codes import ECHO_ALSO, ECHO_KEYS, REPLIES
from instamrkt_proto.testing import Reply, decode_model
from instamrkt_transports import blocking

ROOT = Path(__file__).resolve().parent.parent
ADMIN, ALICE = "1", "2"
USERS = {ADMIN: "admin-key", ALICE: "alice-key"}
TIMEOUT = 10.0


@pytest.fixture
def server(instamrkt_server_factory: Any) -> Any:
    return instamrkt_server_factory(USERS)


def connect(server: Any, user: str) -> Any:
    return blocking.connect(server.url, server.credentials_for(user), timeout=TIMEOUT)


def next_push(client: Any, kind: type, limit: float = 5.0) -> Any:
    while True:
        event = client.next_event(timeout=limit)
        assert event is not None, f"no {kind.__name__} within {limit} s"
        if isinstance(event, kind) and isinstance(event, Push):
            return event


def pushes_now(client: Any, limit: float = 0.5) -> list[Any]:
    """Every event that arrives within ``limit`` seconds of quiet."""
    got = []
    while (event := client.next_event(timeout=limit)) is not None:
        got.append(event)
    return got


def make_game(admin: Any, **times: Any) -> str:
    source = admin.call(api.OpenGameSource(source_name="example.org")).source_id
    return str(admin.call(api.CreateAndOpenGame(
        source_id=source, game_name="Argentina - Brazil", actions="goal", targets="arg,bra",
        **times)).game_id)


def binary(admin: Any, game: str, description: str) -> str:
    return str(admin.call(api.CreateAndOpenBettingPool(
        game_id=game, type=3, action_id="goal", targets="bra",
        description=description)).pool_id)


# -- 9. the game's personalised leaderboard takes game_type and currency ----------------------


def test_game_tailored_leaderboard_takes_game_type_and_currency(server: Any) -> None:
    request = api.GetUserTailoredLeaderboardForGame(game_id="g-1", game_type="INSTAMRKT",
                                                    currency="DON", top_count=2)
    assert request.params() == {"game_id": "g-1", "game_type": "INSTAMRKT",
                                "currency": "DON", "top_count": 2}
    with connect(server, ADMIN) as admin:
        game = make_game(admin)
        board = admin.call(api.GetUserTailoredLeaderboardForGame(
            game_id=game, game_type="INSTAMRKT", currency="DON"))
        assert isinstance(board, api.Leaderboard)
        by_name = admin.request("get_user_tailored_leaderboard_for_game", game_id=game,
                                game_type="INSTAMRKT", currency="DON")
        assert by_name.res in (4515, 450)
    entry = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert "The docs give this call op 4505" in entry  # the op-number choice, documented


# -- 10. 385 takes is_blocked and is_hot, and the market honours them -------------------------


def test_a_pool_can_open_blocked_and_hot(server: Any) -> None:
    with connect(server, ADMIN) as admin, connect(server, ALICE) as alice:
        game = make_game(admin)
        alice.call(api.JoinGame(game_id=game))
        pool = admin.call(api.CreateAndOpenBettingPool(
            game_id=game, action_id="goal", targets="arg,bra", is_blocked=True, is_hot=True))
        new = next_push(alice, api.NewBettingPool)
        assert new.pool_id == pool.pool_id and new.is_blocked is True and new.is_hot is True
        with pytest.raises(ServerError, match="blocked"):
            alice.call(api.PlaceBetInBettingPool(pool_id=pool.pool_id, target="arg", amount=1))
        plain = admin.call(api.CreateAndOpenBettingPool(
            game_id=game, action_id="goal", targets="arg,bra"))
        new = next_push(alice, api.NewBettingPool)
        assert new.pool_id == plain.pool_id and new.is_blocked is False and new.is_hot is False


# -- 13. 352 carries the game's live_start_at ---------------------------------------------------


def test_new_betting_pool_carries_live_start_at(server: Any) -> None:
    with connect(server, ADMIN) as admin, connect(server, ALICE) as alice:
        game = make_game(admin, live_start_at=1_900_000_000_000)
        alice.call(api.JoinGame(game_id=game))
        admin.call(api.CreateAndOpenBettingPool(game_id=game, action_id="goal",
                                                targets="arg,bra"))
        assert next_push(alice, api.NewBettingPool).live_start_at == 1_900_000_000_000
    message = json.dumps({"res": 352, "pool_id": "p", "live_start_at": 1422006034}).encode()
    decoded = decode_model(message)
    assert isinstance(decoded, api.NewBettingPool)
    assert decoded.live_start_at == 1_422_006_034_000  # seconds read as seconds, as elsewhere


# -- 11. close_game with manual pools pending: a typed answer, not OutcomeUnknown --------------


def test_close_game_with_pending_manual_pools_answers_368_and_keeps_the_game(
        server: Any) -> None:
    with connect(server, ADMIN) as admin, connect(server, ALICE) as alice:
        game = make_game(admin)
        alice.call(api.JoinGame(game_id=game))
        auto = admin.call(api.CreateAndOpenBettingPool(
            game_id=game, action_id="goal", targets="arg,bra")).pool_id
        first, second = binary(admin, game, "Brazil scores?"), binary(admin, game, "Again?")
        pushes_now(alice)
        answer = admin.call(api.CloseGame(game_id=game), timeout=3.0)  # no OutcomeUnknown
        assert isinstance(answer, api.BettingInPoolBlocked) and isinstance(answer, Response)
        assert (answer.pool_id, answer.game_id) == (first, game)
        rest = [e for e in pushes_now(admin) if isinstance(e, api.BettingInPoolBlocked)]
        assert [e.pool_id for e in rest] == [second]  # one 368 per pending pool, in all
        seen = pushes_now(alice)
        assert {e.pool_id for e in seen if isinstance(e, api.BettingInPoolBlocked)} == {
            first, second}
        assert [e.pool_id for e in seen if isinstance(e, api.BetPoolResolved)] == [auto]
        assert not [e for e in seen if isinstance(e, api.GameClosed)]
        assert game in [g["game_id"] for g in admin.call(
            api.ListGamesForSource(source_id="source-1")).games]  # still open
        # resolve the manual pools by hand, then close again: 341
        admin.call(api.RegisterGameEvent(game_id=game, action_id="goal", target_id="bra"))
        closed = admin.call(api.CloseGame(game_id=game))
        assert isinstance(closed, api.GameClosed) and closed.game_id == game


def test_a_stray_368_is_not_taken_for_close_games_answer() -> None:
    def silent(request: ClientRequest) -> list[Reply]:
        return [] if request.op == 375 else [{"res": request.op}]

    h = make(peer=silent)
    h.connect()
    rid = h.request("close_game", game_id="g-1")
    for stray in ({"res": 368, "pool_id": "p-9", "blocked_at": 1},
                  {"res": 368, "pool_id": "p-9", "blocked_at": 1, "game_id": "g-2"}):
        (event,) = h.receive(stray)
        assert isinstance(event, Push)  # another game's pool, or no game said: a push
    (answer,) = h.receive({"res": 368, "pool_id": "p-1", "blocked_at": 1, "game_id": "g-1"})
    assert isinstance(answer, Response) and answer.request_id == rid
    assert ECHO_ALSO == {368: "game_id"} and REPLIES[375] == {341, 368}


# -- the calls that take a future time answer at once ----------------------------------------


def test_calls_with_a_future_time_are_answered_at_once(server: Any) -> None:
    with connect(server, ADMIN) as admin, connect(server, ALICE) as alice:
        game = make_game(admin)
        pool = admin.call(api.CreateAndOpenBettingPool(
            game_id=game, action_id="goal", targets="arg,bra")).pool_id
        later = server.server.market.now() + 3_600_000
        blocked = admin.call(api.BlockBettingInBettingPool(pool_id=pool, block_at=later),
                             timeout=3.0)
        assert isinstance(blocked, api.BettingInPoolBlocked) and blocked.blocked_at == later
        alice.call(api.PlaceBetInBettingPool(pool_id=pool, target="arg", amount=1))  # not yet
        allowed = admin.call(api.AllowBettingInBettingPool(pool_id=pool, allow_at=later + 1))
        assert isinstance(allowed, api.BettingInPoolAllowed) and allowed.allowed_at == later + 1
        hot = admin.call(api.SuggestHotBettingPool(pool_id=pool, likely_to_happen_at=later))
        assert isinstance(hot, api.HotBettingPoolSuggested) and hot.hot_since == later
        hot = admin.call(api.SuggestHotBettingPoolForActionAndTarget(
            game_id=game, action_id="goal", target_id="arg", likely_to_happen_at=later))
        assert hot.hot_since == later and hot.pool_id == pool


def test_a_silent_close_game_is_still_outcome_unknown() -> None:
    """The typed 368 answer does not hide a real loss: no reply at all stays unknown."""
    h = make(peer=lambda r: [] if r.op == 375 else [{"res": r.op}])
    h.connect()
    rid = h.request("close_game", game_id="g-1")
    events = h.advance(60.0)
    (failed,) = [e for e in events if getattr(e, "request_id", None) == rid]
    assert isinstance(failed.error, OutcomeUnknown)


# -- 12. echo keys: the docs say what the code does ---------------------------------------------


def test_protocol_docs_list_exactly_the_echo_keys() -> None:
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text[text.index("<!-- echo-keys -->"):text.index("<!-- /echo-keys -->")]
    listed = {int(res): key for key, codes in re.findall(r"- `(\w+)`: ([\d, ]+)", section)
              for res in codes.split(",")}
    assert listed == dict(ECHO_KEYS)
    assert "368 `game_id`" in text[text.index("<!-- /echo-keys -->"):]  # the second key


def test_readme_states_the_in_order_assumption() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sentence = readme[readme.index("never given to the wrong request"):][:600]
    assert "in order" in sentence and "450" in sentence


def test_create_game_replies_are_matched_by_source_id() -> None:
    def silent(request: ClientRequest) -> list[Reply]:
        return [] if request.op in (370, 3701) else [{"res": request.op}]

    h = make(peer=silent)
    h.connect()
    first = h.request("create_and_open_game", source_id="s-1", game_name="A - B")
    second = h.request("create_and_open_game", source_id="s-2", game_name="C - D")
    assert [r.op for r in h.sent].count(370) == 2  # told apart: both on the wire at once
    (answer,) = h.receive({"res": 340, "source_id": "s-2", "game_id": "g-2"})
    assert isinstance(answer, Response) and answer.request_id == second
    (stray,) = h.receive({"res": 340, "source_id": "s-3", "game_id": "g-3"})
    assert isinstance(stray, Push)  # another source's game, published: not our answer
    (answer,) = h.receive({"res": 340, "source_id": "s-1", "game_id": "g-1"})
    assert answer.request_id == first
    assert ECHO_KEYS[340] == ECHO_KEYS[3401] == "source_id"


def test_money_in_a_pending_pool_stays_exposed_until_resolved(server: Any) -> None:
    with connect(server, ADMIN) as admin, connect(server, ALICE) as alice:
        game = make_game(admin)
        pool = binary(admin, game, "Brazil scores?")
        alice.call(api.PlaceBetInBettingPool(pool_id=pool, target="yes", amount=Decimal(5)))
        admin.call(api.CloseGame(game_id=game))
        assert alice.call(api.GetMyExposure()).exposure == Decimal(5)
        with pytest.raises(ServerError, match="blocked"):
            alice.call(api.PlaceBetInBettingPool(pool_id=pool, target="no", amount=1))
