"""Holding seats: ask the owning shard's actor, wait for its decision, answer with it."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from domain.errors import InvalidInput
from engine.protocol import HoldRequest, ReleaseRequest, idempotent_command_id, new_command_id
from gateway.appkeys import ENGINE, LIMITER
from gateway.auth.guard import current_user
from gateway.hold_access import own_hold
from gateway.views.holds import hold_body
from gateway.wire import field, json_response, path_id, read_json_object

routes = web.RouteTableDef()

# A hard ceiling on one request; the event's own per-buyer cap is enforced by the actor.
MAX_SEATS_PER_HOLD: Final = 50
_MAX_KEY_LENGTH: Final = 255


def _seat_ids(value: list[object]) -> str | None:
    if not value:
        return "must name at least one seat"
    if len(value) > MAX_SEATS_PER_HOLD:
        return f"may name at most {MAX_SEATS_PER_HOLD} seats"
    for seat_id in value:
        if not isinstance(seat_id, int) or isinstance(seat_id, bool) or not 0 < seat_id < 2**63:
            return "must contain positive integer seat ids"
    if len(set(value)) != len(value):
        return "must not name a seat twice"
    return None


def _command_id(request: web.Request, user_id: int, event_id: int) -> str:
    """The decision's id: derived from the caller's Idempotency-Key, so a retry of the same
    request is answered with the first decision instead of making a second hold."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return new_command_id()
    if not key or len(key) > _MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{_MAX_KEY_LENGTH} printable characters",
            field="Idempotency-Key",
        )
    return idempotent_command_id(f"{user_id}:{event_id}", key)


@routes.post("/api/v1/events/{id}/holds")
async def create_hold(request: web.Request) -> web.Response:
    user = current_user(request)
    # Before anything reaches the engine: a shard's queue is shared by every buyer of its events.
    await request.app[LIMITER].hold(user.user_id)
    event_id = path_id(request)
    body = await read_json_object(request)
    seat_ids = field(body, "seat_ids", list, check=_seat_ids)
    engine = request.app[ENGINE]
    reply = await engine.submit(
        HoldRequest(
            id=_command_id(request, user.user_id, event_id),
            reply_to=engine.reply_to,
            event_id=event_id,
            user_id=user.user_id,
            seat_ids=tuple(seat_ids),
        )
    )
    return json_response({"hold": hold_body(reply.hold_or_raise())}, status=201)


@routes.get("/api/v1/holds/{id}")
async def show_hold(request: web.Request) -> web.Response:
    return json_response({"hold": hold_body(await own_hold(request))})


@routes.delete("/api/v1/holds/{id}")
async def release_hold(request: web.Request) -> web.Response:
    hold = await own_hold(request)
    if hold.status.is_active:
        engine = request.app[ENGINE]
        reply = await engine.submit(
            ReleaseRequest(
                id=new_command_id(),
                reply_to=engine.reply_to,
                event_id=hold.event_id,
                hold_id=hold.id,
                user_id=hold.user_id,
            )
        )
        reply.hold_or_raise()
    return web.Response(status=204)
