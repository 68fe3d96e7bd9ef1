"""Holding seats: ask the owning shard's actor, wait for its decision, answer with it.

A hold names its seats (`seat_ids`) or asks for the best ones (`best_available`), which the
actor chooses in the same turn it holds them (engine/seat_index.py).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from domain.errors import InvalidInput
from engine.protocol import BestAvailableRequest, HoldRequest, ReleaseRequest, new_command_id
from gateway.appkeys import ENGINE, LIMITER
from gateway.auth.guard import current_user
from gateway.hold_access import own_hold
from gateway.idempotency import command_id
from gateway.openapi.constraints import MAX_FILTER_NAME_LENGTH, MAX_FILTER_NAMES
from gateway.views.holds import hold_body
from gateway.wire import field, json_response, path_id, read_json_object

routes = web.RouteTableDef()

# A hard ceiling on one request; the event's own per-buyer cap is enforced by the actor.
MAX_SEATS_PER_HOLD: Final = 50


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


@routes.post("/api/v1/events/{id}/holds")
async def create_hold(request: web.Request) -> web.Response:
    user = current_user(request)
    # Before anything reaches the engine: a shard's queue is shared by every buyer of its events.
    await request.app[LIMITER].hold(user.user_id)
    event_id = path_id(request)
    body = await read_json_object(request)
    engine = request.app[ENGINE]
    decision = command_id(request, f"{user.user_id}:{event_id}")
    command: HoldRequest | BestAvailableRequest
    if ("seat_ids" in body) == ("best_available" in body):
        raise InvalidInput("Send either 'seat_ids' or 'best_available'", field="seat_ids")
    if "best_available" in body:
        best = field(body, "best_available", dict)
        command = BestAvailableRequest(
            id=decision,
            reply_to=engine.reply_to,
            event_id=event_id,
            user_id=user.user_id,
            count=_count(best),
            categories=_names(best, "categories"),
            sections=_names(best, "sections"),
            together=_together(best),
        )
    else:
        seat_ids = field(body, "seat_ids", list, check=_seat_ids)
        command = HoldRequest(
            id=decision,
            reply_to=engine.reply_to,
            event_id=event_id,
            user_id=user.user_id,
            seat_ids=tuple(seat_ids),
        )
    reply = await engine.submit(command)
    return json_response({"hold": hold_body(reply.hold_or_raise())}, status=201)


def _count(best: dict[str, Any]) -> int:
    if not isinstance(best.get("count"), int) or isinstance(best["count"], bool):
        raise InvalidInput(
            "'best_available.count' must be an integer", field="best_available.count"
        )
    if not 1 <= best["count"] <= MAX_SEATS_PER_HOLD:
        raise InvalidInput(
            f"'best_available.count' must be between 1 and {MAX_SEATS_PER_HOLD}",
            field="best_available.count",
        )
    return int(best["count"])


def _names(best: dict[str, Any], key: str) -> tuple[str, ...]:
    """An optional list of category codes or section names; absent, null or [] mean any."""
    where = f"best_available.{key}"
    names = best.get(key)
    if names is None:
        return ()
    if (
        not isinstance(names, list)
        or len(names) > MAX_FILTER_NAMES
        or not all(
            isinstance(name, str) and 0 < len(name) <= MAX_FILTER_NAME_LENGTH for name in names
        )
    ):
        raise InvalidInput(
            f"'{where}' must list at most {MAX_FILTER_NAMES} names of 1-"
            f"{MAX_FILTER_NAME_LENGTH} characters",
            field=where,
        )
    return tuple(dict.fromkeys(names))


def _together(best: dict[str, Any]) -> bool:
    together = best.get("together", True)
    if together is None:
        return True
    if not isinstance(together, bool):
        raise InvalidInput(
            "'best_available.together' must be true or false", field="best_available.together"
        )
    return together


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
