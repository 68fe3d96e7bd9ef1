"""Organizer endpoints: venues and events. Every handler starts with `require_admin`."""

from __future__ import annotations

from aiohttp import web

from domain.catalog import parse_event_spec, parse_venue_layout
from gateway.appkeys import DATABASE
from gateway.auth.guard import require_admin
from gateway.views.catalog import event_detail_view, venue_view
from gateway.wire import json_response, read_json_object
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
    return json_response({"event": event_detail_view(detail)}, status=201)
