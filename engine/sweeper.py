"""The backup for hold expiry.

Actors expire their own holds from in-memory timers. If an actor missed some (it was down, or
its timers were lost with its process), the sweeper finds holds past expiry in two durable
places, each shard's expiry reminders in Redis and active holds in MariaDB, and asks the owning
shard to expire them. It never writes seat state itself: an `expire` command is a request, which
the actor ignores when the hold has already ended or was extended.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from redis.exceptions import RedisError

from config import EngineSettings
from engine.clock import Clock
from engine.keys import ShardKeys, shard_of
from engine.metrics import SweeperMetrics
from engine.protocol import ExpireRequest, encode_command, event_of_hold
from engine.redis_client import RedisClient
from engine.waiting import wait_until_set
from persistence import Database, DatabaseUnavailable
from persistence.seat_state import overdue_holds

log = logging.getLogger(__name__)

_BATCH: Final = 500


class Sweeper:
    def __init__(
        self,
        *,
        redis: RedisClient,
        db: Database,
        settings: EngineSettings,
        clock: Clock,
        metrics: SweeperMetrics | None = None,
    ) -> None:
        self._redis = redis
        self._db = db
        self._settings = settings
        self._clock = clock
        self._metrics = metrics

    async def sweep_once(self) -> int:
        """Ask owning shards to expire every overdue hold found; return how many were asked."""
        cutoff_ms = self._clock.now_ms() - round(self._settings.sweep_grace_seconds * 1000)
        overdue: set[str] = set()
        for shard in range(self._settings.shards):
            members: list[bytes] = await self._redis.zrangebyscore(  # type: ignore[assignment]
                ShardKeys(shard).expiries, "-inf", cutoff_ms, start=0, num=_BATCH
            )
            overdue.update(member.decode() for member in members)
        try:
            async with self._db.transaction() as conn:
                rows = await overdue_holds(conn, expired_before_ms=cutoff_ms, limit=_BATCH)
            overdue.update(row.id for row in rows)
        except DatabaseUnavailable as exc:
            log.warning("sweeper: MariaDB unavailable, Redis reminders only: %s", exc)
        asked = 0
        # Real time, not the domain clock: the engine measures decision latency from it.
        queued_at_ms = round(time.time() * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            for hold_id in overdue:
                event_id = event_of_hold(hold_id)
                if event_id is None:
                    continue
                command = ExpireRequest(
                    id=f"sweep:{hold_id}:{cutoff_ms}",
                    reply_to=None,
                    event_id=event_id,
                    hold_id=hold_id,
                    queued_at_ms=queued_at_ms,
                )
                shard = shard_of(event_id, self._settings.shards)
                pipe.lpush(ShardKeys(shard).commands, encode_command(command))
                asked += 1
            await pipe.execute()
        if asked:
            log.info("sweeper: asked owners to expire %d overdue holds", asked)
        if self._metrics is not None:
            self._metrics.swept(overdue=len(overdue), asked=asked)
        return asked

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.sweep_once()
            except RedisError as exc:
                log.warning("sweeper: Redis unavailable: %s", exc)
            await wait_until_set(stopping, self._settings.sweep_interval_seconds)
