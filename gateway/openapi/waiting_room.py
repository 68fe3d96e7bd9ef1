"""The waiting room's schemas: a buyer's queue status, the room as the event shows it, and the
organizer's settings and figures."""

from __future__ import annotations

from domain.waiting_room import ADMISSIONS_PER_MINUTE_RANGE, MAX_INSIDE_RANGE, QueueState
from gateway.openapi.blocks import DATETIME, STRING, Schema, exact, integer, object_schema, ref
from gateway.waiting_rooms import DEFAULT_SESSION_MINUTES, SESSION_MINUTES_RANGE


def _nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def _setting_properties() -> dict[str, Schema]:
    return {
        "enabled": {
            "type": "boolean",
            "description": "Off: everyone may shop and nobody can join the queue.",
        },
        "queue_opens_at": {
            **DATETIME,
            "description": "When buyers may start joining (ISO-8601 with a timezone); before "
            "the sale ends. Those who join before the sale starts are put in line at random "
            "when it starts.",
        },
        "admissions_per_minute": integer(*ADMISSIONS_PER_MINUTE_RANGE),
        "max_inside": {
            **integer(*MAX_INSIDE_RANGE),
            "description": "The most buyers shopping at once.",
        },
        "session_minutes": {
            **integer(*SESSION_MINUTES_RANGE),
            "description": "How long an admitted buyer may shop; extended while they hold "
            "seats or are paying.",
        },
        "paused": {
            "type": "boolean",
            "description": "Admission stops; everyone keeps their place.",
        },
    }


def waiting_room_schemas() -> dict[str, Schema]:
    count = integer(0)
    rate: Schema = {"type": "number", "minimum": 0}
    settings = _setting_properties()
    return {
        "EventWaitingRoom": exact(
            {
                "enabled": {"type": "boolean"},
                "queue_opens_at": DATETIME,
                "queue_url": {**STRING, "description": "Where a buyer joins (POST) or looks."},
            }
        ),
        "QueueRoom": exact(
            {
                "paused": {"type": "boolean"},
                "admitted_through": {
                    **count,
                    "description": "Every rank up to this one has been let in (or has left).",
                },
                "last_rank": {**count, "description": "The last rank given so far."},
                "waiting": {**count, "description": "Places still in line, pre-queue included."},
                "inside": {**count, "description": "Shopping sessions running now."},
                "rate_per_minute": {
                    **rate,
                    "description": "The admission rate the estimates use; 0 while paused.",
                },
                "queue_opens_at": DATETIME,
                "sale_starts_at": DATETIME,
            }
        ),
        "QueueStatus": exact(
            {
                "event_id": integer(1),
                "place_id": {**STRING, "description": "Random; it says nothing about the rank."},
                "state": {
                    "type": "string",
                    "enum": [state.value for state in QueueState],
                    "description": "`pre_queue` before the sale starts (no rank yet), "
                    "`waiting`, `admitted` (shopping until `session_expires_at`), `expired` "
                    "(the session ran out) or `done` (booked or left).",
                },
                "position": {
                    **_nullable(integer(1)),
                    "description": "The place's fixed rank; null in the pre-queue.",
                },
                "ahead": {
                    **_nullable(count),
                    "description": "People in line in front: `position - admitted_through - 1`"
                    " (at least 0) while waiting, 0 once admitted, else null.",
                },
                "estimated_wait_seconds": {
                    **_nullable(count),
                    "description": "`ahead * 60 / rate_per_minute`, rounded up; null when no "
                    "estimate can be made (pre-queue, paused, ended).",
                },
                "session_expires_at": _nullable(DATETIME),
                "session_expires_at_ms": _nullable(integer(0)),
                "queue_url": STRING,
                "socket_url": STRING,
                "room": ref("QueueRoom"),
            }
        ),
        "WaitingRoomSettings": exact({**settings, "version": integer(1)}),
        "WaitingRoomStats": exact(
            {
                "waiting": count,
                "admitted_total": count,
                "inside": count,
                "admitted_last_minute": count,
                "rate_per_minute": rate,
                "estimated_seconds_to_clear": {
                    **_nullable(count),
                    "description": "`waiting * 60 / rate_per_minute`, rounded up; null while "
                    "paused.",
                },
            }
        ),
        "WaitingRoom": exact(
            {
                "event_id": integer(1),
                "settings": {
                    **_nullable(ref("WaitingRoomSettings")),
                    "description": "Null: the event has no waiting room.",
                },
                "stats": {
                    **_nullable(ref("WaitingRoomStats")),
                    "description": "Null until the engine runs the room.",
                },
            }
        ),
        "WaitingRoomRequest": object_schema(
            {
                **settings,
                "session_minutes": {
                    **_nullable(settings["session_minutes"]),
                    "default": DEFAULT_SESSION_MINUTES,
                    "description": f"Null or absent: {DEFAULT_SESSION_MINUTES}.",
                },
                "paused": {
                    **_nullable(settings["paused"]),
                    "description": "Null or absent: false.",
                },
            },
            required=["enabled", "queue_opens_at", "admissions_per_minute", "max_inside"],
            extra=False,
        ),
        "WaitingRoomChange": {
            **object_schema(settings, required=[], extra=False),
            "minProperties": 1,
        },
    }
