"""Redis or MariaDB goes away mid-rush: every process reconnects by itself, holds keep working
without MariaDB, and the write-behind journal catches up."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest

from bench.stack import SeededEvent
from config import Settings
from devstack.servers import MariaDBServer, RedisServer
from domain.errors import EngineUnavailable
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.protocol import RejectCode, Reply, idempotent_command_id
from engine.redis_client import RedisClient, connect_redis
from persistence import Database
from tests.chaos.invariants import Verdict, engine_invariants, grants_by_seat
from tests.chaos.report import ScenarioResult
from tests.chaos.rush import Outcome, Rush, plan, seeded
from tests.chaos.scenario import conclude, rush_size, rush_with_fault
from tests.chaos.stack import SHARDS, Role, Stack, scale, wait_for_log, wait_for_readyz
from tests.helpers.engine import ask_hold, journals_drained

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
    roles: tuple[Role, ...] = ("engine", "sweeper", "web", "flusher")
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
    redis: RedisClient,
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
    # The flusher process, as the Procfile runs it, retries until MariaDB is back.
    stack.start("flusher", "flusher")
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


async def seeded_on_shard(db: Database, shard: int) -> SeededEvent:
    """A seeded event that the given shard owns (event ids are not ours to choose)."""
    while True:
        event = await seeded(db)
        if shard_of(event.event_id, SHARDS) == shard:
            return event


@pytest.mark.long
async def test_mariadb_frozen_mid_rush(
    make_stack: Callable[..., Stack],
    redis_server: RedisServer,
    private_mariadb: MariaDBServer,
    redis: RedisClient,
    chaos_result: ScenarioResult,
) -> None:
    """MariaDB frozen (SIGSTOP) mid-rush, then thawed"""
    # Frozen, not stopped: connections are accepted and never answered, so only timeouts and
    # keeping MariaDB out of the actor's turn save the shard.
    freeze = 3.0 if scale() == 1 else 6.0 * scale()
    stack = make_stack(redis_server.url, private_mariadb.url)
    db_settings = Settings.from_env({"DATABASE_URL": private_mariadb.url}).database
    db = await Database.connect(db_settings)
    try:
        event = await seeded(db)
        stack.start("engine", "engine")
        await stack.wait_for_owners()
        # Created after the engine recovered, so the actor has to load it on its first command;
        # on the loaded event's shard, so a wedged turn would stop both.
        shard = shard_of(event.event_id, SHARDS)
        unloaded = await seeded_on_shard(db, shard)
    finally:
        await db.close()  # its pooled connections would not survive the freeze
    made_up = next(n for n in itertools.count(10**9) if shard_of(n, SHARDS) == shard)
    settings = stack.client_settings()
    verdict = Verdict()
    window: list[float] = []
    latencies: list[tuple[float, float]] = []  # (probe's wait, seconds into the freeze)
    made_up_id = idempotent_command_id("chaos:made-up", "1")

    async with EngineClient(redis, settings.engine) as client:
        # Smaller than the main rush: every one of these retries throughout the freeze, and the
        # point is that they keep arriving, not how hard this one test process can hammer.
        late_asks = plan(unloaded, rush_size(40), seed=2)
        late = Rush(
            client,
            unloaded.event_id,
            late_asks,
            spread_seconds=freeze * 0.8,
            deadline_seconds=freeze + 60,
        )
        late_running: list[asyncio.Task[list[Outcome]]] = []

        async def freeze_fault(fault_at: float, rush: Rush) -> None:
            private_mariadb.pause()
            window.append(time.monotonic())
            chaos_result.faults.append(f"MariaDB frozen (SIGSTOP) for {freeze:.0f} s")
            try:
                late_running.append(asyncio.create_task(late.run()))
                try:
                    made_up_reply: Reply | None = await ask_hold(
                        client, made_up, unloaded.user_ids[0], (1,), made_up_id
                    )
                except EngineUnavailable:
                    made_up_reply = None
                verdict.check(
                    "made-up event id: retryable answer while frozen",
                    made_up_reply is None or made_up_reply.is_transient,
                    repr(made_up_reply),
                )
                # The loaded event's shard keeps deciding: a probe (a seat no event has, so
                # it is refused and takes nothing) every 100 ms for the whole freeze.
                until = window[0] + freeze
                while time.monotonic() < until:
                    asked = time.monotonic()
                    try:
                        await ask_hold(client, event.event_id, event.user_ids[0], (2**40,))
                        latencies.append((time.monotonic() - asked, asked - window[0]))
                    except EngineUnavailable:
                        latencies.append((float("inf"), asked - window[0]))
                    await asyncio.sleep(0.1)  # pacing the probes
            finally:
                window.append(time.monotonic())
                private_mariadb.resume()

        try:
            outcomes = await rush_with_fault(
                chaos_result,
                verdict,
                client,
                event,
                freeze_fault,
                spread_seconds=(freeze / 0.75 + 1) / scale(),  # the rush outlasts the freeze
            )
            frozen, thawed = window
            slowest = max(latencies, default=(0.0, 0.0))
            verdict.check(
                "loaded event decided promptly while frozen",
                bool(latencies) and slowest[0] < 1.0,
                f"{len(latencies)} probes, slowest {slowest[0]:.2f} s, {slowest[1]:.1f} s into "
                f"the freeze:\n{stack.log('engine')[-3000:]}",
            )
            during = [o for o in outcomes if o.answered_at and frozen < o.answered_at < thawed]
            verdict.check(
                "rush on the loaded event answered while frozen",
                bool(during),
                "no answer in the freeze",
            )
            late_outcomes = await late_running[0]
        finally:
            for task in late_running:
                task.cancel()
            await asyncio.gather(*late_running, return_exceptions=True)
        early = [o for o in late_outcomes if o.answered_at and o.answered_at < thawed]
        verdict.check(
            "unloaded event: only retryable answers while frozen",
            not early and late.retryable_errors > 0,
            f"{len(early)} decided while frozen, {late.retryable_errors} retryable answers",
        )
        decided_at = [o.answered_at for o in late_outcomes if o.answered_at]
        if decided_at:
            # This scenario's recovery: from the thaw until the unloaded event's first decision.
            chaos_result.recovery_seconds = min(decided_at) - thawed
        chaos_result.requests += len(late_asks)
        chaos_result.retryable_errors += late.retryable_errors
        made_up_final = await ask_hold(client, made_up, unloaded.user_ids[0], (1,), made_up_id)
        verdict.check(
            "made-up event id: unknown once thawed",
            made_up_final.rejection is not None
            and made_up_final.rejection.code is RejectCode.UNKNOWN_EVENT,
            repr(made_up_final),
        )
        db = await Database.connect(db_settings)
        try:
            # Both events live on one shard: each one's locks are not the other's strays.
            await engine_invariants(
                verdict,
                client,
                redis,
                db,
                settings,
                event.event_id,
                outcomes,
                neighbours=grants_by_seat(late_outcomes),
            )
            await engine_invariants(
                verdict,
                client,
                redis,
                db,
                settings,
                unloaded.event_id,
                late_outcomes,
                neighbours=grants_by_seat(outcomes),
            )
        finally:
            await db.close()
    conclude(verdict, stack, chaos_result)
