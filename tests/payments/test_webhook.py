"""`POST /api/v1/payments/webhook`: only a verified, paid event books seats; every event counts
once; a buyer who paid ends with a booking or a refund."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import stripe

from tests.helpers.engine import ManualClock
from tests.helpers.redis_modes import ON_BOTH_REDIS
from tests.payments.conftest import WEBHOOK_SECRET, eventually

if TYPE_CHECKING:
    from tests.helpers.catalog import MadeEvent, MakeEvent
    from tests.helpers.fake_stripe import Event, FakeStripe
    from tests.payments.conftest import Buyer, OpenStack, Stack

HOLD_TTL_MS = 600_000  # the default HOLD_TTL_SECONDS


async def checked_out(stack: Stack, made: MadeEvent, seats: int = 2) -> tuple[Buyer, str, str]:
    """A buyer with a hold on the event's first seats, in checkout: (buyer, hold, session)."""
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:seats])
    return buyer, hold_id, await stack.open_checkout(buyer, hold_id)


def outcome(body: str) -> str:
    value: str = json.loads(body)["outcome"]
    return value


def variant(event: Event, **changes: Any) -> dict[str, Any]:
    """Another event about the same session (a new id), its session fields changed."""
    copy: dict[str, Any] = json.loads(json.dumps(event))
    copy["id"] = f"{event['id']}_{len(changes)}_{'_'.join(changes)}"
    copy["type"] = changes.pop("type", copy["type"])
    copy["data"]["object"].update(changes)
    return copy


@ON_BOTH_REDIS
async def test_a_paid_checkout_books_the_seats_once_and_lists_the_booking(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=4, prices={"A": 5000, "B": 2500})
    buyer, hold_id, session_id = await checked_out(stack, made, seats=3)
    paid = await fake_stripe.complete(session_id)

    status, body = await stack.deliver(paid)

    assert (status, outcome(body)) == (200, "booked")
    assert await stack.hold_status(buyer, hold_id) == "booked"
    statuses = await stack.seat_statuses(made.event_id)
    assert [statuses[seat] for seat in made.seat_ids] == ["booked"] * 3 + ["available"]
    payment = await stack.payment(hold_id)
    assert payment["status"] == "paid"
    assert payment["payment_intent_id"] == fake_stripe.session(session_id)["payment_intent"]
    listed = await stack.client.get("/api/v1/bookings", headers=buyer.headers)
    [booking] = (await listed.json())["bookings"]
    assert booking["event"]["id"] == made.event_id
    assert booking["event"]["name"] == "Test Night"
    assert [seat["id"] for seat in booking["seats"]] == list(made.seat_ids[:3])
    assert [seat["price"] for seat in booking["seats"]] == [5000, 5000, 2500]
    assert [seat["category"] for seat in booking["seats"]] == ["A", "A", "B"]
    assert (booking["amount_minor"], booking["currency"], booking["payment_status"]) == (
        12500,
        "EUR",
        "paid",
    )
    landing = await stack.client.get(f"/api/v1/payments/success?session_id={session_id}")
    state = (await landing.json())["payment"]
    assert (state["status"], state["booking_id"]) == ("paid", booking["id"])
    page = await stack.client.get(
        f"/api/v1/payments/success?session_id={session_id}", headers={"Accept": "text/html"}
    )
    assert page.content_type == "text/html"
    html = await page.text()
    assert f"<strong>{booking['id']}</strong>" in html
    # ...and sends the browser on to the buyer's page, which shows the booking.
    assert f'url=/#/payment/success?session_id={session_id}"' in html
    stranger = await stack.buyer()
    theirs = await stack.client.get("/api/v1/bookings", headers=stranger.headers)
    assert (await theirs.json())["bookings"] == []


async def test_a_duplicate_or_replayed_event_changes_nothing(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=4)
    _, _, session_id = await checked_out(stack, made)
    paid = await fake_stripe.complete(session_id)

    together = await asyncio.gather(stack.deliver(paid), stack.deliver(paid))
    later = await stack.deliver(paid)

    assert sorted(outcome(body) for _, body in together) == ["booked", "duplicate"]
    assert later[0] == 200
    assert outcome(later[1]) == "duplicate"
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 1
    assert await stack.count("SELECT COUNT(*) FROM booking_seats") == 2
    assert await stack.count("SELECT COUNT(*) FROM payment_events") == 1


async def test_a_forged_or_unsigned_event_is_refused_and_changes_nothing(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)
    paid = await fake_stripe.complete(session_id)
    url = str(stack.client.make_url("/api/v1/payments/webhook"))

    forged = await stack.deliver(paid, signature=f"t={int(time.time())},v1={'0' * 64}")
    wrong_secret = await fake_stripe.deliver(paid, url, secret="whsec_someone_else")
    unsigned = await stack.client.post("/api/v1/payments/webhook", data=json.dumps(paid))
    tampered = await stack.deliver(
        paid, signature=_signature_of(paid, WEBHOOK_SECRET, amount_total=1)
    )

    for status, body in (forged, wrong_secret, (unsigned.status, await unsigned.text())):
        assert status == 400, body
        assert json.loads(body)["error"]["code"] == "invalid_signature"
    assert tampered[0] == 400
    assert await stack.hold_status(buyer, hold_id) == "checkout"
    assert (await stack.payment(hold_id))["status"] == "open"
    assert await stack.count("SELECT COUNT(*) FROM payment_events") == 0


