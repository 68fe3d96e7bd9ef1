"""The development checkout page that stands in for Stripe's."""

from __future__ import annotations

from typing import Any

from gateway.openapi.blocks import STRING, error, operation


def local_checkout_paths() -> dict[str, Any]:
    session_id: dict[str, Any] = {
        "name": "session_id",
        "in": "path",
        "required": True,
        "description": "A local checkout session's id.",
        "schema": STRING,
    }
    not_local = error(
        "`not_found`: no such local session, or a Stripe key is configured (then the local "
        "checkout does not exist)."
    )
    moved = {
        "description": "Done; go to the success or cancel page.",
        "headers": {"Location": {"required": True, "schema": {"type": "string", "format": "uri"}}},
    }
    emit_failed = error(
        "`unavailable` or `engine_unavailable`: the outcome was not recorded; try again.",
        retry_after=True,
    )
    page = {"description": "The page.", "content": {"text/html": {"schema": STRING}}}
    resubmitted = {
        **page,
        "description": "The checkout is no longer open (a resubmitted "
        "form): nothing happens, and the page shows where it stands.",
    }
    note = "Development only: stands in for Stripe's hosted checkout when no Stripe key is set."
    return {
        "/checkout/local/{session_id}": {
            "get": operation(
                "localCheckoutPage",
                "payments",
                "The local checkout page",
                {"200": page, "404": not_local},
                public=True,
                description=note,
                parameters=[session_id],
            )
        },
        "/checkout/local/{session_id}/pay": {
            "post": operation(
                "localCheckoutPay",
                "payments",
                "Pay (emits a signed, paid checkout.session.completed event)",
                {"200": resubmitted, "303": moved, "404": not_local, "503": emit_failed},
                public=True,
                description=note,
                parameters=[session_id],
            )
        },
        "/checkout/local/{session_id}/cancel": {
            "post": operation(
                "localCheckoutCancel",
                "payments",
                "Give up (emits a signed checkout.session.expired event)",
                {"200": resubmitted, "303": moved, "404": not_local, "503": emit_failed},
                public=True,
                description=note,
                parameters=[session_id],
            )
        },
    }
