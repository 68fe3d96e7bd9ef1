"""The seam between RushQueue and whoever takes the money.

Both implementations, Stripe and the development-only local checkout, take a `CheckoutPlan` built
from a planned payment row, so a retried checkout asks for exactly what the first attempt did.
Outcomes never come back from these calls: they arrive as signed webhook events, which is the
only path that books seats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from config import HttpSettings
    from persistence.payments import CheckoutSeats, PaymentRow

# Stripe refuses a session that lives less than 30 minutes. A hold usually lives less, so the
# session is planned to outlive it and is expired by us (through the outbox) when the hold ends.
# The margin over 30 minutes is the window in which a retried creation, which must send the
# planned parameters unchanged, is still accepted.
MIN_SESSION_LIFETIME: Final = timedelta(minutes=60)

# `{CHECKOUT_SESSION_ID}` is filled in by the provider when it redirects the buyer.
SUCCESS_PATH: Final = "/api/v1/payments/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL_PATH: Final = "/api/v1/payments/cancel?session_id={CHECKOUT_SESSION_ID}"


def session_expiry(hold_expires_at: datetime, now: datetime) -> datetime:
    """When a new session should expire: with the hold, but never sooner than Stripe allows.
    Whole seconds, because that is all the provider takes and a retry must send the same."""
    return max(hold_expires_at, now + MIN_SESSION_LIFETIME).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class LineItem:
    name: str
    amount_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutPlan:
    hold_id: str
    currency: str  # ISO 4217, upper case as stored
    line_items: tuple[LineItem, ...]
    expires_at: datetime  # aware UTC, whole seconds
    success_url: str
    cancel_url: str

    @classmethod
    def of(cls, payment: PaymentRow, seats: CheckoutSeats, http: HttpSettings) -> CheckoutPlan:
        """One line item per seat, at the event's price for its category."""
        return cls(
            hold_id=payment.hold_id,
            currency=payment.currency,
            line_items=tuple(
                LineItem(f"Section {seat.section}, row {seat.row}, seat {seat.number}", seat.price)
                for seat in seats.seats
            ),
            expires_at=payment.expires_at,
            success_url=http.public_url + SUCCESS_PATH,
            cancel_url=http.public_url + CANCEL_PATH,
        )


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    session_id: str
    url: str


class PaymentProvider(Protocol):
    @property
    def name(self) -> str:
        """Stored with each payment, so a worker never acts on another provider's payment."""
        ...

    async def create_session(self, plan: CheckoutPlan) -> CheckoutSession:
        """Open a checkout for the plan; the same plan again gives the same session.
        `PaymentProviderUnavailable` when the provider cannot be reached."""
        ...

    async def expire_session(self, session_id: str) -> None:
        """Stop the session taking payment. A session that is no longer open is not an error."""
        ...

    async def refund(self, *, payment_id: int, payment_intent_id: str) -> None:
        """Refund a payment in full; asking twice refunds once."""
        ...

    async def close(self) -> None: ...
