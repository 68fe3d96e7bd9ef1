"""The public catalog: events, their prices, and seat maps with live statuses.

A seat map comes whole (`/seats`, for scripts and the organizer's panel) or in two parts for
the buyer's page: the layout, which never changes and is cached everywhere, and the live
state, a character per seat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web
from redis.exceptions import RedisError

from domain.errors import NotFound, Unavailable
from engine.snapshot import Snapshot, read_snapshot
from gateway.appkeys import DATABASE, LAYOUTS, LIVE_STATES, REDIS, SETTINGS
from gateway.auth.guard import public
from gateway.views.catalog import event_detail_view, event_view, seat_map_view
from gateway.wire import json_response, path_id
from persistence.catalog import (
    event_layout,
    event_seat_map,
    event_statuses,
    get_event,
    list_events,
)
from persistence.waiting_rooms import get_waiting_room, load_waiting_rooms

if TYPE_CHECKING:
    from domain.statuses import SeatStatus
    from gateway.layouts import EncodedLayout
    from gateway.livestate import LiveState
    from persistence.catalog import EventLayout

routes = web.RouteTableDef()

# A day, not forever: a layout cannot change, but a wiped development database reuses ids.
LAYOUT_CACHE_CONTROL: Final = "public, max-age=86400"


@routes.get("/api/v1/events")
@public
async def events(request: web.Request) -> web.Response:
    async with request.app[DATABASE].transaction() as conn:
        found = await list_events(conn)
        rooms = await load_waiting_rooms(conn, [event.id for event in found])
    return json_response({"events": [event_view(event, rooms.get(event.id)) for event in found]})


@routes.get("/api/v1/events/{event_id}")
@public
async def event(request: web.Request) -> web.Response:
    event_id = path_id(request, "event_id")
    async with request.app[DATABASE].transaction() as conn:
        detail = await get_event(conn, event_id)
        room = await get_waiting_room(conn, event_id) if detail is not None else None
    if detail is None:
        raise NotFound(f"No event {event_id}")
    return json_response({"event": event_detail_view(detail, room)})


@routes.get("/api/v1/events/{event_id}/seats")
@public
async def event_seats(request: web.Request) -> web.Response:
    """The seat map at a sequence number: a client applies seat-feed changes after `seq`.

    MariaDB gives the layout and prices; the engine's snapshot, read second so it is the newer,
    gives the statuses of a loaded event. An unloaded event's stored statuses are current, and
    its feed starts from sequence 0.
    """
    event_id = path_id(request, "event_id")
    async with request.app[DATABASE].transaction() as conn:
        seats = await event_seat_map(conn, event_id)
    # Every event has at least one seat (a layout cannot be empty), so none means no event.
    if not seats:
        raise NotFound(f"No event {event_id}")
    snapshot = await _snapshot(request.app, event_id)
    if snapshot is None:
        return json_response(seat_map_view(event_id, 0, seats, {}))
    return json_response(seat_map_view(event_id, snapshot.seq, seats, snapshot.statuses))


@routes.get("/api/v1/events/{event_id}/layout")
@public
async def event_layout_resource(request: web.Request) -> web.Response:
    """The event's seats placed on its venue's plan, with prices: it never changes, so it goes
    with a strong ETag (a matching If-None-Match gets a 304) and a day's Cache-Control, gzipped
    for clients that accept it."""
    encoded = await event_layout_of(request.app, path_id(request, "event_id"))
    headers = {
        "ETag": encoded.etag,
        "Cache-Control": LAYOUT_CACHE_CONTROL,
        "Vary": "Accept-Encoding",
    }
    if any(f'"{tag.value}"' in (encoded.etag, '"*"') for tag in request.if_none_match or ()):
        return web.Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        body = encoded.gzipped
    else:
        body = encoded.body
    return web.Response(body=body, headers=headers, content_type="application/json")


@routes.get("/api/v1/events/{event_id}/seats/live")
@public
async def event_live_state(request: web.Request) -> web.Response:
    """Every seat's status at a sequence number, one letter per seat in the layout's order;
    the feed's changes after `seq` apply on top, as for `/seats`. A loaded event is answered
    from Redis and the kept layout alone, so it keeps answering while MariaDB is away."""
    state = await live_state(request.app, path_id(request, "event_id"))
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    body = state.body
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        body = state.gzipped
    return web.Response(body=body, headers=headers, content_type="application/json")


async def live_state(app: web.Application, event_id: int) -> LiveState:
    """The event's live state (`NotFound` for no such event, `Unavailable` without Redis)."""
    layout = await event_layout_of(app, event_id)

    async def stored() -> list[tuple[int, SeatStatus]]:
        async with app[DATABASE].transaction() as conn:
            return await event_statuses(conn, event_id)

    try:
        return await app[LIVE_STATES].get(app[REDIS], app[SETTINGS].engine, layout, stored)
    except (RedisError, OSError):
        raise Unavailable("Live seat statuses are unavailable; try again shortly") from None


async def event_layout_of(app: web.Application, event_id: int) -> EncodedLayout:
    """The event's encoded layout, built once per process; `NotFound` for no such event."""

    async def load() -> EventLayout | None:
        async with app[DATABASE].transaction() as conn:
            return await event_layout(conn, event_id)

    encoded = await app[LAYOUTS].get(event_id, load)
    if encoded is None:
        raise NotFound(f"No event {event_id}")
    return encoded


async def _snapshot(app: web.Application, event_id: int) -> Snapshot | None:
    try:
        return await read_snapshot(app[REDIS], app[SETTINGS].engine, event_id)
    except (RedisError, OSError):
        raise Unavailable("Live seat statuses are unavailable; try again shortly") from None
