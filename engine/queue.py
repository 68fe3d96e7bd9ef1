"""A shard's command queue, read without ever popping destructively.

Commands move from the queue into the shard's in-flight list (BLMOVE for the first, a script for
up to a batch more) and leave it only in the same atomic step that applies their decisions. A
cancelled or crashed read therefore never loses a command: whatever is in flight is decided by
the next batch, or by the next owner after a takeover.
"""

from __future__ import annotations

from redis.asyncio import Redis

from engine.keys import ShardKeys
from engine.scripts import Scripts


class ShardQueue:
    def __init__(self, redis: Redis, scripts: Scripts, keys: ShardKeys, *, batch_size: int):
        self._redis = redis
        self._scripts = scripts
        self._keys = keys
        self._batch_size = batch_size

    async def take(self, block_seconds: float) -> list[bytes]:
        """The batch in flight, oldest first: blocks up to `block_seconds` for the first command
        only when nothing is waiting."""
        batch = await self._take_more()
        if batch or block_seconds <= 0:
            return batch
        # Redis takes fractional seconds here; the stub says int.
        timeout: int = block_seconds  # type: ignore[assignment]
        moved = await self._redis.blmove(
            self._keys.commands, self._keys.inflight, timeout, "RIGHT", "LEFT"
        )
        if moved is None:
            return []
        return await self._take_more()

    async def _take_more(self) -> list[bytes]:
        newest_first: list[bytes] = await self._scripts.take(
            keys=[self._keys.commands, self._keys.inflight],
            args=[self._batch_size],
            client=self._redis,
        )
        newest_first.reverse()
        return newest_first

    async def depth(self) -> int:
        return int(await self._redis.llen(self._keys.commands))
