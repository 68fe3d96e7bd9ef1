"""Events, prices and seat maps, and the live seat-map websocket."""

from __future__ import annotations

from typing import Any, Final

from gateway.openapi.blocks import content, error, operation, path_id, ref


def catalog_paths() -> dict[str, Any]:
    event_id = path_id("event_id", "event")
    return {
        "/api/v1/events": {
            "get": operation(
                "listEvents",
                "catalog",
                "Every event, soonest first",
                {"200": content("The events.", ref("EventList"))},
                public=True,
            )
        },
        "/api/v1/events/{event_id}": {
            "get": operation(
                "getEvent",
                "catalog",
                "One event with its prices",
                {
                    "200": content("The event.", ref("EventEnvelope")),
                    "404": error("`not_found`: no such event."),
                },
                public=True,
                parameters=[event_id],
            )
        },
        "/api/v1/events/{event_id}/seats": {
            "get": operation(
                "getSeatMap",
                "catalog",
                "The seat map with live statuses",
                {
                    "200": content(
                        "Every seat in layout order, at sequence number `seq`: apply seat-feed "
                        "changes numbered after it.",
                        ref("SeatMap"),
                    ),
                    "404": error("`not_found`: no such event."),
                    "503": error(
                        "`unavailable`: live statuses cannot be read from Redis right now.",
                        retry_after=True,
                    ),
                },
                public=True,
                parameters=[event_id],
            )
        },
        "/api/v1/events/{event_id}/layout": {
            "get": operation(
                "getEventLayout",
                "catalog",
                "The event's seats placed on the venue's plan, with prices",
                {
                    "200": {
                        **content(
                            "What the map is drawn from and never changes: sections, rows and "
                            "seats in layout order with their places (decimetres), the stage, "
                            "the categories and prices. gzip-compressed when the request "
                            "accepts it.",
                            ref("EventLayout"),
                        ),
                        "headers": _CACHE_HEADERS,
                    },
                    "304": {
                        "description": "`If-None-Match` named the current ETag: keep yours.",
                        "headers": _CACHE_HEADERS,
                    },
                    "404": error("`not_found`: no such event."),
                },
                public=True,
                parameters=[event_id],
            )
        },
        "/api/v1/events/{event_id}/seats/live": {
            "get": operation(
                "getLiveSeatState",
                "catalog",
                "Every seat's status now, one letter per seat",
                {
                    "200": content(
                        "The statuses at sequence number `seq`, in the layout's seat order: "
                        "apply seat-feed changes numbered after it. Compressed when the "
                        "request accepts it; never cached.",
                        ref("LiveSeatState"),
                    ),
                    "404": error("`not_found`: no such event."),
                    "503": error(
                        "`unavailable`: live statuses cannot be read from Redis right now.",
                        retry_after=True,
                    ),
                },
                public=True,
                parameters=[event_id],
            )
        },
        "/api/v1/events/{id}/seats/ws": {
            "get": operation(
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
                    "400": error(
                        "`bad_request`: the request is not a websocket upgrade (nothing is "
                        "subscribed or kept for the event)."
                    ),
                    "404": error(
                        "`not_found`: no such event; answered before the upgrade, and nothing "
                        "is subscribed or kept for it."
                    ),
                    "429": error(
                        "`rate_limited`: this client IP has opened as many seat maps as it may "
                        "this window (RATE_LIMIT_SEAT_MAP_PER_IP, every request counted, shared "
                        "by all gateways), or already has as many open on this server as it may "
                        "(WS_MAX_PER_IP); answered before the upgrade. Retry after "
                        "`Retry-After` seconds.",
                        retry_after=True,
                    ),
                    "503": error(
                        "`unavailable`: live statuses cannot be read from Redis right now "
                        "(answered before the upgrade).",
                        retry_after=True,
                    ),
                },
                public=True,
                description=_SEAT_FEED_PROTOCOL,
                parameters=[
                    path_id("id", "event"),
                    {
                        "name": "snapshot",
                        "in": "query",
                        "required": False,
                        "description": "`letters`: snapshots as the compact live state (see "
                        "above); anything else or nothing: the seat list.",
                        "schema": {"type": "string"},
                    },
                ],
            )
        },
    }


_CACHE_HEADERS: Final = {
    "ETag": {
        "description": "Strong: changes whenever the body would.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`public, max-age=86400`: browsers and CDNs keep it for a day.",
        "schema": {"type": "string"},
    },
}

_SEAT_FEED_PROTOCOL: Final = """\
A GET that upgrades to a websocket (send the usual `Connection: Upgrade`, `Upgrade: websocket`
and `Sec-WebSocket-*` headers). The server sends JSON text messages; what a client sends is read
and ignored (at most 1024 bytes a message). The server pings every 20 seconds.

- On connect, and whenever the server notices it may have missed changes:
  `{"type": "snapshot", "event_id": int, "seq": int, "seats": [{"seat_id": int, "status":
  "available" | "held" | "booked"}]}`: every seat's status at `seq`.
  With `?snapshot=letters`, snapshots are `{"type": "snapshot", "event_id": int, "seq": int,
  "statuses": string}` instead: a letter per seat in the layout's order, as
  `/api/v1/events/{event_id}/seats/live` gives them (`a` available, `h` held, `b` booked).
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
