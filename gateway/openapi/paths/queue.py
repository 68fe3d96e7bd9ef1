"""The waiting room: a buyer's place in an event's queue, and the room's progress websocket."""

from __future__ import annotations

from typing import Any, Final

from gateway.openapi.blocks import content, error, operation, path_id, rate_limited, ref
from gateway.openapi.constraints import IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEY_PATTERN


def queue_paths() -> dict[str, Any]:
    event_id = path_id("event_id", "event")
    status = ref("QueueStatus")
    engine_down = error(
        "`engine_unavailable`: the seat engine did not decide in time or cannot be reached. "
        "Safe to retry: joining again gives the same place.",
        retry_after=True,
    )
    no_room = error(
        "`no_waiting_room`: the event's waiting room is off (or it has none): buyers choose "
        "seats directly."
    )
    return {
        "/api/v1/events/{event_id}/queue": {
            "post": operation(
                "joinQueue",
                "queue",
                "Join the event's waiting room (or get the place already held)",
                {
                    "200": content(
                        "The caller's place: one per account and event, so joining again (a "
                        "retry, another tab) answers the same place.",
                        status,
                    ),
                    "404": error("`not_found`: no such event."),
                    "409": error(
                        "`no_waiting_room`: the event's waiting room is off; `queue_not_open`: "
                        "the queue opens later (`queue_opens_at_ms`); `sale_not_open`: the sale "
                        "has ended."
                    ),
                    "422": error(
                        "`invalid_input`: the Idempotency-Key header is not 1-"
                        f"{IDEMPOTENCY_KEY_MAX} printable characters."
                    ),
                    "429": rate_limited("per client IP: RATE_LIMIT_QUEUE_JOIN_PER_IP"),
                    "503": engine_down,
                },
                description=(
                    "Before the sale starts the place is in the pre-queue, without a rank: "
                    "everyone in it is put in line in a uniformly random order when the sale "
                    "starts. Later arrivals are ranked in arrival order behind them. Follow "
                    "the room on `socket_url`."
                ),
                parameters=[
                    event_id,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Optional; a join is idempotent per account anyway.",
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": IDEMPOTENCY_KEY_MAX,
                            "pattern": IDEMPOTENCY_KEY_PATTERN,
                        },
                    },
                ],
            ),
            "get": operation(
                "getQueuePlace",
                "queue",
                "Where the caller stands in the event's queue",
                {
                    "200": content(
                        "The caller's place, as the engine last decided it. An admission whose "
                        "session has run out reads `expired`.",
                        status,
                    ),
                    "404": error(
                        "`not_found`: no such event, or the caller has no place yet (POST to "
                        "this address to join)."
                    ),
                    "409": no_room,
                },
                description="Read from the engine's state in Redis; polling costs the engine "
                "nothing, but the websocket tells the same without polling.",
                parameters=[event_id],
            ),
            "delete": operation(
                "leaveQueue",
                "queue",
                "Give up the place (or end the shopping session)",
                {
                    "200": content("The place, now `done`; its slot goes on.", status),
                    "404": error("`not_found`: no such event, or the caller has no place."),
                    "409": no_room,
                    "503": engine_down,
                },
                parameters=[event_id],
            ),
        },
        "/api/v1/events/{event_id}/queue/ws": {
            "get": operation(
                "watchQueue",
                "queue",
                "The waiting room's progress over a websocket",
                {
                    "101": {
                        "description": "Switched to the websocket protocol; messages follow as "
                        "described above."
                    },
                    "400": error(
                        "`bad_request`: the request is not a websocket upgrade (nothing is "
                        "subscribed or kept for the event)."
                    ),
                    "404": error("`not_found`: no such event; answered before the upgrade."),
                    "409": error(
                        "`no_waiting_room`: the event has no waiting room switched on; answered "
                        "before the upgrade."
                    ),
                    "429": error(
                        "`rate_limited`: this client IP has opened as many queue sockets as it "
                        "may this window (RATE_LIMIT_QUEUE_SOCKET_PER_IP, every request counted, "
                        "shared by all gateways), or already has as many websockets open on this "
                        "server as it may (WS_MAX_PER_IP, seat maps and queues together); "
                        "answered before the upgrade. Retry after `Retry-After` seconds.",
                        retry_after=True,
                    ),
                    "503": error(
                        "`unavailable`: the room cannot be read from Redis right now (answered "
                        "before the upgrade).",
                        retry_after=True,
                    ),
                },
                public=True,
                description=_QUEUE_FEED_PROTOCOL,
                parameters=[event_id],
            )
        },
    }


_QUEUE_FEED_PROTOCOL: Final = """\
A GET that upgrades to a websocket. Public: nothing in it is about one buyer. The server sends
JSON text messages; what a client sends is read and ignored (at most 1024 bytes a message). The
server pings every 20 seconds.

Every message is the event's whole room: `{"type": "queue", "event_id": int, "at": int (epoch
ms), "enabled": bool, "paused": bool, "queue_opens_at_ms": int, "sale_starts_at_ms": int,
"admissions_per_minute": int, "max_inside": int, "session_seconds": int, "version": int,
"shuffled": bool, "last_rank": int, "admitted_through": int, "waiting": int, "inside": int,
"admitted_total": int, "admitted_last_minute": int, "rate_per_minute": number}`. The first
comes on connect (unless the engine has not run the room yet), the others whenever admission
moves on (at most about once a second) or the organizer changes a setting. Each is complete, so
a client keeps only the newest (`at`). A buyer's page knows its rank (`position` from
`GET /api/v1/events/{event_id}/queue`) and works out the rest: people ahead =
`max(rank - admitted_through - 1, 0)`, estimated wait = `ahead * 60 / rate_per_minute` seconds
(unknown while the rate is 0); at `admitted_through >= rank` it asks for its status again.

A client that falls too far behind, whose room cannot be read again (Redis lost), or whose
server is shutting down is closed with code 1013 (try again later) and should reconnect.
"""
