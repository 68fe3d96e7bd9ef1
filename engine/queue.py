"""A shard's command queue, read without ever popping destructively.

Commands move from the queue into the shard's in-flight list (BLMOVE for the first, a script for
up to a batch more) and leave it only in the same atomic step that applies their decisions. A
cancelled or crashed read therefore never loses a command: whatever is in flight is decided by
the next batch, or by the next owner after a takeover.

The script is fenced like the apply: an owner that lost its lease moves nothing and stands down.
A BLMOVE cannot be fenced, so one that an owner left blocked before it froze can still move one
command in after the new owner's take; the apply therefore removes only the entries its batch
took (the oldest), and the late command is decided by the next turn.

Under load a turn costs one round trip: the previous batch's replies, this batch's apply and the
next batch's take travel in one pipeline, which Redis runs in that order. Scripts are called by
their SHA (`EVALSHA`), loaded once per actor: a pipeline holding redis-py `Script` objects asks
`SCRIPT EXISTS` first, one more round trip per turn.

With `min_replicas` set, the same round trip ends with `WAIT min_replicas timeout`: Redis
answers it once that many replicas hold every write the connection made (the apply and the
take), so it must travel on the apply's connection, which a pipeline is. On a cluster the
pipeline's commands go to the node that serves each one's slot, on one connection per node, in
order; the WAIT is sent to the shard's node. A turn whose WAIT counts too few replicas raises
ReplicasBehind: its decisions are on the master only, and a failover now would lose them, so
nobody may be told of them (engine.actor).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Final

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from engine.keys import ShardKeys
from engine.lease import LeaseLost
from engine.redis_client import RedisClient, RedisPipeline, queue_replica_wait
from engine.scripts import Scripts
from engine.waiting import cancel_and_wait

log = logging.getLogger(__name__)

REPLY_LIST_TTL_MS: Final = 60_000
# An idle shard runs its take script at least once in this many empty blocking reads.
_STRAY_CHECK_EVERY: Final = 5


def queue_replies(pipe: RedisPipeline, replies: Sequence[tuple[str, bytes]]) -> None:
    """Add replies to a pipeline: one RPUSH per reply list, which expires if nobody reads it."""
    by_list: dict[str, list[bytes]] = {}
    for reply_to, reply in replies:
        by_list.setdefault(reply_to, []).append(reply)
    for reply_to, batch in by_list.items():
        pipe.rpush(reply_to, *batch)
        pipe.pexpire(reply_to, REPLY_LIST_TTL_MS)


class ReplicasBehind(RuntimeError):
    """A turn's writes did not reach enough replicas in time: its decisions are not yet safe
    from the loss of the shard's Redis master."""


