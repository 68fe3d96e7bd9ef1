"""Paying for a hold: open a checkout, take the provider's webhook, show where a payment stands.

Only the webhook decides anything. The success and cancel pages a buyer is redirected to read
the current state and never confirm: a redirect proves nothing about money.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from aiohttp import web

from domain.errors import Conflict, HoldNotActive, InvalidInput, NotFound
from domain.statuses import PaymentStatus
from engine.hold_records import read_hold
from engine.protocol import BeginCheckoutRequest, new_command_id
from gateway.appkeys import DATABASE, ENGINE, METRICS, PAYMENTS, REDIS, SETTINGS
from gateway.auth.guard import public
from gateway.hold_access import own_hold
from gateway.payments import webhook_handler
from gateway.payments.provider import CheckoutPlan, session_expiry
from gateway.routes.pages import html_page
from gateway.views.payments import (
    Landing,
    checkout_body,
    payment_state_body,
    payment_state_html,
)
from gateway.wire import json_response, read_body
from persistence.payments import (
    PaymentRow,
    booking_id_of,
    checkout_seats,
    find_payment_by_hold,
    find_payment_by_session,
    open_payment,
    plan_payment,
)
from persistence.seat_state import enqueue_session_expiries

routes = web.RouteTableDef()

_MAX_SESSION_ID: Final = 255


def _ms(moment_ms: int) -> datetime:
    return datetime.fromtimestamp(moment_ms / 1000, UTC)


@routes.post("/api/v1/holds/{id}/checkout")
async def checkout(request: web.Request) -> web.Response:
    """Open (or return) the hold's checkout session.

    A retry, after a timeout or a 503, plans nothing new: it finds the planned payment and asks
    the provider again with the same idempotency key and the same parameters.
    """
    hold = await own_hold(request)
    if not hold.status.is_active:
        raise HoldNotActive(
            f"This hold has ended ({hold.status.value}); hold the seats again",
            hold_status=hold.status.value,
        )
    app = request.app
    db = app[DATABASE]
    async with db.transaction() as conn:
        payment = await find_payment_by_hold(conn, hold.id)
    if payment is not None and payment.session_id is not None:
        return _opened(payment, _ms(hold.expires_at_ms))

    engine = app[ENGINE]
    reply = await engine.submit(
        BeginCheckoutRequest(
            id=new_command_id(),
            reply_to=engine.reply_to,
            event_id=hold.event_id,
            hold_id=hold.id,
            user_id=hold.user_id,
        )
    )
    hold = reply.hold_or_raise()
    provider = app[PAYMENTS]
    hold_expires_at = _ms(hold.expires_at_ms)
    async with db.transaction() as conn:
        seats = await checkout_seats(conn, hold.event_id, hold.seat_ids)
        payment = await plan_payment(
            conn,
            hold_id=hold.id,
            user_id=hold.user_id,
            event_id=hold.event_id,
            provider=provider.name,
            amount_minor=seats.total,
            currency=seats.currency,
            expires_at=session_expiry(hold_expires_at, datetime.now(UTC)),
        )
    # The hold stays in checkout if this fails: the buyer's retry lands here again.
    session = await provider.create_session(CheckoutPlan.of(payment, seats, app[SETTINGS].http))
    async with db.transaction() as conn:
        payment = await open_payment(
            conn, payment.id, session_id=session.session_id, checkout_url=session.url
        )
    await _expire_if_hold_ended(app, hold.id)
    return _opened(payment, hold_expires_at)


async def _expire_if_hold_ended(app: web.Application, hold_id: str) -> None:
    """If the hold ended while its session was being opened, the engine's request to expire
    the session found no session yet and is done: ask again, now that there is one."""
    current = await read_hold(app[REDIS], app[SETTINGS].engine, hold_id)
    if current is not None and not current.status.is_active:
        async with app[DATABASE].transaction() as conn:
            await enqueue_session_expiries(conn, [hold_id], rearm=True)


def _opened(payment: PaymentRow, hold_expires_at: datetime) -> web.Response:
    """The recorded session while it is open; the buyer pays before the hold or it ends."""
    if (
        payment.status is not PaymentStatus.OPEN
        or payment.session_id is None
        or payment.checkout_url is None
    ):
        raise Conflict(
            f"This hold's checkout has ended ({payment.status.value})",
            payment_status=payment.status.value,
        )
    pay_before = min(hold_expires_at, payment.expires_at)
    return json_response(
        checkout_body(payment.session_id, payment.checkout_url, pay_before), status=201
    )


@routes.post("/api/v1/payments/webhook")
@public
async def webhook(request: web.Request) -> web.Response:
    """Stripe's events. 2xx only once the outcome is committed; anything else and Stripe
    delivers again, which is harmless."""
    app = request.app
    handler = webhook_handler(
        app[SETTINGS],
        db=app[DATABASE],
        engine=app[ENGINE],
        redis=app[REDIS],
        on_outcome=app[METRICS].webhook_outcome,
    )
    outcome = await handler.receive(
        await read_body(request), request.headers.get("Stripe-Signature")
    )
    return json_response({"received": True, "outcome": outcome.value})


@routes.get("/api/v1/payments/success")
@public
async def success(request: web.Request) -> web.Response:
    return await _landing(request, "success")


@routes.get("/api/v1/payments/cancel")
@public
async def cancel(request: web.Request) -> web.Response:
    return await _landing(request, "cancel")


async def _landing(request: web.Request, landing: Landing) -> web.Response:
    """Where the buyer's checkout stands. Session ids are unguessable, so knowing one is enough
    to see this; it shows nothing about the buyer."""
    session_id = request.query.get("session_id", "")
    if not session_id or len(session_id) > _MAX_SESSION_ID:
        raise InvalidInput("Give the checkout's session_id", field="session_id")
    async with request.app[DATABASE].transaction() as conn:
        payment = await find_payment_by_session(conn, session_id)
        booking_id = None if payment is None else await booking_id_of(conn, payment.id)
    if payment is None:
        raise NotFound("No such checkout session")
    state = payment_state_body(payment, booking_id)
    if "text/html" in request.headers.get("Accept", ""):
        return html_page(request, payment_state_html(landing, state))
    return json_response({"payment": state})
