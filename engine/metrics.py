"""The metrics of the engine, the sweeper and the flusher process, made once per process in
the process's own registry.

Every engine series carries `shard` (0..S-1); nothing carries an id. A shard's label children
are looked up once, when its `ShardMetrics` is made, because a turn decides hundreds of commands
and `.labels()` costs a lock and a tuple build each call. The gauges that need a Redis read
(queue depth, in-flight, journal length and the age of its oldest entry) are not touched by the
turn at all: `keep_refreshed` reads them for every owned shard in one pipelined round trip a
second. A process started with METRICS_PORT=0 builds none of this and passes None instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from redis.exceptions import RedisError

from engine.keys import ShardKeys
from engine.protocol import CommandType, RejectCode
from engine.redis_client import RedisClient, RedisPipeline

log = logging.getLogger(__name__)

OK: Final = "ok"
GAUGE_REFRESH_SECONDS: Final = 1.0
# Seconds from enqueue to decision: milliseconds when keeping up, up to the gateway's 5 s
# decision timeout when not.
_DECISION_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# Commands per turn, up to ENGINE_BATCH_SIZE (256 by default) and a bit beyond.
_BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_FLUSH_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_RECOVERY_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineMetrics:
    """The engine process's metric families; `shard(n)` gives one shard's series."""

    commands: Counter
    decision_seconds: Histogram
    batch_size: Histogram
    queue_depth: Gauge
    inflight: Gauge
    journal_length: Gauge
    journal_oldest_age: Gauge
    flush_seconds: Histogram
    shards: Gauge
    shard_owned: Gauge
    lease_token: Gauge
    info: Gauge
    lease_acquisitions: Counter
    lease_losses: Counter
    recoveries: Counter
    recovery_seconds: Histogram
    fenced_turns: Counter
    diverged_turns: Counter
    unreplicated_turns: Counter
    queue_waiting: Gauge
    queue_inside: Gauge
    queue_admissions: Counter
    members: Gauge
    shards_assigned: Gauge
    shards_owned: Gauge
    handovers: Counter
    _by_shard: dict[int, ShardMetrics] = field(default_factory=dict)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> EngineMetrics:
        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["shard"], registry=registry)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, ["shard"], registry=registry)

        return cls(
            commands=Counter(
                "rushqueue_engine_commands",
                "Commands decided, by command and outcome (ok or the rejection code).",
                ["shard", "command", "outcome"],
                registry=registry,
            ),
            decision_seconds=Histogram(
                "rushqueue_engine_decision_seconds",
                "Time from a command's enqueue (its queued_at_ms) to its applied decision.",
                ["shard", "command"],
                buckets=_DECISION_BUCKETS,
                registry=registry,
            ),
            batch_size=Histogram(
                "rushqueue_engine_batch_size",
                "Commands taken per turn.",
                ["shard"],
                buckets=_BATCH_BUCKETS,
                registry=registry,
            ),
            queue_depth=gauge("rushqueue_engine_queue_depth", "Commands waiting in the queue."),
            inflight=gauge("rushqueue_engine_inflight", "Commands taken but not yet applied."),
            journal_length=gauge(
                "rushqueue_engine_journal_length", "Write-behind entries not yet in MariaDB."
            ),
            journal_oldest_age=gauge(
                "rushqueue_engine_journal_oldest_age_seconds",
                "Age of the oldest write-behind entry not yet in MariaDB (0 when none).",
            ),
            flush_seconds=Histogram(
                "rushqueue_engine_flush_seconds",
                "Time of one write-behind flush (read, MariaDB transaction, delete).",
                ["shard"],
                buckets=_FLUSH_BUCKETS,
                registry=registry,
            ),
            shards=Gauge(
                "rushqueue_engine_shards", "The configured shard count.", registry=registry
            ),
            shard_owned=gauge(
                "rushqueue_engine_shard_owned",
                "1 while this process owns the shard and its actor has recovered, else 0.",
            ),
            lease_token=gauge(
                "rushqueue_engine_lease_token",
                "The fencing token this process holds for the shard (0 if none).",
            ),
            info=Gauge(
                "rushqueue_engine_info",
                "Always 1; `owner` is this process's lease owner id.",
                ["owner"],
                registry=registry,
            ),
            lease_acquisitions=counter(
                "rushqueue_engine_lease_acquisitions", "Times this process took the lease."
            ),
            lease_losses=counter(
                "rushqueue_engine_lease_losses",
                "Times this process lost the lease while owning the shard.",
            ),
            recoveries=counter(
                "rushqueue_engine_recoveries", "Recoveries (takeovers) this process finished."
            ),
            recovery_seconds=Histogram(
                "rushqueue_engine_recovery_seconds",
                "Time of one recovery, from the fence claim to the first turn.",
                ["shard"],
                buckets=_RECOVERY_BUCKETS,
                registry=registry,
            ),
            fenced_turns=counter(
                "rushqueue_engine_fenced_turns", "Turns refused by the fence (a newer owner)."
            ),
            diverged_turns=counter(
                "rushqueue_engine_diverged_turns",
                "Turns refused because Redis seat locks disagreed with the actor's memory.",
            ),
            unreplicated_turns=counter(
                "rushqueue_engine_unreplicated_turns",
                "Turns left unanswered because WAIT counted fewer replicas than "
                "REDIS_MIN_REPLICAS.",
            ),
            queue_waiting=gauge(
                "rushqueue_engine_queue_waiting",
                "Buyers waiting in the shard's waiting rooms (pre-queue included).",
            ),
            queue_inside=gauge(
                "rushqueue_engine_queue_inside",
                "Shopping sessions running in the shard's waiting rooms.",
            ),
            queue_admissions=counter(
                "rushqueue_engine_queue_admissions", "Buyers admitted from waiting rooms."
            ),
            members=Gauge(
                "rushqueue_engine_members",
                "Engine processes in this process's last view of the membership.",
                registry=registry,
            ),
            shards_assigned=Gauge(
                "rushqueue_engine_shards_assigned",
                "Shards the assignment gives this process.",
                registry=registry,
            ),
            shards_owned=Gauge(
                "rushqueue_engine_shards_owned",
                "Shards this process owns with a recovered actor (the sum of shard_owned).",
                registry=registry,
            ),
            handovers=counter(
                "rushqueue_engine_handovers",
                "Times this process handed the shard over because it was assigned elsewhere.",
            ),
        )

    def started(self, *, owner: str, shard_count: int) -> None:
        """Describe this process; every shard's series exist from here on, at 0."""
        self.info.labels(owner=owner).set(1)
        self.shards.set(shard_count)
        for shard in range(shard_count):
            self.shard(shard)

    def membership(self, *, members: int, assigned: int) -> None:
        self.members.set(members)
        self.shards_assigned.set(assigned)

    async def keep_refreshed(self, redis: RedisClient) -> None:
        """Refresh the Redis-side gauges of every shard this process owns, all in one pipelined
        round trip every GAUGE_REFRESH_SECONDS, until cancelled: a round trip per shard would
        cost an engine of 64 shards more than its idle turns."""
        while True:
            owned = [
                (shard, metrics) for shard, metrics in self._by_shard.items() if metrics.is_owned
            ]
            if owned:
                try:
                    async with redis.pipeline(transaction=False) as pipe:
                        for shard, metrics in owned:
                            metrics.queue_reads(pipe, ShardKeys(shard))
                        answers = await pipe.execute()
                except RedisError as exc:
                    # Never the actors' problem: the gauges keep their last values, and each
                    # actor notices a Redis outage itself.
                    log.debug("metrics not refreshed: %s", exc)
                else:
                    for index, (_, metrics) in enumerate(owned):
                        # A shard stood down while the reads were out keeps its zeros.
                        if metrics.is_owned:
                            metrics.set_from(*answers[4 * index : 4 * index + 4])
            await asyncio.sleep(GAUGE_REFRESH_SECONDS)

    def shard(self, shard: int) -> ShardMetrics:
        metrics = self._by_shard.get(shard)
        if metrics is None:
            metrics = self._by_shard[shard] = ShardMetrics(self, shard)
        return metrics


