"""The holds API over the full gateway app, real Redis and MariaDB, and an in-process engine.

The gateway only asks; the engine decides. Tests that need a decision request the `engine`
fixture. Tests of what the gateway must refuse on its own (bad bodies, bad keys) run with no
engine at all, so anything the gateway wrongly let through would come back as a 503, not pass.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import pytest

from domain.statuses import Role
from gateway.app import make_app
from gateway.appkeys import TOKENS
from tests.helpers.engine import RunningEngine
from tests.helpers.redis_modes import ON_BOTH_REDIS
from tests.helpers.users import bearer

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient
    from pytest_aiohttp import AiohttpClient

    from config import Settings
    from engine.redis_client import RedisClient
    from persistence import Database
    from tests.helpers.catalog import MadeEvent, MakeEvent
    from tests.helpers.engine import Buyers
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

HOLD_FIELDS: Final = {"id", "event_id", "seat_ids", "status", "expires_at", "created_at"}
DB_CONVERGE_SECONDS: Final = 15.0


def holds_url(event_id: int | str) -> str:
    return f"/api/v1/events/{event_id}/holds"


def hold_url(hold_id: str) -> str:
    return f"/api/v1/holds/{hold_id}"


async def error_of(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """The error object of a response, checked against the one error shape."""
    body = await response.json(content_type=None)
    assert response.status == status, body
    assert response.content_type == "application/json"
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"status", "code", "message"} <= set(error)
    assert (error["status"], error["code"]) == (status, code), error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


async def post_hold(
    client: Client,
    headers: dict[str, str],
    event_id: int,
    seat_ids: list[int] | tuple[int, ...],
    *,
    key: str | None = None,
) -> ClientResponse:
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    return await client.post(
        holds_url(event_id), json={"seat_ids": list(seat_ids)}, headers=headers
    )


async def held(response: ClientResponse) -> dict[str, Any]:
    """The hold of a 201 answer, checked against the hold shape."""
    body = await response.json()
    assert response.status == 201, body
    assert set(body) == {"hold"}
    hold: dict[str, Any] = body["hold"]
    assert set(hold) == HOLD_FIELDS
    assert hold["status"] == "held"
    return hold


async def hold_seats(
    client: Client, headers: dict[str, str], event_id: int, seat_ids: list[int] | tuple[int, ...]
) -> dict[str, Any]:
    hold = await held(await post_hold(client, headers, event_id, seat_ids))
    assert hold["seat_ids"] == list(seat_ids)
    return hold


async def seat_statuses(client: Client, event_id: int) -> dict[int, str]:
    """Live statuses from the public seat map."""
    response = await client.get(f"/api/v1/events/{event_id}/seats")
    body = await response.json()
    assert response.status == 200, body
    return {seat["id"]: seat["status"] for seat in body["seats"]}


def token_headers(client: Client, user_id: int) -> dict[str, str]:
    """A buyer's bearer headers, issued by the app itself (no sign-up round trip)."""
    return bearer(client.app[TOKENS].issue(user_id, Role.BUYER).token)


# -- holding -------------------------------------------------------------------------------


@ON_BOTH_REDIS
async def test_a_hold_takes_the_seats(
    client: Client,
    engine: RunningEngine,
    signup: Signup,
    make_event: MakeEvent,
    settings: Settings,
) -> None:
    event = await make_event(seats=6)
    buyer = await signup()
    wanted = [event.seat_ids[3], event.seat_ids[1]]
    before = datetime.now(UTC)

    hold = await hold_seats(client, buyer.headers, event.event_id, wanted)

    assert hold["event_id"] == event.event_id
    assert hold["id"].startswith(f"h{event.event_id}_")
    created = datetime.fromisoformat(hold["created_at"])
    expires = datetime.fromisoformat(hold["expires_at"])
    assert created.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC) + timedelta(seconds=1)
    assert expires - created == timedelta(seconds=settings.engine.hold_ttl_seconds)
    statuses = await seat_statuses(client, event.event_id)
    assert statuses == {seat: "held" if seat in wanted else "available" for seat in event.seat_ids}


async def test_one_taken_seat_fails_the_whole_hold(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=8)
    first, second, third = await signup(), await signup(), await signup()
    s = event.seat_ids
    await hold_seats(client, first.headers, event.event_id, [s[2], s[5]])

    response = await post_hold(client, second.headers, event.event_id, [s[1], s[2], s[3], s[5]])

    error = await error_of(response, 409, "seats_unavailable")
    assert sorted(error["seat_ids"]) == sorted([s[2], s[5]])
    statuses = await seat_statuses(client, event.event_id)
    assert statuses[s[1]] == statuses[s[3]] == "available"
    assert statuses[s[2]] == statuses[s[5]] == "held"
    # Nothing of the failed request was kept: someone else can have the free ones.
    await hold_seats(client, third.headers, event.event_id, [s[1], s[3]])


