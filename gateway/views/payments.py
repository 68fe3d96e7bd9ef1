"""Payment and booking wire shapes, and the two small HTML pages a browser lands on.

The pages are plain server-rendered HTML with no script: the success/cancel landing page that
shows where a checkout stands and sends the browser on to the buyer's page (which then shows the
booking), and the local (development-only) checkout with its Pay and Cancel forms. Every value is
escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Final, Literal, TypedDict
from urllib.parse import quote

from domain.statuses import PaymentStatus
from gateway.payments.local_checkout import LOCAL_PATH
from gateway.views.catalog import utc_iso

if TYPE_CHECKING:
    from gateway.payments.local_checkout import LocalSession
    from persistence.payments import BookingRow, PaymentRow

Landing = Literal["success", "cancel"]


class CheckoutBody(TypedDict):
    checkout_url: str
    session_id: str
    expires_at: str


class PaymentStateBody(TypedDict):
    session_id: str
    status: str
    amount_minor: int
    currency: str
    booking_id: int | None


class BookedSeatView(TypedDict):
    id: int
    section: str
    row: str
    number: int
    category: str
    price: int


class BookedEventView(TypedDict):
    id: int
    name: str
    starts_at: str
    venue: str
    time_zone: str


class BookingView(TypedDict):
    id: int
    event: BookedEventView
    seats: list[BookedSeatView]
    amount_minor: int
    currency: str
    payment_status: str
    created_at: str


def checkout_body(session_id: str, checkout_url: str, pay_before: datetime) -> CheckoutBody:
    return {
        "checkout_url": checkout_url,
        "session_id": session_id,
        "expires_at": pay_before.astimezone(UTC).isoformat(),
    }


def payment_state_body(payment: PaymentRow, booking_id: int | None) -> PaymentStateBody:
    return {
        "session_id": payment.session_id or "",
        "status": payment.status.value,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "booking_id": booking_id,
    }


def booking_view(booking: BookingRow) -> BookingView:
    return {
        "id": booking.id,
        "event": {
            "id": booking.event.id,
            "name": booking.event.name,
            "starts_at": utc_iso(booking.event.starts_at),
            "venue": booking.event.venue,
            "time_zone": booking.event.time_zone,
        },
        "seats": [
            {
                "id": seat.id,
                "section": seat.section,
                "row": seat.row,
                "number": seat.number,
                "category": seat.category,
                "price": seat.price,
            }
            for seat in booking.seats
        ],
        "amount_minor": booking.amount_minor,
        "currency": booking.currency,
        "payment_status": booking.payment_status.value,
        "created_at": utc_iso(booking.created_at),
    }


# -- HTML -----------------------------------------------------------------------------------

_LANDING_TEXT: Final = {
    PaymentStatus.PAID: "Payment received. Your seats are booked.",
    PaymentStatus.OPEN: "Waiting for the payment provider to confirm your payment.",
    PaymentStatus.CREATING: "Your checkout is being prepared.",
    PaymentStatus.EXPIRED: "This checkout has ended without payment; the seats were released.",
    PaymentStatus.FAILED: "The payment failed; the seats were released.",
    PaymentStatus.REFUND_PENDING: "Your seats could not be kept; your payment is being refunded.",
    PaymentStatus.REFUNDED: "Your seats could not be kept; your payment has been refunded.",
}


def _money(amount_minor: int, currency: str) -> str:
    # Two decimals suit the currencies events are sold in; the JSON carries exact minor units.
    return f"{amount_minor / 100:.2f} {escape(currency)}"


def _page(title: str, body: str, head: str = "") -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)} · RushQueue</title>{head}</head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>\n"
    )


def buyer_page_url(landing: Landing, session_id: str) -> str:
    """Where the buyer's page (gateway/static) shows this checkout, and the booking it made."""
    return f"/#/payment/{landing}?session_id={quote(session_id, safe='')}"


def payment_state_html(landing: Landing, state: PaymentStateBody) -> str:
    """The state in words, and a redirect (no script needed) to the buyer's page, which waits
    for the webhook if it has not arrived yet and then shows the booking."""
    title = "Thank you" if landing == "success" else "Checkout cancelled"
    back = escape(buyer_page_url(landing, state["session_id"]))
    lines = [
        f"<p>{escape(_LANDING_TEXT[PaymentStatus(state['status'])])}</p>",
        f"<p>Amount: {_money(state['amount_minor'], state['currency'])}</p>",
        f"<p>Payment status: <code>{escape(state['status'])}</code></p>",
    ]
    if state["booking_id"] is not None:
        lines.append(f"<p>Booking number: <strong>{state['booking_id']}</strong></p>")
    lines.append(f'<p><a href="{back}">Back to RushQueue</a></p>')
    return _page(title, "".join(lines), f'<meta http-equiv=refresh content="0; url={back}">')


def local_checkout_html(local: LocalSession) -> str:
    payment = local.payment
    action = escape(f"{LOCAL_PATH}{payment.session_id}")
    lines = [
        "<p><em>Local test checkout: no money moves. Development only.</em></p>",
        f"<p>{escape(local.event_name)}</p>",
        f"<p>Amount: {_money(payment.amount_minor, payment.currency)}</p>",
        f"<p>Status: <code>{escape(payment.status.value)}</code></p>",
    ]
    if payment.status is PaymentStatus.OPEN:
        lines += [
            f'<form method=post action="{action}/pay"><button type=submit>Pay</button></form>',
            f'<form method=post action="{action}/cancel">'
            "<button type=submit>Cancel</button></form>",
        ]
    return _page("Checkout", "".join(lines))


class MySeatsView(TypedDict):
    event_id: int
    # Seats of the event in the caller's bookings (paid for), in seat order.
    booked_seat_ids: list[int]


def my_seats_view(event_id: int, booked: list[int]) -> MySeatsView:
    return {"event_id": event_id, "booked_seat_ids": booked}
