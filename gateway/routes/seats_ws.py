"""The live seat map: a websocket that sends a snapshot, then every change in order.

Protocol (server → client, JSON text):
- `{"type": "snapshot", "event_id", "seq", "seats": [{"seat_id", "status"}]}` on connect and
  whenever the server notices it may have missed changes;
- `{"type": "seats", "event_id", "at", "seq", "changes": [{"seat_id", "status"}]}` per decision
  batch, `at` being the decision time in epoch milliseconds;
- `{"type": "batches", "event_id", "seq", "messages": [<seats message>, ...]}`: consecutive
  batches that arrived within `SEAT_PUSH_WINDOW_MS` of each other, in order, in one frame.
`seq` rises by one per batch, so a client that sees a gap can ask again by reconnecting. After a
fresh snapshot a `batches` frame may repeat batches the snapshot already covers: a client skips
every batch whose `seq` is not above its own.

With `?snapshot=letters` the snapshots are the compact live state instead, `{"type": "snapshot",
"event_id", "seq", "statuses": "aahb…"}`, one letter per seat in the layout's order (as
`/seats/live`): 20,000 seats are 20 KB rather than about 750 KB, read once per `seq` per gateway.

The route is public, so what a request may cost is decided before it costs anything: the per-IP
rate limit and websocket cap first, then whether it is an upgrade at all, then whether the event
exists. Only then does the seat feed keep anything for the event.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from aiohttp import WSCloseCode, WSMsgType, web
from redis.exceptions import RedisError

from domain.errors import NotAWebsocket, NotFound, Unavailable
from engine.snapshot import is_loaded, read_snapshot
from engine.waiting import cancel_and_wait
from gateway.appkeys import DATABASE, LIMITER, METRICS, REDIS, SEAT_FEED, SETTINGS, WEBSOCKET_CAP
from gateway.auth.guard import public
from gateway.limits import client_ip
from gateway.metrics import WebsocketKind
from gateway.pushwindow import FrameKind
from gateway.routes.catalog import live_state
from gateway.seatfeed import Snapshot, Watcher
from gateway.wire import dumps, path_id
from persistence import DatabaseUnavailable
from persistence.catalog import event_exists, event_seat_map

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

_HEARTBEAT_SECONDS: Final = 20.0


async def _require_event(app: web.Application, event_id: int) -> None:
    """`NotFound` unless the event exists. An event the engine has loaded is known from Redis
    alone, so seat maps of a live sale keep opening while MariaDB is down."""
    if await is_loaded(app[REDIS], app[SETTINGS].engine, event_id):
        return
    async with app[DATABASE].transaction() as conn:
        exists = await event_exists(conn, event_id)
    if not exists:
        raise NotFound(f"No event {event_id}")


async def _read_snapshot(app: web.Application, event_id: int) -> Snapshot:
    """The event's statuses and sequence number as one ready-to-send message."""
    snapshot = await read_snapshot(app[REDIS], app[SETTINGS].engine, event_id)
    if snapshot is not None:
        seq = snapshot.seq
        statuses = {seat: status.value for seat, status in snapshot.statuses.items()}
    else:
        # The engine has not loaded this event yet, so nothing has changed since MariaDB's rows.
        async with app[DATABASE].transaction() as conn:
            seats = await event_seat_map(conn, event_id)
        if not seats:
            raise NotFound("No such event")
        seq, statuses = 0, {seat.id: seat.status.value for seat in seats}
    seats_wire = [{"seat_id": seat, "status": status} for seat, status in statuses.items()]
    text = dumps({"type": "snapshot", "event_id": event_id, "seq": seq, "seats": seats_wire})
    return Snapshot(seq=seq, text=text)


async def _current_snapshot(app: web.Application, event_id: int, letters: bool) -> Snapshot:
    if letters:
        state = await live_state(app, event_id)
        return Snapshot(seq=state.seq, text=state.frame)
    return await app[SEAT_FEED].snapshot(event_id, lambda: _read_snapshot(app, event_id))