def _signature_of(event: Event, secret: str, **changes: Any) -> str:
    """A valid signature for a different body than the one that will be sent."""
    payload = json.dumps(variant(event, **changes), indent=2)
    header: str = stripe.WebhookSignature.generate_signature_header(payload, secret)
    return header


async def test_an_event_signed_more_than_five_minutes_ago_is_refused(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)
    paid = await fake_stripe.complete(session_id)

    stale = await stack.deliver(paid, timestamp=int(time.time()) - 301)
    recent = await stack.deliver(paid, timestamp=int(time.time()) - 250)

    assert stale[0] == 400
    assert json.loads(stale[1])["error"]["code"] == "invalid_signature"
    assert (recent[0], outcome(recent[1])) == (200, "booked")
    assert await stack.hold_status(buyer, hold_id) == "booked"


async def test_an_event_for_an_unknown_session_is_recorded_and_changes_nothing(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)
    paid = await fake_stripe.complete(session_id)
    stray = variant(paid, id="cs_test_not_ours")

    status, body = await stack.deliver(stray)
    ignored = await stack.deliver(variant(paid, type="payment_intent.created"))

    assert (status, outcome(body)) == (200, "recorded")
    assert (ignored[0], outcome(ignored[1])) == (200, "ignored")
    assert await stack.count("SELECT COUNT(*) FROM payment_events") == 1
    assert (await stack.payment(hold_id))["status"] == "open"
    assert await stack.hold_status(buyer, hold_id) == "checkout"


async def test_a_wrong_amount_is_refunded_not_booked(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)
    paid = await fake_stripe.complete(session_id)

    status, body = await stack.deliver(variant(paid, amount_total=1))

    assert (status, outcome(body)) == (200, "refunding")
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 0
    assert await stack.hold_status(buyer, hold_id) == "released"
    await eventually(lambda: stack.outbox_done("refund"), what="the refund")
    [refund] = fake_stripe.refunds
    assert refund["payment_intent"] == fake_stripe.session(session_id)["payment_intent"]
    assert (await stack.payment(hold_id))["status"] == "refunded"


