"""Write-behind: the shard's journal stream flushed to MariaDB in fenced, batched transactions.

The actor appends one journal entry per applied batch (in the same atomic step as the seat
change). A flush reads entries in order, applies them in one transaction that checks the
fencing token and skips entries already applied, and only then deletes them from the stream.
If MariaDB is down the journal simply grows and the flusher retries with back-off.

The owner's `JournalFlusher` always drains the journal itself where it must: in recovery, and on
a clean stop before the lease is let go. In between it either flushes after every turn
(WRITE_BEHIND=inline) or, when the flusher process writes the journal through
(WRITE_BEHIND=flusher, engine.flusher), only backs it up: it flushes what that process has left
for about WRITE_BEHIND_BACKUP_MS, as the sweeper backs up the actors' expiry timers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

import orjson
from redis.exceptions import RedisError

from domain.statuses import HoldStatus, SeatStatus
from engine.effects import JournalEntry
from engine.keys import ShardKeys
from engine.metrics import ShardMetrics
from engine.redis_client import RedisClient, queue_replica_wait
from engine.waiting import wait_until_set
from persistence import Database, DatabaseUnavailable
from persistence.seat_state import HoldRow, JournalBatch, SeatRow, apply_journal

log = logging.getLogger(__name__)

# The actor wakes the flusher after every turn that journals anything; this only bounds how
# long an entry could wait if that were ever missed. Short, it would be a round trip per shard
# twice a second for nothing, which 64 idle shards feel.
_IDLE_WAIT: Final = 5.0
_MAX_BACKOFF: Final = 5.0


def parse_entry(entry_id: str, raw: bytes) -> JournalBatch:
    entry: JournalEntry = orjson.loads(raw)
    holds = [
        HoldRow(
            id=h[0],
            event_id=h[1],
            user_id=h[2],
            status=HoldStatus(h[3]),
            expires_at_ms=h[4],
            created_at_ms=h[5],
            updated_at_ms=h[6],
            seat_ids=tuple(h[7]),
        )
        for h in entry["holds"]
    ]
    seats = [
        SeatRow(
            id=s[0],
            event_id=s[1],
            venue_seat_id=s[2],
            status=SeatStatus(s[3]),
            hold_id=s[4],
            holder_id=s[5],
            hold_expires_at_ms=s[6],
            version=s[7],
        )
        for s in entry["seats"]
    ]
    return JournalBatch(
        entry_id=entry_id, holds=holds, seats=seats, expire_sessions=entry["expire_sessions"]
    )


RawEntry = tuple[bytes, dict[bytes, bytes]]


class JournalNotReplicated(RedisError):
    """The entries read from a shard's master are not yet on a replica (REDIS_MIN_REPLICAS):
    writing them now could leave MariaDB with decisions a promoted replica never had, and a seat
    held there twice, once from each side of the failover. They stay in the journal for a retry."""


async def write_through(
    redis: RedisClient,
    db: Database,
    keys: ShardKeys,
    token: int,
    raw_entries: list[RawEntry],
    *,
    min_replicas: int = 0,
    replica_wait_ms: int = 1000,
) -> int:
    """Apply entries read from the head of the journal under `token`, then delete them; return
    how many were new to MariaDB.

    Any number of writers may do this at once for one shard: the fence row lock orders their
    transactions, entries at or below the row's last applied id are skipped, and a delete of
    ids another writer already deleted deletes nothing.

    With `min_replicas`, the entries go to MariaDB only once that many replicas have them. A
    turn waits for its replica before it answers, but a writer may read its entries sooner."""
    if min_replicas:
        await _confirm_replicated(redis, keys, min_replicas, replica_wait_ms)
    entries = [parse_entry(entry_id.decode(), fields[b"e"]) for entry_id, fields in raw_entries]
    async with db.transaction() as conn:
        applied = await apply_journal(conn, keys.shard, token, entries)
    await redis.xdel(keys.journal, *[entry_id for entry_id, _ in raw_entries])
    return applied


async def _confirm_replicated(
    redis: RedisClient, keys: ShardKeys, replicas: int, wait_ms: int
) -> None:
    """WAIT counts the writes of its own connection, and a replica applies the master's writes
    in order: one write made after the entries were read, once acknowledged, proves the
    replicas hold the entries too."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.incr(keys.journal_replicated)
        queue_replica_wait(redis, pipe, keys.tag, replicas, wait_ms)
        _, acknowledged = await pipe.execute()
    if acknowledged < replicas:
        raise JournalNotReplicated(
            f"shard {keys.shard}: {acknowledged} of {replicas} replicas acknowledged the journal "
            f"within {wait_ms} ms"
        )


