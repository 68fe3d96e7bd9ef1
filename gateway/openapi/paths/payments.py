"""Checkout, the provider's webhook, the landing pages and bookings."""

from __future__ import annotations

from typing import Any

from gateway.openapi.blocks import (
    BODY_TIMEOUT,
    HOLD_ID,
    NOT_ADMITTED,
    STRING,
    TOO_LARGE,
    content,
    error,
    operation,
    path_id,
    ref,
)
from gateway.openapi.constraints import MAX_SESSION_ID


def payment_paths() -> dict[str, Any]:
    landing_parameters = [
        {
            "name": "session_id",
            "in": "query",
            "required": True,
            "description": "The checkout session's id, as the provider's redirect gives it.",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_SESSION_ID},
        }
    ]
    landing_responses = {
        "200": {
            "description": "Where the checkout stands: HTML when `Accept` has text/html, else "
            "JSON. It only reads; the webhook alone decides.",
            "content": {
                "application/json": {"schema": ref("PaymentStateEnvelope")},
                "text/html": {"schema": STRING},
            },
        },
        "404": error("`not_found`: no such checkout session."),
        "422": error("`invalid_input`: `session_id` is missing or longer than 255 characters."),
    }
    return {
        "/api/v1/holds/{id}/checkout": {
            "post": operation(
                "checkout",
                "payments",
                "Open (or return) the checkout for one of the caller's holds",
                {
                    "201": content(
                        "Pay at `checkout_url` before `expires_at`. A retry returns the same "
                        "open checkout.",
                        ref("Checkout"),
                    ),
                    "403": NOT_ADMITTED,
                    "404": error("`not_found`: no such hold of the caller's."),
                    "409": error(
                        "`hold_not_active`: the hold has ended; `conflict`: its checkout has "
                        "ended (`payment_status`)."
                    ),
                    "503": error(
                        "`engine_unavailable` or `payment_provider_unavailable`; safe to retry.",
                        retry_after=True,
                    ),
                },
                parameters=[HOLD_ID],
            )
        },
        "/api/v1/payments/webhook": {
            "post": operation(
                "paymentWebhook",
                "payments",
                "The payment provider's signed checkout events (Stripe)",
                {
                    "200": content(
                        "The event's outcome is committed; a redelivery is `duplicate`.",
                        ref("WebhookReceipt"),
                    ),
                    "400": error(
                        "`invalid_signature`: the Stripe-Signature header is missing, wrong or "
                        "more than five minutes old."
                    ),
                    "408": BODY_TIMEOUT,
                    "413": TOO_LARGE,
                    "422": error("`malformed_json`: correctly signed, but not an event."),
                    "503": error(
                        "`unavailable` or `engine_unavailable`: nothing was recorded; the "
                        "provider should deliver again.",
                        retry_after=True,
                    ),
                },
                public=True,
                description="The signature, not a bearer token, authenticates the caller. The "
                "body is read as sent, whatever its content type.",
                parameters=[
                    {
                        "name": "Stripe-Signature",
                        "in": "header",
                        "required": True,
                        "description": "`t=<unix time>,v1=<HMAC-SHA256 of t.body>`.",
                        "schema": STRING,
                    }
                ],
                body={
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            )
        },
        "/api/v1/payments/success": {
            "get": operation(
                "paymentSuccess",
                "payments",
                "Where the provider sends a buyer who paid",
                landing_responses,
                public=True,
                parameters=landing_parameters,
            )
        },
        "/api/v1/payments/cancel": {
            "get": operation(
                "paymentCancel",
                "payments",
                "Where the provider sends a buyer who gave up",
                landing_responses,
                public=True,
                parameters=landing_parameters,
            )
        },
        "/api/v1/bookings": {
            "get": operation(
                "listBookings",
                "payments",
                "The caller's bookings",
                {"200": content("What each confirmed payment bought.", ref("BookingList"))},
            )
        },
        "/api/v1/events/{event_id}/my-seats": {
            "get": operation(
                "getMySeats",
                "payments",
                "The caller's own seats of one event",
                {
                    "200": content(
                        "The event's seats in the caller's bookings: the page marks them as the "
                        "buyer's and counts them against the per-buyer limit.",
                        ref("MySeats"),
                    ),
                    "404": error("`not_found`: no such event."),
                },
                parameters=[path_id("event_id", "event")],
            )
        },
    }
