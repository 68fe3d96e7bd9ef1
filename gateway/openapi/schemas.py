"""The document's component schemas: wire shapes of answers and requests."""

from __future__ import annotations

from typing import Final

from domain.catalog import (
    DEFAULT_MAX_SEATS_PER_BUYER,
    DEFAULT_TIME_ZONE,
    MAX_COORDINATE,
    MAX_PRICE_MINOR,
    MAX_RANK,
    MAX_SEAT_NUMBER,
    MAX_SEATS,
    MAX_SEATS_PER_BUYER,
    MAX_SPACING,
    MIN_SPACING,
    TIME_ZONE_MAX,
)
from domain.geometry import DEFAULT_ROW_SPACING, DEFAULT_SEAT_SPACING
from domain.statuses import HoldStatus, PaymentStatus, Role, SeatStatus
from gateway.openapi.blocks import (
    DATETIME,
    STRING,
    Schema,
    exact,
    integer,
    object_schema,
    ref,
    text,
)
from gateway.openapi.constraints import (
    CATEGORY_CODE_MAX,
    CATEGORY_NAME_MAX,
    EMAIL_PATTERN,
    EVENT_NAME_MAX,
    HOLD_ID_PATTERN,
    INT64_MAX,
    MAX_EMAIL_LENGTH,
    MAX_FILTER_NAME_LENGTH,
    MAX_FILTER_NAMES,
    MAX_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_SEATS_PER_HOLD,
    MIN_PASSWORD_LENGTH,
    ROW_LABEL_MAX,
    SECTION_NAME_MAX,
    VENUE_NAME_MAX,
)
from gateway.openapi.waiting_room import waiting_room_schemas
from gateway.payments.webhook import Outcome

TIME_ZONE: Final[Schema] = {
    "type": "string",
    "maxLength": TIME_ZONE_MAX,
    "description": "IANA time zone name, e.g. Europe/Amsterdam.",
}


def _payment_schemas() -> dict[str, Schema]:
    payment_status: Schema = {"type": "string", "enum": [status.value for status in PaymentStatus]}
    booked_seat = exact(_seat_place())
    return {
        "Checkout": exact(
            {
                "checkout_url": {"type": "string", "format": "uri"},
                "session_id": STRING,
                "expires_at": DATETIME,
            }
        ),
        "WebhookReceipt": exact(
            {
                "received": {"const": True},
                "outcome": {"type": "string", "enum": [outcome.value for outcome in Outcome]},
            }
        ),
        "PaymentState": exact(
            {
                "session_id": STRING,
                "status": payment_status,
                "amount_minor": integer(0),
                "currency": STRING,
                "booking_id": {"type": ["integer", "null"], "minimum": 1},
            }
        ),
        "PaymentStateEnvelope": exact({"payment": ref("PaymentState")}),
        "Booking": exact(
            {
                "id": integer(1),
                "event": exact(
                    {
                        "id": integer(1),
                        "name": STRING,
                        "starts_at": DATETIME,
                        "venue": STRING,
                        "time_zone": TIME_ZONE,
                    }
                ),
                "seats": {"type": "array", "items": booked_seat},
                "amount_minor": integer(0),
                "currency": STRING,
                "payment_status": payment_status,
                "created_at": DATETIME,
            }
        ),
        "BookingList": exact({"bookings": {"type": "array", "items": ref("Booking")}}),
        "MySeats": exact(
            {
                "event_id": integer(1),
                "booked_seat_ids": {"type": "array", "items": integer(1)},
            }
        ),
    }


def schemas() -> dict[str, Schema]:
    return {
        **_common_schemas(),
        **_catalog_schemas(),
        **_payment_schemas(),
        **_request_schemas(),
        **waiting_room_schemas(),
    }


