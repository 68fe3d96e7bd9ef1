"""Read-only views of an event's waiting room, as its shard actor last wrote them to Redis.

For the gateway: a buyer's place and the room's progress are read here without asking the
actor, so polling the queue costs one Redis read, not a turn of the engine.
"""

from __future__ import annotations

from typing import cast

import orjson

from config import EngineSettings
from engine.keys import ShardKeys, shard_of
from engine.protocol import PlaceView, RoomWire
from engine.redis_client import RedisClient


def _keys(settings: EngineSettings, event_id: int) -> ShardKeys:
    return ShardKeys(shard_of(event_id, settings.shards))


async def read_room_text(
    redis: RedisClient, settings: EngineSettings, event_id: int
) -> bytes | None:
    """The room exactly as it is broadcast (a `RoomWire` text), or None if the event has never
    had a waiting room the engine knows of."""
    # The engine's Redis clients never decode responses: this is bytes.
    return cast(bytes | None, await redis.get(_keys(settings, event_id).queue_room(event_id)))


async def read_room(redis: RedisClient, settings: EngineSettings, event_id: int) -> RoomWire | None:
    raw = await read_room_text(redis, settings, event_id)
    return None if raw is None else cast(RoomWire, orjson.loads(raw))


async def read_place(
    redis: RedisClient, settings: EngineSettings, event_id: int, user_id: int
) -> PlaceView | None:
    """The buyer's place in the event's queue, or None if they have not joined."""
    raw = await redis.hget(_keys(settings, event_id).queue_places(event_id), str(user_id))
    if raw is None:
        return None
    wire = orjson.loads(raw)
    wire.pop("draw", None)  # the pre-queue's secret draw never leaves the engine
    return PlaceView.from_wire(wire)
