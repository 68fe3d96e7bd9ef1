"""Owns shards: takes their leases, runs their actors, restarts a crashed one with back-off.

One `ShardRunner` per shard keeps trying to take the shard's lease, so a second engine process
takes over the shards of one that died as soon as their leases lapse. While it owns a shard it
runs three tasks together: the actor, the lease renewal and the journal flusher (and, with
metrics on, the refresher of the shard's Redis-side gauges). If any of them fails (a lost lease
most of all) the others are cancelled at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from redis.exceptions import RedisError

from config import EngineSettings
from engine.actor import SeatActor
from engine.clock import Clock
from engine.keys import ShardKeys
from engine.lease import LeaseLost, ShardLease
from engine.metrics import EngineMetrics, ShardMetrics
from engine.recovery import ShardRecovery
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from engine.shard_count import ShardCountMismatch
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
        redis: RedisClient,
        db: Database,
        scripts: Scripts,
        settings: EngineSettings,
        clock: Clock,
        owner: str,
        metrics: ShardMetrics | None = None,
    ) -> None:
        self.keys = ShardKeys(shard)
        self._redis = redis
        self._db = db
        self._scripts = scripts
        self._settings = settings
        self._clock = clock
        self._owner = owner
        self._metrics = metrics
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
                shard_count=self._settings.shards,
            )
            try:
                if not await lease.try_acquire():
                    await wait_until_set(stopping, retry_acquire)
                    continue
                log.info("shard %d: lease taken (token %d)", self.keys.shard, lease.token)
                if self._metrics is not None:
                    self._metrics.lease_taken(lease.token)
                await self._own(lease, stopping)
                backoff = 0.1
            except* ShardCountMismatch:
                # Not a crash to retry: running on would let two actors sell one seat.
                raise
            except* LeaseLost as group:
                log.warning("shard %d: %s; standing down", self.keys.shard, group.exceptions[0])
                if self._metrics is not None:
                    self._metrics.lease_lost()
            except* Exception:
                log.exception(
                    "shard %d: actor failed; restarting in %.1fs", self.keys.shard, backoff
                )
                await wait_until_set(stopping, backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
            finally:
                self.owned.clear()
                self.actor = None
                if self._metrics is not None:
                    self._metrics.stood_down()
                await lease.release()

    async def _own(self, lease: ShardLease, stopping: asyncio.Event) -> None:
        flusher = JournalFlusher(
            self._redis,
            self._db,
            self.keys,
            token=lease.token,
            batch=self._settings.flush_batch,
            still_owner=lambda: lease.held,
            metrics=self._metrics,
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
            metrics=self._metrics,
        )
        self.actor = actor
        async with asyncio.TaskGroup() as group:
            renewal = group.create_task(lease.keep_renewed(), name=f"lease-{self.keys.shard}")
            flushing = group.create_task(flusher.run(), name=f"flush-{self.keys.shard}")
            gauges = None
            if self._metrics is not None:
                gauges = group.create_task(
                    self._metrics.keep_refreshed(self._redis, self.keys),
                    name=f"metrics-{self.keys.shard}",
                )
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
            if gauges is not None:
                await cancel_and_wait(gauges)
            await cancel_and_wait(renewal)


class Engine:
    """Every shard of the engine in one process."""

    def __init__(
        self,
        *,
        redis: RedisClient,
        db: Database,
        settings: EngineSettings,
        clock: Clock,
        metrics: EngineMetrics | None = None,
    ) -> None:
        scripts = Scripts.register(redis)
        owner = ShardLease.new_owner_id()
        if metrics is not None:
            metrics.started(owner=owner, shard_count=settings.shards)
        self.runners = [
            ShardRunner(
                shard,
                redis=redis,
                db=db,
                scripts=scripts,
                settings=settings,
                clock=clock,
                owner=owner,
                metrics=None if metrics is None else metrics.shard(shard),
            )
            for shard in range(settings.shards)
        ]

    async def run(self, stopping: asyncio.Event) -> None:
        """Run every shard until `stopping` is set. A shard-count mismatch found by one runner
        stops all of them the clean way (their batches applied, journals flushed, leases let
        go), not by cancellation, which a blocking read can absorb; then it is raised."""
        halt = asyncio.Event()
        mismatches: list[ShardCountMismatch] = []

        async def run_shard(runner: ShardRunner) -> None:
            try:
                await runner.run(halt)
            except* ShardCountMismatch as group:
                mismatches.extend(_leaves(group))
                halt.set()

        async def relay_stop() -> None:
            await stopping.wait()
            halt.set()

        relay = asyncio.create_task(relay_stop(), name="engine-stop")
        try:
            async with asyncio.TaskGroup() as group:
                for runner in self.runners:
                    group.create_task(run_shard(runner), name=f"shard-{runner.keys.shard}")
        finally:
            await cancel_and_wait(relay)
        if mismatches:
            raise mismatches[0]

    async def wait_owned(self) -> None:
        """Until every shard has an actor that finished recovery (tests and start-up logs)."""
        await asyncio.gather(*(runner.owned.wait() for runner in self.runners))


def _leaves(group: BaseExceptionGroup[ShardCountMismatch]) -> list[ShardCountMismatch]:
    return [
        leaf
        for error in group.exceptions
        for leaf in (_leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    ]