def _common_schemas() -> dict[str, Schema]:
    user = exact(
        {
            "id": integer(1),
            "email": STRING,
            "name": STRING,
            "role": {"type": "string", "enum": [role.value for role in Role]},
            "created_at": DATETIME,
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
                        "status": integer(400, 599),
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
        "Health": exact({"status": {"const": "ok"}}),
        "Readiness": exact(
            {
                "status": {"type": "string", "enum": ["ready", "not_ready"]},
                "checks": exact({"redis": {"type": "boolean"}, "database": {"type": "boolean"}}),
            }
        ),
        "User": user,
        "UserEnvelope": exact({"user": ref("User")}),
        "Session": exact({"user": ref("User"), "token": STRING, "expires_at": DATETIME}),
        "Hold": exact(
            {
                "id": {"type": "string", "pattern": HOLD_ID_PATTERN},
                "event_id": integer(1),
                "seat_ids": {"type": "array", "minItems": 1, "items": integer(1)},
                "status": {"type": "string", "enum": [status.value for status in HoldStatus]},
                "expires_at": DATETIME,
                "created_at": DATETIME,
            }
        ),
        "HoldEnvelope": exact({"hold": ref("Hold")}),
    }


def _catalog_schemas() -> dict[str, Schema]:
    event = {
        "id": integer(1),
        "name": STRING,
        "venue_id": integer(1),
        "venue": STRING,
        "starts_at": DATETIME,
        "sale_starts_at": DATETIME,
        "sale_ends_at": DATETIME,
        "time_zone": TIME_ZONE,
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "max_seats_per_buyer": integer(1, MAX_SEATS_PER_BUYER),
        "no_single_gaps": {
            "type": "boolean",
            "description": "Holds that would leave one free seat alone between taken seats "
            "(or a taken seat and a row's end) are refused with `orphan_seat`.",
        },
        "waiting_room": {
            "oneOf": [ref("EventWaitingRoom"), {"type": "null"}],
            "description": "Null: no waiting room, buyers go straight to the seats.",
        },
        "seats_total": integer(0),
        "seats_available": integer(0),
    }
    price = exact({"category": STRING, "name": STRING, "amount_minor": integer(0)})
    seat = exact(
        {
            **_seat_place(),
            "status": {"type": "string", "enum": [status.value for status in SeatStatus]},
        }
    )
    return {
        "Category": exact({"code": STRING, "name": STRING}),
        "Venue": exact(
            {
                "id": integer(1),
                "name": STRING,
                "seats": integer(0),
                "categories": {"type": "array", "items": ref("Category")},
            }
        ),
        "VenueEnvelope": exact({"venue": ref("Venue")}),
        "VenueList": exact({"venues": {"type": "array", "items": ref("Venue")}}),
        "Event": exact(event),
        "EventDetail": exact({**event, "prices": {"type": "array", "items": price}}),
        "EventList": exact({"events": {"type": "array", "items": ref("Event")}}),
        "EventEnvelope": exact({"event": ref("EventDetail")}),
        "SeatMap": exact(
            {
                "event_id": integer(1),
                "seq": integer(0),
                "seats": {"type": "array", "items": seat},
            }
        ),
        **_layout_schemas(),
    }


def _layout_schemas() -> dict[str, Schema]:
    """The map's two parts: the layout that never changes, and the live state."""
    decimetres = {"type": "integer", "description": "Decimetres on the venue's plan."}
    column: Schema = {"type": "array", "items": decimetres}
    row = exact(
        {
            "label": STRING,
            "category": {**integer(0), "description": "Index into `categories`."},
            "ids": {
                "type": "array",
                "items": integer(1),
                "description": "Seat ids (those of holds and `/seats`), in seat order.",
            },
            "numbers": {"type": "array", "items": integer(1)},
            "x": {**column, "description": "Each seat's x, in decimetres, as `ids`."},
            "y": {**column, "description": "Each seat's y, in decimetres (down), as `ids`."},
        }
    )
    section = exact(
        {
            "name": STRING,
            "outline": {
                **column,
                "description": "The section's edge as x0, y0, x1, y1, … (a closed polygon).",
            },
            "rows": {"type": "array", "items": row},
        }
    )
    return {
        "EventLayout": exact(
            {
                "event_id": integer(1),
                "venue": STRING,
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "seats": integer(1),
                "categories": {
                    "type": "array",
                    "items": exact({"code": STRING, "name": STRING, "price": integer(0)}),
                },
                "stage": exact(
                    {
                        "x": {**decimetres, "description": "The stage's centre: the focal point."},
                        "y": decimetres,
                        "width": decimetres,
                        "depth": decimetres,
                    }
                ),
                "sections": {"type": "array", "items": section},
            }
        ),
        "LiveSeatState": exact(
            {
                "event_id": integer(1),
                "seq": integer(0),
                "statuses": {
                    "type": "string",
                    "pattern": "^[ahb]*$",
                    "description": "One letter per seat in the layout's order (section by "
                    "section, row by row, as `ids`): `a` available, `h` held, `b` booked.",
                },
            }
        ),
    }


def _request_schemas() -> dict[str, Schema]:
    seat_numbers: Schema = {
        "description": "A count (seats numbered 1..n), or the seat numbers of a row with gaps.",
        "oneOf": [
            integer(1, MAX_SEAT_NUMBER),
            {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": integer(1, MAX_SEAT_NUMBER),
            },
        ],
    }
    rank = integer(1, MAX_RANK)
    row = object_schema(
        {
            "label": text(ROW_LABEL_MAX),
            "seats": seat_numbers,
            "category": STRING,
            "rank": _nullable(
                {
                    **rank,
                    "description": "Overrides the seat order of best-available holds: ranked "
                    "seats come first, 1 best, then the rest by distance from the stage.",
                }
            ),
            "seat_ranks": _nullable(
                {
                    "type": "object",
                    "propertyNames": {"pattern": "^[0-9]+$"},
                    "additionalProperties": rank,
                    "description": "Ranks of single seats by seat number, over the row's.",
                }
            ),
        },
        required=["label", "seats", "category"],
        extra=False,
    )
    section_geometry = _nullable(
        object_schema(
            {
                "x": _metres(-MAX_COORDINATE, MAX_COORDINATE, "The front row's centre."),
                "y": _metres(-MAX_COORDINATE, MAX_COORDINATE, "Down the plan, like a screen."),
                "rotation": _nullable(
                    _metres(
                        -360.0,
                        360.0,
                        "Degrees clockwise: 0 faces up the plan, 90 right. Absent or null: "
                        "the section faces the stage's centre.",
                    )
                ),
                "row_spacing": _nullable(
                    _metres(MIN_SPACING, MAX_SPACING, f"Default {DEFAULT_ROW_SPACING}.")
                ),
                "seat_spacing": _nullable(
                    _metres(MIN_SPACING, MAX_SPACING, f"Default {DEFAULT_SEAT_SPACING}.")
                ),
                "curve": _nullable(
                    _metres(
                        1.0,
                        MAX_COORDINATE,
                        "Bends the rows into arcs: the front row's radius. Absent or null: "
                        "straight rows.",
                    )
                ),
            },
            required=["x", "y"],
            extra=False,
        )
    )
    rows_section = object_schema(
        {
            "name": text(SECTION_NAME_MAX),
            "rows": {"type": "array", "minItems": 1, "items": row},
            "geometry": section_geometry,
        },
        required=["name", "rows"],
        extra=False,
    )
    compact_section = object_schema(
        {
            "name": text(SECTION_NAME_MAX),
            "rows": {**integer(1, MAX_SEATS), "description": "Rows labelled 1..n."},
            "seats": seat_numbers,
            "category": STRING,
            "geometry": section_geometry,
        },
        required=["name", "rows", "seats", "category"],
        extra=False,
    )
    category = object_schema(
        {"code": text(CATEGORY_CODE_MAX), "name": text(CATEGORY_NAME_MAX)},
        required=["code", "name"],
        extra=False,
    )
    datetime_field: Schema = {
        **DATETIME,
        "description": "ISO-8601 with a timezone, e.g. 2030-05-01T19:30:00Z.",
    }
    return {
        "SignupRequest": object_schema(
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
                "name": text(MAX_NAME_LENGTH),
            },
            required=["email", "password", "name"],
            extra=True,
        ),
        "LoginRequest": object_schema(
            {"email": STRING, "password": STRING}, required=["email", "password"], extra=True
        ),
        "HoldRequest": {
            **object_schema(
                {
                    "seat_ids": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_SEATS_PER_HOLD,
                        "uniqueItems": True,
                        "items": integer(1, INT64_MAX),
                        "description": "Seat ids from the event's seat map.",
                    },
                    "best_available": _best_available(),
                },
                required=[],
                extra=True,
            ),
            "description": "Either the seats (`seat_ids`) or a request for the best ones "
            "(`best_available`), not both.",
            "oneOf": [{"required": ["seat_ids"]}, {"required": ["best_available"]}],
        },
        "VenueLayout": {
            **object_schema(
                {
                    "name": text(VENUE_NAME_MAX),
                    "categories": {"type": "array", "minItems": 1, "items": category},
                    "sections": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "description": "Rows listed one by one, or the compact form: "
                            "`rows` rows of the same `seats`, all in one `category`.",
                            "oneOf": [rows_section, compact_section],
                        },
                    },
                    "stage": _nullable(
                        object_schema(
                            {
                                "x": _metres(-MAX_COORDINATE, MAX_COORDINATE, "Its centre."),
                                "y": _metres(-MAX_COORDINATE, MAX_COORDINATE, "Its centre."),
                                "width": _metres(MIN_SPACING, MAX_COORDINATE, "Across."),
                                "depth": _metres(MIN_SPACING, MAX_COORDINATE, "Front to back."),
                            },
                            required=["x", "y", "width", "depth"],
                            extra=False,
                        )
                    ),
                },
                required=["name", "categories", "sections"],
                extra=False,
            ),
            "description": "A venue's layout and, optionally, its geometry on a plan in metres "
            "(x right, y down): the stage, whose centre is the focal point, and where each "
            "section sits. Give geometry for every section or for none (then the sections "
            "stand side by side facing the stage); with it, the stage is required.",
            # Any section placed: then all are, and there is a stage.
            "if": {
                "required": ["sections"],
                "properties": {"sections": {"contains": _with_object("geometry")}},
            },
            "then": {
                "required": ["stage"],
                "properties": {
                    "stage": {"type": "object"},
                    "sections": {"items": _with_object("geometry")},
                },
            },
        },
        "EventSpec": object_schema(
            {
                "venue_id": integer(1, INT64_MAX),
                "name": text(EVENT_NAME_MAX),
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
                    "additionalProperties": integer(0, MAX_PRICE_MINOR),
                    "description": "Minor units (cents) per category code of the venue.",
                },
                "time_zone": {
                    "type": ["string", "null"],
                    "maxLength": TIME_ZONE_MAX,
                    "default": DEFAULT_TIME_ZONE,
                    "description": "IANA name, e.g. Europe/Amsterdam: the event's times are "
                    f"shown in it. Null or absent means {DEFAULT_TIME_ZONE}.",
                },
                "no_single_gaps": {
                    "type": ["boolean", "null"],
                    "default": False,
                    "description": "Refuse holds that would leave one free seat alone between "
                    "taken seats or a taken seat and a row's end (`orphan_seat`); "
                    "best-available then never does. Null or absent means false.",
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
        "EventSettings": object_schema(
            {
                "no_single_gaps": {
                    "type": "boolean",
                    "description": "Refuse holds that would leave one free seat alone between "
                    "taken seats or a taken seat and a row's end (`orphan_seat`); "
                    "best-available then never does.",
                }
            },
            required=["no_single_gaps"],
            extra=False,
        ),
    }


def _best_available() -> Schema:
    names: Schema = {
        "type": ["array", "null"],
        "maxItems": MAX_FILTER_NAMES,
        "items": {"type": "string", "minLength": 1, "maxLength": MAX_FILTER_NAME_LENGTH},
    }
    return {
        **object_schema(
            {
                "count": integer(1, MAX_SEATS_PER_HOLD),
                "categories": {**names, "description": "Category codes; absent or [] for any."},
                "sections": {**names, "description": "Section names; absent or [] for any."},
                "together": {
                    "type": ["boolean", "null"],
                    "default": True,
                    "description": "False lets the seats be apart when no `count` adjacent "
                    "seats are left.",
                },
            },
            required=["count"],
            extra=True,
        ),
        "description": "The engine picks and holds the best free seats in one decision: "
        "`count` adjacent seats in one row leaving no single seat stranded; else adjacent "
        "seats (unless the event has `no_single_gaps`); else, with `together: false`, the "
        "best seats wherever they are. Best means nearest the stage, unless the organizer "
        "ranked rows or seats.",
    }


def _metres(low: float, high: float, description: str) -> Schema:
    return {"type": "number", "minimum": low, "maximum": high, "description": description}


def _nullable(schema: Schema) -> Schema:
    """An optional field: the handler takes null as absent."""
    return {"oneOf": [schema, {"type": "null"}]}


def _with_object(key: str) -> Schema:
    return {"type": "object", "required": [key], "properties": {key: {"type": "object"}}}


def _seat_place() -> dict[str, Schema]:
    """Where a seat is and what it costs, as bookings and seat maps both show it."""
    return {
        "id": integer(1),
        "section": STRING,
        "row": STRING,
        "number": integer(1),
        "category": STRING,
        "price": integer(0),
    }
