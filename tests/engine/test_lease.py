"""Shard leases: an engine takes none under a shard count other than the deployment's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from config import Settings
from engine.clock import SystemClock
from engine.keys import ShardKeys
from engine.redis_client import RedisClient, connect_redis
from engine.shard_count import ShardCountMismatch
from engine.supervisor import Engine
from persistence import Database

SHARDS = 2
STOPS_WITHIN = 10.0


@pytest.fixture
async def engine_redis(settings: Settings, redis: RedisClient) -> AsyncIterator[RedisClient]:
    """A client of the engine's own (after the test's `redis` has emptied the server)."""
    client = connect_redis(settings.redis, extra_connections=SHARDS)
    yield client
    await client.aclose()


async def _run_to_mismatch(engine: Engine) -> ShardCountMismatch:
    """Run the engine until it gives up on a shard-count mismatch, which it must do by itself."""
    try:
        async with asyncio.timeout(STOPS_WITHIN):
            await engine.run(asyncio.Event())
    except ShardCountMismatch as mismatch:
        return mismatch
    except TimeoutError:
        pytest.fail(f"the engine was still running {STOPS_WITHIN}s later")
    pytest.fail("the engine stopped without a mismatch")


async def test_an_engine_takes_no_lease_under_another_shard_count(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    engine_redis: RedisClient,
) -> None:
    for shard in range(2 * SHARDS):
        await redis.set(ShardKeys(shard).shard_count, 2 * SHARDS)
    settings = make_settings(ENGINE_SHARDS=str(SHARDS))
    engine = Engine(redis=engine_redis, db=db, settings=settings.engine, clock=SystemClock())

    mismatch = await _run_to_mismatch(engine)

    assert (mismatch.configured, mismatch.stored) == (SHARDS, 2 * SHARDS)
    keys = [ShardKeys(shard) for shard in range(2 * SHARDS)]
    assert await redis.exists(*(k.lease for k in keys)) == 0
    assert await redis.exists(*(k.fence for k in keys)) == 0, "no token was handed out"


async def test_an_engine_waiting_for_a_lease_does_not_take_it_once_the_count_changed(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    engine_redis: RedisClient,
) -> None:
    settings = make_settings(ENGINE_SHARDS=str(SHARDS), ENGINE_LEASE_TTL_MS="600")
    taken = ShardKeys(1)
    await redis.set(taken.lease, "another engine", px=60_000)
    engine = Engine(redis=engine_redis, db=db, settings=settings.engine, clock=SystemClock())
    running = asyncio.create_task(_run_to_mismatch(engine))
    try:
        await asyncio.wait_for(engine.runners[0].owned.wait(), STOPS_WITHIN)
        fence_before = await redis.get(taken.fence)
        # The count changes under the running engine (as if set-shard-count raced its start),
        # and the shard it was waiting for comes free.
        await redis.set(taken.shard_count, 2 * SHARDS)
        await redis.delete(taken.lease)

        mismatch = await running
    finally:
        running.cancel()

    assert (mismatch.configured, mismatch.stored) == (SHARDS, 2 * SHARDS)
    assert await redis.get(taken.fence) == fence_before, "a token was handed out"
    assert await redis.exists(taken.lease, ShardKeys(0).lease) == 0, "a lease is still held"
