"""The OpenAPI 3.1 description of the HTTP API, written by hand beside the handlers it describes.

It is data, not introspection, so it says what the handlers do rather than what their signatures
suggest: each operation lists every status its handler can answer with, and each request schema
carries the checks the handler makes (lengths, ranges, item counts, unknown keys refused or
ignored). A property-based fuzzer reads it, so where a check cannot be said in JSON Schema (one
field compared with another, a venue's seat total) the description says it instead.

`tests/gateway/test_openapi.py` fails when a route is added without a description here, or a
description outlives its route.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from config import Settings
from domain.catalog import (
    DEFAULT_MAX_SEATS_PER_BUYER,
    MAX_PRICE_MINOR,
    MAX_SEAT_NUMBER,
    MAX_SEATS,
    MAX_SEATS_PER_BUYER,
)
from domain.statuses import HoldStatus, PaymentStatus, Role, SeatStatus
from domain.text import invisible_bmp_class
from gateway.payments.webhook import Outcome

Schema = dict[str, Any]

OPENAPI_VERSION: Final = "3.1.0"
API_VERSION: Final = "1.0.0"
INT64_MAX: Final = 2**63 - 1
# `gateway.wire.path_id` takes at most 18 digits; anything longer is a 404.
PATH_ID_MAX: Final = 10**18 - 1

# The limits the handlers check, repeated here because gateway.routes imports this module (and
# some are private to domain.catalog); tests/gateway/test_openapi.py holds them equal.
MAX_EMAIL_LENGTH: Final = 254
MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 256
MAX_NAME_LENGTH: Final = 200
MAX_SEATS_PER_HOLD: Final = 50
IDEMPOTENCY_KEY_MAX: Final = 255
MAX_SESSION_ID: Final = 255
VENUE_NAME_MAX: Final = 200
EVENT_NAME_MAX: Final = 200
CATEGORY_CODE_MAX: Final = 32
CATEGORY_NAME_MAX: Final = 100
SECTION_NAME_MAX: Final = 32
ROW_LABEL_MAX: Final = 16

# Handlers refuse names with nothing visible in them (`domain.text.is_blank`), so "not blank"
# means "has a character outside the invisible class".
NOT_BLANK: Final = f"[^{invisible_bmp_class()}]"

# gateway.routes.auth's email check, over the address as sent: the handler trims and lower-cases
# it first, so upper-case letters are fine here.
_EMAIL_LOCAL: Final = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
_EMAIL_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN: Final = rf"^{_EMAIL_LOCAL}@{_EMAIL_LABEL}(?:\.{_EMAIL_LABEL})+$"

HOLD_ID_PATTERN: Final = r"^h[0-9]{1,18}_[0-9a-f]{32}$"
# Printable ASCII; HTTP trims a header value's outer spaces, so none are at its ends.
IDEMPOTENCY_KEY_PATTERN: Final = r"^[\u0021-\u007e](?:[\u0020-\u007e]*[\u0021-\u007e])?$"


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The whole document, served at `/api/v1/openapi.json`."""
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "RushQueue",
            "version": API_VERSION,
            "summary": "Concert seat sales that survive an on-sale rush.",
            "description": (
                'Every error is `{"error": {"status", "code", "message", ...details}}` '
                "(see the `Error` schema); `code` is stable and machine-readable. Routes under "
                "`/api/` need `Authorization: Bearer <token>` (from signup or login) unless "
                "they say otherwise; a route that needs none still refuses a bad token that is "
                "sent to it."
            ),
        },
        "servers": [{"url": settings.http.public_url}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "health", "description": "Liveness and readiness probes"},
            {"name": "auth", "description": "Accounts and bearer tokens"},
            {"name": "catalog", "description": "Events, prices and seat maps"},
            {"name": "admin", "description": "Organizer endpoints (admin role)"},
            {"name": "holds", "description": "Holding seats while a buyer pays"},
            {"name": "payments", "description": "Checkout, the provider's webhook, bookings"},
            {"name": "meta", "description": "This document"},
            {"name": "pages", "description": "The buyer's page (HTML, scripts, styles)"},
        ],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before retrying.",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                }
            },
            "schemas": _schemas(),
        },
    }
    # Through JSON and back: the building blocks below are shared between operations (and some
    # are module constants), so each caller gets objects of its own to read or change freely.
    copied: dict[str, Any] = orjson.loads(orjson.dumps(document))
    return copied


