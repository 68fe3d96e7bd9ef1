"""Helpers for tests of the waiting room: set one up as an organizer would, and join it."""

from __future__ import annotations

import dataclasses

from domain.waiting_room import WaitingRoomSettings
from engine.client import EngineClient
from engine.protocol import (
    ConfigureQueueRequest,
    JoinQueueRequest,
    PlaceView,
    RoomWire,
    new_command_id,
)
from persistence import Database
from persistence.waiting_rooms import save_waiting_room


async def configure_room(
    db: Database, client: EngineClient, event_id: int, room: WaitingRoomSettings
) -> RoomWire:
    """Save the settings and tell the engine, the organizer's flow: the engine's answer."""
    async with db.transaction() as conn:
        saved = await save_waiting_room(conn, event_id, room)
    reply = await client.submit(
        ConfigureQueueRequest(
            id=new_command_id(), reply_to=client.reply_to, event_id=event_id, room=saved
        )
    )
    return reply.room_or_raise()


def room(
    *, opens_at_ms: int = 0, rate: int = 6000, cap: int = 1000, **changes: object
) -> WaitingRoomSettings:
    """An enabled room, open since the epoch, admitting quickly unless told otherwise."""
    settings = WaitingRoomSettings(
        enabled=True, queue_opens_at_ms=opens_at_ms, admissions_per_minute=rate, max_inside=cap
    )
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


async def join(client: EngineClient, event_id: int, user_id: int) -> PlaceView:
    reply = await client.submit(
        JoinQueueRequest(
            id=new_command_id(), reply_to=client.reply_to, event_id=event_id, user_id=user_id
        )
    )
    return reply.place_or_raise()
