from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from domain.statuses import Role

if TYPE_CHECKING:
    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient

    from persistence import Database
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

VENUES = "/api/v1/admin/venues"
EVENTS = "/api/v1/admin/events"

LAYOUT: dict[str, Any] = {
    "name": "Hall",
    "categories": [{"code": "A", "name": "Front"}, {"code": "B", "name": "Back"}],
    "sections": [
        {"name": "Floor", "rows": [{"label": "1", "seats": 4, "category": "A"}]},
        {"name": "Balcony", "rows": 2, "seats": 3, "category": "B"},
    ],
}


def event_body(venue_id: int, **changes: Any) -> dict[str, Any]:
    return {
        "venue_id": venue_id,
        "name": "Spring Night",
        "starts_at": "2030-05-01T19:30:00+02:00",
        "sale_starts_at": "2030-03-01T10:00:00Z",
        "sale_ends_at": "2030-05-01T16:00:00Z",
        "currency": "EUR",
        "max_seats_per_buyer": 4,
        "prices": {"A": 9000, "B": 4000},
    } | changes


async def error_of(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """The error object of a response, checked against the one error shape."""
    assert response.status == status
    body = await response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"status", "code", "message"} <= set(error)
    assert (error["status"], error["code"]) == (status, code)
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


@pytest.fixture
async def admin(signup: Signup) -> dict[str, str]:
    return (await signup(role=Role.ADMIN)).headers


async def create_venue(client: Client, admin: dict[str, str]) -> dict[str, Any]:
    response = await client.post(VENUES, json=LAYOUT, headers=admin)
    assert response.status == 201
    venue: dict[str, Any] = (await response.json())["venue"]
    return venue


async def test_an_admin_creates_and_lists_venues(client: Client, admin: dict[str, str]) -> None:
    venue = await create_venue(client, admin)

    assert venue == {
        "id": venue["id"],
        "name": "Hall",
        "seats": 4 + 2 * 3,
        "categories": [{"code": "A", "name": "Front"}, {"code": "B", "name": "Back"}],
    }
    listed = await client.get(VENUES, headers=admin)
    assert listed.status == 200
    assert await listed.json() == {"venues": [venue]}


async def test_an_admin_creates_an_event_that_goes_on_the_public_list(
    client: Client, admin: dict[str, str]
) -> None:
    venue = await create_venue(client, admin)

    response = await client.post(EVENTS, json=event_body(venue["id"]), headers=admin)

    assert response.status == 201
    event = (await response.json())["event"]
    assert event == {
        "id": event["id"],
        "name": "Spring Night",
        "venue_id": venue["id"],
        "venue": "Hall",
        "starts_at": "2030-05-01T17:30:00+00:00",
        "sale_starts_at": "2030-03-01T10:00:00+00:00",
        "sale_ends_at": "2030-05-01T16:00:00+00:00",
        "time_zone": "UTC",  # none given
        "currency": "EUR",
        "max_seats_per_buyer": 4,
        "no_single_gaps": False,
        "waiting_room": None,
        "seats_total": 10,
        "seats_available": 10,
        "prices": [
            {"category": "A", "name": "Front", "amount_minor": 9000},
            {"category": "B", "name": "Back", "amount_minor": 4000},
        ],
    }
    public = await (await client.get("/api/v1/events")).json()
    assert [e["id"] for e in public["events"]] == [event["id"]]
    seats = await (await client.get(f"/api/v1/events/{event['id']}/seats")).json()
    assert len(seats["seats"]) == 10


async def test_an_event_keeps_its_time_zone(client: Client, admin: dict[str, str]) -> None:
    venue = await create_venue(client, admin)
    body = event_body(venue["id"], time_zone="America/New_York")

    created = await client.post(EVENTS, json=body, headers=admin)

    assert created.status == 201
    event = (await created.json())["event"]
    assert event["time_zone"] == "America/New_York"
    fetched = await (await client.get(f"/api/v1/events/{event['id']}")).json()
    assert fetched["event"]["time_zone"] == "America/New_York"


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "../../etc/passwd", "", "Europe/" + "x" * 60]
)
async def test_an_unknown_time_zone_is_422(
    client: Client, admin: dict[str, str], db: Database, zone: str
) -> None:
    venue = await create_venue(client, admin)

    response = await client.post(
        EVENTS, json=event_body(venue["id"], time_zone=zone), headers=admin
    )

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == "time_zone"
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM events") == 0


@pytest.mark.parametrize(("method", "path"), [("POST", VENUES), ("GET", VENUES), ("POST", EVENTS)])
async def test_admin_routes_need_a_token_then_the_admin_role(
    client: Client, signup: Signup, db: Database, method: str, path: str
) -> None:
    buyer = await signup()
    body = LAYOUT if path == VENUES else event_body(1)

    await error_of(await client.request(method, path, json=body), 401, "unauthorized")
    forbidden = await client.request(method, path, json=body, headers=buyer.headers)
    await error_of(forbidden, 403, "forbidden")
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM venues") == 0


async def test_a_bad_layout_is_422_naming_the_field(
    client: Client, admin: dict[str, str], db: Database
) -> None:
    layout = {**LAYOUT, "sections": [{"name": "Floor", "rows": 2, "seats": 3, "category": "Z"}]}

    response = await client.post(VENUES, json=layout, headers=admin)

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == "sections[0].category"
    assert "sections[0].category" in error["message"]
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM venues") == 0


async def test_a_body_that_is_not_json_is_rejected(client: Client, admin: dict[str, str]) -> None:
    malformed = await client.post(
        VENUES, data=b"{", headers={**admin, "Content-Type": "application/json"}
    )
    await error_of(malformed, 422, "malformed_json")
    as_text = await client.post(VENUES, data=b"{}", headers={**admin, "Content-Type": "text/plain"})
    await error_of(as_text, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "euro"}, "currency"),
        ({"sale_ends_at": "2030-03-01T10:00:00Z"}, "sale_ends_at"),
        ({"starts_at": "2030-05-01 19:30"}, "starts_at"),
        ({"max_seats_per_buyer": 51}, "max_seats_per_buyer"),
        ({"prices": {"A": 9000}}, "prices"),
        ({"prices": {"A": 9000, "B": -1}}, "prices.B"),
    ],
)
async def test_a_bad_event_is_422_naming_the_field(
    client: Client, admin: dict[str, str], db: Database, changes: dict[str, Any], field: str
) -> None:
    venue = await create_venue(client, admin)

    response = await client.post(EVENTS, json=event_body(venue["id"], **changes), headers=admin)

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == field
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM events") == 0


async def test_an_event_at_an_unknown_venue_is_404(client: Client, admin: dict[str, str]) -> None:
    response = await client.post(EVENTS, json=event_body(987654), headers=admin)

    error = await error_of(response, 404, "not_found")
    assert error["field"] == "venue_id"
