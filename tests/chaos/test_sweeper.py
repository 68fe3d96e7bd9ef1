"""The engine dies holding short holds, so their in-memory timers are gone: the sweeper asks for
their expiry while no engine runs, and a fresh engine carries those requests out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from devstack.servers import MariaDBServer, RedisServer
from domain.statuses import SeatStatus
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.protocol import ExpireRequest, decode_command
from engine.redis_client import RedisClient
from engine.snapshot import read_snapshot
from persistence import Database
from tests.chaos.invariants import (
    Verdict,
    all_answered,
    engine_grants,
    granted_seats,
    mariadb_converges,
)
from tests.chaos.report import ScenarioResult
from tests.chaos.rush import Rush, plan, seeded
from tests.chaos.scenario import conclude
from tests.chaos.stack import SHARDS, Stack, scale
from tests.helpers.engine import journals_drained

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(90 * scale())]

HOLD_TTL_SECONDS = 3.0
BATCH = 512  # the fresh engine takes every queued expire request in its first turn


async def _asked_to_expire(redis: RedisClient, queue: str) -> set[str]:
    """Hold ids the queued sweeper commands ask to expire."""
    raws: list[bytes] = await redis.lrange(queue, 0, -1)  # type: ignore[assignment]
    asked = set()
    for raw in raws:
        command = decode_command(raw)
        if isinstance(command, ExpireRequest) and command.id.startswith("sweep:"):
            asked.add(command.hold_id)
    return asked


@pytest.mark.long
async def test_sweeper_expires_holds_whose_timers_were_lost(
    make_stack: Callable[..., Stack],
    redis_server: RedisServer,
    mariadb_server: MariaDBServer,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """sweeper expires holds after the engine (and its timers) died"""
    stack = make_stack(
        redis_server.url,
        mariadb_server.url,
        HOLD_TTL_SECONDS=str(HOLD_TTL_SECONDS),
        SWEEP_INTERVAL_SECONDS="0.3",
        SWEEP_GRACE_SECONDS="0.2",
        ENGINE_BATCH_SIZE=str(BATCH),
    )
    event = await seeded(db)
    keys = ShardKeys(shard_of(event.event_id, SHARDS))
    stack.start("engine-0", "engine")
    await stack.wait_for_owners()
    settings = stack.client_settings()
    verdict = Verdict()

    async with EngineClient(redis, settings.engine) as client:
        asks = plan(event, 40 * scale(), seed=7)
        chaos_result.requests = len(asks)
        rush = Rush(client, event.event_id, asks, spread_seconds=0.3, deadline_seconds=20)
        outcomes = await rush.run()
    stack.kill("engine-0")
    chaos_result.faults.append(f"kill -9 engine holding {HOLD_TTL_SECONDS:.0f} s holds")
    all_answered(verdict, outcomes)
    grants = engine_grants(outcomes)
    granted_seats(verdict, grants)
    hold_ids = {hold_id for hold_id, _ in grants}
    verdict.check("some holds granted", bool(hold_ids))
    members: list[bytes] = await redis.zrange(keys.expiries, 0, -1)  # type: ignore[assignment]
    pending = {member.decode() for member in members}
    verdict.check("holds still pending after the kill", hold_ids <= pending)

    stack.start("sweeper", "sweeper")
    chaos_result.faults.append("sweeper alone, then a fresh engine")
    asked: set[str] = set()
    async with asyncio.timeout(HOLD_TTL_SECONDS + 15):
        while not hold_ids <= asked:
            asked = await _asked_to_expire(redis, keys.commands)
            await asyncio.sleep(0.1)
    verdict.check("sweeper asked to expire exactly the overdue holds", asked == hold_ids)
    code, _ = stack.terminate_all()["sweeper"]
    verdict.check("SIGTERM: exit 0 within 10 s", code == 0, f"sweeper exited {code}")
    queued = await redis.llen(keys.commands)
    verdict.check("first turn takes every request", queued <= BATCH, f"{queued} queued")
    locked = [s for _, seats in grants for s in seats if await redis.exists(keys.lock(s))]
    verdict.check(
        "nothing released before an engine runs",
        len(locked) == len(granted_seats(Verdict(), grants)),
    )

    started = time.monotonic()
    stack.start("engine-1", "engine")
    async with asyncio.timeout(30):
        while True:
            snapshot = await read_snapshot(redis, settings.engine, event.event_id)
            busy = await redis.llen(keys.commands) + await redis.llen(keys.inflight)
            if snapshot and not busy and SeatStatus.HELD not in snapshot.statuses.values():
                break
            await asyncio.sleep(0.05)
    chaos_result.recovery_seconds = time.monotonic() - started
    await journals_drained(redis, settings, within=30)
    async with db.transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT id, status FROM holds WHERE event_id = %s", (event.event_id,)
        )
    statuses = {row["id"]: row["status"] for row in rows}
    verdict.check(
        "every overdue hold expired",
        all(statuses.get(h) == "expired" for h in hold_ids),
        str({h: statuses.get(h) for h in list(hold_ids)[:5]}),
    )
    await mariadb_converges(verdict, redis, db, settings, event.event_id, {})
    conclude(verdict, stack, chaos_result)
