"""The flusher process's work (engine.flusher) beside an engine that leaves it the write-behind
(WRITE_BEHIND=flusher), and the engine's backup when it is absent; real Redis and MariaDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import pytest
from prometheus_client import CollectorRegistry

from bench.stack import wait_for_owners
from config import Settings
from devstack.servers import MariaDBServer
from engine.client import EngineClient
from engine.flusher import Flusher, ShardJournalWriter
from engine.keys import ShardKeys, shard_of
from engine.metrics import EngineMetrics, FlusherMetrics
from engine.redis_client import RedisClient, connect_redis
from engine.writebehind import write_through
from persistence import Database
from persistence.seat_state import Fenced
from tests.helpers.catalog import MakeEvent
from tests.helpers.engine import Buyers, EngineProcess, RunningEngine, ask_hold, journals_drained

# Longer than any of these tests: what reaches MariaDB while the engine runs, the flusher wrote.
NO_BACKUP_MS = "600000"


@asynccontextmanager
async def running_flusher(
    settings: Settings, db: Database, registry: CollectorRegistry | None = None
) -> AsyncIterator[Flusher]:
    redis = connect_redis(settings.redis, extra_connections=settings.engine.shards)
    flusher = Flusher(
        redis=redis,
        db=db,
        settings=settings.engine,
        metrics=None if registry is None else FlusherMetrics.create(registry),
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(flusher.run(stopping))
    try:
        yield flusher
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)
        await redis.aclose()


async def held_in_mariadb(db: Database, event_id: int) -> dict[int, str]:
    async with db.transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT id, hold_id FROM event_seats WHERE event_id = %s AND status = 'held'",
            (event_id,),
        )
    return {row["id"]: row["hold_id"] for row in rows}


async def fence_row(db: Database, shard: int) -> tuple[int, str]:
    async with db.transaction() as conn:
        row = await conn.fetch_one(
            "SELECT token, last_journal_id FROM shard_fences WHERE shard = %s", (shard,)
        )
    assert row is not None
    return int(row["token"]), str(row["last_journal_id"])


def stream_id(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def sample(registry: CollectorRegistry, name: str, shard: int) -> float:
    return registry.get_sample_value(name, {"shard": str(shard)}) or 0.0


async def test_the_flusher_writes_the_journal_through_under_the_owners_token(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    settings = make_settings(WRITE_BEHIND="flusher", WRITE_BEHIND_BACKUP_MS=NO_BACKUP_MS)
    event = await make_event(seats=4)
    [alice, bob] = await buyers(2)
    shard = shard_of(event.event_id, settings.engine.shards)
    engine_registry, flusher_registry = CollectorRegistry(), CollectorRegistry()
    engine = RunningEngine(settings, db, metrics=EngineMetrics.create(engine_registry))
    await engine.start()
    try:
        async with (
            running_flusher(settings, db, flusher_registry),
            EngineClient(redis, settings.engine) as client,
        ):
            first = await ask_hold(client, event.event_id, alice, event.seat_ids[:2])
            second = await ask_hold(client, event.event_id, bob, event.seat_ids[2:3])
            assert first.hold is not None
            assert second.hold is not None
            await journals_drained(redis, settings, within=10)

            assert await held_in_mariadb(db, event.event_id) == {
                event.seat_ids[0]: first.hold.id,
                event.seat_ids[1]: first.hold.id,
                event.seat_ids[2]: second.hold.id,
            }
            token, _ = await fence_row(db, shard)
            assert token == int(await redis.get(ShardKeys(shard).fence) or 0)
            assert sample(flusher_registry, "rushqueue_flusher_entries_total", shard) >= 2
            assert sample(flusher_registry, "rushqueue_flusher_lag_seconds_count", shard) >= 1
            # The owner's own flusher wrote nothing: it only backs the flusher process up.
            assert sample(engine_registry, "rushqueue_engine_flush_seconds_count", shard) == 0
    finally:
        await engine.stop()


@pytest.mark.timeout(60)
async def test_a_flush_read_before_a_takeover_is_fenced_and_the_new_owner_writes_it(
    make_settings: Callable[..., Settings],
    mariadb_server: MariaDBServer,
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
    engine_process: Callable[[Mapping[str, str]], EngineProcess],
) -> None:
    settings = make_settings(WRITE_BEHIND="flusher", WRITE_BEHIND_BACKUP_MS=NO_BACKUP_MS)
    event = await make_event(seats=4)
    [alice, bob] = await buyers(2)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    crashing = engine_process(
        {
            "REDIS_URL": settings.redis.url,
            "DATABASE_URL": mariadb_server.url,
            "ENGINE_SHARDS": str(settings.engine.shards),
            "ENGINE_LEASE_TTL_MS": str(settings.engine.lease_ttl_ms),
            "WRITE_BEHIND": "flusher",
            "WRITE_BEHIND_BACKUP_MS": NO_BACKUP_MS,
        }
    )
    crashing.start()
    await wait_for_owners(settings.redis.url, settings.engine.shards)
    async with EngineClient(redis, settings.engine) as client:
        first = await ask_hold(client, event.event_id, alice, event.seat_ids[:2])
    assert first.hold is not None
    crashing.kill()

    # The flusher reads the head while the dead owner's lease has not lapsed yet.
    writer = ShardJournalWriter(redis, db, keys, batch=500, idle_seconds=0.5)
    head = await writer.read_head()
    assert head is not None
    assert head.entries, "the dead owner's entry is still journalled"
    old_token = head.token

    successor = RunningEngine(settings, db)
    await successor.start()
    try:
        # The dead engine stays a member, with its share of the shards, until its heartbeat
        # lapses; then this shard is assigned to the successor, which takes it over.
        assert successor.engine is not None
        async with asyncio.timeout(15):
            await successor.engine.runners[keys.shard].owned.wait()
        new_token, last_applied = await fence_row(db, keys.shard)
        assert new_token == old_token + 1
        # The successor's recovery wrote the entry; the stale flush writes nothing.
        with pytest.raises(Fenced):
            await writer.write(head)
        assert await held_in_mariadb(db, event.event_id) == {
            seat: first.hold.id for seat in event.seat_ids[:2]
        }
        assert stream_id(last_applied) >= stream_id(head.entries[-1][0].decode())
        # Under the right token, the same entries are skipped, not applied again.
        assert await write_through(redis, db, keys, new_token, head.entries) == 0

        async with (
            running_flusher(settings, db),
            EngineClient(redis, settings.engine) as client,
        ):
            second = await ask_hold(client, event.event_id, bob, event.seat_ids[2:3])
            assert second.hold is not None
            await journals_drained(redis, settings, within=10)
        assert await held_in_mariadb(db, event.event_id) == {
            event.seat_ids[0]: first.hold.id,
            event.seat_ids[1]: first.hold.id,
            event.seat_ids[2]: second.hold.id,
        }
    finally:
        await successor.stop()


async def test_the_engine_backs_up_an_absent_flusher(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    settings = make_settings(WRITE_BEHIND="flusher", WRITE_BEHIND_BACKUP_MS="300")
    event = await make_event(seats=4)
    [alice] = await buyers(1)
    shard = shard_of(event.event_id, settings.engine.shards)
    registry = CollectorRegistry()
    engine = RunningEngine(settings, db, metrics=EngineMetrics.create(registry))
    await engine.start()
    try:
        async with EngineClient(redis, settings.engine) as client:
            reply = await ask_hold(client, event.event_id, alice, event.seat_ids[:2])
        assert reply.hold is not None
        await journals_drained(redis, settings, within=10)
        assert await held_in_mariadb(db, event.event_id) == {
            seat: reply.hold.id for seat in event.seat_ids[:2]
        }
        assert sample(registry, "rushqueue_engine_flush_seconds_count", shard) >= 1
    finally:
        await engine.stop()


async def test_inline_the_engine_flushes_after_every_turn(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    # A backup period far beyond the wait below: only the inline flusher can have written it.
    settings = make_settings(WRITE_BEHIND="inline", WRITE_BEHIND_BACKUP_MS=NO_BACKUP_MS)
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    engine = RunningEngine(settings, db)
    await engine.start()
    try:
        async with EngineClient(redis, settings.engine) as client:
            reply = await ask_hold(client, event.event_id, alice, event.seat_ids[:1])
        assert reply.hold is not None
        await journals_drained(redis, settings, within=10)
        assert await held_in_mariadb(db, event.event_id) == {event.seat_ids[0]: reply.hold.id}
    finally:
        await engine.stop()
