"""Finding the caller's own hold, wherever it is recorded right now."""

from __future__ import annotations

from aiohttp import web
from redis.exceptions import RedisError

from domain.errors import NotFound
from engine.hold_records import read_hold
from engine.protocol import HoldView, event_of_hold
from gateway.appkeys import DATABASE, REDIS, SETTINGS
from gateway.auth.guard import current_user
from persistence import DatabaseUnavailable
from persistence.seat_state import get_hold


async def own_hold(request: web.Request) -> HoldView:
    """The caller's hold named in the URL; anyone else's answers exactly like a missing one."""
    user = current_user(request)
    hold_id = request.match_info["id"]
    if event_of_hold(hold_id) is None:
        raise NotFound("No such hold")
    app = request.app
    hold: HoldView | None = None
    try:
        hold = await read_hold(app[REDIS], app[SETTINGS].engine, hold_id)
    except RedisError:
        hold = None
    if hold is None:
        try:
            async with app[DATABASE].transaction() as conn:
                row = await get_hold(conn, hold_id)
        except DatabaseUnavailable:
            row = None
        if row is not None:
            hold = HoldView(
                id=row.id,
                event_id=row.event_id,
                user_id=row.user_id,
                seat_ids=row.seat_ids,
                status=row.status,
                expires_at_ms=row.expires_at_ms,
                created_at_ms=row.created_at_ms,
            )
    if hold is None or hold.user_id != user.user_id:
        raise NotFound("No such hold")
    return hold
