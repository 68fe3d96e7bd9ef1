"""The waiting room's progress over a websocket: public, the same text for every socket.

Protocol (server → client): JSON text messages, each the event's whole room as its actor last
decided it (`RoomWire`: `{"type": "queue", "event_id", "at", "paused", "admitted_through",
"last_rank", "waiting", "inside", "rate_per_minute", …}`). The first is sent on connect, the
others as admission moves on (at most about once a second) or the organizer changes a setting.
Nothing in them is about one buyer: a page knows its own rank from `GET …/queue` and works out
its position from `admitted_through`, so every socket of an event gets the very same bytes.

The route is public, so what a request may cost is decided before it costs anything: the per-IP
rate limit and the per-IP socket cap first, then whether it is an upgrade at all, then whether
the event exists and has a waiting room. Only then does the queue feed keep anything for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from aiohttp import WSCloseCode, WSMsgType, web
from redis.exceptions import RedisError

from domain.errors import NotAWebsocket, NotFound, NoWaitingRoom, Unavailable
from engine.queue_view import read_room_text
from engine.waiting import cancel_and_wait
from gateway.appkeys import DATABASE, LIMITER, METRICS, QUEUE_FEED, REDIS, SETTINGS, WEBSOCKET_CAP
from gateway.auth.guard import public
from gateway.limits import client_ip
from gateway.metrics import WebsocketKind
from gateway.queuefeed import RoomFrame
from gateway.wire import path_id
from persistence import DatabaseUnavailable
from persistence.catalog import event_exists
from persistence.waiting_rooms import get_waiting_room

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

_HEARTBEAT_SECONDS: Final = 20.0


async def _require_room(app: web.Application, event_id: int) -> None:
    """For an event whose room the engine has never run: `NotFound` without the event,
    `NoWaitingRoom` without a room switched on. A room that is on but not loaded yet has no
    progress to show; its socket waits for the first update."""
    async with app[DATABASE].transaction() as conn:
        exists = await event_exists(conn, event_id)
        stored = await get_waiting_room(conn, event_id) if exists else None
    if not exists:
        raise NotFound(f"No event {event_id}")
    if stored is None or not stored.enabled:
        raise NoWaitingRoom(f"Event {event_id} has no waiting room: choose seats directly")


async def _receive(ws: web.WebSocketResponse) -> None:
    """Read until the client goes away; the feed is one-way, so messages are ignored."""
    async for message in ws:
        if message.type is WSMsgType.ERROR:
            return


async def _serve(request: web.Request, ws: web.WebSocketResponse, event_id: int) -> None:
    """The room, then every update until either side stops; errors before the upgrade are
    answered as errors (503 for an outage)."""
    app = request.app
    redis, settings = app[REDIS], app[SETTINGS].engine
    try:
        # Before the feed keeps anything for the event: made-up ids must cost nothing lasting.
        if await read_room_text(redis, settings, event_id) is None:
            await _require_room(app, event_id)
        async with app[QUEUE_FEED].watch(event_id) as watcher:
            # Subscribed first, room second: nothing published in between is missed.
            text = await read_room_text(redis, settings, event_id)
            await ws.prepare(request)
            at = 0
            if text is not None:
                await ws.send_frame(text, WSMsgType.TEXT)
                at = RoomFrame.of(text).at
            transport = request.transport
            if transport is None:  # the client went away during the handshake
                return
            # From here the feed writes every update straight to the transport.
            watcher.start(transport, at)
            receiving = asyncio.create_task(_receive(ws))
            ended = asyncio.create_task(watcher.ended.wait())
            try:
                await asyncio.wait({ended, receiving}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_and_wait(ended)
                await cancel_and_wait(receiving)
    except (RedisError, OSError, DatabaseUnavailable, TimeoutError):
        if not ws.prepared:
            raise Unavailable("The waiting room cannot be followed now; retry shortly") from None
    if not ws.closed:
        # Ask the client to come back later; it reconnects and gets the room afresh.
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"resubscribe")


@routes.get("/api/v1/events/{event_id}/queue/ws")
@public
async def queue_updates(request: web.Request) -> web.WebSocketResponse:
    event_id = path_id(request, "event_id")
    app = request.app
    ip = client_ip(request)
    # Every request counts, whatever it ends in: this is what bounds the work one client can ask.
    await app[LIMITER].queue_socket(ip)
    # No per-message deflate: the frame is a few hundred bytes, sent to every waiting socket.
    ws = web.WebSocketResponse(heartbeat=_HEARTBEAT_SECONDS, max_msg_size=1024, compress=False)
    # The slot is taken before the upgrade, so a client over its cap gets a plain 429.
    with app[WEBSOCKET_CAP].hold_slot(ip):
        if not ws.can_prepare(request).ok:
            raise NotAWebsocket("This address speaks websocket only: send an upgrade request")
        with app[METRICS].websockets(WebsocketKind.QUEUE).track_inprogress():
            await _serve(request, ws, event_id)
    return ws
