"""A stand-in for Stripe Checkout when no `STRIPE_SECRET_KEY` is set (development only).

Its "hosted page" is served by the gateway itself (`gateway/routes/local_checkout.py`). Pay and
Cancel do what Stripe would: they emit the same events (`checkout.session.completed`, paid;
`checkout.session.expired`), signed with the configured webhook secret, and hand them to the same
`WebhookHandler.receive` that the webhook route uses, signature check included. So the local
checkout books seats through exactly the code path a real payment takes.

Its sessions need no store of their own: the payment row holds the session id, amount, currency
and status. Settings refuse to start a production process without a Stripe key, and the routes
answer 404 whenever the provider is Stripe.

Like Stripe, it delivers an event again when the webhook could not take it (503: the engine or
MariaDB briefly away), with back-off, until it is taken: the buyer whose Pay met a 503 may walk
away, and a hold the engine booked after all must still get its booking. The redeliveries live in
this process (a development stand-in keeps no queue of its own) and stop when it closes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import aiojobs
import orjson
import stripe

from domain.errors import NotFound, Unavailable
from domain.statuses import PaymentStatus
from gateway.payments.provider import CANCEL_PATH, SUCCESS_PATH, CheckoutPlan, CheckoutSession
from gateway.payments.webhook import COMPLETED, EXPIRED, Outcome
from persistence.payments import PaymentRow, event_name, find_payment_by_session

if TYPE_CHECKING:
    from gateway.payments.webhook import WebhookHandler
    from persistence import Database

log = logging.getLogger(__name__)

PROVIDER_NAME: Final = "local"
LOCAL_PATH: Final = "/checkout/local/"
# Stripe retries for three days with growing pauses; here the first retry comes sooner, since
# what refused the delivery is a brief outage on this machine.
REDELIVERY_FIRST_SECONDS: Final = 1.0
REDELIVERY_MAX_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class LocalSession:
    """What the local checkout page shows."""

    payment: PaymentRow
    event_name: str


class LocalCheckout:
    name: Final = PROVIDER_NAME

    def __init__(
        self, *, db: Database, webhooks: WebhookHandler, webhook_secret: str, public_url: str
    ) -> None:
        self._db = db
        self._webhooks = webhooks
        self._secret = webhook_secret
        self._public_url = public_url
        self._redeliveries = aiojobs.Scheduler(close_timeout=1.0)

    # -- PaymentProvider ----------------------------------------------------------------------

    async def create_session(self, plan: CheckoutPlan) -> CheckoutSession:
        # A retry may get a new id: nothing exists until the payment row records one.
        session_id = f"cs_local_{secrets.token_hex(20)}"
        return CheckoutSession(session_id, f"{self._public_url}{LOCAL_PATH}{session_id}")

    async def expire_session(self, session_id: str) -> None:
        """As Stripe does after an expire call: announce the expiry with a signed event."""
        payment = await self._payment(session_id)
        if payment.status is PaymentStatus.OPEN:
            await self._emit(EXPIRED, payment)

    async def refund(self, *, payment_id: int, payment_intent_id: str) -> None:
        log.info("local checkout: payment %d (%s) refunded", payment_id, payment_intent_id)

    async def close(self) -> None:
        """Stop redelivering; the sessions themselves live in MariaDB."""
        await self._redeliveries.close()

    # -- the hosted page ----------------------------------------------------------------------

    async def session(self, session_id: str) -> LocalSession:
        payment = await self._payment(session_id)
        async with self._db.transaction() as conn:
            name = await event_name(conn, payment.event_id)
        return LocalSession(payment, name or f"Event {payment.event_id}")

    async def pay(self, payment: PaymentRow) -> str:
        """The buyer paid: emit the completed event; return where to send the buyer."""
        await self._emit(COMPLETED, payment)
        return self._public_url + SUCCESS_PATH.format(CHECKOUT_SESSION_ID=payment.session_id)

    async def cancel(self, payment: PaymentRow) -> str:
        """The buyer gave up: the session expires at once, which releases the seats."""
        await self._emit(EXPIRED, payment)
        return self._public_url + CANCEL_PATH.format(CHECKOUT_SESSION_ID=payment.session_id)

    async def _payment(self, session_id: str) -> PaymentRow:
        async with self._db.transaction() as conn:
            payment = await find_payment_by_session(conn, session_id)
        if payment is None or payment.provider != PROVIDER_NAME:
            raise NotFound("No such checkout session")
        return payment

    async def _emit(self, event_type: str, payment: PaymentRow) -> None:
        paid = event_type == COMPLETED
        event: dict[str, Any] = {
            "id": f"evt_local_{secrets.token_hex(12)}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": payment.session_id,
                    "object": "checkout.session",
                    "mode": "payment",
                    "status": "complete" if paid else "expired",
                    "payment_status": "paid" if paid else "unpaid",
                    "amount_total": payment.amount_minor,
                    "currency": payment.currency.lower(),
                    "payment_intent": f"pi_local_{payment.id}" if paid else None,
                    "client_reference_id": payment.hold_id,
                    "metadata": {"hold_id": payment.hold_id},
                    "expires_at": int(payment.expires_at.timestamp()),
                }
            },
        }
        payload = orjson.dumps(event).decode()
        try:
            outcome = await self._deliver(payload)
        except Unavailable:
            await self._redeliveries.spawn(self._redeliver(payload, event["id"]))
            raise
        log.info("local checkout: %s for %s -> %s", event_type, payment.session_id, outcome)

    async def _deliver(self, payload: str) -> Outcome:
        signature = stripe.WebhookSignature.generate_signature_header(payload, self._secret)
        return await self._webhooks.receive(payload.encode(), signature)

    async def _redeliver(self, payload: str, event_id: str) -> None:
        pause = REDELIVERY_FIRST_SECONDS
        while True:
            await asyncio.sleep(pause)
            try:
                outcome = await self._deliver(payload)
            except Unavailable as exc:
                pause = min(pause * 2, REDELIVERY_MAX_SECONDS)
                log.warning("local checkout: %s refused (%s); again in %.0fs", event_id, exc, pause)
                continue
            log.info("local checkout: %s redelivered -> %s", event_id, outcome)
            return
