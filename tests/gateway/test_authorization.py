"""Who may touch what: a buyer reaches only their own holds and bookings, and no admin route.

Another buyer's hold answers exactly like a missing one (404), so a hold id cannot even be
confirmed to exist; hold ids carry 128 random bits, so they cannot be guessed either.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING, Any, Final

from domain.statuses import Role
from gateway.openapi import openapi_document

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from persistence import Database
    from tests.helpers.catalog import MadeEvent, MakeEvent
    from tests.helpers.engine import RunningEngine
    from tests.helpers.users import SignedUp, Signup

    Client = TestClient[web.Request, web.Application]

VENUES: Final = "/api/v1/admin/venues"
HOLD_ID: Final = re.compile(r"h(?P<event>[0-9]+)_(?P<random>[0-9a-f]{32})")


async def hold_seats(client: Client, buyer: SignedUp, event: MadeEvent, seat: int) -> str:
    response = await client.post(
        f"/api/v1/events/{event.event_id}/holds",
        json={"seat_ids": [event.seat_ids[seat]]},
        headers=buyer.headers,
    )
    assert response.status == 201, await response.text()
    hold_id: str = (await response.json())["hold"]["id"]
    return hold_id


async def not_found(response: Any) -> bool:
    body = await response.json()
    return bool(response.status == 404 and body["error"]["code"] == "not_found")


async def test_a_buyer_cannot_read_release_or_check_out_anothers_hold(
    client: Client, signup: Signup, make_event: MakeEvent, engine: RunningEngine
) -> None:
    event = await make_event(seats=2)
    owner = await signup()
    intruder = await signup()
    hold_id = await hold_seats(client, owner, event, 0)
    url = f"/api/v1/holds/{hold_id}"

    read = await client.get(url, headers=intruder.headers)
    released = await client.delete(url, headers=intruder.headers)
    checkout = await client.post(f"{url}/checkout", headers=intruder.headers)
    missing = await client.get(f"/api/v1/holds/h{event.event_id}_{'0' * 32}", headers=owner.headers)

    assert [await not_found(r) for r in (read, released, checkout, missing)] == [True] * 4
    # Word for word what a missing hold gets, so a 404 does not confirm that the id exists.
    assert await read.json() == await missing.json()
    # And nothing happened to the hold: it is still the owner's, still held, never paid for.
    shown = await client.get(url, headers=owner.headers)
    assert shown.status == 200
    assert (await shown.json())["hold"]["status"] == "held"
    bookings = await client.get("/api/v1/bookings", headers=owner.headers)
    assert (await bookings.json())["bookings"] == []


async def test_a_buyer_cannot_see_anothers_bookings(
    client: Client, signup: Signup, make_event: MakeEvent, engine: RunningEngine
) -> None:
    event = await make_event(seats=2)
    owner = await signup()
    other = await signup()
    hold_id = await hold_seats(client, owner, event, 0)
    opened = await client.post(f"/api/v1/holds/{hold_id}/checkout", headers=owner.headers)
    session = (await opened.json())["session_id"]
    paid = await client.post(f"/checkout/local/{session}/pay", allow_redirects=False)
    assert (opened.status, paid.status) == (201, 303)

    mine = await (await client.get("/api/v1/bookings", headers=owner.headers)).json()
    theirs = await (await client.get("/api/v1/bookings", headers=other.headers)).json()
    # A booked hold is no more visible to others than a held one.
    booked_hold = await client.get(f"/api/v1/holds/{hold_id}", headers=other.headers)

    assert len(mine["bookings"]) == 1
    assert theirs == {"bookings": []}
    assert await not_found(booked_hold)


async def test_hold_ids_name_their_event_and_128_random_bits(
    client: Client, signup: Signup, make_event: MakeEvent, engine: RunningEngine
) -> None:
    event = await make_event(seats=4)
    buyer = await signup()

    ids = [await hold_seats(client, buyer, event, seat) for seat in range(3)]

    matches = [HOLD_ID.fullmatch(hold_id) for hold_id in ids]
    assert all(matches), ids
    assert {match["event"] for match in matches if match} == {str(event.event_id)}
    randoms = [match["random"] for match in matches if match]
    assert len(set(randoms)) == 3
    # Not a counter or a timestamp: consecutive ids share no long common prefix.
    assert all(a[:8] != b[:8] for a, b in itertools.pairwise(randoms))


async def test_every_admin_route_refuses_a_buyer_with_403(
    client: Client, settings: Settings, signup: Signup
) -> None:
    buyer = await signup()
    admin = await signup(role=Role.ADMIN)
    # Path parameters are given a well-formed id: the role is checked before the id is looked up.
    admin_routes = [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, item in openapi_document(settings)["paths"].items()
        for method, operation in item.items()
        if "admin" in operation.get("tags", [])
    ]
    assert len(admin_routes) >= 3

    for method, path in admin_routes:
        refused = await client.request(method, path, headers=buyer.headers, json={})
        body = await refused.json()
        assert (refused.status, body["error"]["code"]) == (403, "forbidden"), (method, path)
        # The same request from an admin passes the role check (and fails later, or succeeds).
        allowed = await client.request(method, path, headers=admin.headers, json={})
        assert allowed.status != 403, (method, path)


async def test_an_admin_demoted_since_their_token_was_issued_is_refused_at_once(
    client: Client, db: Database, signup: Signup
) -> None:
    admin = await signup(role=Role.ADMIN)
    assert (await client.get(VENUES, headers=admin.headers)).status == 200

    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET role = 'buyer' WHERE id = %s", (admin.user_id,))

    refused = await client.get(VENUES, headers=admin.headers)
    assert refused.status == 403, "the token still says admin; the database does not"
    assert (await refused.json())["error"]["code"] == "forbidden"
