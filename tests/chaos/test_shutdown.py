"""SIGTERM to every process mid-rush: each stops within 10 s with exit 0, every answered
command is already durable, and the unanswered ones are decided after a restart."""

from __future__ import annotations

import asyncio
import time

import pytest

from engine.client import EngineClient
from engine.keys import ShardKeys
from engine.redis_client import RedisClient
from persistence import Database
from tests.chaos.invariants import Verdict, engine_grants, engine_invariants, event_seats
from tests.chaos.report import ScenarioResult
from tests.chaos.rush import Rush, seeded
from tests.chaos.scenario import rush_with_fault
from tests.chaos.stack import SHARDS, Role, Stack, scale, wait_for_readyz

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(90 * scale())]


async def test_sigterm_to_every_process_mid_rush(
    stack: Stack,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """SIGTERM to every process mid-rush, then a restart"""
    event = await seeded(db)
    # The flusher too: its last flush races the engine's own drain on stop, under one token.
    roles: tuple[Role, ...] = ("engine", "sweeper", "web", "flusher")
    for role in roles:
        stack.start(role, role)
    await stack.wait_for_owners()
    verdict = Verdict()
    verdict.check("gateway ready", await wait_for_readyz(stack.base_url, 200, 30) is not None)
    settings = stack.client_settings()
    restarted: list[float] = []

    async def terminate(fault_at: float, rush: Rush) -> None:
        chaos_result.faults.append("SIGTERM engine, sweeper, flusher and gateway at once; restart")
        stopped = await asyncio.to_thread(stack.terminate_all, 10.0)
        for name, (code, took) in stopped.items():
            verdict.check(
                "SIGTERM: exit 0 within 10 s",
                code == 0 and took <= 10.0,
                f"{name} exited {code} after {took:.1f} s:\n{stack.log(name)[-2000:]}",
            )
        journals = [await redis.xlen(ShardKeys(s).journal) for s in range(SHARDS)]
        verdict.check("journal flushed on stop", not any(journals), f"left {journals}")
        # Everything answered so far is in MariaDB already, with no engine running.
        answered = [o for o in rush.outcomes if o.reply is not None]
        rows = await event_seats(db, event.event_id)
        lost = [
            (hold_id, seat)
            for hold_id, seats in engine_grants(answered)
            for seat in seats
            if rows.get(seat) != ("held", hold_id)
        ]
        verdict.check(
            "answered holds durable at stop", not lost, f"{len(lost)} missing: {lost[:3]}"
        )
        verdict.check("some commands left undecided", len(answered) < len(rush.outcomes))
        stack.start("engine-again", "engine")
        restarted.append(time.monotonic())

    async with EngineClient(redis, settings.engine) as client:
        outcomes = await rush_with_fault(chaos_result, verdict, client, event, terminate)
        await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    # Recovery here is from the restart to the first answer the new engine gave.
    after = [o.answered_at for o in outcomes if o.answered_at and o.answered_at > restarted[0]]
    chaos_result.recovery_seconds = min(after) - restarted[0] if after else None
    code, _ = stack.terminate_all()["engine-again"]
    verdict.check("SIGTERM: exit 0 within 10 s", code == 0, stack.log("engine-again")[-2000:])
    chaos_result.checks = verdict.checks
    verdict.assert_all()
