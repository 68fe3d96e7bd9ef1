"""The public catalog: events, their prices, and seat maps with live statuses."""

from __future__ import annotations

from aiohttp import web
from redis.exceptions import RedisError

from domain.errors import NotFound, Unavailable
from engine.snapshot import read_snapshot
from gateway.appkeys import DATABASE, REDIS, SETTINGS
from gateway.auth.guard import public
from gateway.views.catalog import event_detail_view, event_view, seat_map_view
from gateway.wire import json_response, path_id
from persistence.catalog import event_seat_map, get_event, list_events

routes = web.RouteTableDef()


@routes.get("/api/v1/events")
@public
async def events(request: web.Request) -> web.Response:
    async with request.app[DATABASE].transaction() as conn:
        found = await list_events(conn)
    return json_response({"events": [event_view(event) for event in found]})


@routes.get("/api/v1/events/{event_id}")
@public
async def event(request: web.Request) -> web.Response:
    event_id = path_id(request, "event_id")
    async with request.app[DATABASE].transaction() as conn:
        detail = await get_event(conn, event_id)
    if detail is None:
        raise NotFound(f"No event {event_id}")
    return json_response({"event": event_detail_view(detail)})


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
    try:
        snapshot = await read_snapshot(request.app[REDIS], request.app[SETTINGS].engine, event_id)
    except (RedisError, OSError):
        raise Unavailable("Live seat statuses are unavailable; try again shortly") from None
    if snapshot is None:
        return json_response(seat_map_view(event_id, 0, seats, {}))
    return json_response(seat_map_view(event_id, snapshot.seq, seats, snapshot.statuses))