# -- building blocks ------------------------------------------------------------------------


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _content(description: str, schema: Schema) -> dict[str, Any]:
    return {"description": description, "content": _json(schema)}


def _error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json(_ref("Error"))}
    if retry_after:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _text(max_length: int) -> Schema:
    """A string the handler strips, then requires non-empty and at most `max_length` long."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NOT_BLANK}


def _object(properties: dict[str, Schema], *, required: list[str], extra: bool) -> Schema:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": extra,
    }


def _exact(properties: dict[str, Schema]) -> Schema:
    """A response object: every property always present, nothing else."""
    return _object(properties, required=list(properties), extra=False)


def _integer(low: int, high: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "minimum": low}
    if high is not None:
        schema["maximum"] = high
    return schema


_STRING: Final[Schema] = {"type": "string"}
_DATETIME: Final[Schema] = {"type": "string", "format": "date-time"}


def _path_id(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s id. Anything but 1-18 decimal digits naming one is a 404.",
        "schema": _integer(1, PATH_ID_MAX),
    }


_HOLD_ID: Final = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The hold's id; any other string, or another user's hold, is a 404.",
    "schema": {"type": "string", "pattern": HOLD_ID_PATTERN},
}

_PUBLIC: Final[list[dict[str, list[str]]]] = []

_UNAUTHORIZED: Final = _error(
    "`unauthorized`: no bearer token, or one that is malformed, badly signed or expired, or "
    "whose user has been deleted."
)
_FORBIDDEN: Final = _error("`forbidden`: the token's user is not an admin.")
_TOO_LARGE: Final = _error(
    "`payload_too_large`: the body is larger than the server's limit (HTTP_MAX_BODY_BYTES)."
)
_BODY_TIMEOUT: Final = _error(
    "`request_timeout`: the body did not arrive in full within HTTP_BODY_TIMEOUT_SECONDS."
)
_NOT_JSON: Final = _error("`unsupported_media_type`: the body is not sent as application/json.")


def _rate_limited(limits: str) -> dict[str, Any]:
    return _error(
        f"`rate_limited`: too many requests ({limits}; see the RATE_LIMIT_* settings); retry "
        "after `Retry-After` seconds.",
        retry_after=True,
    )


_INTERNAL: Final = _error(
    "`internal_error`: an unexpected failure on the server's side. The body never carries a "
    "traceback."
)
_DEPENDENCY_DOWN: Final = _error(
    "`unavailable`: MariaDB or Redis is briefly unreachable (or a more specific code from this "
    "route); retry after `Retry-After` seconds.",
    retry_after=True,
)


def _invalid(detail: str) -> dict[str, Any]:
    return _error(
        "`malformed_json`: the body is not JSON. `invalid_input`: it is not an object, or "
        f"{detail}; `field` names the offending field."
    )


def _body(schema_name: str, description: str) -> dict[str, Any]:
    return {"required": True, "description": description, "content": _json(_ref(schema_name))}


def _operation(
    operation_id: str,
    tag: str,
    summary: str,
    responses: dict[str, Any],
    *,
    public: bool = False,
    description: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": operation_id, "tags": [tag], "summary": summary}
    if description is not None:
        operation["description"] = description
    if public:
        operation["security"] = _PUBLIC
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    # Every route can meet the error middleware's outage and catch-all answers; every route
    # but an open one can meet the guard. An open route ignores a bad token.
    every = {"500": _INTERNAL, "503": _DEPENDENCY_DOWN}
    if not public:
        every["401"] = _UNAUTHORIZED
    merged = {**every, **responses}
    operation["responses"] = {status: merged[status] for status in sorted(merged)}
    return operation


# -- paths ----------------------------------------------------------------------------------


def _paths() -> dict[str, Any]:
    return {
        "/healthz": {
            "get": _operation(
                "healthz",
                "health",
                "Liveness: the process answers",
                {"200": _content("Alive.", _ref("Health"))},
                public=True,
            )
        },
        "/readyz": {
            "get": _operation(
                "readyz",
                "health",
                "Readiness: Redis and MariaDB both answer",
                {
                    "200": _content("Both dependencies answer.", _ref("Readiness")),
                    "503": _content(
                        "A dependency does not answer; `checks` says which. This is the "
                        "readiness body, not the error shape, and carries no Retry-After.",
                        _ref("Readiness"),
                    ),
                },
                public=True,
            )
        },
        "/api/v1/openapi.json": {
            "get": _operation(
                "openapi",
                "meta",
                "This document",
                {"200": _content("The OpenAPI 3.1 document.", {"type": "object"})},
                public=True,
            )
        },
        **_auth_paths(),
        **_catalog_paths(),
        **_admin_paths(),
        **_hold_paths(),
        **_payment_paths(),
        **_local_checkout_paths(),
        **_page_paths(),
    }


def _auth_paths() -> dict[str, Any]:
    session = _content("The account and a bearer token for it.", _ref("Session"))
    return {
        "/api/v1/auth/signup": {
            "post": _operation(
                "signup",
                "auth",
                "Create a buyer account and log in",
                {
                    "201": session,
                    "409": _error("`email_taken`: an account with this email already exists."),
                    "408": _BODY_TIMEOUT,
                    "413": _TOO_LARGE,
                    "415": _NOT_JSON,
                    "422": _invalid("a field is missing, of the wrong type or out of range"),
                    "429": _rate_limited("per client IP, and per email and IP"),
                },
                public=True,
                body=_body("SignupRequest", "Unknown fields are ignored."),
            )
        },
        "/api/v1/auth/login": {
            "post": _operation(
                "login",
                "auth",
                "Exchange an email and password for a bearer token",
                {
                    "200": session,
                    "401": _error(
                        "`invalid_credentials`: the email or password is wrong (the same for "
                        "an unknown email); `unauthorized`: a bad bearer token was sent along."
                    ),
                    "408": _BODY_TIMEOUT,
                    "413": _TOO_LARGE,
                    "415": _NOT_JSON,
                    "422": _invalid("`email` or `password` is missing or not a string"),
                    "429": _rate_limited("per client IP, and per email and IP"),
                },
                public=True,
                body=_body("LoginRequest", "Unknown fields are ignored."),
            )
        },
        "/api/v1/me": {
            "get": _operation(
                "me",
                "auth",
                "The account the token belongs to",
                {"200": _content("The account.", _ref("UserEnvelope"))},
                description="401 also when the token's account no longer exists.",
            )
        },
    }


def _catalog_paths() -> dict[str, Any]:
    event_id = _path_id("event_id", "event")
    return {
        "/api/v1/events": {
            "get": _operation(
                "listEvents",
                "catalog",
                "Every event, soonest first",
                {"200": _content("The events.", _ref("EventList"))},
                public=True,
            )
        },
        "/api/v1/events/{event_id}": {
            "get": _operation(
                "getEvent",
                "catalog",
                "One event with its prices",
                {
                    "200": _content("The event.", _ref("EventEnvelope")),
                    "404": _error("`not_found`: no such event."),
                },
                public=True,
                parameters=[event_id],
            )
        },
        "/api/v1/events/{event_id}/seats": {
            "get": _operation(
                "getSeatMap",
                "catalog",
                "The seat map with live statuses",
                {
                    "200": _content(
                        "Every seat in layout order, at sequence number `seq`: apply seat-feed "
                        "changes numbered after it.",
                        _ref("SeatMap"),
                    ),
                    "404": _error("`not_found`: no such event."),
                    "503": _error(
                        "`unavailable`: live statuses cannot be read from Redis right now.",
                        retry_after=True,
                    ),
                },
                public=True,
                parameters=[event_id],
            )
        },
        "/api/v1/events/{id}/seats/ws": {
            "get": _operation(
                "watchSeats",
                "catalog",
                "Live seat changes over a websocket",
                {
                    "101": {
                        "description": (
                            "Switched to the websocket protocol; messages follow as described "
                            "above."
                        )
                    },
                    "400": _error("`bad_request`: the request is not a websocket upgrade."),
                    "404": _error("`not_found`: no such event."),
                    "429": _error(
                        "`rate_limited`: this client IP already has as many seat maps open on "
                        "this server as it may (WS_MAX_PER_IP); answered before the upgrade.",
                        retry_after=True,
                    ),
                    "503": _error(
                        "`unavailable`: live statuses cannot be read from Redis right now "
                        "(answered before the upgrade).",
                        retry_after=True,
                    ),
                },
                public=True,
                description=_SEAT_FEED_PROTOCOL,
                parameters=[_path_id("id", "event")],
            )
        },
    }


_SEAT_FEED_PROTOCOL: Final = """\
A GET that upgrades to a websocket (send the usual `Connection: Upgrade`, `Upgrade: websocket`
and `Sec-WebSocket-*` headers). The server sends JSON text messages; what a client sends is read
and ignored (at most 1024 bytes a message). The server pings every 20 seconds.

