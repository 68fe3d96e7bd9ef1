"""`GET /api/v1/events/{id}/my-seats`: the seats of one event that the caller has paid for, so the
buyer's page can mark them "yours" and count them against the per-buyer limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestClient

    from tests.helpers.catalog import MadeEvent, MakeEvent
    from tests.helpers.engine import RunningEngine
    from tests.helpers.users import SignedUp, Signup

    Client = TestClient[web.Request, web.Application]


async def hold(client: Client, buyer: SignedUp, event: MadeEvent, seat_ids: list[int]) -> str:
    response = await client.post(
        f"/api/v1/events/{event.event_id}/holds", json={"seat_ids": seat_ids}, headers=buyer.headers
    )
    assert response.status == 201, await response.text()
    hold_id: str = (await response.json())["hold"]["id"]
    return hold_id


async def buy(client: Client, buyer: SignedUp, event: MadeEvent, seat_ids: list[int]) -> None:
    """Hold, check out and pay on the local checkout, whose webhook books the seats."""
    hold_id = await hold(client, buyer, event, seat_ids)
    opened = await client.post(f"/api/v1/holds/{hold_id}/checkout", headers=buyer.headers)
    session = (await opened.json())["session_id"]
    paid = await client.post(f"/checkout/local/{session}/pay", allow_redirects=False)
    assert (opened.status, paid.status) == (201, 303)


async def my_seats(client: Client, buyer: SignedUp, event_id: int) -> object:
    response = await client.get(f"/api/v1/events/{event_id}/my-seats", headers=buyer.headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_buyer_sees_the_seats_of_every_booking_of_the_event_and_no_others(
    client: Client, signup: Signup, make_event: MakeEvent, engine: RunningEngine
) -> None:
    event, elsewhere = await make_event(seats=8), await make_event(seats=2)
    buyer, other = await signup(), await signup()
    await buy(client, buyer, event, [event.seat_ids[5], event.seat_ids[1]])
    await buy(client, buyer, event, [event.seat_ids[3]])
    await buy(client, buyer, elsewhere, [elsewhere.seat_ids[0]])
    await buy(client, other, event, [event.seat_ids[0]])
    await hold(client, buyer, event, [event.seat_ids[7]])  # held, not paid: not "yours" yet

    assert await my_seats(client, buyer, event.event_id) == {
        "event_id": event.event_id,
        "booked_seat_ids": [event.seat_ids[1], event.seat_ids[3], event.seat_ids[5]],
    }
    assert await my_seats(client, other, event.event_id) == {
        "event_id": event.event_id,
        "booked_seat_ids": [event.seat_ids[0]],
    }


async def test_a_buyer_with_no_booking_gets_an_empty_list(
    client: Client, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=2)

    assert await my_seats(client, await signup(), event.event_id) == {
        "event_id": event.event_id,
        "booked_seat_ids": [],
    }


async def test_no_such_event_is_a_404_and_no_token_a_401(
    client: Client, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=2)
    buyer = await signup()

    missing = await client.get(
        f"/api/v1/events/{event.event_id + 1}/my-seats", headers=buyer.headers
    )
    malformed = await client.get("/api/v1/events/0/my-seats", headers=buyer.headers)
    anonymous = await client.get(f"/api/v1/events/{event.event_id}/my-seats")

    assert (missing.status, malformed.status, anonymous.status) == (404, 404, 401)
    assert (await missing.json())["error"]["code"] == "not_found"
    assert (await anonymous.json())["error"]["code"] == "unauthorized"
