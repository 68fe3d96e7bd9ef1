"""The engine's and the sweeper's metrics against real Redis and MariaDB: what a turn, a lease, a
held-back write-behind and a sweep move, read from the registry the process would serve."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

import orjson
import pytest
from prometheus_client import CollectorRegistry

from config import Settings
from engine.client import EngineClient
from engine.keys import ShardKeys, reply_list, shard_of
from engine.metrics import EngineMetrics, SweeperMetrics
from engine.protocol import HoldRequest, RejectCode, Reply, encode_command, new_command_id
from engine.redis_client import RedisClient
from engine.sweeper import Sweeper
from persistence import Database
from telemetry.logs import RequestContext, stamp_request_id
from tests.helpers.catalog import MakeEvent
from tests.helpers.engine import Buyers, ManualClock, RunningEngine, ask_hold, journals_drained
from tests.helpers.waiting_room import configure_room, join, room

HOLDS: Final = 5


def sample(registry: CollectorRegistry, name: str, **labels: str | int) -> float:
    """A sample's value; 0 for a series that does not exist (yet)."""
    value = registry.get_sample_value(name, {k: str(v) for k, v in labels.items()})
    return 0.0 if value is None else value


def samples_sum(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """The sum of a family's samples `name` over every series matching `labels`."""
    return sum(
        s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


async def until(check: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Until `check()` holds. The gauges are refreshed by the engine's own periodic task, which
    announces nothing, so this polls the registry, with a deadline."""
    try:
        async with asyncio.timeout(within):
            while True:
                if check():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"never: {what}")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def metered_engine(
    settings: Settings, db: Database, redis: RedisClient, registry: CollectorRegistry
) -> RunningEngine:
    running = RunningEngine(settings, db, metrics=EngineMetrics.create(registry))
    await running.start()
    return running


async def test_holds_move_the_decision_metrics_by_exactly_what_was_decided(
    metered_engine: RunningEngine,
    engine_client: EngineClient,
    registry: CollectorRegistry,
    make_event: MakeEvent,
    buyers: Buyers,
    settings: Settings,
) -> None:
    try:
        event = await make_event(seats=HOLDS)
        users = await buyers(HOLDS + 1)
        shard = shard_of(event.event_id, settings.engine.shards)
        for user, seat in zip(users, event.seat_ids, strict=False):
            assert (await ask_hold(engine_client, event.event_id, user, (seat,))).ok
        refused = await ask_hold(engine_client, event.event_id, users[-1], event.seat_ids[:1])
        assert refused.rejection is not None
        assert refused.rejection.code is RejectCode.SEATS_UNAVAILABLE

        def hold(outcome: str) -> float:
            return sample(
                registry,
                "rushqueue_engine_commands_total",
                shard=shard,
                command="hold",
                outcome=outcome,
            )

        assert hold("ok") == HOLDS
        assert hold("seats_unavailable") == 1
        # The event was created after recovery, so its first ask may have been answered
        # "loading, retry" (and asked again): a decision too, counted under its own outcome.
        decided = samples_sum(registry, "rushqueue_engine_commands_total", shard=str(shard))
        assert decided == HOLDS + 1 + hold("unavailable")
        # Every command carried its enqueue time (the client stamps it), so each was timed...
        assert (
            sample(registry, "rushqueue_engine_decision_seconds_count", shard=shard, command="hold")
            == decided
        )
        seconds = sample(
            registry, "rushqueue_engine_decision_seconds_sum", shard=shard, command="hold"
        )
        assert 0 < seconds < decided * 5
        # ...and every command taken was decided afresh (no retries, nothing malformed).
        assert sample(registry, "rushqueue_engine_batch_size_sum", shard=shard) == decided
        assert sample(registry, "rushqueue_engine_batch_size_count", shard=shard) >= 1
        for other in range(settings.engine.shards):
            if other != shard:
                assert (
                    samples_sum(registry, "rushqueue_engine_commands_total", shard=str(other)) == 0
                )
    finally:
        await metered_engine.stop()


async def test_ownership_gauges_match_the_leases_and_go_to_zero_on_stop(
    metered_engine: RunningEngine,
    registry: CollectorRegistry,
    redis: RedisClient,
    settings: Settings,
) -> None:
    shards = settings.engine.shards
    assert sample(registry, "rushqueue_engine_shards") == shards
    owners = set()
    for shard in range(shards):
        keys = ShardKeys(shard)
        lease_owner = await redis.get(keys.lease)
        assert isinstance(lease_owner, bytes)
        owners.add(lease_owner.decode())
        token = int(await redis.get(keys.fence) or 0)
        assert token > 0
        assert sample(registry, "rushqueue_engine_shard_owned", shard=shard) == 1
        assert sample(registry, "rushqueue_engine_lease_token", shard=shard) == token
        assert sample(registry, "rushqueue_engine_lease_acquisitions_total", shard=shard) == 1
        assert sample(registry, "rushqueue_engine_recoveries_total", shard=shard) == 1
        assert sample(registry, "rushqueue_engine_recovery_seconds_count", shard=shard) == 1
        assert sample(registry, "rushqueue_engine_lease_losses_total", shard=shard) == 0
        assert sample(registry, "rushqueue_engine_fenced_turns_total", shard=shard) == 0
        assert sample(registry, "rushqueue_engine_diverged_turns_total", shard=shard) == 0
    [owner] = owners
    assert sample(registry, "rushqueue_engine_info", owner=owner) == 1

    await metered_engine.stop()
    for shard in range(shards):
        assert sample(registry, "rushqueue_engine_shard_owned", shard=shard) == 0
        assert sample(registry, "rushqueue_engine_lease_token", shard=shard) == 0


async def test_journal_lag_shows_while_mariadb_holds_the_flush_back_and_clears_after(
    metered_engine: RunningEngine,
    engine_client: EngineClient,
    registry: CollectorRegistry,
    make_event: MakeEvent,
    buyers: Buyers,
    settings: Settings,
    redis: RedisClient,
    db: Database,
) -> None:
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    shard = shard_of(event.event_id, settings.engine.shards)

    def gauge(name: str) -> float:
        return sample(registry, name, shard=shard)

    try:
        await journals_drained(redis, settings)
        await until(lambda: gauge("rushqueue_engine_journal_length") == 0, "an empty journal")
        flushes_before = gauge("rushqueue_engine_flush_seconds_count")
        # The flusher's transaction waits for this row lock, so the journal keeps the entry.
        async with db.transaction() as conn:
            await conn.fetch_one(
                "SELECT token FROM shard_fences WHERE shard = %s FOR UPDATE", (shard,)
            )
            assert (await ask_hold(engine_client, event.event_id, alice, event.seat_ids[:1])).ok
            await until(
                lambda: (
                    gauge("rushqueue_engine_journal_length") >= 1
                    and gauge("rushqueue_engine_journal_oldest_age_seconds") > 0
                ),
                "the held-back entry in the gauges",
            )
            assert await redis.xlen(ShardKeys(shard).journal) >= 1
        await journals_drained(redis, settings)
        await until(
            lambda: (
                gauge("rushqueue_engine_journal_length") == 0
                and gauge("rushqueue_engine_journal_oldest_age_seconds") == 0
            ),
            "the gauges back to 0 after the flush",
        )
        assert gauge("rushqueue_engine_flush_seconds_count") > flushes_before
        assert gauge("rushqueue_engine_queue_depth") == 0
        assert gauge("rushqueue_engine_inflight") == 0
    finally:
        await metered_engine.stop()


async def test_a_slow_decision_is_logged_with_the_request_that_asked(
    metered_engine: RunningEngine,
    make_event: MakeEvent,
    buyers: Buyers,
    settings: Settings,
    redis: RedisClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.handler.addFilter(stamp_request_id)
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    reply_to = reply_list("test-slow")
    # As if it had waited 1.5 s in the queue.
    command = HoldRequest(
        id=new_command_id(),
        reply_to=reply_to,
        event_id=event.event_id,
        user_id=alice,
        seat_ids=event.seat_ids[:1],
        queued_at_ms=round(time.time() * 1000) - 1500,
        request_id="slow-request-1",
    )
    try:
        await redis.lpush(keys.commands, encode_command(command))
        answered = await redis.blpop([reply_to], timeout=5)
        assert answered is not None
        reply = Reply.decode(answered[1])
        # The event was loaded on demand: the first answer may be "retry", decided all the same.
        assert reply.ok or reply.is_transient
    finally:
        await metered_engine.stop()
    slow = [
        record
        for record in caplog.records
        if record.name == "engine.actor" and record.levelno == logging.WARNING
    ]
    assert [getattr(record, "request_id", None) for record in slow] == ["slow-request-1"]
    assert command.id in slow[0].getMessage()


async def test_a_rejection_is_logged_at_debug_with_the_gateway_request_id(
    metered_engine: RunningEngine,
    engine_client: EngineClient,
    make_event: MakeEvent,
    buyers: Buyers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.handler.addFilter(stamp_request_id)
    caplog.set_level(logging.DEBUG, logger="engine.actor")
    event = await make_event(seats=1)
    alice, bob = await buyers(2)
    try:
        assert (await ask_hold(engine_client, event.event_id, alice, event.seat_ids)).ok
        # What the gateway does around every request: the client passes the id along.
        with RequestContext("gateway-request-7"):
            refused = await ask_hold(engine_client, event.event_id, bob, event.seat_ids)
        assert not refused.ok
    finally:
        await metered_engine.stop()
    rejected = [
        record
        for record in caplog.records
        if record.name == "engine.actor" and "seats_unavailable" in record.getMessage()
    ]
    assert [getattr(record, "request_id", None) for record in rejected] == ["gateway-request-7"]


async def test_the_sweeper_counts_its_runs_the_overdue_holds_and_the_expires_it_queued(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    settings = make_settings(HOLD_TTL_SECONDS="60", SWEEP_GRACE_SECONDS="1")
    clock = ManualClock()
    event = await make_event(seats=2)
    alice, bob = await buyers(2)
    running = RunningEngine(settings, db, clock=clock)
    await running.start()
    try:
        async with EngineClient(redis, settings.engine) as client:
            for user, seat in zip((alice, bob), event.seat_ids, strict=True):
                assert (await ask_hold(client, event.event_id, user, (seat,))).ok
        await journals_drained(redis, settings)
    finally:
        await running.stop()

    registry = CollectorRegistry()
    sweeper = Sweeper(
        redis=redis,
        db=db,
        settings=settings.engine,
        clock=clock,
        metrics=SweeperMetrics.create(registry),
    )
    assert await sweeper.sweep_once() == 0
    assert sample(registry, "rushqueue_sweeper_runs_total") == 1
    assert sample(registry, "rushqueue_sweeper_overdue_holds_total") == 0
    assert sample(registry, "rushqueue_sweeper_expire_commands_total") == 0

    clock.advance(62_000)
    before_ms = round(time.time() * 1000)
    # Both holds are named by Redis' reminders and by MariaDB: each counts once.
    assert await sweeper.sweep_once() == 2
    assert sample(registry, "rushqueue_sweeper_runs_total") == 2
    assert sample(registry, "rushqueue_sweeper_overdue_holds_total") == 2
    assert sample(registry, "rushqueue_sweeper_expire_commands_total") == 2
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    queued = [orjson.loads(raw) for raw in await redis.lrange(keys.commands, 0, -1)]
    # Stamped in real time (not the sweeper's clock), so the engine can time the decision.
    assert all(before_ms <= wire["queued_at_ms"] <= time.time() * 1000 for wire in queued)
    assert all("request_id" not in wire for wire in queued)


async def test_waiting_rooms_report_who_waits_who_shops_and_each_admission(
    settings: Settings, db: Database, redis: RedisClient, make_event: MakeEvent, buyers: Buyers
) -> None:
    clock = ManualClock()
    registry = CollectorRegistry()
    running = RunningEngine(settings, db, clock=clock, metrics=EngineMetrics.create(registry))
    await running.start()
    try:
        event = await make_event(seats=4)
        users = await buyers(3)
        shard = shard_of(event.event_id, settings.engine.shards)
        async with EngineClient(redis, settings.engine) as client:
            await configure_room(db, client, event.event_id, room(rate=60, cap=1))
            for user in users:
                await join(client, event.event_id, user)
            clock.advance(1000)  # the next turn ticks the room: one admission, the cap
            await join(client, event.event_id, users[0])
        assert sample(registry, "rushqueue_engine_queue_admissions_total", shard=shard) == 1
        assert sample(registry, "rushqueue_engine_queue_inside", shard=shard) == 1
        assert sample(registry, "rushqueue_engine_queue_waiting", shard=shard) == 2
    finally:
        await running.stop()


async def test_a_burst_of_slow_decisions_is_one_log_line_a_second(
    metered_engine: RunningEngine,
    make_event: MakeEvent,
    buyers: Buyers,
    settings: Settings,
    redis: RedisClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = await make_event(seats=5)
    users = await buyers(5)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    reply_to = reply_list("test-slow-burst")
    late = round(time.time() * 1000) - 1500  # as if each had waited 1.5 s in the queue
    commands = [
        HoldRequest(
            id=new_command_id(),
            reply_to=reply_to,
            event_id=event.event_id,
            user_id=user,
            seat_ids=(seat,),
            queued_at_ms=late,
        )
        for user, seat in zip(users, event.seat_ids, strict=True)
    ]
    try:
        await redis.lpush(keys.commands, *(encode_command(command) for command in commands))
        for _ in commands:
            assert await redis.blpop([reply_to], timeout=5) is not None
    finally:
        await metered_engine.stop()
    slow = [
        record
        for record in caplog.records
        if record.name == "engine.actor" and record.levelno == logging.WARNING
    ]
    assert len(slow) == 1