- On connect, and whenever the server notices it may have missed changes:
  `{"type": "snapshot", "event_id": int, "seq": int, "seats": [{"seat_id": int, "status":
  "available" | "held" | "booked"}]}`: every seat's status at `seq`.
- Per decision batch: `{"type": "seats", "event_id": int, "at": int, "seq": int, "changes":
  [{"seat_id": int, "status": "available" | "held" | "booked"}]}`, where `at` is the decision's
  time in epoch milliseconds and `seq` is one more than the previous batch's.
- Batches decided within `SEAT_PUSH_WINDOW_MS` of the last push come together, in order, in one
  frame: `{"type": "batches", "event_id": int, "seq": int, "messages": [<seats message>, ...]}`,
  `seq` being the last one's. After a fresh snapshot a frame may repeat batches the snapshot
  already covers: skip every batch whose `seq` is not above the client's own.

A client that falls too far behind, whose map cannot be brought up to date (Redis lost), or
whose server is shutting down is closed with code 1013 (try again later) and should reconnect,
which starts again from a snapshot.
"""


def _admin_paths() -> dict[str, Any]:
    venue_rules = (
        "Names, codes and labels are trimmed before they are checked. Beyond the schema: "
        "category codes are unique within the venue, section names within it, row labels "
        "within a section; every row's `category` is one of the venue's category codes; and "
        f"the venue has at most {MAX_SEATS} seats in all. Breaking one of these is a 422."
    )
    event_rules = (
        "Beyond the schema: `sale_starts_at` < `sale_ends_at` <= `starts_at`; every datetime "
        "has a timezone and lies in the years 1000-9999 once in UTC; and `prices` names every "
        "category of the venue and no other. Breaking one of these is a 422."
    )
    return {
        "/api/v1/admin/venues": {
            "post": _operation(
                "createVenue",
                "admin",
                "Create a venue from its layout",
                {
                    "201": _content("The venue.", _ref("VenueEnvelope")),
                    "403": _FORBIDDEN,
                    "408": _BODY_TIMEOUT,
                    "413": _TOO_LARGE,
                    "415": _NOT_JSON,
                    "422": _invalid("it breaks a rule of the layout"),
                },
                description=venue_rules,
                body=_body("VenueLayout", "Unknown fields are refused, at every level."),
            ),
            "get": _operation(
                "listVenues",
                "admin",
                "Every venue",
                {"200": _content("The venues.", _ref("VenueList")), "403": _FORBIDDEN},
            ),
        },
        "/api/v1/admin/events": {
            "post": _operation(
                "createEvent",
                "admin",
                "Put an event on at a venue",
                {
                    "201": _content("The event, every seat available.", _ref("EventEnvelope")),
                    "403": _FORBIDDEN,
                    "404": _error("`not_found`: no venue `venue_id` (`field` is `venue_id`)."),
                    "408": _BODY_TIMEOUT,
                    "413": _TOO_LARGE,
                    "415": _NOT_JSON,
                    "422": _invalid("it breaks a rule of the event"),
                },
                description=event_rules,
                body=_body("EventSpec", "Unknown fields are refused."),
            )
        },
    }


def _hold_paths() -> dict[str, Any]:
    hold = _content("The hold.", _ref("HoldEnvelope"))
    engine_down = _error(
        "`engine_unavailable`: the seat engine did not decide in time or cannot be reached. "
        "Safe to retry (with the same Idempotency-Key, for a hold).",
        retry_after=True,
    )
    return {
        "/api/v1/events/{id}/holds": {
            "post": _operation(
                "createHold",
                "holds",
                "Hold seats for a while",
                {
                    "201": _content(
                        "The seats are held until `expires_at`. A retry with the same "
                        "Idempotency-Key gets the first answer again.",
                        _ref("HoldEnvelope"),
                    ),
                    "404": _error("`not_found`: no such event."),
                    "409": _error(
                        "`seats_unavailable` (`seat_ids` lists the taken ones), "
                        "`limit_exceeded` (`limit`, `held_or_booked`) or `sale_not_open`."
                    ),
                    "408": _BODY_TIMEOUT,
                    "413": _TOO_LARGE,
                    "415": _NOT_JSON,
                    "422": _invalid(
                        "`seat_ids` breaks its rules, or names seats of another event "
                        "(`seat_ids` lists them), or the Idempotency-Key header is not 1-"
                        f"{IDEMPOTENCY_KEY_MAX} printable characters"
                    ),
                    "429": _rate_limited("per buyer"),
                    "503": engine_down,
                },
                description=(
                    "The event's own per-buyer limit (`max_seats_per_buyer`) counts the seats "
                    "this buyer already holds or has booked."
                ),
                parameters=[
                    _path_id("id", "event"),
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": (
                            "Makes a retried request safe: the same key (per user and event) "
                            "gets the same decision instead of a second hold."
                        ),
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": IDEMPOTENCY_KEY_MAX,
                            "pattern": IDEMPOTENCY_KEY_PATTERN,
                        },
                    },
                ],
                body=_body("HoldRequest", "Unknown fields are ignored."),
            )
        },
        "/api/v1/holds/{id}": {
            "get": _operation(
                "getHold",
                "holds",
                "One of the caller's holds",
                {"200": hold, "404": _error("`not_found`: no such hold of the caller's.")},
                parameters=[_HOLD_ID],
            ),
            "delete": _operation(
                "releaseHold",
                "holds",
                "Give the seats back",
                {
                    "204": {
                        "description": "Released, or had already ended (expired, released "
                        "or booked)."
                    },
                    "404": _error("`not_found`: no such hold of the caller's."),
                    "503": engine_down,
                },
                parameters=[_HOLD_ID],
            ),
        },
    }


def _payment_paths() -> dict[str, Any]:
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
                "application/json": {"schema": _ref("PaymentStateEnvelope")},
                "text/html": {"schema": _STRING},
            },
        },
        "404": _error("`not_found`: no such checkout session."),
        "422": _error("`invalid_input`: `session_id` is missing or longer than 255 characters."),
    }
    return {
        "/api/v1/holds/{id}/checkout": {
            "post": _operation(
                "checkout",
                "payments",
                "Open (or return) the checkout for one of the caller's holds",
                {
                    "201": _content(
                        "Pay at `checkout_url` before `expires_at`. A retry returns the same "
                        "open checkout.",
                        _ref("Checkout"),
                    ),
                    "404": _error("`not_found`: no such hold of the caller's."),
                    "409": _error(
                        "`hold_not_active`: the hold has ended; `conflict`: its checkout has "
                        "ended (`payment_status`)."
                    ),
                    "503": _error(
                        "`engine_unavailable` or `payment_provider_unavailable`; safe to retry.",
                        retry_after=True,
                    ),
                },
                parameters=[_HOLD_ID],
            )
        },
        "/api/v1/payments/webhook": {
            "post": _operation(
                "paymentWebhook",
                "payments",
                "The payment provider's signed checkout events (Stripe)",
                {
                    "200": _content(
                        "The event's outcome is committed; a redelivery is `duplicate`.",
                        _ref("WebhookReceipt"),
                    ),
                    "400": _error(
                        "`invalid_signature`: the Stripe-Signature header is missing, wrong or "
                        "more than five minutes old."
                    ),
                    "408": _BODY_TIMEOUT,
                    "413": _TOO_LARGE,
                    "422": _error("`malformed_json`: correctly signed, but not an event."),
                    "503": _error(
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
                        "schema": _STRING,
                    }
                ],
                body={
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            )
        },
        "/api/v1/payments/success": {
            "get": _operation(
                "paymentSuccess",
                "payments",
                "Where the provider sends a buyer who paid",
                landing_responses,
                public=True,
                parameters=landing_parameters,
            )
        },
        "/api/v1/payments/cancel": {
            "get": _operation(
                "paymentCancel",
                "payments",
                "Where the provider sends a buyer who gave up",
                landing_responses,
                public=True,
                parameters=landing_parameters,
            )
        },
        "/api/v1/bookings": {
            "get": _operation(
                "listBookings",
                "payments",
                "The caller's bookings",
                {"200": _content("What each confirmed payment bought.", _ref("BookingList"))},
            )
        },
    }


def _local_checkout_paths() -> dict[str, Any]:
    session_id: dict[str, Any] = {
        "name": "session_id",
        "in": "path",
        "required": True,
        "description": "A local checkout session's id.",
        "schema": _STRING,
    }
    not_local = _error(
        "`not_found`: no such local session, or a Stripe key is configured (then the local "
        "checkout does not exist)."
    )
    moved = {
        "description": "Done; go to the success or cancel page.",
        "headers": {"Location": {"required": True, "schema": {"type": "string", "format": "uri"}}},
    }
    emit_failed = _error(
        "`unavailable` or `engine_unavailable`: the outcome was not recorded; try again.",
        retry_after=True,
    )
    page = {"description": "The page.", "content": {"text/html": {"schema": _STRING}}}
    resubmitted = {
        **page,
        "description": "The checkout is no longer open (a resubmitted "
        "form): nothing happens, and the page shows where it stands.",
    }
    note = "Development only: stands in for Stripe's hosted checkout when no Stripe key is set."
    return {
        "/checkout/local/{session_id}": {
            "get": _operation(
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
            "post": _operation(
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
            "post": _operation(
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


def _page_paths() -> dict[str, Any]:
    note = "Not part of the API: the page a browser opens, and the files it loads."
    return {
        "/": {
            "get": _operation(
                "buyerPage",
                "pages",
                "The buyer's page: events, seat maps, holds, checkout, bookings, organizer view",
                {
                    "200": {
                        "description": "The page.",
                        "content": {"text/html": {"schema": _STRING}},
                    }
                },
                public=True,
                description=note,
            )
        },
        "/static/{path}": {
            "get": _operation(
                "staticFile",
                "pages",
                "A script, stylesheet or other file of the buyer's page",
                {
                    "200": {
                        "description": "The file, with its own content type.",
                        "content": {"*/*": {"schema": _STRING}},
                    },
                    "404": _error("`not_found`: no such file."),
                },
                public=True,
                description=note,
                parameters=[
                    {
                        "name": "path",
                        "in": "path",
                        "required": True,
                        "description": "The file's path under the page's static folder.",
                        "schema": _STRING,
                    }
                ],
            )
        },
    }


def _payment_schemas() -> dict[str, Schema]:
    payment_status: Schema = {"type": "string", "enum": [status.value for status in PaymentStatus]}
    booked_seat = _exact(
        {
            "id": _integer(1),
            "section": _STRING,
            "row": _STRING,
            "number": _integer(1),
            "category": _STRING,
            "price": _integer(0),
        }
    )
    return {
        "Checkout": _exact(
            {
                "checkout_url": {"type": "string", "format": "uri"},
                "session_id": _STRING,
                "expires_at": _DATETIME,
            }
        ),
        "WebhookReceipt": _exact(
            {
                "received": {"const": True},
                "outcome": {"type": "string", "enum": [outcome.value for outcome in Outcome]},
            }
        ),
        "PaymentState": _exact(
            {
                "session_id": _STRING,
                "status": payment_status,
                "amount_minor": _integer(0),
                "currency": _STRING,
                "booking_id": {"type": ["integer", "null"], "minimum": 1},
            }
        ),
        "PaymentStateEnvelope": _exact({"payment": _ref("PaymentState")}),
        "Booking": _exact(
            {
                "id": _integer(1),
                "event": _exact({"id": _integer(1), "name": _STRING, "starts_at": _DATETIME}),
                "seats": {"type": "array", "items": booked_seat},
                "amount_minor": _integer(0),
                "currency": _STRING,
                "payment_status": payment_status,
                "created_at": _DATETIME,
            }
        ),
        "BookingList": _exact({"bookings": {"type": "array", "items": _ref("Booking")}}),
    }


# -- schemas --------------------------------------------------------------------------------


def _schemas() -> dict[str, Schema]:
    return {
        **_common_schemas(),
        **_catalog_schemas(),
        **_payment_schemas(),
        **_request_schemas(),
    }


def _common_schemas() -> dict[str, Schema]:
    user = _exact(
        {
            "id": _integer(1),
            "email": _STRING,
            "name": _STRING,
            "role": {"type": "string", "enum": [role.value for role in Role]},
            "created_at": _DATETIME,
        }
    )
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status", "code", "message"],
                    "properties": {
                        "status": _integer(400, 599),
                        "code": {"type": "string", "minLength": 1},
                        "message": {"type": "string", "minLength": 1},
                        "field": {"type": "string", "description": "The offending field."},
                    },
                    "additionalProperties": True,
                    "description": "Other properties are details of the particular error.",
                }
            },
            "additionalProperties": False,
        },
        "Health": _exact({"status": {"const": "ok"}}),
        "Readiness": _exact(
            {
                "status": {"type": "string", "enum": ["ready", "not_ready"]},
                "checks": _exact({"redis": {"type": "boolean"}, "database": {"type": "boolean"}}),
            }
        ),
        "User": user,
        "UserEnvelope": _exact({"user": _ref("User")}),
        "Session": _exact({"user": _ref("User"), "token": _STRING, "expires_at": _DATETIME}),
        "Hold": _exact(
            {
                "id": {"type": "string", "pattern": HOLD_ID_PATTERN},
                "event_id": _integer(1),
                "seat_ids": {"type": "array", "minItems": 1, "items": _integer(1)},
                "status": {"type": "string", "enum": [status.value for status in HoldStatus]},
                "expires_at": _DATETIME,
                "created_at": _DATETIME,
            }
        ),
        "HoldEnvelope": _exact({"hold": _ref("Hold")}),
    }


def _catalog_schemas() -> dict[str, Schema]:
    event = {
        "id": _integer(1),
        "name": _STRING,
        "venue_id": _integer(1),
        "venue": _STRING,
        "starts_at": _DATETIME,
        "sale_starts_at": _DATETIME,
        "sale_ends_at": _DATETIME,
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "max_seats_per_buyer": _integer(1, MAX_SEATS_PER_BUYER),
        "seats_total": _integer(0),
        "seats_available": _integer(0),
    }
    price = _exact({"category": _STRING, "name": _STRING, "amount_minor": _integer(0)})
    seat = _exact(
        {
            "id": _integer(1),
            "section": _STRING,
            "row": _STRING,
            "number": _integer(1),
            "category": _STRING,
            "price": _integer(0),
            "status": {"type": "string", "enum": [status.value for status in SeatStatus]},
        }
    )
    return {
        "Category": _exact({"code": _STRING, "name": _STRING}),
        "Venue": _exact(
            {
                "id": _integer(1),
                "name": _STRING,
                "seats": _integer(0),
                "categories": {"type": "array", "items": _ref("Category")},
            }
        ),
        "VenueEnvelope": _exact({"venue": _ref("Venue")}),
        "VenueList": _exact({"venues": {"type": "array", "items": _ref("Venue")}}),
        "Event": _exact(event),
        "EventDetail": _exact({**event, "prices": {"type": "array", "items": price}}),
        "EventList": _exact({"events": {"type": "array", "items": _ref("Event")}}),
        "EventEnvelope": _exact({"event": _ref("EventDetail")}),
        "SeatMap": _exact(
            {
                "event_id": _integer(1),
                "seq": _integer(0),
                "seats": {"type": "array", "items": seat},
            }
        ),
    }


def _request_schemas() -> dict[str, Schema]:
    seat_numbers: Schema = {
        "description": "A count (seats numbered 1..n), or the seat numbers of a row with gaps.",
        "oneOf": [
            _integer(1, MAX_SEAT_NUMBER),
            {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": _integer(1, MAX_SEAT_NUMBER),
            },
        ],
    }
    row = _object(
        {"label": _text(ROW_LABEL_MAX), "seats": seat_numbers, "category": _STRING},
        required=["label", "seats", "category"],
        extra=False,
    )
    rows_section = _object(
        {
            "name": _text(SECTION_NAME_MAX),
            "rows": {"type": "array", "minItems": 1, "items": row},
        },
        required=["name", "rows"],
        extra=False,
    )
    compact_section = _object(
        {
            "name": _text(SECTION_NAME_MAX),
            "rows": {**_integer(1, MAX_SEATS), "description": "Rows labelled 1..n."},
            "seats": seat_numbers,
            "category": _STRING,
        },
        required=["name", "rows", "seats", "category"],
        extra=False,
    )
    category = _object(
        {"code": _text(CATEGORY_CODE_MAX), "name": _text(CATEGORY_NAME_MAX)},
        required=["code", "name"],
        extra=False,
    )
    datetime_field: Schema = {
        **_DATETIME,
        "description": "ISO-8601 with a timezone, e.g. 2030-05-01T19:30:00Z.",
    }
    return {
        "SignupRequest": _object(
            {
                "email": {
                    "type": "string",
                    "maxLength": MAX_EMAIL_LENGTH,
                    "pattern": EMAIL_PATTERN,
                    "description": "Trimmed and lower-cased before it is checked and stored.",
                },
                "password": {
                    "type": "string",
                    "minLength": MIN_PASSWORD_LENGTH,
                    "maxLength": MAX_PASSWORD_LENGTH,
                },
                "name": _text(MAX_NAME_LENGTH),
            },
            required=["email", "password", "name"],
            extra=True,
        ),
        "LoginRequest": _object(
            {"email": _STRING, "password": _STRING}, required=["email", "password"], extra=True
        ),
        "HoldRequest": _object(
            {
                "seat_ids": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_SEATS_PER_HOLD,
                    "uniqueItems": True,
                    "items": _integer(1, INT64_MAX),
                    "description": "Seat ids from the event's seat map.",
                }
            },
            required=["seat_ids"],
            extra=True,
        ),
        "VenueLayout": _object(
            {
                "name": _text(VENUE_NAME_MAX),
                "categories": {"type": "array", "minItems": 1, "items": category},
                "sections": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "description": "Rows listed one by one, or the compact form: `rows` "
                        "rows of the same `seats`, all in one `category`.",
                        "oneOf": [rows_section, compact_section],
                    },
                },
            },
            required=["name", "categories", "sections"],
            extra=False,
        ),
        "EventSpec": _object(
            {
                "venue_id": _integer(1, INT64_MAX),
                "name": _text(EVENT_NAME_MAX),
                "starts_at": datetime_field,
                "sale_starts_at": datetime_field,
                "sale_ends_at": datetime_field,
                "currency": {
                    "type": "string",
                    "pattern": "^[A-Z]{3}$",
                    "description": "ISO 4217.",
                },
                "max_seats_per_buyer": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "maximum": MAX_SEATS_PER_BUYER,
                    "default": DEFAULT_MAX_SEATS_PER_BUYER,
                    "description": f"Null or absent means {DEFAULT_MAX_SEATS_PER_BUYER}.",
                },
                "prices": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": _integer(0, MAX_PRICE_MINOR),
                    "description": "Minor units (cents) per category code of the venue.",
                },
            },
            required=[
                "venue_id",
                "name",
                "starts_at",
                "sale_starts_at",
                "sale_ends_at",
                "currency",
                "prices",
            ],
            extra=False,
        ),
    }
