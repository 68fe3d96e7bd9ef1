"""`PATCH /api/v1/admin/events/{event_id}`: an organizer switches `no_single_gaps` on a live event,
over the full gateway app, real Redis and MariaDB, and an in-process engine; answers checked
against the OpenAPI document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from domain.statuses import Role
from gateway.openapi import openapi_document
from tests.gateway.test_holds_routes import error_of, held, post_hold
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

PATH = "/api/v1/admin/events/{event_id}"


def url(event_id: int | str) -> str:
    return f"/api/v1/admin/events/{event_id}"


async def stored_setting(db: Database, event_id: int) -> bool:
    async with db.transaction() as conn:
        return bool(
            await conn.fetch_value("SELECT no_single_gaps FROM events WHERE id = %s", (event_id,))
        )


async def test_an_organizer_switches_a_live_event_and_the_next_pick_obeys(
    client: Client, engine: RunningEngine, signup: Signup, db: Database, settings: Settings
) -> None:
    document = openapi_document(settings)
    event = await create_on_sale_event(db, layout=demo_layout(), prices=DEMO_PRICES)
    admin = (await signup(role=Role.ADMIN)).headers
    buyer = await signup()
    # On sale and loaded in the engine before the switch.
    await held(await post_hold(client, buyer.headers, event.event_id, event.seat_ids[5:7]))

    on = await client.patch(url(event.event_id), json={"no_single_gaps": True}, headers=admin)

    body = await assert_documented(document, "patch", PATH, on)
    assert on.status == 200
    assert body["event"]["id"] == event.event_id
    assert body["event"]["no_single_gaps"] is True
    public = await (await client.get(f"/api/v1/events/{event.event_id}")).json()
    assert public["event"] == body["event"]
    # Floor row 1, seats 2 and 3: seat 1 would be left alone at the row's end.
    refused = await post_hold(client, buyer.headers, event.event_id, event.seat_ids[1:3])
    assert (await error_of(refused, 409, "orphan_seat"))["seat_id"] == event.seat_ids[0]

    off = await client.patch(url(event.event_id), json={"no_single_gaps": False}, headers=admin)

    switched_off = await assert_documented(document, "patch", PATH, off)
    assert switched_off["event"]["no_single_gaps"] is False
    await held(await post_hold(client, buyer.headers, event.event_id, event.seat_ids[1:3]))
    assert await stored_setting(db, event.event_id) is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "no_single_gaps"),
        ({"no_single_gaps": "yes"}, "no_single_gaps"),
        ({"no_single_gaps": 1}, "no_single_gaps"),
        ({"no_single_gaps": None}, "no_single_gaps"),
        ({"no_single_gaps": True, "name": "Renamed"}, "name"),
        ({"max_seats_per_buyer": 2}, "max_seats_per_buyer"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field_and_change_nothing(
    client: Client, signup: Signup, db: Database, body: dict[str, Any], field: str
) -> None:
    """No engine runs: anything let through would come back as a 503."""
    event = await create_on_sale_event(db, seats=4)
    admin = (await signup(role=Role.ADMIN)).headers

    response = await client.patch(url(event.event_id), json=body, headers=admin)

    assert (await error_of(response, 422, "invalid_input"))["field"] == field
    assert await stored_setting(db, event.event_id) is False


async def test_a_body_that_is_not_an_object_is_422(
    client: Client, signup: Signup, db: Database
) -> None:
    event = await create_on_sale_event(db, seats=4)
    admin = (await signup(role=Role.ADMIN)).headers

    response = await client.patch(url(event.event_id), json=[True], headers=admin)

    await error_of(response, 422, "invalid_input")


@pytest.mark.parametrize("event_id", ["987654", "0", "abc"])
async def test_an_unknown_event_is_404(
    client: Client, signup: Signup, db: Database, settings: Settings, event_id: str
) -> None:
    admin = (await signup(role=Role.ADMIN)).headers

    response = await client.patch(url(event_id), json={"no_single_gaps": True}, headers=admin)

    await assert_documented(openapi_document(settings), "patch", PATH, response)
    await error_of(response, 404, "not_found")


async def test_it_needs_a_token_then_the_admin_role(
    client: Client, signup: Signup, db: Database
) -> None:
    event = await create_on_sale_event(db, seats=4)
    buyer = await signup()
    body = {"no_single_gaps": True}

    await error_of(await client.patch(url(event.event_id), json=body), 401, "unauthorized")
    forbidden = await client.patch(url(event.event_id), json=body, headers=buyer.headers)
    await error_of(forbidden, 403, "forbidden")
    assert await stored_setting(db, event.event_id) is False
