"""Stripe Checkout through stripe-python's async API.

Every call that creates something carries an idempotency key derived from our own ids
(`checkout-{hold}`, `refund-{payment}`), so a retry after a lost answer, in this process or
another, gets the first result instead of a second session or refund. The SDK retries network
errors and 409/5xx answers itself; what is still failing after that is `PaymentProviderUnavailable`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import stripe

from domain.errors import PaymentProviderUnavailable
from gateway.payments.provider import CheckoutPlan, CheckoutSession

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

log = logging.getLogger(__name__)

PROVIDER_NAME: Final = "stripe"
# Retries inside one call, with the SDK's own back-off; the outbox and the buyer retry beyond.
MAX_NETWORK_RETRIES: Final = 2
# A buyer is waiting on session creation: better a quick 503 they can retry than a long hang.
_TIMEOUT_SECONDS: Final = 20.0
_ALREADY_REFUNDED: Final = "charge_already_refunded"


def _is_outage(exc: stripe.StripeError) -> bool:
    return isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
        exc.http_status is not None and exc.http_status >= 500
    )


def _unavailable() -> PaymentProviderUnavailable:
    return PaymentProviderUnavailable(
        "The payment provider cannot be reached; try again shortly", retry_after=2
    )


class StripeProvider:
    name: Final = PROVIDER_NAME

    def __init__(self, *, secret_key: str, api_base: str | None) -> None:
        self._http = stripe.AIOHTTPClient(timeout=_TIMEOUT_SECONDS)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=MAX_NETWORK_RETRIES,
        )

    async def create_session(self, plan: CheckoutPlan) -> CheckoutSession:
        currency = plan.currency.lower()
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": item.amount_minor,
                        "product_data": {"name": item.name},
                    },
                }
                for item in plan.line_items
            ],
            "client_reference_id": plan.hold_id,
            "metadata": {"hold_id": plan.hold_id},
            "expires_at": int(plan.expires_at.timestamp()),
            "success_url": plan.success_url,
            "cancel_url": plan.cancel_url,
        }
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params, options={"idempotency_key": f"checkout-{plan.hold_id}"}
            )
        except stripe.StripeError as exc:
            if _is_outage(exc):
                log.warning("stripe: creating the session of %s failed: %s", plan.hold_id, exc)
                raise _unavailable() from exc
            raise
        if session.url is None:
            raise RuntimeError(f"stripe returned session {session.id} without a url")
        return CheckoutSession(session_id=session.id, url=session.url)

    async def expire_session(self, session_id: str) -> None:
        try:
            await self._client.v1.checkout.sessions.expire_async(session_id)
        except stripe.InvalidRequestError:
            # Stripe refuses to expire a session that is not open (already complete or
            # expired). Rather than trust an error message, ask for the session's status.
            session = await self._client.v1.checkout.sessions.retrieve_async(session_id)
            if session.status == "open":
                raise
            log.info("stripe: session %s is already %s", session_id, session.status)
        except stripe.StripeError as exc:
            if _is_outage(exc):
                raise _unavailable() from exc
            raise

    async def refund(self, *, payment_id: int, payment_intent_id: str) -> None:
        try:
            await self._client.v1.refunds.create_async(
                {"payment_intent": payment_intent_id},
                options={"idempotency_key": f"refund-{payment_id}"},
            )
        except stripe.StripeError as exc:
            if exc.code == _ALREADY_REFUNDED:
                log.info("stripe: payment %d was refunded already", payment_id)
                return
            if _is_outage(exc):
                raise _unavailable() from exc
            raise

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]
