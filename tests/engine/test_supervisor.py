"""The engine process's parts together (engine.supervisor.Engine), against a real Redis and
MariaDB: how it stops when one of its parts fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from config import Settings
from engine.clock import SystemClock
from engine.keys import ShardKeys
from engine.membership import Members, Membership
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from engine.supervisor import Engine
from engine.waiting import cancel_and_wait
from persistence import Database


class MembershipThatFails(Membership):
    """The real membership until `fail` is set, then an error that is no RedisError, as redis-py's
    cluster client raised from a connection it had closed under a command after a failover
    (`RuntimeError: unable to perform operation on <TCPTransport closed=True ...>`)."""

    def __init__(self, redis: RedisClient, *, member: str, ttl_ms: int) -> None:
        super().__init__(redis, Scripts.register(redis), member=member, ttl_ms=ttl_ms)
        self.fail = asyncio.Event()

    async def follow(self, on_change: Callable[[Members], None]) -> None:
        following = asyncio.create_task(super().follow(on_change))
        try:
            await self.fail.wait()
        finally:
            await cancel_and_wait(following)
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")


async def test_a_failing_part_stops_every_shard_the_clean_way_then_raises(
    settings: Settings, db: Database, redis: RedisClient, caplog: pytest.LogCaptureFixture
) -> None:
    # It used to end the engine's task group, which cancelled the shard runners instead of
    # stopping them: a runner whose cancellation redis-py absorbed in a blocking read ran on,
    # nothing was left to tell it of SIGTERM, and the process had to be killed (make chaos,
    # the cluster's master kill).
    caplog.set_level(logging.INFO, logger="engine.supervisor")
    engine = Engine(redis=redis, db=db, settings=settings.engine, clock=SystemClock())
    membership = MembershipThatFails(
        redis, member=engine.owner, ttl_ms=settings.engine.lease_ttl_ms
    )
    engine.membership = membership
    running = asyncio.create_task(engine.run(asyncio.Event()))
    await asyncio.wait_for(engine.wait_owned(), 15)

    membership.fail.set()

    with pytest.raises(RuntimeError, match="TCPTransport closed"):
        await asyncio.wait_for(running, 10)
    shards = range(settings.engine.shards)
    released = [f"shard {shard}: released (engine stopping)" in caplog.text for shard in shards]
    assert released == [True for _ in shards]
    assert [await redis.exists(ShardKeys(shard).lease) for shard in shards] == [0 for _ in shards]
