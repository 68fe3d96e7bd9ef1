"""Write-behind: the shard's journal stream flushed to MariaDB in fenced, batched transactions.

The actor appends one journal entry per applied batch (in the same atomic step as the seat
change). The flusher reads entries in order, applies them in one transaction that checks the
fencing token and skips entries already applied, and only then deletes them from the stream.
If MariaDB is down the journal simply grows and the flusher retries with back-off.
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
from engine.redis_client import RedisClient
from engine.waiting import wait_until_set
from persistence import Database, DatabaseUnavailable
from persistence.seat_state import HoldRow, JournalBatch, SeatRow, apply_journal

log = logging.getLogger(__name__)

_IDLE_WAIT: Final = 0.5
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
        metrics: ShardMetrics | None = None,
    ) -> None:
        self._redis = redis
        self._still_owner = still_owner
        self._db = db
        self._keys = keys
        self._token = token
        self._batch = batch
        self.wakeup = asyncio.Event()
        self._metrics = metrics

    async def flush_once(self) -> int:
        """Flush up to one batch of entries; return how many left the journal."""
        started = time.perf_counter()
        raw_entries: list[tuple[bytes, dict[bytes, bytes]]] = await self._redis.xrange(  # type: ignore[assignment]
            self._keys.journal, count=self._batch
        )
        if not raw_entries:
            return 0
        entries = [parse_entry(entry_id.decode(), fields[b"e"]) for entry_id, fields in raw_entries]
        async with self._db.transaction() as conn:
            await apply_journal(conn, self._keys.shard, self._token, entries)
        await self._redis.xdel(self._keys.journal, *[entry_id for entry_id, _ in raw_entries])
        if self._metrics is not None:
            self._metrics.flushed(time.perf_counter() - started)
        return len(raw_entries)

    async def drain(self) -> None:
        """Flush until the journal is empty (recovery and shutdown)."""
        while await self.flush_once():
            pass

    async def run(self) -> None:
        backoff = 0.1
        # Checked every round, not only on cancellation: a cancel absorbed inside a client
        # library must not leave a former owner flushing (its writes would be fenced anyway).
        while self._still_owner():
            try:
                flushed = await self.flush_once()
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
            if flushed < self._batch:
                await wait_until_set(self.wakeup, _IDLE_WAIT)
                self.wakeup.clear()
