"""A shard's command queue, read without ever popping destructively.

Commands move from the queue into the shard's in-flight list (BLMOVE for the first, a script for
up to a batch more) and leave it only in the same atomic step that applies their decisions. A
cancelled or crashed read therefore never loses a command: whatever is in flight is decided by
the next batch, or by the next owner after a takeover.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from engine.keys import ShardKeys
from engine.scripts import Scripts

log = logging.getLogger(__name__)

REPLY_LIST_TTL_MS: Final = 60_000


def queue_replies(pipe: Pipeline, replies: Sequence[tuple[str, bytes]]) -> None:
    """Add replies to a pipeline: one RPUSH per reply list, which expires if nobody reads it."""
    by_list: dict[str, list[bytes]] = {}
    for reply_to, reply in replies:
        by_list.setdefault(reply_to, []).append(reply)
    for reply_to, batch in by_list.items():
        pipe.rpush(reply_to, *batch)
        pipe.pexpire(reply_to, REPLY_LIST_TTL_MS)


class ShardQueue:
    def __init__(self, redis: Redis, scripts: Scripts, keys: ShardKeys, *, batch_size: int):
        self._redis = redis
        self._scripts = scripts
        self._keys = keys
        self._batch_size = batch_size

    async def take(
        self, block_seconds: float, replies: Sequence[tuple[str, bytes]] = ()
    ) -> list[bytes]:
        """The batch in flight, oldest first: blocks up to `block_seconds` for the first command
        only when nothing is waiting. `replies` (the previous batch's, already durable) travel in
        the same round trip as the take."""
        batch = await self._take_more(replies)
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

    async def _take_more(self, replies: Sequence[tuple[str, bytes]] = ()) -> list[bytes]:
        keys = [self._keys.commands, self._keys.inflight]
        if not replies:
            newest_first: list[bytes] = await self._scripts.take(
                keys=keys, args=[self._batch_size], client=self._redis
            )
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                queue_replies(pipe, replies)
                await self._scripts.take(keys=keys, args=[self._batch_size], client=pipe)
                results: list[object] = await pipe.execute(raise_on_error=False)
            taken = results[-1]
            if isinstance(taken, Exception):
                raise taken
            newest_first = taken  # type: ignore[assignment]
            for result in results[:-1]:
                if isinstance(result, Exception):
                    # The decisions are durable already; a waiter that misses its reply reads
                    # the stored result instead.
                    log.warning("shard %d: a reply was not delivered: %s", self._keys.shard, result)
        newest_first.reverse()
        return newest_first

    async def depth(self) -> int:
        return int(await self._redis.llen(self._keys.commands))
