"""Redis or MariaDB goes away mid-rush: every process reconnects by itself, holds keep working
without MariaDB, and the write-behind journal catches up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from config import Settings
from devstack.servers import MariaDBServer, RedisServer
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.redis_client import connect_redis
from persistence import Database
from tests.chaos.invariants import Verdict, engine_invariants
from tests.chaos.report import ScenarioResult
from tests.chaos.rush import Rush, seeded
from tests.chaos.scenario import conclude, rush_with_fault
from tests.chaos.stack import SHARDS, Role, Stack, scale, wait_for_log, wait_for_readyz
from tests.helpers.engine import journals_drained

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(90 * scale())]


async def test_redis_restarted_mid_rush(
    make_stack: Callable[..., Stack],
    private_redis: RedisServer,
    mariadb_server: MariaDBServer,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """Redis stopped and restarted mid-rush (AOF)"""
    stack = make_stack(private_redis.url, mariadb_server.url, SWEEP_INTERVAL_SECONDS="0.3")
    event = await seeded(db)
    roles: tuple[Role, ...] = ("engine", "sweeper", "web")
    for role in roles:
        stack.start(role, role)
    await stack.wait_for_owners()
    verdict = Verdict()
    verdict.check("gateway ready", await wait_for_readyz(stack.base_url, 200, 30) is not None)
    settings = stack.client_settings()
    redis = connect_redis(settings.redis)

    async def restart(fault_at: float, rush: Rush) -> None:
        private_redis.stop()
        chaos_result.faults.append("Redis stopped, restarted on its AOF")
        noticed = await wait_for_readyz(stack.base_url, 503, 10)
        verdict.check("gateway /readyz says 503 while Redis is down", noticed is not None)
        try:
            await wait_for_log(stack, "sweeper", "sweeper: Redis unavailable", 10)
        except TimeoutError:
            verdict.check("sweeper noticed the outage", False, stack.log("sweeper")[-2000:])
        private_redis.start()
        back = await wait_for_readyz(stack.base_url, 200, 30)
        verdict.check("gateway /readyz back to 200", back is not None, stack.log("web")[-2000:])

    try:
        async with EngineClient(redis, settings.engine) as client:
            outcomes = await rush_with_fault(chaos_result, verdict, client, event, restart)
            await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    finally:
        await redis.aclose()
    verdict.check(
        "every process survived", not stack.children.exited(), str(stack.children.exited())
    )
    conclude(verdict, stack, chaos_result)


async def test_mariadb_down_mid_rush(
    make_stack: Callable[..., Stack],
    redis_server: RedisServer,
    private_mariadb: MariaDBServer,
    redis: Redis,
    chaos_result: ScenarioResult,
) -> None:
    """MariaDB stopped mid-rush, then restarted"""
    # The 30 s outage at `make chaos` scale (5), a few seconds in `make test`.
    outage = 3.0 if scale() == 1 else 6.0 * scale()
    stack = make_stack(redis_server.url, private_mariadb.url)
    db_settings = Settings.from_env({"DATABASE_URL": private_mariadb.url}).database
    db = await Database.connect(db_settings)
    try:
        event = await seeded(db)
    finally:
        await db.close()  # its pooled connections would not survive the outage
    stack.start("engine", "engine")
    await stack.wait_for_owners()
    settings = stack.client_settings()
    journal = ShardKeys(shard_of(event.event_id, SHARDS)).journal
    verdict = Verdict()
    window: list[float] = []

    async def outage_fault(fault_at: float, rush: Rush) -> None:
        private_mariadb.stop()
        window.append(time.monotonic())
        chaos_result.faults.append(f"MariaDB stopped for {outage:.0f} s")
        await asyncio.sleep(outage)  # the outage itself
        verdict.check("journal grew while MariaDB was down", await redis.xlen(journal) > 0)
        window.append(time.monotonic())
        private_mariadb.start()

    async with EngineClient(redis, settings.engine) as client:
        outcomes = await rush_with_fault(
            chaos_result,
            verdict,
            client,
            event,
            outage_fault,
            spread_seconds=(outage / 0.75 + 1) / scale(),  # the rush outlasts the outage
        )
        down, up = window
        during = [o for o in outcomes if o.answered_at and down < o.answered_at < up]
        verdict.check(
            "holds granted while MariaDB was down",
            any(o.reply and o.reply.hold for o in during),
            f"{len(during)} answers in the outage",
        )
        try:
            await journals_drained(redis, settings, within=30)
            chaos_result.recovery_seconds = time.monotonic() - up
        except TimeoutError:
            verdict.check("write-behind caught up", False, stack.log("engine")[-2000:])
        db = await Database.connect(db_settings)
        try:
            await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
        finally:
            await db.close()
    conclude(verdict, stack, chaos_result)
