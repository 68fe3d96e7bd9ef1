"""engine.redis_client: a burst larger than a node's pool waits its turn on either Redis.

redis-py's cluster client fails a command at once when a node's pool is used up, and a pipeline
that meets that failure closes the whole client under every other command in flight; a rush's
first second used to turn into 500s that way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.redis_client import connect_redis
from tests.helpers.redis_modes import ON_BOTH_REDIS

if TYPE_CHECKING:
    from config import Settings

POOL = 4
BURST = 40 * POOL


@ON_BOTH_REDIS
async def test_a_burst_of_commands_and_pipelines_past_the_pool_all_succeed(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(REDIS_MAX_CONNECTIONS=str(POOL))
    redis = connect_redis(settings.redis)
    try:
        await redis.set("{burst}:value", "1")

        async def command() -> object:
            return await redis.get("{burst}:value")

        async def pipeline() -> int:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.incr("{burst}:count")
                pipe.get("{burst}:value")
                count, _ = await pipe.execute()
                return int(count)

        gets = await asyncio.gather(*(command() for _ in range(BURST)))
        piped = await asyncio.gather(*(pipeline() for _ in range(BURST)))

        assert gets == [b"1"] * BURST
        assert sorted(piped) == list(range(1, BURST + 1))
        assert await redis.get("{burst}:count") == str(BURST).encode()
    finally:
        await redis.aclose()
