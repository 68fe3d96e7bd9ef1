"""The deployment's shard count: stored once in Redis, checked by every process.

An event's shard is `crc32(event_id) % ENGINE_SHARDS`, so two processes that disagree on the
count send one event's commands to two actors, and each sells the same seat. The first process
to start stores its count in every shard's slot (`{rq:N}:shard-count`); every later process
checks it at start-up, and an engine checks its shard's copy again in the script that takes the
lease, so the count changing under a running engine cannot give it a shard either. Shard 0's copy
is looked at first: every count has a shard 0, so a disagreement always shows there.

The count changes only through `python -m engine set-shard-count N`, and only while the
deployment is quiet: no lease held, nothing queued, in flight or left in a journal, so nothing
decided under the old routing is lost or decided twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from redis.exceptions import RedisError

from config import SettingsError
from engine.keys import ShardKeys
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from engine.waiting import wait_until_set

log = logging.getLogger(__name__)

_CHECK_ONLY: Final = "check"
_MAX_BACKOFF: Final = 5.0


class ShardCountMismatch(SettingsError):
    """ENGINE_SHARDS differs from the shard count this deployment runs with."""

    def __init__(self, *, configured: int, stored: int) -> None:
        super().__init__(
            f"ENGINE_SHARDS={configured}, but the shard count stored for this deployment is "
            f"{stored}: start every process with ENGINE_SHARDS={stored}, or change the "
            "deployment's count with `python -m engine set-shard-count N`"
        )
        self.configured = configured
        self.stored = stored


class ShardCountChangeRefused(RuntimeError):
    """The deployment is not quiet enough to change its shard count; the message says why."""


async def claim_shard_count(redis: RedisClient, shards: int) -> None:
    """Store `shards` as the deployment's count unless one is stored; raise
    `ShardCountMismatch` if another one is."""
    stored: bytes | None = await redis.set(  # type: ignore[assignment]  # GET: old value
        ShardKeys(0).shard_count, shards, nx=True, get=True
    )
    _check(shards, stored)
    if shards == 1:
        return
    # Only once shard 0 agrees, so a mismatched process leaves no copies of its count behind.
    async with redis.pipeline(transaction=False) as pipe:
        for shard in range(1, shards):
            pipe.set(ShardKeys(shard).shard_count, shards, nx=True, get=True)
        for stored in await pipe.execute():
            _check(shards, stored)


async def claim_when_reachable(redis: RedisClient, shards: int, stopping: asyncio.Event) -> bool:
    """`claim_shard_count`, waiting for Redis as long as it takes (a process started before
    its Redis must still come up); False if told to stop first."""
    backoff = 0.1
    while not stopping.is_set():
        try:
            await claim_shard_count(redis, shards)
        except RedisError as exc:
            log.warning("shard count not checked yet, Redis unavailable: %s", exc)
            await wait_until_set(stopping, backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)
        else:
            return True
    return False


def _check(shards: int, stored: bytes | None) -> None:
    if stored is not None and int(stored) != shards:
        raise ShardCountMismatch(configured=shards, stored=int(stored))


async def change_shard_count(redis: RedisClient, shards: int) -> int | None:
    """Make `shards` the deployment's count; return the count it had (None if none).

    Every shard of the old and the new count gets the new value, so an engine still on the old
    count is refused every lease. Raises `ShardCountChangeRefused` while any of those shards is
    owned or has work left; a first look at all of them refuses before anything is written, and
    each write checks its shard again in the same script.
    """
    raw = await redis.get(ShardKeys(0).shard_count)
    old = None if raw is None else int(raw)
    if old == shards:
        return old
    script = Scripts.register(redis).shard_count_change
    affected = [ShardKeys(shard) for shard in range(max(old or 0, shards))]
    for mode in (_CHECK_ONLY, "write"):
        for done, keys in enumerate(affected):
            busy = await script(
                keys=[keys.shard_count, keys.lease, keys.commands, keys.inflight, keys.journal],
                args=[shards, mode],
                client=redis,
            )
            if busy:
                written = (
                    f"; shards 0-{done - 1} already have the new count"
                    if done and mode != _CHECK_ONLY
                    else ""
                )
                raise ShardCountChangeRefused(
                    f"shard {keys.shard}: {busy.decode()}{written}. Stop every engine, sweeper "
                    "and gateway (a clean stop drains the queues and the journal), then run "
                    "this again"
                )
    log.info("shard count changed from %s to %d", old, shards)
    return old
