"""A consistent read of an event's live seat statuses, as the engine last published them."""

from __future__ import annotations

from dataclasses import dataclass

from config import EngineSettings
from domain.statuses import SeatStatus
from engine.keys import ShardKeys, shard_of
from engine.redis_client import RedisClient


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    statuses: dict[int, SeatStatus]


async def is_loaded(redis: RedisClient, settings: EngineSettings, event_id: int) -> bool:
    """Whether the engine has loaded the event, which only an existing event can be."""
    keys = ShardKeys(shard_of(event_id, settings.shards))
    return bool(await redis.exists(keys.seat_status(event_id)))


async def read_snapshot(
    redis: RedisClient, settings: EngineSettings, event_id: int
) -> Snapshot | None:
    """Statuses and the change sequence number they belong to, read atomically (MULTI), or None
    when the engine has not loaded the event yet (then MariaDB's statuses are current)."""
    keys = ShardKeys(shard_of(event_id, settings.shards))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(keys.seat_status(event_id))
        pipe.get(keys.seat_seq(event_id))
        raw_statuses, raw_seq = await pipe.execute()
    if not raw_statuses:
        return None
    statuses = {int(seat): SeatStatus(status.decode()) for seat, status in raw_statuses.items()}
    return Snapshot(seq=int(raw_seq or 0), statuses=statuses)
