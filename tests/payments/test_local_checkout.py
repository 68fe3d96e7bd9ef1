"""The local checkout (no STRIPE_SECRET_KEY): a page served by the gateway whose Pay and Cancel
send signed events through the same webhook handling as Stripe's."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from tests.helpers.engine import ManualClock
from tests.payments.conftest import eventually

if TYPE_CHECKING:
    from tests.helpers.catalog import MakeEvent
    from tests.payments.conftest import Buyer, OpenStack, Stack

HOLD_TTL_MS: Final = 600_000


def assert_page_headers(headers: Mapping[str, str]) -> None:
    """The local checkout's pages are development-only, but they send what the buyer's page
    sends: nothing inline runs, nothing frames them, nothing is sniffed."""
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self'" in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


async def local_checkout(stack: Stack, buyer: Buyer, hold_id: str) -> tuple[str, str]:
    """Check out; returns (session id, path of the local page)."""
    response = await stack.checkout(buyer, hold_id)
    body = await response.json()
    assert response.status == 201, body
    url = urlsplit(body["checkout_url"])
    assert f"{url.scheme}://{url.netloc}" == stack.settings.http.public_url
    assert url.path == f"/checkout/local/{body['session_id']}"
    return body["session_id"], url.path


async def test_paying_on_the_local_page_books_through_the_webhook(
    open_stack: OpenStack, make_event: MakeEvent
) -> None:
    stack = await open_stack(stripe=False)
    made = await make_event(seats=3, prices={"A": 4200})
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:2])
    session_id, path = await local_checkout(stack, buyer, hold_id)

    page = await stack.client.get(path)
    html = await page.text()
    assert page.status == 200
    assert page.content_type == "text/html"
    assert_page_headers(page.headers)
    assert "84.00 EUR" in html
    assert f'action="{path}/pay"' in html
    assert f'action="{path}/cancel"' in html

    paid = await stack.client.post(f"{path}/pay", allow_redirects=False)

    assert paid.status == 303
    back = urlsplit(paid.headers["Location"])
    landing = await stack.client.get(f"{back.path}?{back.query}", headers={"Accept": "text/html"})
    assert landing.status == 200
    assert landing.content_type == "text/html"
    assert_page_headers(landing.headers)
    assert paid.headers["Location"] == (
        f"{stack.settings.http.public_url}/api/v1/payments/success?session_id={session_id}"
    )
    assert await stack.hold_status(buyer, hold_id) == "booked"
    payment = await stack.payment(hold_id)
    assert (payment["status"], payment["provider"]) == ("paid", "local")
    async with stack.db.transaction() as conn:
        events = await conn.fetch_all("SELECT type, session_id FROM payment_events")
    assert events == [{"type": "checkout.session.completed", "session_id": session_id}]
    listed = await stack.client.get("/api/v1/bookings", headers=buyer.headers)
    [booking] = (await listed.json())["bookings"]
    assert booking["amount_minor"] == 8400
    # Where and when, in the event's own time zone (UTC for an event made without one).
    assert booking["event"]["venue"].startswith("Test Venue")
    assert booking["event"]["time_zone"] == "UTC"
    # A resubmitted form pays nothing twice; it shows where the checkout stands.
    again = await stack.client.post(f"{path}/pay", allow_redirects=False)
    assert again.status == 200
    assert_page_headers(again.headers)
    assert "<form" not in await again.text()
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 1


async def test_cancelling_on_the_local_page_releases_the_seats(
    open_stack: OpenStack, make_event: MakeEvent
) -> None:
    stack = await open_stack(stripe=False)
    made = await make_event(seats=2)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:2])
    session_id, path = await local_checkout(stack, buyer, hold_id)

    cancelled = await stack.client.post(f"{path}/cancel", allow_redirects=False)

    assert cancelled.status == 303
    assert cancelled.headers["Location"].endswith(
        f"/api/v1/payments/cancel?session_id={session_id}"
    )
    assert await stack.hold_status(buyer, hold_id) == "released"
    assert set((await stack.seat_statuses(made.event_id)).values()) == {"available"}
    assert (await stack.payment(hold_id))["status"] == "expired"
    landing = await stack.client.get(f"/api/v1/payments/cancel?session_id={session_id}")
    assert (await landing.json())["payment"] == {
        "session_id": session_id,
        "status": "expired",
        "amount_minor": 5000 * 2,
        "currency": "EUR",
        "booking_id": None,
    }


async def test_a_local_session_of_an_expired_hold_is_expired_by_the_outbox(
    open_stack: OpenStack, make_event: MakeEvent
) -> None:
    clock = ManualClock()
    stack = await open_stack(stripe=False, clock=clock)
    made = await make_event(seats=2)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:1])
    _, path = await local_checkout(stack, buyer, hold_id)

    clock.advance(HOLD_TTL_MS + 1)

    async def payment_expired() -> bool:
        return bool((await stack.payment(hold_id))["status"] == "expired")

    await eventually(payment_expired, what="the local session to expire")
    late = await stack.client.post(f"{path}/pay", allow_redirects=False)
    assert late.status == 200, "nothing to pay any more"
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 0


async def test_the_local_checkout_is_not_served_when_stripe_is_configured(
    open_stack: OpenStack, make_event: MakeEvent
) -> None:
    stack = await open_stack()
    made = await make_event(seats=1)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:1])
    session_id = await stack.open_checkout(buyer, hold_id)

    for method, path in (
        ("GET", f"/checkout/local/{session_id}"),
        ("POST", f"/checkout/local/{session_id}/pay"),
        ("POST", f"/checkout/local/{session_id}/cancel"),
    ):
        response = await stack.client.request(method, path, allow_redirects=False)
        assert response.status == 404, path
    assert await stack.hold_status(buyer, hold_id) == "checkout"


async def test_an_unknown_local_session_is_404(open_stack: OpenStack) -> None:
    stack = await open_stack(stripe=False)

    page = await stack.client.get("/checkout/local/cs_local_nope")
    pay = await stack.client.post("/checkout/local/cs_local_nope/pay")

    assert (page.status, pay.status) == (404, 404)


async def test_concurrent_local_checkouts_hand_out_one_session(
    open_stack: OpenStack, make_event: MakeEvent
) -> None:
    stack = await open_stack(stripe=False)
    made = await make_event(seats=1)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:1])

    responses = await asyncio.gather(*(stack.checkout(buyer, hold_id) for _ in range(3)))

    bodies = [await response.json() for response in responses]
    assert [response.status for response in responses] == [201] * 3, bodies
    assert len({body["session_id"] for body in bodies}) == 1
    assert (await stack.payment(hold_id))["session_id"] == bodies[0]["session_id"]


async def test_a_payment_the_engine_could_not_take_is_delivered_again_until_booked(
    open_stack: OpenStack, make_event: MakeEvent
) -> None:
    # As Stripe redelivers a webhook answered 503: the buyer whose Pay met the outage may walk
    # away, and the paid hold still becomes a booking once the engine is back.
    stack = await open_stack(stripe=False, ENGINE_DECISION_TIMEOUT_SECONDS="0.5")
    made = await make_event(seats=2, prices={"A": 1500})
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:1])
    _, path = await local_checkout(stack, buyer, hold_id)
    await stack.engine.stop()

    refused = await stack.client.post(f"{path}/pay", allow_redirects=False)

    assert refused.status == 503, await refused.text()
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 0
    await stack.engine.start()

    async def booked() -> bool:
        return await stack.count("SELECT COUNT(*) FROM bookings") == 1

    await eventually(booked, what="the redelivered payment to be booked")
    assert await stack.hold_status(buyer, hold_id) == "booked"
    assert (await stack.payment(hold_id))["status"] == "paid"
