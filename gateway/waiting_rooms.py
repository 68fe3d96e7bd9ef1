"""An organizer's waiting-room controls, shared by the admin API and `python -m gateway
waiting-room`: read the settings and live figures, change some or all of the settings.

A change is saved first (MariaDB is where the engine reloads it from after a takeover), then
sent to the event's actor, which applies it from its next tick; its reply is the room as the
actor now runs it. Every save bumps the settings' version and the actor ignores a version not
above its own, so two changes racing to the actor cannot leave the older one in force.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from domain.catalog import naive_utc
from domain.errors import InvalidInput, NotFound, NoWaitingRoom
from domain.waiting_room import (
    DEFAULT_SESSION_SECONDS,
    SESSION_SECONDS_RANGE,
    WaitingRoomSettings,
)
from engine.protocol import ConfigureQueueRequest, new_command_id
from engine.queue_view import read_room
from gateway.views.queue import WaitingRoomAdminView, iso_ms, waiting_room_admin_view
from gateway.wire import field
from persistence.catalog import event_exists
from persistence.seat_state import to_ms
from persistence.waiting_room_saves import lock_sale_end
from persistence.waiting_rooms import get_waiting_room, save_waiting_room

if TYPE_CHECKING:
    from config import EngineSettings
    from engine.client import EngineClient
    from engine.redis_client import RedisClient
    from persistence import Database

T = TypeVar("T")

# Organizers set the session in whole minutes.
SESSION_MINUTES_RANGE: Final = (SESSION_SECONDS_RANGE[0] // 60, SESSION_SECONDS_RANGE[1] // 60)
DEFAULT_SESSION_MINUTES: Final = DEFAULT_SESSION_SECONDS // 60
# What a room needs before it can exist; the others have defaults.
_REQUIRED: Final = ("enabled", "queue_opens_at", "admissions_per_minute", "max_inside")
_SETTINGS: Final = (*_REQUIRED, "session_minutes", "paused")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomChanges:
    """Settings to change; None keeps the stored one."""

    enabled: bool | None = None
    queue_opens_at_ms: int | None = None
    admissions_per_minute: int | None = None
    max_inside: int | None = None
    session_minutes: int | None = None
    paused: bool | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))

    def applied_to(self, current: WaitingRoomSettings | None, event_id: int) -> WaitingRoomSettings:
        """The settings with these changes made; a room that does not exist yet needs every
        setting that has no default."""
        minutes = self.session_minutes
        session_seconds = None if minutes is None else minutes * 60
        if current is None:
            if (
                self.enabled is None
                or self.queue_opens_at_ms is None
                or self.admissions_per_minute is None
                or self.max_inside is None
            ):
                raise NoWaitingRoom(
                    f"Event {event_id} has no waiting room yet: set it up whole first "
                    "(enabled, queue_opens_at, admissions_per_minute and max_inside)",
                    event_id=event_id,
                )
            return WaitingRoomSettings(
                enabled=self.enabled,
                queue_opens_at_ms=self.queue_opens_at_ms,
                admissions_per_minute=self.admissions_per_minute,
                max_inside=self.max_inside,
                session_seconds=_pick(session_seconds, DEFAULT_SESSION_SECONDS),
                paused=bool(self.paused),
            )
        return WaitingRoomSettings(
            enabled=_pick(self.enabled, current.enabled),
            queue_opens_at_ms=_pick(self.queue_opens_at_ms, current.queue_opens_at_ms),
            admissions_per_minute=_pick(self.admissions_per_minute, current.admissions_per_minute),
            max_inside=_pick(self.max_inside, current.max_inside),
            session_seconds=_pick(session_seconds, current.session_seconds),
            paused=_pick(self.paused, current.paused),
            version=current.version,
        )


def _pick(change: T | None, current: T) -> T:
    return current if change is None else change


# -- reading what an organizer sends -------------------------------------------------------


def parse_room_changes(body: dict[str, Any], *, whole: bool) -> RoomChanges:
    """The settings in an admin request's body: all of them (`whole`, a PUT; `session_minutes`
    and `paused` may be left out for their defaults) or any of them (a PATCH)."""
    unknown = sorted(set(body) - set(_SETTINGS))
    if unknown:
        raise InvalidInput(
            f"'{unknown[0]}' is not a waiting-room setting (they are {', '.join(_SETTINGS)})",
            field=unknown[0],
        )
    if not whole and not body:
        raise InvalidInput(f"Name at least one setting to change ({', '.join(_SETTINGS)})")

    def given(name: str) -> bool:
        return name in body if not whole else name in _REQUIRED or body.get(name) is not None

    changes = RoomChanges(
        enabled=field(body, "enabled", bool) if given("enabled") else None,
        queue_opens_at_ms=(
            parse_opens_at(field(body, "queue_opens_at", str)) if given("queue_opens_at") else None
        ),
        admissions_per_minute=(
            field(body, "admissions_per_minute", int) if given("admissions_per_minute") else None
        ),
        max_inside=field(body, "max_inside", int) if given("max_inside") else None,
        session_minutes=(field(body, "session_minutes", int) if given("session_minutes") else None),
        paused=field(body, "paused", bool) if given("paused") else None,
    )
    if whole:
        changes = dataclasses.replace(
            changes,
            session_minutes=_pick(changes.session_minutes, DEFAULT_SESSION_MINUTES),
            paused=bool(changes.paused),
        )
    return changes


def parse_opens_at(raw: str) -> int:
    """An ISO-8601 moment with a timezone, as epoch milliseconds."""
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(
            "'queue_opens_at' must be an ISO-8601 datetime with a timezone, "
            "e.g. 2030-05-01T09:00:00Z",
            field="queue_opens_at",
        )
    ms = to_ms(naive_utc(parsed))
    assert ms is not None
    return ms


def _check_in_organizer_terms(room: WaitingRoomSettings, sale_ends_at_ms: int) -> None:
    low, high = SESSION_MINUTES_RANGE
    if not low * 60 <= room.session_seconds <= high * 60:
        raise InvalidInput(
            f"The shopping session must last {low} to {high:,} minutes", field="session_minutes"
        )
    if room.queue_opens_at_ms >= sale_ends_at_ms:
        raise InvalidInput(
            f"The queue must open before the sale ends ({iso_ms(sale_ends_at_ms)})",
            field="queue_opens_at",
        )
    room.check()


# -- reading and changing ------------------------------------------------------------------


async def show_waiting_room(
    db: Database, redis: RedisClient, settings: EngineSettings, event_id: int
) -> WaitingRoomAdminView:
    """The stored settings and, once the engine runs the room, its live figures."""
    async with db.transaction() as conn:
        exists = await event_exists(conn, event_id)
        room = await get_waiting_room(conn, event_id)
    if not exists:
        raise NotFound(f"No event {event_id}")
    live = await read_room(redis, settings, event_id) if room is not None else None
    return waiting_room_admin_view(event_id, room, live)


async def change_waiting_room(
    db: Database, engine: EngineClient, event_id: int, changes: RoomChanges
) -> WaitingRoomAdminView:
    """Save the changed settings, then have the event's actor apply them."""
    async with db.transaction() as conn:
        sale_ends_at_ms = await lock_sale_end(conn, event_id)
        if sale_ends_at_ms is None:
            raise NotFound(f"No event {event_id}")
        room = changes.applied_to(await get_waiting_room(conn, event_id), event_id)
        _check_in_organizer_terms(room, sale_ends_at_ms)
        saved = await save_waiting_room(conn, event_id, room)
    reply = await engine.submit(
        ConfigureQueueRequest(
            id=new_command_id(), reply_to=engine.reply_to, event_id=event_id, room=saved
        )
    )
    return waiting_room_admin_view(event_id, saved, reply.room_or_raise())