class ShardMetrics:
    """One shard's series, resolved once."""

    __slots__ = (
        "_acquisitions",
        "_batch_size",
        "_commands",
        "_decided",
        "_decision_seconds",
        "_diverged",
        "_fenced",
        "_flush_seconds",
        "_handovers",
        "_inflight",
        "_is_owned",
        "_journal_length",
        "_journal_oldest_age",
        "_label",
        "_latency",
        "_losses",
        "_owned",
        "_owned_count",
        "_queue_admissions",
        "_queue_depth",
        "_queue_inside",
        "_queue_waiting",
        "_recoveries",
        "_recovery_seconds",
        "_token",
        "_unreplicated",
    )

    def __init__(self, metrics: EngineMetrics, shard: int) -> None:
        label = self._label = str(shard)
        self._commands = metrics.commands
        # `ok` exists from the start so a rate sees the first decision; a rejection's series
        # appears with its first use (60 series per shard would mostly stay at 0).
        self._decided: dict[tuple[CommandType, RejectCode | None], Counter] = {
            (command, None): metrics.commands.labels(label, command.value, OK)
            for command in CommandType
        }
        # A histogram's child is 17 series; made at its command's first timed decision, so that
        # an engine of 64 shards does not render 12,000 lines of zeros on every scrape.
        self._decision_seconds = metrics.decision_seconds
        self._latency: dict[CommandType, Histogram] = {}
        self._batch_size = metrics.batch_size.labels(label)
        self._queue_depth = metrics.queue_depth.labels(label)
        self._inflight = metrics.inflight.labels(label)
        self._journal_length = metrics.journal_length.labels(label)
        self._journal_oldest_age = metrics.journal_oldest_age.labels(label)
        self._flush_seconds = metrics.flush_seconds.labels(label)
        self._owned = metrics.shard_owned.labels(label)
        self._token = metrics.lease_token.labels(label)
        self._acquisitions = metrics.lease_acquisitions.labels(label)
        self._losses = metrics.lease_losses.labels(label)
        self._recoveries = metrics.recoveries.labels(label)
        self._recovery_seconds = metrics.recovery_seconds.labels(label)
        self._fenced = metrics.fenced_turns.labels(label)
        self._diverged = metrics.diverged_turns.labels(label)
        self._unreplicated = metrics.unreplicated_turns.labels(label)
        self._queue_waiting = metrics.queue_waiting.labels(label)
        self._queue_inside = metrics.queue_inside.labels(label)
        self._queue_admissions = metrics.queue_admissions.labels(label)
        self._handovers = metrics.handovers.labels(label)
        self._owned_count = metrics.shards_owned
        self._is_owned = False

    # -- the turn ---------------------------------------------------------------------------

    def decided(
        self, command: CommandType, rejected: RejectCode | None, seconds: float | None
    ) -> None:
        """One applied decision; `seconds` since its enqueue, if the sender stamped it."""
        counter = self._decided.get((command, rejected))
        if counter is None:
            assert rejected is not None
            counter = self._decided[command, rejected] = self._commands.labels(
                self._label, command.value, rejected.value
            )
        counter.inc()
        if seconds is not None:
            latency = self._latency.get(command)
            if latency is None:
                latency = self._latency[command] = self._decision_seconds.labels(
                    self._label, command.value
                )
            latency.observe(seconds)

    def turn_taken(self, commands: int) -> None:
        self._batch_size.observe(commands)

    def fenced(self) -> None:
        self._fenced.inc()

    def rooms(self, *, waiting: int, inside: int, admitted: int) -> None:
        """The shard's waiting rooms after a turn's admission ticks."""
        self._queue_waiting.set(waiting)
        self._queue_inside.set(inside)
        if admitted:
            self._queue_admissions.inc(admitted)

    def diverged(self) -> None:
        self._diverged.inc()

    def unreplicated(self) -> None:
        self._unreplicated.inc()

    def flushed(self, seconds: float) -> None:
        self._flush_seconds.observe(seconds)

    # -- ownership --------------------------------------------------------------------------

    def lease_taken(self, token: int) -> None:
        self._acquisitions.inc()
        self._token.set(token)

    def recovered(self, seconds: float) -> None:
        self._recoveries.inc()
        self._recovery_seconds.observe(seconds)
        self._owned.set(1)
        if not self._is_owned:
            self._owned_count.inc()
        self._is_owned = True

    def handed_over(self) -> None:
        self._handovers.inc()

    def lease_lost(self) -> None:
        self._losses.inc()

    def stood_down(self) -> None:
        """Not the owner any more: what this process says about the shard goes to 0."""
        self._owned.set(0)
        self._token.set(0)
        if self._is_owned:
            self._owned_count.dec()
        self._is_owned = False
        for gauge in (
            self._queue_depth,
            self._inflight,
            self._journal_length,
            self._journal_oldest_age,
            self._queue_waiting,
            self._queue_inside,
        ):
            gauge.set(0)

    # -- the Redis-side gauges --------------------------------------------------------------

    @property
    def is_owned(self) -> bool:
        return self._is_owned

    def queue_reads(self, pipe: RedisPipeline, keys: ShardKeys) -> None:
        """Add this shard's gauge reads to `pipe`: four answers, for `set_from`."""
        pipe.llen(keys.commands)
        pipe.llen(keys.inflight)
        pipe.xlen(keys.journal)
        pipe.xrange(keys.journal, "-", "+", count=1)

    def set_from(self, depth: int, inflight: int, length: int, oldest: list[Any]) -> None:
        self._queue_depth.set(depth)
        self._inflight.set(inflight)
        self._journal_length.set(length)
        age = 0.0
        if oldest:
            # A stream id starts with the Redis server's milliseconds when it was added.
            added_ms = int(oldest[0][0].split(b"-", 1)[0])
            age = max(time.time() - added_ms / 1000, 0.0)
        self._journal_oldest_age.set(age)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweeperMetrics:
    runs: Counter
    overdue_holds: Counter
    expire_commands: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> SweeperMetrics:
        return cls(
            runs=Counter("rushqueue_sweeper_runs", "Sweeps finished.", registry=registry),
            overdue_holds=Counter(
                "rushqueue_sweeper_overdue_holds",
                "Overdue holds found (Redis reminders and MariaDB together, once per sweep).",
                registry=registry,
            ),
            expire_commands=Counter(
                "rushqueue_sweeper_expire_commands",
                "Expire commands queued for the owning shards.",
                registry=registry,
            ),
        )

    def swept(self, overdue: int, asked: int) -> None:
        self.runs.inc()
        self.overdue_holds.inc(overdue)
        self.expire_commands.inc(asked)


