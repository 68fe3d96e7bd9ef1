"""A buyer's place in an event's waiting room: join, look, leave.

Joining and leaving are decisions of the event's actor, asked like a hold. Looking is not: the
status is read from what the actor last wrote to Redis, so a crowd polling its place costs the
engine nothing.
"""

from __future__ import annotations

from aiohttp import web

from domain.errors import NotFound, NoWaitingRoom
from engine.clock import SystemClock
from engine.protocol import (
    JoinQueueRequest,
    LeaveQueueRequest,
    PlaceView,
    RoomWire,
    new_command_id,
)
from engine.queue_view import read_place, read_room
from gateway.appkeys import DATABASE, ENGINE, LIMITER, REDIS, SETTINGS
from gateway.auth.guard import current_user
from gateway.idempotency import command_id
from gateway.limits import client_ip
from gateway.views.queue import queue_status_view
from gateway.wire import json_response, path_id
from persistence.catalog import event_exists
from persistence.waiting_rooms import get_waiting_room

routes = web.RouteTableDef()

_CLOCK = SystemClock()


def _status(place: PlaceView, room: RoomWire) -> web.Response:
    return json_response(queue_status_view(place, room, _CLOCK.now_ms()))


@routes.post("/api/v1/events/{event_id}/queue")
async def join_queue(request: web.Request) -> web.Response:
    user = current_user(request)
    # Per client address, before the engine hears of it: joins are what a bot farm would send.
    await request.app[LIMITER].queue_join(client_ip(request))
    event_id = path_id(request, "event_id")
    engine = request.app[ENGINE]
    reply = await engine.submit(
        JoinQueueRequest(
            id=command_id(request, f"queue:{user.user_id}:{event_id}"),
            reply_to=engine.reply_to,
            event_id=event_id,
            user_id=user.user_id,
        )
    )
    return _status(reply.place_or_raise(), reply.room_or_raise())


@routes.get("/api/v1/events/{event_id}/queue")
async def show_place(request: web.Request) -> web.Response:
    user = current_user(request)
    event_id = path_id(request, "event_id")
    app = request.app
    redis, settings = app[REDIS], app[SETTINGS].engine
    room = await read_room(redis, settings, event_id)
    if room is None or not room["enabled"]:
        await _refuse_without_room(app, event_id, engine_knows=room is not None)
    place = await read_place(redis, settings, event_id, user.user_id)
    if place is None or room is None:
        raise NotFound(
            f"You have no place in event {event_id}'s queue yet: POST to this address to join",
            event_id=event_id,
        )
    return _status(place, room)


@routes.delete("/api/v1/events/{event_id}/queue")
async def leave_queue(request: web.Request) -> web.Response:
    user = current_user(request)
    event_id = path_id(request, "event_id")
    engine = request.app[ENGINE]
    reply = await engine.submit(
        LeaveQueueRequest(
            id=new_command_id(),
            reply_to=engine.reply_to,
            event_id=event_id,
            user_id=user.user_id,
        )
    )
    return _status(reply.place_or_raise(), reply.room_or_raise())


async def _refuse_without_room(app: web.Application, event_id: int, *, engine_knows: bool) -> None:
    """Why an event whose room the engine does not run (or runs switched off) has no status:
    no such event (404), or no room on (409). Returns only for a room that is set up and on
    but not yet loaded by the engine, where nobody can have a place yet."""
    if engine_knows:
        raise NoWaitingRoom(f"Event {event_id}'s waiting room is off: choose seats directly")
    async with app[DATABASE].transaction() as conn:
        exists = await event_exists(conn, event_id)
        stored = await get_waiting_room(conn, event_id) if exists else None
    if not exists:
        raise NotFound(f"No event {event_id}")
    if stored is None or not stored.enabled:
        raise NoWaitingRoom(f"Event {event_id} has no waiting room: choose seats directly")
