"""The write-behind seen from outside: how long a granted hold takes to reach MariaDB, and when
the journal streams are empty.

Both belong to other processes that announce nothing, so both are polled, with deadlines.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from bench.shoppers import Grant
from engine.keys import ShardKeys
from engine.redis_client import RedisClient
from persistence import Database

POLL_S: Final = 0.05


class LagSampler:
    """Follows every `every`-th granted hold until its row is in MariaDB's `holds` table.

    The lag of each is the time from its 201 to the first poll that finds the row, so it is
    known to within one poll interval (50 ms)."""

    def __init__(self, db: Database, every: int) -> None:
        self._db = db
        self._every = max(1, every)
        self._offered = 0
        self._pending: dict[str, float] = {}  # hold id → perf_counter of its 201
        self._rush_over = asyncio.Event()
        self.lags_s: list[float] = []
        self.unseen = 0

    def offer(self, grant: Grant) -> None:
        if self._offered % self._every == 0:
            self._pending[grant.hold_id] = grant.received
        self._offered += 1

    def rush_over(self) -> None:
        self._rush_over.set()

    async def run(self, within_after_rush: float = 30.0) -> None:
        """Poll until the rush is over and every sampled hold has been seen, or the deadline
        after the rush passes (those left count as unseen)."""
        deadline: float | None = None
        while True:
            if self._rush_over.is_set():
                if not self._pending:
                    return
                deadline = deadline or time.perf_counter() + within_after_rush
                if time.perf_counter() > deadline:
                    self.unseen = len(self._pending)
                    return
            if self._pending:
                await self._poll()
            await asyncio.sleep(POLL_S)

    async def _poll(self) -> None:
        ids = list(self._pending)
        asked = time.perf_counter()
        async with self._db.transaction() as conn:
            placeholders = ", ".join(["%s"] * len(ids))  # only placeholders go into the text
            rows = await conn.fetch_all(
                f"SELECT id FROM holds WHERE id IN ({placeholders})",  # noqa: S608
                ids,
            )
        for row in rows:
            self.lags_s.append(asked - self._pending.pop(row["id"]))


async def wait_drained(redis: RedisClient, shards: int, within: float = 60.0) -> float:
    """Seconds until every shard's journal stream is empty (the flushers have committed and
    deleted every entry)."""
    started = time.perf_counter()
    keys = [ShardKeys(shard).journal for shard in range(shards)]
    async with asyncio.timeout(within):
        while True:
            async with redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.xlen(key)
                lengths = await pipe.execute()
            if not any(lengths):
                return time.perf_counter() - started
            await asyncio.sleep(POLL_S)
