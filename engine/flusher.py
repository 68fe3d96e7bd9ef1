"""The flusher process (`python -m engine flush`): every owned shard's journal written through to
MariaDB out of the engine's process, so the actors' event loops only decide.

For each shard it reads, in one MULTI over the shard's own keys, the lease, the fence counter
and the head of the journal, and writes those entries through under the token of the lease's
holder (engine.writebehind.write_through): the fencing token is the owner's, read from Redis, not
one this process holds. Why that keeps every guarantee:

- **Only decisions the fence let in are written.** The journal receives entries only from the
  apply script, which refuses a stale owner's token, so whatever this process reads was
  decided by an owner in its time.
- **A stale token is refused by MariaDB.** The lease script increments the fence counter as it
  sets the lease, so while the lease exists the counter is its holder's token. If the shard
  changes hands after the MULTI, the new owner's recovery claims the MariaDB fence before it
  drains the journal and loads the shard; this process's transaction under the old token then
  fails the `FOR UPDATE` check in `apply_journal` (`Fenced`) and writes nothing, or, had it
  the row lock first, commits decisions the old owner did make, which the drain then skips
  (the claim waits for that lock, and recovery loads MariaDB only after it). A token read
  just after a takeover, before the new owner has claimed the fence, is refused the same way
  until it has. Either way the new owner's drain writes the entries itself.
- **Nothing is applied twice or out of order.** Writers of one shard (this process, the owner's
  backup, a recovery or clean-stop drain) serialise on the fence row lock. Each reads a prefix
  of the journal: ids only grow, and an entry is deleted only after a commit that applied it, so
  everything below a read's first entry is already in MariaDB. Each skips the entries at or
  below the row's last applied id, so the second of two writers of the same prefix applies only
  what is new; its XDEL of ids already deleted deletes nothing.
- **Nothing is lost.** Entries leave the journal only after their transaction committed. If this
  process dies, stops or is fenced, the owner's backup writes what it left (engine.writebehind);
  while MariaDB is away both keep retrying; and the owner drains the journal itself before it
  lets the lease go.

While a shard has no owner this process leaves it alone: the next owner drains the journal in
its recovery. It waits for work with XREAD BLOCK on each shard's journal (one blocking connection
per shard, counted in the pool), never longer than a second, so SIGTERM stops it within about a
second and a change of owner is seen as soon.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Final

from redis.exceptions import RedisError

from config import EngineSettings
from engine.keys import ShardKeys
from engine.metrics import FlusherMetrics, ShardFlusherMetrics
from engine.redis_client import RedisClient
from engine.waiting import wait_until_set
from engine.writebehind import RawEntry, write_through
from persistence import Database, DatabaseUnavailable
from persistence.seat_state import Fenced

log = logging.getLogger(__name__)

# Well inside the Redis socket timeout, and short enough that a stop waits at most this long.
_BLOCK_MS: Final = 1000
_MAX_BACKOFF: Final = 5.0
# After a wake-up, how long entries gather before they are written: MariaDB lags this much more,
# and a rush at a few hundred decisions a second writes a transaction per few turns, not per turn.
_GATHER_SECONDS: Final = 0.05
# Read before any entry was seen: any entry at all is news.
_START: Final = b"0-0"


@dataclass(frozen=True, slots=True)
class OwnedHead:
    """The first entries of a shard's journal and the token of the lease holder at that time."""

    token: int
    entries: list[RawEntry]


class ShardJournalWriter:
    """One shard's journal, written through under its owner's token."""

    def __init__(
        self,
        redis: RedisClient,
        db: Database,
        keys: ShardKeys,
        *,
        batch: int,
        idle_seconds: float,
        min_replicas: int = 0,
        replica_wait_ms: int = 1000,
        metrics: ShardFlusherMetrics | None = None,
    ) -> None:
        self._redis = redis
        self._min_replicas = min_replicas
        self._replica_wait_ms = replica_wait_ms
        self._db = db
        self.keys = keys
        self._batch = batch
        self._idle_seconds = idle_seconds
        self._metrics = metrics
        # The newest entry read so far: XREAD wakes for anything after it.
        self._seen = _START

    async def read_head(self) -> OwnedHead | None:
        """The owner's token and the head of the journal, read at one instant; None while the
        shard has no owner (its next owner's recovery drains the journal)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self.keys.lease)
            pipe.get(self.keys.fence)
            pipe.xrange(self.keys.journal, count=self._batch)
            owner, fence, entries = await pipe.execute()
        if owner is None or fence is None:
            return None
        return OwnedHead(token=int(fence), entries=entries)

    async def write(self, head: OwnedHead) -> None:
        """Write `head` through under its token: `Fenced` if the shard has changed hands since."""
        if not head.entries:
            return
        started = time.perf_counter()
        applied = await write_through(
            self._redis,
            self._db,
            self.keys,
            head.token,
            head.entries,
            min_replicas=self._min_replicas,
            replica_wait_ms=self._replica_wait_ms,
        )
        self._seen = head.entries[-1][0]
        if self._metrics is not None:
            self._metrics.flushed(
                applied=applied,
                seconds=time.perf_counter() - started,
                oldest_id=head.entries[0][0],
            )

    async def flush_once(self) -> int | None:
        """Write up to one batch through: how many entries it read, or None with no owner."""
        head = await self.read_head()
        if head is None:
            return None
        await self.write(head)
        return len(head.entries)

    async def _wait_for_entries(self, stopping: asyncio.Event) -> None:
        """Until an entry newer than the last one read is appended, or a second has passed;
        then a moment more, so the entries of the turns that follow go in the same transaction
        (one per turn would cost MariaDB and this process a transaction each at a modest rate)."""
        woken = await self._redis.xread({self.keys.journal: self._seen}, count=1, block=_BLOCK_MS)
        if woken:
            await wait_until_set(stopping, _GATHER_SECONDS)

    async def run(self, stopping: asyncio.Event) -> None:
        backoff = 0.1
        while not stopping.is_set():
            try:
                flushed = await self.flush_once()
                if flushed is None:
                    await wait_until_set(stopping, self._idle_seconds)
                elif flushed < self._batch:
                    await self._wait_for_entries(stopping)
            except Fenced as exc:
                # A takeover under way: the new owner's recovery writes these entries itself.
                log.info(
                    "shard %d: flush fenced (%s); retry in %.1fs", self.keys.shard, exc, backoff
                )
                if self._metrics is not None:
                    self._metrics.fenced()
            except (DatabaseUnavailable, RedisError) as exc:
                log.warning(
                    "shard %d: flush failed, journal kept (%s); retry in %.1fs",
                    self.keys.shard,
                    exc,
                    backoff,
                )
            else:
                backoff = 0.1
                continue
            await wait_until_set(stopping, backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)


class Flusher:
    """Every shard's journal writer in one process."""

    def __init__(
        self,
        *,
        redis: RedisClient,
        db: Database,
        settings: EngineSettings,
        metrics: FlusherMetrics | None = None,
    ) -> None:
        self.writers = [
            ShardJournalWriter(
                redis,
                db,
                ShardKeys(shard),
                batch=settings.flush_batch,
                # As often as an engine retries a free lease: a new owner is seen as soon.
                idle_seconds=settings.lease_ttl_ms / 1000 / 3,
                min_replicas=settings.min_replicas,
                replica_wait_ms=settings.replica_wait_ms,
                metrics=None if metrics is None else metrics.shard(shard),
            )
            for shard in range(settings.shards)
        ]

    async def run(self, stopping: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            for writer in self.writers:
                group.create_task(writer.run(stopping), name=f"flush-{writer.keys.shard}")
