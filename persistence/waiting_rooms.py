"""Waiting-room settings: the one row per event an organizer saves and the engine loads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from domain.waiting_room import WaitingRoomSettings
from persistence.seat_state import to_datetime, to_ms

if TYPE_CHECKING:
    from persistence.database import Connection, Row

_SELECT = (
    "SELECT event_id, enabled, queue_opens_at, admissions_per_minute, max_inside,"
    " session_seconds, paused, version FROM waiting_rooms"
)


async def get_waiting_room(conn: Connection, event_id: int) -> WaitingRoomSettings | None:
    row = await conn.fetch_one(_SELECT + " WHERE event_id = %s", (event_id,))
    return None if row is None else _settings(row)


async def load_waiting_rooms(
    conn: Connection, event_ids: Sequence[int]
) -> dict[int, WaitingRoomSettings]:
    """The settings of those of `event_ids` that have a waiting room."""
    if not event_ids:
        return {}
    marks = ", ".join(["%s"] * len(event_ids))
    rows = await conn.fetch_all(_SELECT + f" WHERE event_id IN ({marks})", tuple(event_ids))
    return {int(row["event_id"]): _settings(row) for row in rows}


async def save_waiting_room(
    conn: Connection, event_id: int, room: WaitingRoomSettings
) -> WaitingRoomSettings:
    """Store `room` for the event (its `version` is ignored) and return it with the version it
    now has, one above the last saved. Call it in a transaction; the row stays locked until the
    commit, so two organizers saving at once get two versions in the order of their commits."""
    await conn.execute(
        "INSERT INTO waiting_rooms (event_id, enabled, queue_opens_at, admissions_per_minute,"
        " max_inside, session_seconds, paused, version) VALUES (%s, %s, %s, %s, %s, %s, %s, 1)"
        " ON DUPLICATE KEY UPDATE enabled = VALUES(enabled),"
        " queue_opens_at = VALUES(queue_opens_at),"
        " admissions_per_minute = VALUES(admissions_per_minute),"
        " max_inside = VALUES(max_inside), session_seconds = VALUES(session_seconds),"
        " paused = VALUES(paused), version = version + 1",
        (
            event_id,
            room.enabled,
            to_datetime(room.queue_opens_at_ms),
            room.admissions_per_minute,
            room.max_inside,
            room.session_seconds,
            room.paused,
        ),
    )
    saved = await get_waiting_room(conn, event_id)
    assert saved is not None  # written just above, in this transaction
    return saved


def _settings(row: Row) -> WaitingRoomSettings:
    return WaitingRoomSettings(
        enabled=bool(row["enabled"]),
        queue_opens_at_ms=to_ms(row["queue_opens_at"]) or 0,
        admissions_per_minute=int(row["admissions_per_minute"]),
        max_inside=int(row["max_inside"]),
        session_seconds=int(row["session_seconds"]),
        paused=bool(row["paused"]),
        version=int(row["version"]),
    )
