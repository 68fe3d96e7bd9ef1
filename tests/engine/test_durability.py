"""Faults the engine must survive without losing or doubling a decision."""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Callable

import pytest

from config import Settings
from devstack.servers import MariaDBServer
from domain.errors import EngineUnavailable
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.protocol import HoldView, Reply, idempotent_command_id
from engine.redis_client import RedisClient
from persistence import Database
from persistence.migrate import migrate
from persistence.users import create_user
from tests.helpers.catalog import create_on_sale_event
from tests.helpers.engine import EngineProcess, RunningEngine, ask_hold, journals_drained


async def seed(db: Database, *, seats: int, buyers: int) -> tuple[int, list[int], list[int]]:
    """An on-sale event and some buyers: (event id, event seat ids, user ids)."""
    event = await create_on_sale_event(
        db, seats=seats, prices={"A": 1000}, max_seats_per_buyer=50, name="Fault Night"
    )
    async with db.transaction() as conn:
        users = [
            (
                await create_user(conn, email=f"f{n}@example.com", name="F", password_hash="unused")
            ).id
            for n in range(buyers)
        ]
    return event.event_id, list(event.seat_ids), users


async def held_in_mariadb(db: Database, event_id: int) -> dict[int, str]:
    async with db.transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT id, hold_id FROM event_seats WHERE event_id = %s AND status = 'held'",
            (event_id,),
        )
    return {row["id"]: row["hold_id"] for row in rows}


async def test_holds_keep_working_while_mariadb_is_down_and_the_journal_catches_up(
    make_settings: Callable[..., Settings], private_mariadb: MariaDBServer, redis: RedisClient
) -> None:
    settings = make_settings(DATABASE_URL=private_mariadb.url)
    db = await Database.connect(settings.database)
    try:
        await migrate(db)
        event_id, seat_ids, users = await seed(db, seats=20, buyers=4)
        running = RunningEngine(settings, db)
        await running.start()
        try:
            async with EngineClient(redis, settings.engine) as client:
                before = await ask_hold(client, event_id, users[0], tuple(seat_ids[:2]))
                assert before.hold is not None
                await journals_drained(redis, settings)

                private_mariadb.stop()
                during = [
                    await ask_hold(client, event_id, users[1], (seat_id,))
                    for seat_id in seat_ids[2:6]
                ]
                assert all(reply.hold is not None for reply in during)
                journal = ShardKeys(shard_of(event_id, settings.engine.shards)).journal
                assert await redis.xlen(journal) > 0, "decisions wait in the journal"

                private_mariadb.start()
                await journals_drained(redis, settings, within=30)
            expected = {
                seat: hold.id
                for hold in [before.hold] + [r.hold for r in during if r.hold]
                for seat in hold.seat_ids
            }
            assert await held_in_mariadb(db, event_id) == expected
        finally:
            await running.stop()
    finally:
        await db.close()


async def settle(
    client: EngineClient, event_id: int, user: int, seats: tuple[int, ...], command_id: str
) -> Reply:
    """Ask until answered, always with the same command id, as a client retrying with the same
    Idempotency-Key would."""
    while True:
        try:
            return await ask_hold(client, event_id, user, seats, command_id)
        except EngineUnavailable:
            continue


@pytest.mark.timeout(120)
async def test_kill_9_mid_burst_loses_no_granted_hold_and_doubles_no_seat(
    make_settings: Callable[..., Settings],
    settings: Settings,
    mariadb_server: MariaDBServer,
    db: Database,
    redis: RedisClient,
    engine_process: Callable[[dict[str, str]], EngineProcess],
) -> None:
    env = {
        "REDIS_URL": settings.redis.url,
        "DATABASE_URL": mariadb_server.url,
        "ENGINE_SHARDS": "2",
        "ENGINE_LEASE_TTL_MS": "1000",
        "ENGINE_BATCH_SIZE": "16",
        "LOG_LEVEL": "INFO",
    }
    client_settings = make_settings(ENGINE_DECISION_TIMEOUT_SECONDS="1")
    event_id, seat_ids, users = await seed(db, seats=100, buyers=80)
    rng = random.Random(3)
    requests = [
        (
            rng.choice(users),
            tuple(rng.sample(seat_ids, rng.randint(1, 2))),
            idempotent_command_id("kill-9", str(number)),
        )
        for number in range(400)
    ]
    first = engine_process(env)
    first.start()
    answered = asyncio.Event()
    count = 0

    async with EngineClient(redis, client_settings.engine) as client:

        async def one(user: int, seats: tuple[int, ...], command_id: str) -> Reply:
            nonlocal count
            reply = await settle(client, event_id, user, seats, command_id)
            count += 1
            if count == 60:
                answered.set()
            return reply

        burst = asyncio.gather(*(one(*request) for request in requests))
        async with asyncio.timeout(30):
            await answered.wait()
        first.kill()
        second = engine_process(env)
        second.start()
        async with asyncio.timeout(60):
            replies = await burst

        granted: list[HoldView] = [reply.hold for reply in replies if reply.hold is not None]
        rejected = [reply for reply in replies if reply.rejection is not None]
        assert len(granted) + len(rejected) == len(requests), "every command was answered"
        assert granted, "some holds were granted"
        owner: dict[int, str] = {}
        for hold in granted:
            for seat in hold.seat_ids:
                assert seat not in owner, f"seat {seat} granted twice"
                owner[seat] = hold.id
        # A retry after the crash gets the recorded decision, not a new one.
        for (user, seats, command_id), reply in list(zip(requests, replies, strict=True))[:50]:
            again = await ask_hold(client, event_id, user, seats, command_id)
            assert again == reply

    keys = ShardKeys(shard_of(event_id, settings.engine.shards))
    for seat, hold_id in owner.items():
        assert await redis.get(keys.lock(seat)) == hold_id.encode(), "granted hold kept its lock"
    await journals_drained(redis, settings, within=30)
    assert await held_in_mariadb(db, event_id) == owner

    second.signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0, second.log
