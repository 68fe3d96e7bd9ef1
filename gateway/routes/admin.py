"""Organizer endpoints: venues and events. Every handler starts with `require_admin`."""

from __future__ import annotations

from aiohttp import web

from domain.catalog import parse_event_spec, parse_venue_layout
from gateway.appkeys import DATABASE, ENGINE
from gateway.auth.guard import require_admin
from gateway.event_settings import change_event_settings, parse_event_settings
from gateway.views.catalog import event_detail_view, venue_view
from gateway.wire import json_response, path_id, read_json_object
from persistence.catalog import create_event, create_venue, get_event, get_venue, list_venues

routes = web.RouteTableDef()


@routes.post("/api/v1/admin/venues")
async def create_venue_route(request: web.Request) -> web.Response:
    await require_admin(request)
    layout = parse_venue_layout(await read_json_object(request))
    async with request.app[DATABASE].transaction() as conn:
        venue_id = await create_venue(conn, layout)
        venue = await get_venue(conn, venue_id)
    assert venue is not None  # written in this same transaction
    return json_response({"venue": venue_view(venue)}, status=201)


@routes.get("/api/v1/admin/venues")
async def list_venues_route(request: web.Request) -> web.Response:
    await require_admin(request)
    async with request.app[DATABASE].transaction() as conn:
        venues = await list_venues(conn)
    return json_response({"venues": [venue_view(venue) for venue in venues]})


@routes.post("/api/v1/admin/events")
async def create_event_route(request: web.Request) -> web.Response:
    await require_admin(request)
    spec = parse_event_spec(await read_json_object(request))
    async with request.app[DATABASE].transaction() as conn:
        event_id = await create_event(conn, spec)
        detail = await get_event(conn, event_id)
    assert detail is not None  # written in this same transaction
    # A new event has no waiting room until its organizer sets one.
    return json_response({"event": event_detail_view(detail, None)}, status=201)


@routes.patch("/api/v1/admin/events/{event_id}")
async def change_event_route(request: web.Request) -> web.Response:
    """Change an event's settings while it is on sale: saved, then in force in the engine."""
    await require_admin(request)
    event_id = path_id(request, "event_id")
    settings = parse_event_settings(await read_json_object(request))
    app = request.app
    detail = await change_event_settings(app[DATABASE], app[ENGINE], event_id, settings)
    return json_response({"event": detail})