class ShardQueue:
    def __init__(
        self,
        redis: RedisClient,
        scripts: Scripts,
        keys: ShardKeys,
        *,
        batch_size: int,
        token: int,
        min_replicas: int = 0,
        replica_wait_ms: int = 1000,
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self._keys = keys
        self._batch_size = batch_size
        self._token = token
        # Blocking reads in a row that found nothing: the queue was empty then, so the next take
        # can go straight to another blocking read, which catches anything that came since. An
        # idle shard then costs one round trip a second, not two (64 shards at rest feel it).
        # Every few reads the take script runs anyway: a stale owner's BLMOVE (see above) may
        # have left a command in flight, which no blocking read of ours would see.
        self._idle_reads = 0
        self._min_replicas = min_replicas
        self._replica_wait_ms = replica_wait_ms

    async def prepare(self) -> None:
        """Load the take and apply scripts, so the turn can call them by SHA in a pipeline."""
        for script in (self._scripts.take, self._scripts.apply):
            await self._redis.script_load(script.script)

    async def take(
        self,
        block_seconds: float,
        replies: Sequence[tuple[str, bytes]] = (),
        *,
        interrupt: asyncio.Event | None = None,
    ) -> list[bytes]:
        """The batch in flight, oldest first: blocks up to `block_seconds` for the first command
        only when nothing is waiting, and no longer once `interrupt` is set. `replies` (the
        previous batch's, already durable) travel in the same round trip as the take. Raises
        LeaseLost, having moved nothing, once another owner holds the shard (an idle owner
        notices at its next command or lease renewal)."""
        idle = self._idle_reads % _STRAY_CHECK_EVERY > 0 and not replies and block_seconds > 0
        if not idle:
            [taken] = await self._run(
                replies, [(self._scripts.take, self._take_keys, self._take_args)]
            )
            batch = self._batch(taken)
            if batch or block_seconds <= 0:
                self._idle_reads = 0
                return batch
        moved = await self._wait_for_first(block_seconds, interrupt)
        self._idle_reads = 0 if moved else self._idle_reads + 1
        if not moved:
            return []
        [taken] = await self._run((), [(self._scripts.take, self._take_keys, self._take_args)])
        return self._batch(taken)

    async def _wait_for_first(self, block_seconds: float, interrupt: asyncio.Event | None) -> bool:
        """BLMOVE the first command into flight; whether one came. An owner that is stopping
        (or handing the shard over) abandons the wait at once instead of sitting out the block:
        a read abandoned after Redis moved a command leaves it in flight, where the next take,
        this owner's or the next one's, finds it."""
        # Redis takes fractional seconds here; the stub says int.
        timeout: int = block_seconds  # type: ignore[assignment]
        move = asyncio.ensure_future(
            self._redis.blmove(self._keys.commands, self._keys.inflight, timeout, "RIGHT", "LEFT")
        )
        # If this owner is cancelled mid-wait the read is left to end by itself; its failure (a
        # lost connection) is then nobody's news, and must not be logged as never retrieved.
        move.add_done_callback(_retrieve)
        if interrupt is None:
            return await move is not None
        stop = asyncio.ensure_future(interrupt.wait())
        try:
            await asyncio.wait({move, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not move.done():
            await cancel_and_wait(move)
        return not move.cancelled() and move.result() is not None

    async def apply_and_take(
        self,
        apply_keys: Sequence[str],
        apply_args: Sequence[object],
        replies: Sequence[tuple[str, bytes]] = (),
    ) -> tuple[list[Any], list[bytes]]:
        """One round trip: deliver `replies` (the previous batch's, durable), run the apply script,
        then take the next batch. Returns the apply's answer and the next batch; the next batch
        is only meaningful if the apply succeeded (a fenced apply fences the take too, and a
        batch taken after a failed apply stays in flight for the next owner)."""
        applied, taken, *waited = await self._run(
            replies,
            [
                (self._scripts.apply, apply_keys, apply_args),
                (self._scripts.take, self._take_keys, self._take_args),
            ],
            wait_for_replicas=self._min_replicas > 0,
        )
        if isinstance(applied, Exception):
            raise applied
        if not isinstance(applied, list):
            raise RuntimeError(
                f"shard {self._keys.shard}: unexpected answer from apply: {applied!r}"
            )
        if applied[:1] != [b"ok"]:
            return applied, []  # the actor raises; whatever the take moved stays in flight
        if waited:
            self._check_replicated(waited[0])
        return applied, self._batch(taken)

    def _check_replicated(self, answer: object) -> None:
        if isinstance(answer, int) and answer >= self._min_replicas:
            return
        raise ReplicasBehind(
            f"shard {self._keys.shard}: the turn's writes reached {answer!r} replicas within "
            f"{self._replica_wait_ms} ms, {self._min_replicas} required"
        )

    async def _run(
        self,
        replies: Sequence[tuple[str, bytes]],
        calls: Sequence[tuple[AsyncScript, Sequence[str], Sequence[object]]],
        *,
        wait_for_replicas: bool = False,
    ) -> list[object]:
        """Deliver `replies`, then run the scripts by SHA, in one round trip; the scripts'
        answers, then WAIT's if `wait_for_replicas`. If Redis no longer knows the scripts
        (restarted, failed over to a replica, or its cache was flushed), none of them ran: they
        are loaded and run once more (the replies are delivered already)."""
        answers = await self._send(replies, calls, wait_for_replicas)
        if all(isinstance(answer, NoScriptError) for answer in answers[: len(calls)]):
            await self.prepare()
            answers = await self._send((), calls, wait_for_replicas)
        return answers

    async def _send(
        self,
        replies: Sequence[tuple[str, bytes]],
        calls: Sequence[tuple[AsyncScript, Sequence[str], Sequence[object]]],
        wait_for_replicas: bool,
    ) -> list[object]:
        async with self._redis.pipeline(transaction=False) as pipe:
            queue_replies(pipe, replies)
            for script, keys, args in calls:
                # Not `pipe.evalsha`, which redis-py's cluster pipeline refuses: the raw command
                # is routed by its keys' slot like any other (engine.keys puts them in one).
                pipe.execute_command(
                    "EVALSHA",
                    script.sha,
                    len(keys),
                    *keys,
                    *args,  # type: ignore[arg-type]
                )
            if wait_for_replicas:
                self._queue_wait(pipe)
            results: list[object] = await pipe.execute(raise_on_error=False)
        answered = len(calls) + wait_for_replicas
        self._report_undelivered(results[: len(results) - answered])
        return results[len(results) - answered :]

    def _queue_wait(self, pipe: RedisPipeline) -> None:
        queue_replica_wait(
            self._redis, pipe, self._keys.tag, self._min_replicas, self._replica_wait_ms
        )

    @property
    def _take_keys(self) -> list[str]:
        return [self._keys.commands, self._keys.inflight, self._keys.fence]

    @property
    def _take_args(self) -> list[object]:
        return [self._batch_size, self._token]

    def _report_undelivered(self, results: Sequence[object]) -> None:
        for result in results:
            if isinstance(result, Exception):
                # The decisions are durable already; a waiter that misses its reply reads the
                # stored result instead.
                log.warning("shard %d: a reply was not delivered: %s", self._keys.shard, result)

    def _batch(self, taken: object) -> list[bytes]:
        if isinstance(taken, Exception):
            raise taken
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


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
