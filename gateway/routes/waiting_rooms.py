"""Organizer controls for an event's waiting room. Every handler starts with `require_admin`.

GET shows the settings and the live figures; PUT sets every setting; PATCH changes some of them
(pause and resume, the rate, the cap) while the sale runs. A change is in force within the
engine's next tick, about a second.
"""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import DATABASE, ENGINE, REDIS, SETTINGS
from gateway.auth.guard import require_admin
from gateway.waiting_rooms import change_waiting_room, parse_room_changes, show_waiting_room
from gateway.wire import json_response, path_id, read_json_object

routes = web.RouteTableDef()

_PATH = "/api/v1/admin/events/{event_id}/waiting-room"


@routes.get(_PATH)
async def show(request: web.Request) -> web.Response:
    await require_admin(request)
    app = request.app
    view = await show_waiting_room(
        app[DATABASE], app[REDIS], app[SETTINGS].engine, path_id(request, "event_id")
    )
    return json_response(view)


@routes.put(_PATH)
async def replace(request: web.Request) -> web.Response:
    return await _change(request, whole=True)


@routes.patch(_PATH)
async def change(request: web.Request) -> web.Response:
    return await _change(request, whole=False)


async def _change(request: web.Request, *, whole: bool) -> web.Response:
    await require_admin(request)
    event_id = path_id(request, "event_id")
    changes = parse_room_changes(await read_json_object(request), whole=whole)
    app = request.app
    return json_response(await change_waiting_room(app[DATABASE], app[ENGINE], event_id, changes))
