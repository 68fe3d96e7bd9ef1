"""Read a hold as the engine last recorded it, for processes that are not its actor."""

from __future__ import annotations

import orjson

from config import EngineSettings
from engine.keys import ShardKeys, shard_of
from engine.protocol import HoldView, event_of_hold
from engine.redis_client import RedisClient


async def read_hold(redis: RedisClient, settings: EngineSettings, hold_id: str) -> HoldView | None:
    """The hold's record in Redis (written in the same step as its decision), or None for an id
    that is malformed or that Redis no longer has (then MariaDB is the place to look)."""
    event_id = event_of_hold(hold_id)
    if event_id is None:
        return None
    raw = await redis.get(ShardKeys(shard_of(event_id, settings.shards)).hold(hold_id))
    return None if raw is None else HoldView.from_wire(orjson.loads(raw))