class JournalFlusher:
    def __init__(
        self,
        redis: RedisClient,
        db: Database,
        keys: ShardKeys,
        *,
        token: int,
        batch: int,
        still_owner: Callable[[], bool],
        backup_after_ms: int | None = None,
        min_replicas: int = 0,
        replica_wait_ms: int = 1000,
        metrics: ShardMetrics | None = None,
    ) -> None:
        """`backup_after_ms` None: flush after every turn; else only back the flusher process
        up, writing what it has left that long."""
        self._redis = redis
        self._still_owner = still_owner
        self._db = db
        self._keys = keys
        self._token = token
        self._batch = batch
        self._backup_after_ms = backup_after_ms
        self._min_replicas = min_replicas
        self._replica_wait_ms = replica_wait_ms
        self._left_at_last_look: bytes | None = None
        self.wakeup = asyncio.Event()
        self._metrics = metrics

    async def flush_once(self) -> int:
        """Flush up to one batch of entries; return how many left the journal."""
        started = time.perf_counter()
        raw_entries: list[RawEntry] = await self._redis.xrange(  # type: ignore[assignment]
            self._keys.journal, count=self._batch
        )
        if not raw_entries:
            return 0
        await write_through(
            self._redis,
            self._db,
            self._keys,
            self._token,
            raw_entries,
            min_replicas=self._min_replicas,
            replica_wait_ms=self._replica_wait_ms,
        )
        if self._metrics is not None:
            self._metrics.flushed(time.perf_counter() - started)
        return len(raw_entries)

    async def drain(self) -> None:
        """Flush until the journal is empty (recovery and shutdown)."""
        while await self.flush_once():
            pass

    async def run(self) -> None:
        """Keep the journal written through while the lease is held: after every turn, or as
        the flusher process's backup."""
        flush_round = self._flush_and_wait if self._backup_after_ms is None else self._back_up
        backoff = 0.1
        # Checked every round, not only on cancellation: a cancel absorbed inside a client
        # library must not leave a former owner flushing (its writes would be fenced anyway).
        while self._still_owner():
            try:
                await flush_round()
            except (DatabaseUnavailable, RedisError) as exc:
                log.warning(
                    "shard %d: flush failed, journal kept (%s); retry in %.1fs",
                    self._keys.shard,
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            backoff = 0.1

    async def _flush_and_wait(self) -> None:
        if await self.flush_once() < self._batch:
            await wait_until_set(self.wakeup, _IDLE_WAIT)
            self.wakeup.clear()

    async def _back_up(self) -> None:
        """Look at the journal's oldest entry every half of WRITE_BEHIND_BACKUP_MS; one seen at
        two looks in a row has waited at least half of it and at most all of it: flush. Ids read
        from Redis are compared, not clocks, so this holds whatever the hosts' clocks say."""
        assert self._backup_after_ms is not None
        oldest: list[RawEntry] = await self._redis.xrange(  # type: ignore[assignment]
            self._keys.journal, count=1
        )
        oldest_id = oldest[0][0] if oldest else None
        if oldest_id is not None and oldest_id == self._left_at_last_look:
            # The entries in hand only (full batches, then one more): a flusher process that
            # fell behind for a moment resumes alone, instead of this loop taking over the
            # stream for as long as the rush lasts.
            while await self.flush_once() == self._batch:
                pass
            oldest_id = None
        self._left_at_last_look = oldest_id
        await asyncio.sleep(self._backup_after_ms / 2000)