# From an entry's append to its commit: milliseconds when the flusher keeps up; seconds while
# MariaDB is away or a takeover holds the fence row.
_LAG_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class FlusherMetrics:
    """The flusher process's metric families (engine.flusher); `shard(n)` gives one shard's."""

    entries: Counter
    flush_seconds: Histogram
    lag_seconds: Histogram
    fenced: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> FlusherMetrics:
        return cls(
            entries=Counter(
                "rushqueue_flusher_entries",
                "Journal entries written through to MariaDB by this process (not those "
                "another writer had applied first).",
                ["shard"],
                registry=registry,
            ),
            flush_seconds=Histogram(
                "rushqueue_flusher_flush_seconds",
                "Time of one flush (MariaDB transaction and journal delete).",
                ["shard"],
                buckets=_FLUSH_BUCKETS,
                registry=registry,
            ),
            lag_seconds=Histogram(
                "rushqueue_flusher_lag_seconds",
                "Per flush, the age of its oldest entry when it was committed.",
                ["shard"],
                buckets=_LAG_BUCKETS,
                registry=registry,
            ),
            fenced=Counter(
                "rushqueue_flusher_fenced",
                "Flushes refused by the MariaDB fence (the shard changed owner).",
                ["shard"],
                registry=registry,
            ),
        )

    def shard(self, shard: int) -> ShardFlusherMetrics:
        label = str(shard)
        return ShardFlusherMetrics(
            entries=self.entries.labels(label),
            flush_seconds=self.flush_seconds.labels(label),
            lag_seconds=self.lag_seconds.labels(label),
            fenced_flushes=self.fenced.labels(label),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardFlusherMetrics:
    """One shard's flusher series, resolved once."""

    entries: Counter
    flush_seconds: Histogram
    lag_seconds: Histogram
    fenced_flushes: Counter

    def flushed(self, *, applied: int, seconds: float, oldest_id: bytes) -> None:
        self.entries.inc(applied)
        self.flush_seconds.observe(seconds)
        # A stream id starts with the Redis server's milliseconds when it was added.
        added_ms = int(oldest_id.split(b"-", 1)[0])
        self.lag_seconds.observe(max(time.time() - added_ms / 1000, 0.0))

    def fenced(self) -> None:
        self.fenced_flushes.inc()
