"""`POST /api/v1/holds/{id}/checkout`: one planned payment and one provider session per hold."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC
from typing import TYPE_CHECKING

from gateway.payments.stripe_provider import MAX_NETWORK_RETRIES

if TYPE_CHECKING:
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.fake_stripe import Call, FakeStripe
    from tests.payments.conftest import OpenStack

SESSIONS_PATH = "/v1/checkout/sessions"


def creates(fake: FakeStripe) -> list[Call]:
    return [call for call in fake.calls if call.method == "POST" and call.path == SESSIONS_PATH]


async def test_checkout_plans_the_payment_and_opens_one_session(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=4, prices={"A": 5000, "B": 2500})
    buyer = await stack.buyer()
    seats = (made.seat_ids[0], made.seat_ids[2])  # one A, one B
    hold_id = await stack.hold(buyer, made.event_id, seats)

    response = await stack.checkout(buyer, hold_id)

    body = await response.json()
    assert response.status == 201, body
    assert set(body) == {"checkout_url", "session_id", "expires_at"}
    assert [session["id"] for session in fake_stripe.sessions] == [body["session_id"]]
    assert body["checkout_url"] == fake_stripe.session(body["session_id"])["url"]
    [call] = creates(fake_stripe)
    assert call.idempotency_key == f"checkout-{hold_id}"
    params = call.params
    assert params["mode"] == "payment"
    assert params["client_reference_id"] == hold_id
    assert params["metadata"] == {"hold_id": hold_id}
    assert params["line_items"] == [
        {
            "quantity": "1",
            "price_data": {
                "currency": "eur",
                "unit_amount": "5000",
                "product_data": {"name": "Section Main, row 1, seat 1"},
            },
        },
        {
            "quantity": "1",
            "price_data": {
                "currency": "eur",
                "unit_amount": "2500",
                "product_data": {"name": "Section Main, row 2, seat 1"},
            },
        },
    ]
    public = stack.settings.http.public_url
    assert params["success_url"] == (
        f"{public}/api/v1/payments/success?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert (
        params["cancel_url"]
        == f"{public}/api/v1/payments/cancel?session_id={{CHECKOUT_SESSION_ID}}"
    )
    # Stripe needs at least 30 minutes; the hold (10 minutes) is enforced by expiring it.
    assert int(str(params["expires_at"])) >= time.time() + 30 * 60
    payment = await stack.payment(hold_id)
    assert (payment["status"], payment["amount_minor"], payment["currency"]) == (
        "open",
        7500,
        "EUR",
    )
    assert payment["session_id"] == body["session_id"]
    assert await stack.hold_status(buyer, hold_id) == "checkout"
    assert set((await stack.seat_statuses(made.event_id)).values()) == {"held", "available"}


async def test_a_retried_checkout_gets_the_same_session_sequentially_and_concurrently(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=4)
    buyer = await stack.buyer()
    first_hold = await stack.hold(buyer, made.event_id, made.seat_ids[:1])
    second_hold = await stack.hold(buyer, made.event_id, made.seat_ids[1:2])

    first = await stack.checkout(buyer, first_hold)
    again = await stack.checkout(buyer, first_hold)
    together = await asyncio.gather(*(stack.checkout(buyer, second_hold) for _ in range(4)))

    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    bodies = [await response.json() for response in together]
    assert [response.status for response in together] == [201] * 4, bodies
    assert len({body["session_id"] for body in bodies}) == 1
    assert len(fake_stripe.sessions) == 2, "one session per hold at the provider"
    assert await stack.count("SELECT COUNT(*) FROM payments") == 2


async def test_provider_down_is_a_503_the_hold_stays_in_checkout_and_a_retry_works(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:2])
    fake_stripe.fail_next(MAX_NETWORK_RETRIES + 1)  # the SDK's own retries fail too

    down = await stack.checkout(buyer, hold_id)

    assert down.status == 503
    assert down.headers["Retry-After"].isdigit()
    assert (await down.json())["error"]["code"] == "payment_provider_unavailable"
    assert await stack.hold_status(buyer, hold_id) == "checkout"
    planned = await stack.payment(hold_id)
    assert planned["status"] == "creating"
    assert fake_stripe.sessions == []

    retried = await stack.checkout(buyer, hold_id)

    assert retried.status == 201, await retried.json()
    [session] = fake_stripe.sessions
    attempts = creates(fake_stripe)
    assert len(attempts) == MAX_NETWORK_RETRIES + 2
    assert {call.idempotency_key for call in attempts} == {f"checkout-{hold_id}"}
    opened = await stack.payment(hold_id)
    assert opened["status"] == "open"
    assert opened["expires_at"] == planned["expires_at"], "the retry reused the planned payment"
    assert session["expires_at"] == int(planned["expires_at"].replace(tzinfo=UTC).timestamp())


async def test_a_checkout_lost_after_the_provider_answered_is_finished_by_the_retry(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:2])
    first = await (await stack.checkout(buyer, hold_id)).json()
    # As if the process died between the provider's answer and recording it.
    async with stack.db.transaction() as conn:
        await conn.execute(
            "UPDATE payments SET session_id = NULL, checkout_url = NULL, status = 'creating'"
            " WHERE hold_id = %s",
            (hold_id,),
        )

    retried = await stack.checkout(buyer, hold_id)

    # The fake replays an idempotency key only for identical parameters, as Stripe does (any
    # difference would be a 400 idempotency_error, here a 500).
    assert retried.status == 201
    assert await retried.json() == first
    assert len(fake_stripe.sessions) == 1
    assert [call.status for call in creates(fake_stripe)] == [200, 200]


async def test_only_the_holder_may_check_out_and_only_an_active_hold(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    holder = await stack.buyer()
    stranger = await stack.buyer()
    hold_id = await stack.hold(holder, made.event_id, made.seat_ids[:1])

    someone_elses = await stack.checkout(stranger, hold_id)
    malformed = await stack.client.post("/api/v1/holds/nope/checkout", headers=holder.headers)
    released = await stack.client.delete(f"/api/v1/holds/{hold_id}", headers=holder.headers)
    ended = await stack.checkout(holder, hold_id)

    assert (someone_elses.status, malformed.status, released.status) == (404, 404, 204)
    assert ended.status == 409
    assert (await ended.json())["error"]["code"] == "hold_not_active"
    assert fake_stripe.sessions == []
    assert await stack.count("SELECT COUNT(*) FROM payments") == 0
