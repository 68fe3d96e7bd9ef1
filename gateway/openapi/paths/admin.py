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
    path_id,
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
        "/api/v1/admin/events/{event_id}": {"patch": _event_settings_operation()},
        "/api/v1/admin/events/{event_id}/waiting-room": _waiting_room_paths(),
    }


def _event_settings_operation() -> dict[str, Any]:
    return operation(
        "changeEventSettings",
        "admin",
        "Change an event's settings, while it is on sale too",
        {
            "200": content("The event with its settings as now in force.", ref("EventEnvelope")),
            "403": FORBIDDEN,
            "404": error("`not_found`: no such event."),
            "408": BODY_TIMEOUT,
            "413": TOO_LARGE,
            "415": NOT_JSON,
            "422": invalid("a setting is missing, unknown or not a boolean"),
            "503": error(
                "`engine_unavailable`: the settings are saved but the engine did not confirm "
                "them in time; it applies them when it decides the queued change. Safe to "
                "retry.",
                retry_after=True,
            ),
        },
        description="Saved first, then in force for every hold the engine decides after the "
        "answer; holds already made stay. `no_single_gaps` is the one setting for now.",
        parameters=[path_id("event_id", "event")],
        body=request_body("EventSettings", "Every setting; unknown ones are refused."),
    )


def _waiting_room_paths() -> dict[str, Any]:
    event_id = path_id("event_id", "event")
    answer = content(
        "The settings as saved and the room as the engine now runs it.", ref("WaitingRoom")
    )
    engine_down = error(
        "`engine_unavailable`: the settings are saved but the engine did not confirm them in "
        "time; it applies them when it next loads the event. Safe to retry.",
        retry_after=True,
    )
    rules = (
        "Beyond the schema: `queue_opens_at` is before the sale's end. Breaking it is a 422 "
        "naming the field. The change is in force from the engine's next tick (about a second); "
        "a buyer already admitted keeps their session."
    )
    change_responses = {
        "200": answer,
        "403": FORBIDDEN,
        "404": error("`not_found`: no such event."),
        "408": BODY_TIMEOUT,
        "413": TOO_LARGE,
        "415": NOT_JSON,
        "422": invalid("a setting is missing, unknown, of the wrong type or out of its range"),
        "503": engine_down,
    }
    return {
        "get": operation(
            "getWaitingRoom",
            "admin",
            "An event's waiting-room settings and live figures",
            {
                "200": content(
                    "`settings` null: the event has no waiting room. `stats` null: the engine "
                    "has not run it yet.",
                    ref("WaitingRoom"),
                ),
                "403": FORBIDDEN,
                "404": error("`not_found`: no such event."),
            },
            parameters=[event_id],
        ),
        "put": operation(
            "setWaitingRoom",
            "admin",
            "Set an event's waiting room, every setting at once",
            change_responses,
            description=rules,
            parameters=[event_id],
            body=request_body("WaitingRoomRequest", "Unknown fields are refused."),
        ),
        "patch": operation(
            "changeWaitingRoom",
            "admin",
            "Change some settings of an event's waiting room while the sale runs",
            {
                **change_responses,
                "409": error(
                    "`no_waiting_room`: the event has no waiting room yet; set one whole (PUT) "
                    "first."
                ),
            },
            description="Pause and resume (`paused`), the rate, the cap, or any other setting; "
            "the others keep their values. " + rules,
            parameters=[event_id],
            body=request_body("WaitingRoomChange", "At least one setting; unknown ones refused."),
        ),
    }
