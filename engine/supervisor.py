"""Owns shards: takes their leases, runs their actors, restarts a crashed one with back-off.

One `ShardRunner` per shard keeps trying to take the shard's lease, so a second engine process
takes over the shards of one that died as soon as their leases lapse. While it owns a shard it
runs three tasks together: the actor, the lease renewal and the journal flusher. If any of them
fails (a lost lease most of all) the others are cancelled at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from config import EngineSettings
from engine.actor import SeatActor
from engine.clock import Clock
from engine.keys import ShardKeys
from engine.lease import LeaseLost, ShardLease
from engine.recovery import ShardRecovery
from engine.scripts import Scripts
from engine.waiting import cancel_and_wait, wait_until_set
from engine.writebehind import JournalFlusher
from persistence import Database, DatabaseUnavailable
from persistence.seat_state import Fenced

log = logging.getLogger(__name__)

_MAX_BACKOFF: Final = 5.0
_DRAIN_ON_STOP_SECONDS: Final = 5.0


class ShardRunner:
    def __init__(
        self,
        shard: int,
        *,
        redis: Redis,
        db: Database,
        scripts: Scripts,
        settings: EngineSettings,
        clock: Clock,
        owner: str,
    ) -> None:
        self.keys = ShardKeys(shard)
        self._redis = redis
        self._db = db
        self._scripts = scripts
        self._settings = settings
        self._clock = clock
        self._owner = owner
        self.owned = asyncio.Event()
        self.actor: SeatActor | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        backoff = 0.1
        retry_acquire = self._settings.lease_ttl_ms / 1000 / 3
        while not stopping.is_set():
            lease = ShardLease(
                self._redis,
                self._scripts,
                self.keys,
                ttl_ms=self._settings.lease_ttl_ms,
                owner=self._owner,
            )
            try:
                if not await lease.try_acquire():
                    await wait_until_set(stopping, retry_acquire)
                    continue
                log.info("shard %d: lease taken (token %d)", self.keys.shard, lease.token)
                await self._own(lease, stopping)
                backoff = 0.1
            except* LeaseLost as group:
                log.warning("shard %d: %s; standing down", self.keys.shard, group.exceptions[0])
            except* Exception:
                log.exception(
                    "shard %d: actor failed; restarting in %.1fs", self.keys.shard, backoff
                )
                await wait_until_set(stopping, backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
            finally:
                self.owned.clear()
                self.actor = None
                await lease.release()

    async def _own(self, lease: ShardLease, stopping: asyncio.Event) -> None:
        flusher = JournalFlusher(
            self._redis,
            self._db,
            self.keys,
            token=lease.token,
            batch=self._settings.flush_batch,
            still_owner=lambda: lease.held,
        )
        recovery = ShardRecovery(
            self._redis,
            self._db,
            self._scripts,
            self.keys,
            shard_count=self._settings.shards,
            token=lease.token,
        )
        actor = SeatActor(
            redis=self._redis,
            scripts=self._scripts,
            keys=self.keys,
            lease=lease,
            recovery=recovery,
            flusher=flusher,
            settings=self._settings,
            clock=self._clock,
            ready=self.owned,
        )
        self.actor = actor
        async with asyncio.TaskGroup() as group:
            renewal = group.create_task(lease.keep_renewed(), name=f"lease-{self.keys.shard}")
            flushing = group.create_task(flusher.run(), name=f"flush-{self.keys.shard}")
            await actor.run(stopping)
            # Stopping cleanly: intake has stopped and the batch in hand is applied; write the
            # journal through while the lease is still ours, then let the lease go.
            await cancel_and_wait(flushing)
            try:
                async with asyncio.timeout(_DRAIN_ON_STOP_SECONDS):
                    await flusher.drain()
            except (DatabaseUnavailable, Fenced, RedisError, TimeoutError) as exc:
                # Whatever is left stays in the journal for the next owner.
                log.warning("shard %d: journal not fully flushed on stop: %s", self.keys.shard, exc)
            await cancel_and_wait(renewal)


class Engine:
    """Every shard of the engine in one process."""

    def __init__(
        self, *, redis: Redis, db: Database, settings: EngineSettings, clock: Clock
    ) -> None:
        scripts = Scripts.register(redis)
        owner = ShardLease.new_owner_id()
        self.runners = [
            ShardRunner(
                shard,
                redis=redis,
                db=db,
                scripts=scripts,
                settings=settings,
                clock=clock,
                owner=owner,
            )
            for shard in range(settings.shards)
        ]

    async def run(self, stopping: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            for runner in self.runners:
                group.create_task(runner.run(stopping), name=f"shard-{runner.keys.shard}")

    async def wait_owned(self) -> None:
        """Until every shard has an actor that finished recovery (tests and start-up logs)."""
        await asyncio.gather(*(runner.owned.wait() for runner in self.runners))