async def _send_snapshot(
    ws: web.WebSocketResponse, app: web.Application, event_id: int, letters: bool
) -> int:
    snapshot = await _current_snapshot(app, event_id, letters)
    await ws.send_str(snapshot.text)
    return snapshot.seq


async def _forward(
    ws: web.WebSocketResponse,
    app: web.Application,
    event_id: int,
    watcher: Watcher,
    seq: int,
    letters: bool,
) -> None:
    """Send changes in order; a gap or a resync notice sends a fresh snapshot. Returns (or is
    cancelled by the watcher) when the socket must be closed: it fell too far behind, the
    gateway is shutting down, or no snapshot is to be had."""
    while True:
        message = await watcher.queue.get()
        if message.kind is FrameKind.RESYNC or message.first_seq > seq + 1:
            try:
                seq = await _send_snapshot(ws, app, event_id, letters)
            except (RedisError, OSError, DatabaseUnavailable, Unavailable) as exc:
                log.warning("seat map for event %d cannot resync: %s", event_id, exc)
                return
        elif message.seq > seq:
            await ws.send_frame(message.data, WSMsgType.TEXT)
            seq = message.seq


async def _receive(ws: web.WebSocketResponse) -> None:
    """Read until the client goes away; the map is one-way, so messages are ignored."""
    async for message in ws:
        if message.type is WSMsgType.ERROR:
            return


async def _serve_seat_map(request: web.Request, ws: web.WebSocketResponse, event_id: int) -> None:
    """Snapshot, then changes until either side stops; errors before the upgrade become 503."""
    app = request.app
    letters = request.query.get("snapshot") == "letters"
    try:
        # Before the feed keeps anything for the event: made-up ids must cost nothing lasting.
        await _require_event(app, event_id)
        async with app[SEAT_FEED].watch(event_id) as watcher:
            # Subscribed first, snapshot second: nothing published in between is missed.
            snapshot = await _current_snapshot(app, event_id, letters)
            await ws.prepare(request)
            await ws.send_str(snapshot.text)
            forwarding = asyncio.create_task(
                _forward(ws, app, event_id, watcher, snapshot.seq, letters)
            )
            watcher.forwarder = forwarding
            if watcher.stopped:  # closed while the snapshot was being read
                forwarding.cancel()
            receiving = asyncio.create_task(_receive(ws))
            try:
                await asyncio.wait({forwarding, receiving}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_and_wait(forwarding)
                await cancel_and_wait(receiving)
    except (RedisError, OSError, DatabaseUnavailable, TimeoutError):
        if not ws.prepared:
            raise Unavailable("Live seat statuses are unavailable; try again shortly") from None
    if not ws.closed:
        # Ask the client to come back later; it reconnects and gets a fresh snapshot.
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"resubscribe")


@routes.get("/api/v1/events/{id}/seats/ws")
@public
async def seat_updates(request: web.Request) -> web.WebSocketResponse:
    event_id = path_id(request)
    app = request.app
    ip = client_ip(request)
    # Every request counts, whatever it ends in: this is what bounds the work one client can ask.
    await app[LIMITER].seat_map(ip)
    # No per-message deflate: compressing every frame once per socket would cost more CPU than
    # the whole fan-out, and a frame is usually a few hundred bytes.
    ws = web.WebSocketResponse(heartbeat=_HEARTBEAT_SECONDS, max_msg_size=1024, compress=False)
    # The slot is taken before the upgrade, so a client over its cap gets a plain 429.
    with app[WEBSOCKET_CAP].hold_slot(ip):
        if not ws.can_prepare(request).ok:
            raise NotAWebsocket("This address speaks websocket only: send an upgrade request")
        with app[METRICS].websockets(WebsocketKind.SEAT_MAP).track_inprogress():
            await _serve_seat_map(request, ws, event_id)
    return ws
