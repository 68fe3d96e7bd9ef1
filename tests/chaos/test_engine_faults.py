"""The engine process dies or freezes mid-rush: decisions are neither lost nor doubled, and a
frozen owner that wakes up after a takeover is fenced off and stands down."""

from __future__ import annotations

import asyncio
import signal
from typing import Any, Final

import pytest

from config import Settings
from engine.client import EngineClient
from engine.keys import ShardKeys
from engine.redis_client import RedisClient
from persistence import Database
from tests.chaos.invariants import Verdict, engine_invariants
from tests.chaos.report import ScenarioResult
from tests.chaos.rush import PROBE_SEAT, Rush, seeded
from tests.chaos.scenario import conclude, rush_with_fault
from tests.chaos.stack import SHARDS, Stack, scale, wait_for_log
from tests.helpers.engine import ask_hold, journals_drained

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(90 * scale())]


@pytest.mark.long
async def test_engine_kill_9_restarted_after_1_s(
    stack: Stack,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """engine kill -9, restarted after 1 s"""
    event = await seeded(db)
    stack.start("engine-0", "engine")
    await stack.wait_for_owners()
    settings = stack.client_settings()
    verdict = Verdict()

    async def kill_and_restart(fault_at: float, rush: Rush) -> None:
        stack.kill("engine-0")
        chaos_result.faults.append("kill -9 engine, restart after 1 s")
        await asyncio.sleep(1.0)  # the outage itself, not a wait for anything
        stack.start("engine-1", "engine")

    async with EngineClient(redis, settings.engine) as client:
        outcomes = await rush_with_fault(chaos_result, verdict, client, event, kill_and_restart)
        await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    conclude(verdict, stack, chaos_result)


async def test_engine_kill_9_with_a_standby_taking_over(
    stack: Stack,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """engine kill -9, standby takes over"""
    event = await seeded(db)
    stack.start("engine-0", "engine")
    # The flusher process writes the journal through before, during and after the takeover.
    stack.start("flusher", "flusher")
    await stack.wait_for_owners()
    stack.start("engine-1", "engine")
    await wait_for_log(stack, "engine-1", r"engine: \d+ shards", within=20)
    settings = stack.client_settings()
    verdict = Verdict()

    async def kill(fault_at: float, rush: Rush) -> None:
        stack.kill("engine-0")
        chaos_result.faults.append("kill -9 engine (never restarted)")

    async with EngineClient(redis, settings.engine) as client:
        outcomes = await rush_with_fault(chaos_result, verdict, client, event, kill)
        await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    verdict.check(
        "standby owns every shard",
        set(stack.tokens_taken("engine-1")) == set(range(SHARDS)),
        stack.log("engine-1")[-2000:],
    )
    conclude(verdict, stack, chaos_result)


async def test_engine_joins_mid_rush_then_the_first_leaves_by_sigterm(
    stack: Stack,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """engine joins mid-rush, then the first leaves (SIGTERM)"""
    event = await seeded(db)
    stack.start("engine-0", "engine")
    await stack.wait_for_owners()
    settings = stack.client_settings()
    verdict = Verdict()
    exit_code: list[int] = []

    async def join_then_leave(fault_at: float, rush: Rush) -> None:
        stack.start("engine-1", "engine")
        chaos_result.faults.append(
            "a second engine joins mid-rush; once it has its share, SIGTERM to the first"
        )
        await wait_for_log(stack, "engine-1", r"lease taken", within=20)
        stack.send("engine-0", signal.SIGTERM)
        exit_code.append(await asyncio.to_thread(stack.process("engine-0").wait, 15))

    async with EngineClient(redis, settings.engine) as client:
        outcomes = await rush_with_fault(
            chaos_result, verdict, client, event, join_then_leave, spread_seconds=4.0
        )
        await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    log = stack.log("engine-0")
    verdict.check("the first engine exited 0 on SIGTERM", exit_code == [0], f"{exit_code}")
    verdict.check(
        "the first engine handed a shard over to the newcomer, then the rest on SIGTERM",
        "handed over (assigned elsewhere)" in log and not stack.shards_held("engine-0"),
        log[-3000:],
    )
    verdict.check(
        "the newcomer owns every shard",
        stack.shards_held("engine-1") == set(range(SHARDS)),
        stack.log("engine-1")[-3000:],
    )
    conclude(verdict, stack, chaos_result)


async def _shard_state(redis: RedisClient) -> dict[bytes, bytes | None]:
    """Every key of every shard with its serialized value (DUMP leaves TTLs out, so the new
    owner's lease renewals do not count as changes)."""
    state: dict[bytes, bytes | None] = {}
    for shard in range(SHARDS):
        async for key in redis.scan_iter(match=f"{ShardKeys(shard).tag}:*", count=500):
            state[key] = await redis.dump(key)
    return state


async def _stored_state(db: Database, event_id: int) -> list[list[dict[str, Any]]]:
    async with db.transaction() as conn:
        return [
            await conn.fetch_all("SELECT * FROM shard_fences ORDER BY shard"),
            await conn.fetch_all(
                "SELECT * FROM holds WHERE event_id = %s ORDER BY id", (event_id,)
            ),
            await conn.fetch_all(
                "SELECT * FROM event_seats WHERE event_id = %s ORDER BY id", (event_id,)
            ),
        ]


async def _queues_empty(redis: RedisClient, within: float) -> None:
    """Until no shard has a command queued or in flight: the owner has applied everything."""
    async with asyncio.timeout(within):
        while True:
            lengths = [
                await redis.llen(key)
                for shard in range(SHARDS)
                for key in (ShardKeys(shard).commands, ShardKeys(shard).inflight)
            ]
            if not any(lengths):
                return
            await asyncio.sleep(0.05)


async def _frozen_owner(
    stack: Stack, redis: RedisClient, db: Database, result: ScenarioResult
) -> None:
    event = await seeded(db)
    stack.start("engine-0", "engine")
    for shard in range(SHARDS):
        await wait_for_log(stack, "engine-0", rf"shard {shard}: lease taken", within=20)
    old = stack.tokens_taken("engine-0")
    # The second engine joins and takes its share of the shards; the first keeps the rest.
    stack.start("engine-1", "engine")
    await wait_for_log(stack, "engine-1", r"lease taken", within=20)
    settings = stack.client_settings()
    verdict = Verdict()
    frozen_with: set[int] = set()

    async def freeze(fault_at: float, rush: Rush) -> None:
        frozen_with.update(stack.shards_held("engine-0"))
        stack.send("engine-0", signal.SIGSTOP)
        result.faults.append("SIGSTOP engine past its 1 s lease; takeover; SIGCONT")
        took_over = True
        for shard in range(SHARDS):
            took_over &= await _logged(stack, "engine-1", rf"shard {shard} recovered", within=5)
        verdict.check(
            "standby takes over while the old owner is frozen",
            took_over,
            stack.log("engine-1")[-3000:],
        )
        if not took_over:
            stack.send("engine-0", signal.SIGCONT)  # so that the rest of the test can end

    async with EngineClient(redis, settings.engine) as client:
        outcomes = await rush_with_fault(result, verdict, client, event, freeze)
        new = stack.tokens_taken("engine-1")
        verdict.check(
            "takeover raised every token",
            all(new.get(shard, 0) > old[shard] for shard in range(SHARDS)),
            f"old {old}, new {new}",
        )
        await _queues_empty(redis, within=20)
        await journals_drained(redis, settings, within=20)
        redis_before = await _shard_state(redis)
        stored_before = await _stored_state(db, event.event_id)

        stack.send("engine-0", signal.SIGCONT)
        verdict.check("old owner held shards when frozen", bool(frozen_with), str(frozen_with))
        for shard in frozen_with:
            stood_down = await _logged(stack, "engine-0", rf"shard {shard}: .*standing down")
            verdict.check("old owner stood down", stood_down, stack.log("engine-0")[-3000:])
        # It rejoins the membership only two lease TTLs after it woke (engine.membership), so
        # until then nothing it does may show.
        verdict.check(
            "old owner wrote nothing to Redis",
            await _shard_state(redis) == redis_before,
            "a shard key changed after the old owner woke up",
        )
        verdict.check(
            "old owner wrote nothing to MariaDB",
            await _stored_state(db, event.event_id) == stored_before,
            "shard_fences, holds or event_seats changed after the old owner woke up",
        )
        fences = [int(await redis.get(ShardKeys(s).fence) or 0) for s in range(SHARDS)]
        stored_tokens = [int(row["token"]) for row in stored_before[0]]
        verdict.check(
            "fence tokens are the new owner's",
            fences == [new.get(s) for s in range(SHARDS)] == stored_tokens,
            f"Redis {fences}, MariaDB {stored_tokens}, new owner {new}",
        )
        await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    conclude(verdict, stack, result)


async def test_frozen_engine_is_fenced_and_stands_down(
    stack: Stack,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """engine SIGSTOP past its lease, takeover, SIGCONT"""
    await _frozen_owner(stack, redis, db, chaos_result)


# Enough one-shot commands that the new owner is still working through them, batch after batch,
# when the old owner wakes up and its interrupted read carries on.
_WAKE_BURST: Final = 320


@pytest.mark.long
async def test_frozen_engine_resumed_mid_rush_loses_no_command(
    stack: Stack,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """engine SIGSTOP past its lease, takeover, SIGCONT mid-rush"""
    event = await seeded(db)
    stack.start("engine-0", "engine")
    for shard in range(SHARDS):
        await wait_for_log(stack, "engine-0", rf"shard {shard}: lease taken", within=20)
    old = stack.tokens_taken("engine-0")
    stack.start("engine-1", "engine")
    await wait_for_log(stack, "engine-1", r"lease taken", within=20)
    settings = stack.client_settings()
    frozen_with: set[int] = set()
    # The burst's asks are not retried, and wait as long as the gateway does: an ask that gets
    # no answer in that time was lost, not merely slow.
    patient = Settings.from_env({**stack.env, "ENGINE_DECISION_TIMEOUT_SECONDS": "5"})
    verdict = Verdict()

    async def freeze_then_wake_mid_rush(fault_at: float, rush: Rush) -> None:
        # Frozen mid-rush, the owner is most likely blocked in its BLMOVE, which Redis then
        # serves with the next command while the process cannot run.
        frozen_with.update(stack.shards_held("engine-0"))
        stack.send("engine-0", signal.SIGSTOP)
        chaos_result.faults.append(
            f"SIGSTOP engine past its 1 s lease; takeover; SIGCONT mid-rush, {_WAKE_BURST} "
            "commands queued"
        )
        took_over = True
        for shard in range(SHARDS):
            took_over &= await _logged(stack, "engine-1", rf"shard {shard} recovered", within=5)
        verdict.check(
            "standby takes over while the old owner is frozen",
            took_over,
            stack.log("engine-1")[-3000:],
        )
        new = stack.tokens_taken("engine-1")
        verdict.check(
            "takeover raised every token",
            all(new.get(shard, 0) > old[shard] for shard in range(SHARDS)),
            f"old {old}, new {new}",
        )
        async with EngineClient(redis, patient.engine) as burst_client:
            burst = [
                asyncio.create_task(
                    ask_hold(burst_client, event.event_id, event.user_ids[0], (PROBE_SEAT,))
                )
                for _ in range(_WAKE_BURST)
            ]
            # One answer means the burst is queued and the new owner is working through it.
            await asyncio.wait(burst, return_when=asyncio.FIRST_COMPLETED)
            rush_unanswered = len(rush.outcomes) - rush.answered
            stack.send("engine-0", signal.SIGCONT)
            answers = await asyncio.gather(*burst, return_exceptions=True)
        lost = [answer for answer in answers if isinstance(answer, BaseException)]
        verdict.check(
            "no command lost while the old owner woke up",
            not lost,
            f"{len(lost)} of {_WAKE_BURST} unanswered, e.g. {lost[:1]!r}",
        )
        verdict.check(
            "rush still arriving at SIGCONT",
            rush_unanswered > 0,
            "the rush had ended before the old owner woke up",
        )

    async with EngineClient(redis, settings.engine) as client:
        outcomes = await rush_with_fault(
            chaos_result, verdict, client, event, freeze_then_wake_mid_rush, spread_seconds=6.0
        )
        verdict.check("old owner held shards when frozen", bool(frozen_with), str(frozen_with))
        for shard in frozen_with:
            stood_down = await _logged(stack, "engine-0", rf"shard {shard}: .*standing down")
            verdict.check("old owner stood down", stood_down, stack.log("engine-0")[-3000:])
        # Whoever owns the shards now (the woken engine may take them back as a standby if
        # the new owner is itself late to renew), nothing is left queued or in flight.
        await _queues_empty(redis, within=20)
        await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    conclude(verdict, stack, chaos_result)


async def _logged(stack: Stack, name: str, pattern: str, within: float = 15.0) -> bool:
    try:
        await wait_for_log(stack, name, pattern, within)
    except TimeoutError:
        return False
    return True