async def test_paid_after_the_hold_expired_and_the_seats_were_resold_is_refunded(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    clock = ManualClock()
    stack = await open_stack(clock=clock)
    made = await make_event(seats=2)
    late, hold_id, session_id = await checked_out(stack, made)
    # The buyer pays just in time, but Stripe's event arrives after the hold has expired...
    paid = await fake_stripe.complete(session_id)
    clock.advance(HOLD_TTL_MS + 1)

    async def hold_expired() -> bool:
        return await stack.hold_status(late, hold_id) == "expired"

    await eventually(hold_expired, what="the hold to expire")
    # ...and someone else has held the seats.
    other = await stack.buyer()
    await stack.hold(other, made.event_id, made.seat_ids[:2])

    status, body = await stack.deliver(paid)

    assert (status, outcome(body)) == (200, "refunding")
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 0
    assert (await stack.payment(hold_id))["status"] == "refund_pending"
    await eventually(lambda: stack.outbox_done("refund"), what="the refund")
    [refund] = fake_stripe.refunds
    assert refund["payment_intent"] == fake_stripe.session(session_id)["payment_intent"]
    refund_calls = [call for call in fake_stripe.calls if call.path == "/v1/refunds"]
    assert {call.idempotency_key for call in refund_calls} == {
        f"refund-{(await stack.payment(hold_id))['id']}"
    }
    assert (await stack.payment(hold_id))["status"] == "refunded"
    assert set((await stack.seat_statuses(made.event_id)).values()) == {"held"}
    # The expired hold asked for its session to be expired too; it was complete already.
    await eventually(lambda: stack.outbox_done("expire_session"), what="the expiry job")
    assert fake_stripe.session(session_id)["status"] == "complete"


async def test_paid_after_the_hold_expired_with_the_seats_still_free_is_booked(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    clock = ManualClock()
    stack = await open_stack(clock=clock)
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)
    paid = await fake_stripe.complete(session_id)
    clock.advance(HOLD_TTL_MS + 1)

    async def hold_expired() -> bool:
        return await stack.hold_status(buyer, hold_id) == "expired"

    await eventually(hold_expired, what="the hold to expire")
    # Our own expiry's event arrives first (out of order); the payment still books.
    first = await stack.deliver(variant(paid, type="checkout.session.expired"))
    status, body = await stack.deliver(paid)

    assert (first[0], outcome(first[1])) == (200, "released")
    assert (status, outcome(body)) == (200, "booked")
    assert await stack.hold_status(buyer, hold_id) == "booked"
    assert (await stack.payment(hold_id))["status"] == "paid"
    assert set((await stack.seat_statuses(made.event_id)).values()) == {"booked"}


async def test_an_expired_event_after_payment_changes_nothing(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)
    paid = await fake_stripe.complete(session_id)
    await stack.deliver(paid)

    status, body = await stack.deliver(variant(paid, type="checkout.session.expired"))

    assert (status, outcome(body)) == (200, "recorded")
    assert (await stack.payment(hold_id))["status"] == "paid"
    assert await stack.hold_status(buyer, hold_id) == "booked"


async def test_checkout_session_expired_releases_the_seats(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)

    status, body = await stack.deliver(await fake_stripe.expire_event(session_id))

    assert (status, outcome(body)) == (200, "released")
    assert await stack.hold_status(buyer, hold_id) == "released"
    assert set((await stack.seat_statuses(made.event_id)).values()) == {"available"}
    assert (await stack.payment(hold_id))["status"] == "expired"
    again = await stack.checkout(buyer, hold_id)
    assert again.status == 409


async def test_a_delayed_payment_books_when_it_succeeds(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)

    completed = await stack.deliver(await fake_stripe.complete(session_id, paid=False))
    assert (completed[0], outcome(completed[1])) == (200, "recorded")
    assert await stack.hold_status(buyer, hold_id) == "checkout"
    succeeded = await stack.deliver(await fake_stripe.async_payment_succeeded(session_id))

    assert (succeeded[0], outcome(succeeded[1])) == (200, "booked")
    assert await stack.hold_status(buyer, hold_id) == "booked"


async def test_a_failed_delayed_payment_releases_the_seats(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)
    await stack.deliver(await fake_stripe.complete(session_id, paid=False))

    status, body = await stack.deliver(await fake_stripe.async_payment_failed(session_id))

    assert (status, outcome(body)) == (200, "released")
    assert await stack.hold_status(buyer, hold_id) == "released"
    assert set((await stack.seat_statuses(made.event_id)).values()) == {"available"}
    assert (await stack.payment(hold_id))["status"] == "failed"
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 0


async def test_a_seat_another_shard_already_sold_is_refunded_not_a_500(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    # Processes that disagreed on ENGINE_SHARDS once ran two actors for one event: each sold the
    # same seat. The first buyer's booking is in MariaDB when the second buyer's payment lands.
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer, hold_id, session_id = await checked_out(stack, made)
    first = await stack.buyer()
    first_booking = await _book_elsewhere(stack, first, made, made.seat_ids[0])
    paid = await fake_stripe.complete(session_id)

    status, body = await stack.deliver(paid)
    again = await stack.deliver(paid)

    assert status == 200, body
    assert outcome(body) == "refunding"
    assert (again[0], outcome(again[1])) == (200, "duplicate")
    # The second buyer's booking rolled back whole; the first buyer's is untouched.
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 1
    async with stack.db.transaction() as conn:
        seats = await conn.fetch_all("SELECT booking_id, event_seat_id FROM booking_seats")
    assert seats == [{"booking_id": first_booking, "event_seat_id": made.seat_ids[0]}]
    assert (await stack.payment(hold_id))["status"] == "refund_pending"
    await eventually(lambda: stack.outbox_done("refund"), what="the refund")
    [refund] = fake_stripe.refunds
    assert refund["payment_intent"] == fake_stripe.session(session_id)["payment_intent"]
    assert (await stack.payment(hold_id))["status"] == "refunded"
    listed = await stack.client.get("/api/v1/bookings", headers=first.headers)
    assert [b["id"] for b in (await listed.json())["bookings"]] == [first_booking]
    assert (await (await stack.client.get("/api/v1/bookings", headers=buyer.headers)).json())[
        "bookings"
    ] == []


async def _book_elsewhere(stack: Stack, buyer: Buyer, made: MadeEvent, seat_id: int) -> int:
    """A paid booking of `seat_id` written as the other shard's webhook wrote it."""
    async with stack.db.transaction() as conn:
        payment_id = await conn.insert(
            "INSERT INTO payments (hold_id, user_id, event_id, provider, session_id,"
            " amount_minor, currency, status, expires_at)"
            " VALUES (%s, %s, %s, 'stripe', 'cs_other_shard', 5000, 'EUR', 'paid', NOW())",
            (f"h{made.event_id}_othershard", buyer.user_id, made.event_id),
        )
        booking_id = await conn.insert(
            "INSERT INTO bookings (event_id, user_id, hold_id, payment_id, amount_minor, currency)"
            " VALUES (%s, %s, %s, %s, 5000, 'EUR')",
            (made.event_id, buyer.user_id, f"h{made.event_id}_othershard", payment_id),
        )
        await conn.execute(
            "INSERT INTO booking_seats (booking_id, event_seat_id, amount_minor)"
            " VALUES (%s, %s, 5000)",
            (booking_id, seat_id),
        )
    return booking_id
