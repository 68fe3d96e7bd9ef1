"""The deployment's shard count: the first process stores it, the others must agree, and only
a quiet deployment has it changed."""

from __future__ import annotations

import pytest

from engine.keys import ShardKeys
from engine.redis_client import RedisClient
from engine.shard_count import (
    ShardCountChangeRefused,
    ShardCountMismatch,
    change_shard_count,
    claim_shard_count,
)


async def stored_counts(redis: RedisClient, shards: int) -> list[object]:
    return [await redis.get(ShardKeys(shard).shard_count) for shard in range(shards)]


async def test_the_first_process_stores_its_count_and_every_other_must_agree(
    redis: RedisClient,
) -> None:
    await claim_shard_count(redis, 2)
    await claim_shard_count(redis, 2)

    with pytest.raises(ShardCountMismatch) as more:
        await claim_shard_count(redis, 4)
    with pytest.raises(ShardCountMismatch) as fewer:
        await claim_shard_count(redis, 1)

    assert (more.value.configured, more.value.stored) == (4, 2)
    assert (fewer.value.configured, fewer.value.stored) == (1, 2)
    assert await stored_counts(redis, 4) == [b"2", b"2", None, None]


@pytest.mark.parametrize("busy", ["lease", "commands", "inflight", "journal"])
async def test_the_count_is_not_changed_while_a_shard_is_owned_or_has_work(
    redis: RedisClient, busy: str
) -> None:
    await claim_shard_count(redis, 2)
    keys = ShardKeys(1)
    if busy == "lease":
        await redis.set(keys.lease, "an engine", px=60_000)
    elif busy == "journal":
        await redis.xadd(keys.journal, {"batch": "{}"})
    else:
        await redis.lpush(getattr(keys, busy), "a command")

    with pytest.raises(ShardCountChangeRefused, match=f"shard 1.*{busy}"):
        await change_shard_count(redis, 4)

    assert await stored_counts(redis, 4) == [b"2", b"2", None, None]


async def test_a_quiet_deployment_changes_its_count_and_old_processes_are_refused(
    redis: RedisClient,
) -> None:
    await claim_shard_count(redis, 4)

    assert await change_shard_count(redis, 2) == 4

    # Every shard the old count had says so, so an engine still on four shards takes none.
    assert await stored_counts(redis, 4) == [b"2"] * 4
    await claim_shard_count(redis, 2)
    with pytest.raises(ShardCountMismatch):
        await claim_shard_count(redis, 4)
    assert await change_shard_count(redis, 8) == 2
    assert await stored_counts(redis, 8) == [b"8"] * 8
    assert await change_shard_count(redis, 8) == 8
