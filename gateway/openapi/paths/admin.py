"""Organizer endpoints: venues and events."""

from __future__ import annotations

from typing import Any

from domain.catalog import (
    MAX_SEATS,
)
from gateway.openapi.blocks import (
    BODY_TIMEOUT,
    FORBIDDEN,
    NOT_JSON,
    TOO_LARGE,
    content,
    error,
    invalid,
    operation,
    ref,
    request_body,
)


def admin_paths() -> dict[str, Any]:
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
            "post": operation(
                "createVenue",
                "admin",
                "Create a venue from its layout",
                {
                    "201": content("The venue.", ref("VenueEnvelope")),
                    "403": FORBIDDEN,
                    "408": BODY_TIMEOUT,
                    "413": TOO_LARGE,
                    "415": NOT_JSON,
                    "422": invalid("it breaks a rule of the layout"),
                },
                description=venue_rules,
                body=request_body("VenueLayout", "Unknown fields are refused, at every level."),
            ),
            "get": operation(
                "listVenues",
                "admin",
                "Every venue",
                {"200": content("The venues.", ref("VenueList")), "403": FORBIDDEN},
            ),
        },
        "/api/v1/admin/events": {
            "post": operation(
                "createEvent",
                "admin",
                "Put an event on at a venue",
                {
                    "201": content("The event, every seat available.", ref("EventEnvelope")),
                    "403": FORBIDDEN,
                    "404": error("`not_found`: no venue `venue_id` (`field` is `venue_id`)."),
                    "408": BODY_TIMEOUT,
                    "413": TOO_LARGE,
                    "415": NOT_JSON,
                    "422": invalid("it breaks a rule of the event"),
                },
                description=event_rules,
                body=request_body("EventSpec", "Unknown fields are refused."),
            )
        },
    }
