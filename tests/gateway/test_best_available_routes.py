"""`best_available` holds and `orphan_seat` over the full gateway app, real Redis and MariaDB,
and an in-process engine; answers checked against the OpenAPI document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from domain.statuses import Role
from gateway.openapi import openapi_document
from tests.gateway.test_holds_routes import error_of, held, holds_url, post_hold
from tests.gateway.test_openapi import assert_documented
from tests.helpers.catalog import DEMO_PRICES, create_on_sale_event, demo_layout
from tests.helpers.engine import RunningEngine

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from persistence import Database
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

HOLDS = "/api/v1/events/{id}/holds"


async def post_best(
    client: Client, headers: dict[str, str], event_id: int, best: Any, *, key: str | None = None
) -> Any:
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    return await client.post(holds_url(event_id), json={"best_available": best}, headers=headers)


async def test_best_available_holds_adjacent_seats_and_a_retry_gets_them_again(
    client: Client, engine: RunningEngine, signup: Signup, db: Database, settings: Settings
) -> None:
    document = openapi_document(settings)
    event = await create_on_sale_event(db, layout=demo_layout(), prices=DEMO_PRICES)
    buyer = await signup()
    best = {"count": 3, "categories": ["A"], "sections": ["Floor"]}

    first = await post_best(client, buyer.headers, event.event_id, best, key="best-1")
    body = await assert_documented(document, "post", HOLDS, first)
    again = await post_best(client, buyer.headers, event.event_id, best, key="best-1")

    hold = await held(first)
    assert (await held(again)) == hold
    # Floor's first rows are category A; the best three sit side by side in one of them.
    places = [event.seat_ids.index(seat_id) for seat_id in hold["seat_ids"]]
    assert places == list(range(places[0], places[0] + 3))
    assert body["hold"]["seat_ids"] == hold["seat_ids"]


async def test_nothing_together_is_a_409_the_page_can_show(
    client: Client, engine: RunningEngine, signup: Signup, db: Database, settings: Settings
) -> None:
    event = await create_on_sale_event(
        db, layout=demo_layout(), prices=DEMO_PRICES, max_seats_per_buyer=50
    )
    buyer = await signup()

    response = await post_best(
        client, buyer.headers, event.event_id, {"count": 25, "sections": ["Balcony"]}
    )

    await assert_documented(openapi_document(settings), "post", HOLDS, response)
    error = await error_of(response, 409, "seats_unavailable")
    assert error["message"] == "No 25 seats together left in Balcony"
    assert (error["reason"], error["count"]) == ("not_together", 25)


async def test_a_pick_that_strands_a_seat_is_refused_naming_it(
    client: Client, engine: RunningEngine, signup: Signup, db: Database, settings: Settings
) -> None:
    event = await create_on_sale_event(
        db, layout=demo_layout(), prices=DEMO_PRICES, no_single_gaps=True
    )
    buyer = await signup()
    # Floor row 1, seats 2 and 3: seat 1 would be left alone at the row's end.
    response = await post_hold(client, buyer.headers, event.event_id, event.seat_ids[1:3])

    await assert_documented(openapi_document(settings), "post", HOLDS, response)
    error = await error_of(response, 409, "orphan_seat")
    assert (error["seat_id"], error["section"], error["row"], error["number"]) == (
        event.seat_ids[0],
        "Floor",
        "1",
        1,
    )
    await held(await post_hold(client, buyer.headers, event.event_id, event.seat_ids[0:2]))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "seat_ids"),
        ({"seat_ids": [1], "best_available": {"count": 1}}, "seat_ids"),
        ({"best_available": 3}, "best_available"),
        ({"best_available": {}}, "best_available.count"),
        ({"best_available": {"count": 0}}, "best_available.count"),
        ({"best_available": {"count": 51}}, "best_available.count"),
        ({"best_available": {"count": True}}, "best_available.count"),
        ({"best_available": {"count": 2, "categories": "A"}}, "best_available.categories"),
        ({"best_available": {"count": 2, "categories": [""]}}, "best_available.categories"),
        ({"best_available": {"count": 2, "sections": [7]}}, "best_available.sections"),
        ({"best_available": {"count": 2, "sections": ["x" * 33]}}, "best_available.sections"),
        ({"best_available": {"count": 2, "together": "no"}}, "best_available.together"),
    ],
)
async def test_bad_best_available_bodies_are_refused_by_the_gateway(
    client: Client, signup: Signup, db: Database, body: dict[str, Any], field: str
) -> None:
    """No engine runs: anything let through would come back as a 503."""
    event = await create_on_sale_event(db, seats=4)
    buyer = await signup()

    response = await client.post(holds_url(event.event_id), json=body, headers=buyer.headers)

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == field


async def test_an_unknown_section_is_named(
    client: Client, engine: RunningEngine, signup: Signup, db: Database
) -> None:
    event = await create_on_sale_event(db, layout=demo_layout(), prices=DEMO_PRICES)
    buyer = await signup()

    response = await post_best(
        client, buyer.headers, event.event_id, {"count": 2, "sections": ["Gallery"]}
    )

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == "best_available.sections"
    assert "Gallery" in error["message"]


async def test_an_organizer_creates_an_event_that_refuses_orphans(
    client: Client, signup: Signup, db: Database
) -> None:
    admin = (await signup(role=Role.ADMIN)).headers
    made = await create_on_sale_event(db, seats=4)
    spec = {
        "venue_id": made.venue_id,
        "name": "Strict Night",
        "starts_at": "2031-05-01T19:30:00Z",
        "sale_starts_at": "2031-03-01T10:00:00Z",
        "sale_ends_at": "2031-05-01T17:30:00Z",
        "currency": "EUR",
        "prices": {"A": 1000},
    }

    strict = await client.post(
        "/api/v1/admin/events", json={**spec, "no_single_gaps": True}, headers=admin
    )
    lenient = await client.post("/api/v1/admin/events", json=spec, headers=admin)
    wrong = await client.post(
        "/api/v1/admin/events", json={**spec, "no_single_gaps": "yes"}, headers=admin
    )

    assert (await strict.json())["event"]["no_single_gaps"] is True
    assert (await lenient.json())["event"]["no_single_gaps"] is False
    assert (await error_of(wrong, 422, "invalid_input"))["field"] == "no_single_gaps"
