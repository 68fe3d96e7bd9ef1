"""Owns shards: takes their leases, runs their actors, restarts a crashed one with back-off.

The engine processes share the shards: each announces itself (`engine.membership`) and every
one computes the same map from the live members (`engine.assignment`). One `ShardRunner` per
shard tries for the shard's lease only while the map gives the shard to this process; when the
map moves it elsewhere the runner hands it over the clean way (intake stops, the batch in hand
is applied, the journal is written through, the lease is released) and the new owner, which
keeps trying while the lease is still held, takes it and recovers. A process that dies drops out
of the membership, and its shards are taken as their leases lapse. While a runner owns a shard
it runs three tasks together: the actor, the lease renewal and the journal flusher. If any of
them fails (a lost lease most of all) the others are cancelled at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Final

from redis.exceptions import RedisError

from config import EngineSettings, WriteBehind
from engine.actor import SeatActor
from engine.assignment import assign, shards_of
from engine.clock import Clock
from engine.keys import ShardKeys
from engine.lease import LeaseLost, LeaseRenewals, ShardLease
from engine.membership import Members, Membership
from engine.metrics import EngineMetrics, ShardMetrics
from engine.recovery import ShardRecovery
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from engine.shard_count import ShardCountMismatch
from engine.waiting import cancel_and_wait, wait_for_any, wait_until_set
from engine.writebehind import JournalFlusher
from persistence import Database, DatabaseUnavailable
from persistence.seat_state import Fenced

log = logging.getLogger(__name__)

_MAX_BACKOFF: Final = 5.0
_DRAIN_ON_STOP_SECONDS: Final = 5.0
# How often a shard assigned here, whose lease someone else still holds, tries for it: the old
# owner releases it within a turn or two of the map changing, and the new one should not sit
# out a third of the TTL before it notices.
_TAKE_RETRY_SECONDS: Final = 0.1


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
        renewals: LeaseRenewals,
        metrics: ShardMetrics | None = None,
    ) -> None:
        self.keys = ShardKeys(shard)
        self._renewals = renewals
        self._redis = redis
        self._db = db
        self._scripts = scripts
        self._settings = settings
        self._clock = clock
        self._owner = owner
        self._metrics = metrics
        self.owned = asyncio.Event()
        self.actor: SeatActor | None = None
        # Set while the assignment gives this shard to this process, and its complement: the
        # actor's stopping signal, set too when the process stops.
        self.assigned = asyncio.Event()
        self._unassigned = asyncio.Event()
        self._unassigned.set()

    def assign(self, mine: bool) -> None:
        if mine:
            self._unassigned.clear()
            self.assigned.set()
        else:
            self.assigned.clear()
            self._unassigned.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Own the shard whenever it is assigned here, until `stopping` is set (the engine
        unassigns every shard as it sets it, so an actor in hand stops the clean way)."""
        backoff = 0.1
        while not stopping.is_set():
            if not self.assigned.is_set():
                await wait_for_any((self.assigned, stopping))
                continue
            lease = ShardLease(
                self._redis,
                self._scripts,
                self.keys,
                ttl_ms=self._settings.lease_ttl_ms,
                owner=self._owner,
                shard_count=self._settings.shards,
                min_replicas=self._settings.min_replicas,
                replica_wait_ms=self._settings.replica_wait_ms,
            )
            try:
                if not await lease.try_acquire():
                    # Held by the owner before the map changed (it lets go within a turn or
                    # two) or by a process that died (its lease lapses within the TTL).
                    await wait_for_any((self._unassigned,), _TAKE_RETRY_SECONDS)
                    continue
                log.info("shard %d: lease taken (token %d)", self.keys.shard, lease.token)
                if self._metrics is not None:
                    self._metrics.lease_taken(lease.token)
                await self._own(lease, self._unassigned)
                backoff = 0.1
                if stopping.is_set():
                    log.info("shard %d: released (engine stopping)", self.keys.shard)
                else:
                    log.info("shard %d: handed over (assigned elsewhere)", self.keys.shard)
                    if self._metrics is not None:
                        self._metrics.handed_over()
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
            # With the flusher process, the journal is written through out of this process;
            # the owner still drains it itself in recovery and on a clean stop (below).
            backup_after_ms=(
                self._settings.write_behind_backup_ms
                if self._settings.write_behind is WriteBehind.FLUSHER
                else None
            ),
            min_replicas=self._settings.min_replicas,
            replica_wait_ms=self._settings.replica_wait_ms,
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
            renewal = group.create_task(self._renewals.keep(lease), name=f"lease-{self.keys.shard}")
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
    """This process's share of the shards: a runner for every shard, following the membership."""

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
        self.owner = ShardLease.new_owner_id()
        self._shard_count = settings.shards
        self._redis = redis
        self._metrics = metrics
        if metrics is not None:
            metrics.started(owner=self.owner, shard_count=settings.shards)
        self.membership = Membership(
            redis, scripts, member=self.owner, ttl_ms=settings.lease_ttl_ms
        )
        self._renewals = LeaseRenewals(redis, scripts, ttl_ms=settings.lease_ttl_ms)
        self.runners = [
            ShardRunner(
                shard,
                redis=redis,
                db=db,
                scripts=scripts,
                settings=settings,
                clock=clock,
                owner=self.owner,
                renewals=self._renewals,
                metrics=None if metrics is None else metrics.shard(shard),
            )
            for shard in range(settings.shards)
        ]
        self._halted = False
        self._viewed = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> None:
        """Run this process's shards until `stopping` is set: then leave the membership first,
        so the others start taking the shards, and hand every shard over the clean way (batch
        applied, journal flushed, lease let go). A part that fails (a shard-count mismatch found
        by one runner, or any error a runner, the membership follower or the gauges cannot
        handle) stops all of them the same way, not by cancellation, which a blocking read can
        absorb; then its error is raised."""
        halt = asyncio.Event()
        failures: list[Exception] = []

        async def halting_on_failure(name: str, part: Coroutine[Any, Any, None]) -> None:
            try:
                await part
            except Exception as exc:
                log.exception("engine: %s failed; stopping every shard", name)
                failures.append(exc)
                self._halt(halt)

        # The renewals outlive every runner: a runner that is handing over still needs its lease.
        renewing = asyncio.create_task(self._renewals.run(), name="engine-lease-renewals")
        try:
            async with asyncio.TaskGroup() as group:
                for runner in self.runners:
                    name = f"shard-{runner.keys.shard}"
                    group.create_task(halting_on_failure(name, runner.run(halt)), name=name)
                following = group.create_task(
                    halting_on_failure("membership", self.membership.follow(self._reassign)),
                    name="engine-membership",
                )
                gauges = None
                if self._metrics is not None:
                    gauges = group.create_task(
                        halting_on_failure("gauges", self._metrics.keep_refreshed(self._redis)),
                        name="engine-gauges",
                    )
                try:
                    await wait_for_any((stopping, halt))
                    await cancel_and_wait(following)
                    if gauges is not None:
                        await cancel_and_wait(gauges)
                    await self.membership.leave()
                finally:
                    # On every way out, an error here or the group's cancellation included: a
                    # runner whose cancellation a blocking read absorbed (redis-py retries the
                    # read) would otherwise run on past SIGTERM, and the group wait for it.
                    self._halt(halt)
        finally:
            await cancel_and_wait(renewing)
        mismatches = [
            leaf
            for failure in failures
            for leaf in _leaves(failure)
            if isinstance(leaf, ShardCountMismatch)
        ]
        if mismatches:
            raise mismatches[0]
        if failures:
            raise failures[0]

    def _halt(self, halt: asyncio.Event) -> None:
        self._halted = True
        halt.set()
        for runner in self.runners:
            runner.assign(False)

    def _reassign(self, members: Members) -> None:
        if self._halted:
            return
        mine = shards_of(assign(self._shard_count, members), self.owner)
        for runner in self.runners:
            runner.assign(runner.keys.shard in mine)
        log.info(
            "engine: %d members; %d of %d shards assigned here",
            len(members),
            len(mine),
            self._shard_count,
        )
        if self._metrics is not None:
            self._metrics.membership(members=len(members), assigned=len(mine))
        self._viewed.set()

    def owned_shards(self) -> frozenset[int]:
        return frozenset(runner.keys.shard for runner in self.runners if runner.owned.is_set())

    def assigned_shards(self) -> frozenset[int]:
        return frozenset(runner.keys.shard for runner in self.runners if runner.assigned.is_set())

    async def wait_owned(self) -> None:
        """Until every shard assigned here has an actor that finished recovery, under an
        assignment that did not change meanwhile (tests and start-up logs)."""
        await self._viewed.wait()
        while True:
            assigned = [runner for runner in self.runners if runner.assigned.is_set()]
            await asyncio.gather(*(runner.owned.wait() for runner in assigned))
            if assigned == [runner for runner in self.runners if runner.assigned.is_set()]:
                return


def _leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside `error`, groups within groups flattened (`ShardRunner.run` raises
    a shard-count mismatch inside one)."""
    if not isinstance(error, BaseExceptionGroup):
        return [error]
    return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