async def test_contended_seats_each_go_to_exactly_one_buyer(
    client: Client,
    engine: RunningEngine,
    buyers: Buyers,
    make_event: MakeEvent,
    db: Database,
) -> None:
    """100 buyers send 5 requests each, all at once; every seat is wanted by 10 of them."""
    event = await make_event(seats=50, max_seats_per_buyer=50)
    user_ids = await buyers(100)
    headers = {user_id: token_headers(client, user_id) for user_id in user_ids}
    seats = event.seat_ids
    # Buyer b asks for seats b, b+10, ..., b+40 (mod 50): 10 distinct buyers per seat.
    asks = [
        (user_id, seats[(index + 10 * round_) % len(seats)])
        for index, user_id in enumerate(user_ids)
        for round_ in range(5)
    ]
    random.Random(20240601).shuffle(asks)
    assert Counter(seat for _, seat in set(asks)) == dict.fromkeys(seats, 10)

    async def ask(user_id: int, seat_id: int) -> tuple[int, int, int, dict[str, Any]]:
        response = await post_hold(client, headers[user_id], event.event_id, [seat_id])
        return user_id, seat_id, response.status, await response.json(content_type=None)

    answers = await asyncio.gather(*(ask(user_id, seat_id) for user_id, seat_id in asks))

    assert Counter(status for _, _, status, _ in answers) == {201: 50, 409: 450}
    winners: dict[int, tuple[int, str]] = {}
    for user_id, seat_id, status, body in answers:
        if status == 201:
            assert body["hold"]["seat_ids"] == [seat_id]
            assert body["hold"]["status"] == "held"
            assert seat_id not in winners, f"seat {seat_id} was won twice"
            winners[seat_id] = (user_id, body["hold"]["id"])
        else:
            assert body["error"]["code"] == "seats_unavailable", body
            assert body["error"]["seat_ids"] == [seat_id]
    assert set(winners) == set(seats)
    assert await seat_statuses(client, event.event_id) == dict.fromkeys(seats, "held")

    # The write-behind catches up: MariaDB must agree, seat by seat and hold by hold.
    expected = Stored(
        seats={seat: ("held", hold_id, user_id) for seat, (user_id, hold_id) in winners.items()},
        holds={(hold_id, user_id, "held", seat) for seat, (user_id, hold_id) in winners.items()},
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DB_CONVERGE_SECONDS
    while (found := await stored(db, event.event_id)) != expected:
        assert loop.time() < deadline, (
            f"MariaDB did not converge in {DB_CONVERGE_SECONDS}s: {found.differences(expected)}"
        )
        await asyncio.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Stored:
    """An event's seats (status, hold id, holder) and hold rows as MariaDB has them."""

    seats: dict[int, tuple[str, str | None, int | None]]
    holds: set[tuple[str, int, str, int]]  # hold id, user id, status, seat id

    def differences(self, expected: Stored) -> str:
        seats = sorted(s for s in expected.seats if self.seats.get(s) != expected.seats[s])
        return (
            f"seats differ: {seats}; holds missing: {sorted(expected.holds - self.holds)[:5]};"
            f" holds unexpected: {sorted(self.holds - expected.holds)[:5]}"
        )


async def stored(db: Database, event_id: int) -> Stored:
    async with db.transaction() as conn:
        seat_rows = await conn.fetch_all(
            "SELECT id, status, hold_id, holder_id FROM event_seats WHERE event_id = %s",
            (event_id,),
        )
        hold_rows = await conn.fetch_all(
            "SELECT h.id, h.user_id, h.status, hs.event_seat_id FROM holds h"
            " JOIN hold_seats hs ON hs.hold_id = h.id WHERE h.event_id = %s",
            (event_id,),
        )
    return Stored(
        seats={
            int(row["id"]): (
                str(row["status"]),
                None if row["hold_id"] is None else str(row["hold_id"]),
                None if row["holder_id"] is None else int(row["holder_id"]),
            )
            for row in seat_rows
        },
        holds={
            (str(row["id"]), int(row["user_id"]), str(row["status"]), int(row["event_seat_id"]))
            for row in hold_rows
        },
    )


# -- idempotency ---------------------------------------------------------------------------


@ON_BOTH_REDIS
async def test_a_retried_key_answers_with_the_first_hold(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=6, max_seats_per_buyer=5)
    buyer = await signup()
    wanted = list(event.seat_ids[:2])

    first = await held(await post_hold(client, buyer.headers, event.event_id, wanted, key="k-1"))
    again = await held(await post_hold(client, buyer.headers, event.event_id, wanted, key="k-1"))

    assert again == first
    # Only one hold exists: the buyer's count toward the cap is 2 seats, not 4.
    over = await post_hold(client, buyer.headers, event.event_id, event.seat_ids[2:])
    error = await error_of(over, 409, "limit_exceeded")
    assert error["held_or_booked"] == 2


async def test_concurrent_requests_with_one_key_make_one_hold(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=6, max_seats_per_buyer=5)
    buyer = await signup()
    wanted = list(event.seat_ids[:2])

    responses = await asyncio.gather(
        *(post_hold(client, buyer.headers, event.event_id, wanted, key="rush") for _ in range(5))
    )

    holds = [await held(response) for response in responses]
    assert len({hold["id"] for hold in holds}) == 1
    assert all(hold == holds[0] for hold in holds)
    over = await post_hold(client, buyer.headers, event.event_id, event.seat_ids[2:])
    error = await error_of(over, 409, "limit_exceeded")
    assert error["held_or_booked"] == 2


async def test_another_users_same_key_is_an_independent_attempt(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=4)
    alice, bob, carol = await signup(), await signup(), await signup()
    s = event.seat_ids

    alices = await held(await post_hold(client, alice.headers, event.event_id, [s[0]], key="k"))
    bobs = await held(await post_hold(client, bob.headers, event.event_id, [s[1]], key="k"))
    carols = await post_hold(client, carol.headers, event.event_id, [s[0]], key="k")

    assert bobs["id"] != alices["id"]
    assert bobs["seat_ids"] == [s[1]]
    error = await error_of(carols, 409, "seats_unavailable")
    assert error["seat_ids"] == [s[0]]


async def test_a_key_at_the_length_limit_is_accepted(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=2)
    buyer = await signup()

    hold = await held(
        await post_hold(client, buyer.headers, event.event_id, [event.seat_ids[0]], key="k" * 255)
    )

    assert hold["seat_ids"] == [event.seat_ids[0]]


@pytest.mark.parametrize(
    "key",
    ["k" * 256, "tab\there", ""],
    ids=["too-long", "tab", "empty"],
)
async def test_a_bad_idempotency_key_is_rejected(
    client: Client, signup: Signup, make_event: MakeEvent, key: str
) -> None:
    event = await make_event(seats=2)
    buyer = await signup()

    response = await post_hold(client, buyer.headers, event.event_id, [event.seat_ids[0]], key=key)

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == "Idempotency-Key"


# -- the per-buyer cap ---------------------------------------------------------------------


async def test_the_per_buyer_cap_counts_every_hold_until_released(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=10, max_seats_per_buyer=4)
    buyer = await signup()
    s = event.seat_ids
    three = await hold_seats(client, buyer.headers, event.event_id, s[0:3])

    two = await post_hold(client, buyer.headers, event.event_id, s[3:5])
    error = await error_of(two, 409, "limit_exceeded")
    assert (error["limit"], error["held_or_booked"]) == (4, 3)
    assert (await seat_statuses(client, event.event_id))[s[3]] == "available"

    await hold_seats(client, buyer.headers, event.event_id, [s[5]])  # exactly at the cap
    await error_of(
        await post_hold(client, buyer.headers, event.event_id, [s[6]]), 409, "limit_exceeded"
    )

    released = await client.delete(hold_url(three["id"]), headers=buyer.headers)
    assert released.status == 204
    await hold_seats(client, buyer.headers, event.event_id, s[3:5])


# -- validation ----------------------------------------------------------------------------

BAD_SEAT_IDS: Final[dict[str, Any]] = {
    "empty": [],
    "strings": ["1"],
    "floats": [1.5],
    "null-item": [None],
    "booleans": [True],
    "zero": [0],
    "negative": [-3],
    "too-big": [2**63],
    "too-many": list(range(1, 52)),
    "not-a-list": 7,
    "a-string": "1,2",
    "null": None,
    "an-object": {"1": 1},
}


@pytest.mark.parametrize("seat_ids", BAD_SEAT_IDS.values(), ids=BAD_SEAT_IDS.keys())
async def test_bad_seat_ids_are_refused_by_the_gateway(
    client: Client, signup: Signup, make_event: MakeEvent, seat_ids: Any
) -> None:
    event = await make_event(seats=2)
    buyer = await signup()

    response = await client.post(
        holds_url(event.event_id), json={"seat_ids": seat_ids}, headers=buyer.headers
    )

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == "seat_ids"


async def test_a_seat_named_twice_is_refused(
    client: Client, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=2)
    buyer = await signup()
    seat = event.seat_ids[0]

    response = await post_hold(
        client, buyer.headers, event.event_id, [seat, event.seat_ids[1], seat]
    )

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == "seat_ids"


async def test_fifty_seats_is_not_too_many(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=50, max_seats_per_buyer=50)
    buyer = await signup()

    hold = await held(await post_hold(client, buyer.headers, event.event_id, event.seat_ids))

    assert sorted(hold["seat_ids"]) == sorted(event.seat_ids)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{}", "application/json", 422, "invalid_input"),
        (b'{"seats": [1]}', "application/json", 422, "invalid_input"),
        (b"[1, 2]", "application/json", 422, "invalid_input"),
        (b'"seat"', "application/json", 422, "invalid_input"),
        (b"null", "application/json", 422, "invalid_input"),
        (b'{"seat_ids": [1', "application/json", 422, "malformed_json"),
        (b"", "application/json", 422, "malformed_json"),
        (b'{"seat_ids": [1]}', "text/plain", 415, "unsupported_media_type"),
        (b"seat_ids=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
    ids=[
        "missing",
        "misnamed",
        "array-body",
        "string-body",
        "null-body",
        "truncated-json",
        "no-body",
        "text-plain",
        "form",
    ],
)
async def test_bad_bodies_are_refused(
    client: Client,
    signup: Signup,
    make_event: MakeEvent,
    body: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    event = await make_event(seats=2)
    buyer = await signup()

    response = await client.post(
        holds_url(event.event_id),
        data=body,
        headers={**buyer.headers, "Content-Type": content_type},
    )

    await error_of(response, status, code)


async def test_an_unknown_event_is_404(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=2)
    buyer = await signup()

    response = await post_hold(client, buyer.headers, event.event_id + 1000, [event.seat_ids[0]])

    await error_of(response, 404, "not_found")


@pytest.mark.parametrize("event_id", ["abc", "0", "-1", "1" * 19])
async def test_a_malformed_event_id_is_404(client: Client, signup: Signup, event_id: str) -> None:
    buyer = await signup()

    response = await client.post(holds_url(event_id), json={"seat_ids": [1]}, headers=buyer.headers)

    await error_of(response, 404, "not_found")


async def test_seats_of_another_event_are_invalid(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event, other = await make_event(seats=3), await make_event(seats=3)
    buyer = await signup()
    mixed = [event.seat_ids[0], other.seat_ids[1], other.seat_ids[2]]

    response = await post_hold(client, buyer.headers, event.event_id, mixed)

    error = await error_of(response, 422, "invalid_input")
    assert sorted(error["seat_ids"]) == sorted(other.seat_ids[1:])
    assert (await seat_statuses(client, event.event_id))[event.seat_ids[0]] == "available"


@pytest.mark.parametrize("when", ["not-yet", "over"])
async def test_no_hold_outside_the_sale_window(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent, when: str
) -> None:
    now = datetime.now(UTC)
    event: MadeEvent
    if when == "not-yet":
        event = await make_event(seats=2, sale_starts_at=now + timedelta(hours=1))
    else:
        event = await make_event(
            seats=2, sale_starts_at=now - timedelta(days=2), sale_ends_at=now - timedelta(hours=1)
        )
    buyer = await signup()

    response = await post_hold(client, buyer.headers, event.event_id, [event.seat_ids[0]])

    await error_of(response, 409, "sale_not_open")
    assert (await seat_statuses(client, event.event_id))[event.seat_ids[0]] == "available"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["none", "garbage", "basic"],
)
async def test_holding_needs_a_token(
    client: Client, make_event: MakeEvent, headers: dict[str, str]
) -> None:
    event = await make_event(seats=2)

    response = await post_hold(client, headers, event.event_id, [event.seat_ids[0]])

    await error_of(response, 401, "unauthorized")


# -- reading and releasing -----------------------------------------------------------------


async def test_a_hold_is_visible_to_its_holder_only(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=3)
    holder, stranger = await signup(), await signup()
    hold = await hold_seats(client, holder.headers, event.event_id, event.seat_ids[:2])

    mine = await client.get(hold_url(hold["id"]), headers=holder.headers)
    theirs = await client.get(hold_url(hold["id"]), headers=stranger.headers)
    anonymous = await client.get(hold_url(hold["id"]))

    assert mine.status == 200
    assert await mine.json() == {"hold": hold}
    missing = await error_of(theirs, 404, "not_found")
    await error_of(anonymous, 401, "unauthorized")
    # A stranger learns nothing the id of a hold that does not exist would not tell them.
    unknown = await client.get(hold_url(f"h{event.event_id}_{'0' * 32}"), headers=stranger.headers)
    assert (await error_of(unknown, 404, "not_found"))["message"] == missing["message"]


@pytest.mark.parametrize(
    "hold_id",
    ["nope", "h1", "h1_", "h1_xyz", f"h1_{'A' * 32}", f"h{'9' * 19}_{'0' * 32}", "1"],
)
async def test_a_malformed_hold_id_is_404(client: Client, signup: Signup, hold_id: str) -> None:
    buyer = await signup()

    for method in (client.get, client.delete):
        await error_of(await method(hold_url(hold_id), headers=buyer.headers), 404, "not_found")


@ON_BOTH_REDIS
async def test_releasing_a_hold_frees_its_seats(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=3)
    holder, stranger, next_buyer = await signup(), await signup(), await signup()
    wanted = list(event.seat_ids[:2])
    hold = await hold_seats(client, holder.headers, event.event_id, wanted)

    refused = await client.delete(hold_url(hold["id"]), headers=stranger.headers)
    await error_of(refused, 404, "not_found")
    still = await client.get(hold_url(hold["id"]), headers=holder.headers)
    assert (await still.json())["hold"]["status"] == "held"

    first = await client.delete(hold_url(hold["id"]), headers=holder.headers)
    second = await client.delete(hold_url(hold["id"]), headers=holder.headers)

    assert (first.status, second.status) == (204, 204)
    assert await first.read() == b""
    after = await client.get(hold_url(hold["id"]), headers=holder.headers)
    assert after.status == 200
    assert (await after.json())["hold"] == {**hold, "status": "released"}
    await error_of(
        await client.delete(hold_url(hold["id"]), headers=stranger.headers), 404, "not_found"
    )
    statuses = await seat_statuses(client, event.event_id)
    assert statuses[wanted[0]] == statuses[wanted[1]] == "available"
    await hold_seats(client, next_buyer.headers, event.event_id, wanted)


# -- the engine is down --------------------------------------------------------------------


async def test_no_engine_answers_503_with_retry_after(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
) -> None:
    settings = make_settings(ENGINE_DECISION_TIMEOUT_SECONDS="0.5")
    client = await aiohttp_client(make_app(settings))
    event = await make_event(seats=2)
    headers = token_headers(client, 1)

    response = await post_hold(client, headers, event.event_id, [event.seat_ids[0]])

    await error_of(response, 503, "engine_unavailable")
    assert response.headers["Retry-After"] == "1"


async def test_a_timed_out_request_is_safe_to_retry_with_its_key(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    buyers: Buyers,
    make_event: MakeEvent,
) -> None:
    """The 503 says "retry with the same Idempotency-Key": the first request stays queued and is
    decided once the engine is back, and the retry is answered with that same decision."""
    settings = make_settings(ENGINE_DECISION_TIMEOUT_SECONDS="0.5")
    client = await aiohttp_client(make_app(settings))
    event = await make_event(seats=4, max_seats_per_buyer=2)
    [user_id] = await buyers(1)
    headers = token_headers(client, user_id)
    seat = event.seat_ids[0]
    timed_out = await post_hold(client, headers, event.event_id, [seat], key="retry-me")
    await error_of(timed_out, 503, "engine_unavailable")

    running = RunningEngine(settings, db)
    await running.start()
    try:
        retried = await held(
            await post_hold(client, headers, event.event_id, [seat], key="retry-me")
        )
        again = await held(await post_hold(client, headers, event.event_id, [seat], key="retry-me"))
        over = await post_hold(client, headers, event.event_id, event.seat_ids[1:3])
    finally:
        await running.stop()

    assert retried == again
    assert retried["seat_ids"] == [seat]
    assert (await error_of(over, 409, "limit_exceeded"))["held_or_booked"] == 1


async def test_an_unreachable_redis_answers_503_with_retry_after(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    make_event: MakeEvent,
) -> None:
    settings = make_settings(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    client = await aiohttp_client(make_app(settings))
    event = await make_event(seats=2)

    response = await post_hold(
        client, token_headers(client, 1), event.event_id, [event.seat_ids[0]]
    )

    await error_of(response, 503, "engine_unavailable")
    assert response.headers["Retry-After"] == "1"
