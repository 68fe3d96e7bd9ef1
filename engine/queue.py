"""A shard's command queue, read without ever popping destructively.

Commands move from the queue into the shard's in-flight list (BLMOVE for the first, a script for
up to a batch more) and leave it only in the same atomic step that applies their decisions. A
cancelled or crashed read therefore never loses a command: whatever is in flight is decided by
the next batch, or by the next owner after a takeover.

The script is fenced like the apply: an owner that lost its lease moves nothing and stands down.
A BLMOVE cannot be fenced, so one that an owner left blocked before it froze can still move one
command in after the new owner's take; the apply therefore removes only the entries its batch
took (the oldest), and the late command is decided by the next turn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from engine.keys import ShardKeys
from engine.lease import LeaseLost
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
    def __init__(
        self, redis: Redis, scripts: Scripts, keys: ShardKeys, *, batch_size: int, token: int
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self._keys = keys
        self._batch_size = batch_size
        self._token = token

    async def take(
        self, block_seconds: float, replies: Sequence[tuple[str, bytes]] = ()
    ) -> list[bytes]:
        """The batch in flight, oldest first: blocks up to `block_seconds` for the first command
        only when nothing is waiting. `replies` (the previous batch's, already durable) travel in
        the same round trip as the take. Raises LeaseLost, having moved nothing, once another
        owner holds the shard."""
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
        keys = [self._keys.commands, self._keys.inflight, self._keys.fence]
        args = [self._batch_size, self._token]
        taken: object
        if not replies:
            taken = await self._scripts.take(keys=keys, args=args, client=self._redis)
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                queue_replies(pipe, replies)
                await self._scripts.take(keys=keys, args=args, client=pipe)
                results: list[object] = await pipe.execute(raise_on_error=False)
            taken = results[-1]
            if isinstance(taken, Exception):
                raise taken
            for result in results[:-1]:
                if isinstance(result, Exception):
                    # The decisions are durable already; a waiter that misses its reply reads
                    # the stored result instead.
                    log.warning("shard %d: a reply was not delivered: %s", self._keys.shard, result)
        match taken:
            case [b"ok", list() as newest_first]:
                return newest_first[::-1]
            case [b"fenced"]:
                raise LeaseLost(
                    f"shard {self._keys.shard}: fenced out of the queue by a newer owner"
                )
        raise RuntimeError(f"shard {self._keys.shard}: unexpected answer from take: {taken!r}")

    async def depth(self) -> int:
        return int(await self._redis.llen(self._keys.commands))
