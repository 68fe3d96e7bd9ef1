"""The engine against real Redis and MariaDB: durability, recovery, fencing, expiry."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import orjson
import pytest

from config import Settings
from domain.statuses import HoldStatus, SeatStatus
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.lease import ShardLease
from engine.protocol import (
    HoldRequest,
    RejectCode,
    ReleaseRequest,
    Reply,
    encode_command,
    idempotent_command_id,
    new_command_id,
)
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from engine.sweeper import Sweeper
from gateway.shardchannels import Kind, ShardChannels
from persistence import Database
from persistence.seat_state import (
    Fenced,
    HoldRow,
    JournalBatch,
    SeatRow,
    apply_journal,
    get_hold,
)
from tests.helpers.catalog import MakeEvent
from tests.helpers.engine import (
    Buyers,
    ManualClock,
    RunningEngine,
    ask_hold,
    journals_drained,
)
from tests.helpers.redis_modes import ON_BOTH_REDIS


async def next_seat_change(channels: ShardChannels) -> list[dict[str, object]]:
    """The changes of the next `seats` message on a subscribed seat channel."""
    async with asyncio.timeout(5):
        while True:
            message = await channels.get_message(1.0)
            if message is not None and message.kind is Kind.MESSAGE:
                body = orjson.loads(message.data)
                if body["type"] == "seats":
                    changes: list[dict[str, object]] = body["changes"]
                    return changes


async def stored_seats(
    db: Database, event_id: int
) -> dict[int, tuple[str, str | None, int | None]]:
    async with db.transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT id, status, hold_id, holder_id FROM event_seats WHERE event_id = %s",
            (event_id,),
        )
    return {row["id"]: (row["status"], row["hold_id"], row["holder_id"]) for row in rows}


async def test_write_behind_converges_to_the_engine_state(
    engine: RunningEngine,
    engine_client: EngineClient,
    make_event: MakeEvent,
    buyers: Buyers,
    redis: RedisClient,
    settings: Settings,
    db: Database,
) -> None:
    event = await make_event(seats=40, max_seats_per_buyer=40)
    users = await buyers(8)
    rng = random.Random(7)
    replies = await asyncio.gather(
        *(
            ask_hold(
                engine_client,
                event.event_id,
                rng.choice(users),
                tuple(rng.sample(event.seat_ids, rng.randint(1, 3))),
            )
            for _ in range(60)
        )
    )
    granted = [reply.hold for reply in replies if reply.hold is not None]
    assert granted, "a burst over 40 free seats grants some holds"
    for hold in granted[::2]:
        released = await engine_client.submit(
            ReleaseRequest(
                id=new_command_id(),
                reply_to=engine_client.reply_to,
                event_id=event.event_id,
                hold_id=hold.id,
                user_id=hold.user_id,
            )
        )
        assert released.hold is not None
        assert released.hold.status is HoldStatus.RELEASED

    await journals_drained(redis, settings)

    state = engine.actor_state(event.event_id).events[event.event_id]
    expected = {
        seat.id: (seat.status.value, seat.hold_id, seat.holder_id) for seat in state.seats.values()
    }
    assert await stored_seats(db, event.event_id) == expected
    async with db.transaction() as conn:
        for hold in granted:
            row = await get_hold(conn, hold.id)
            assert row is not None
            assert row.status is engine.actor_state(event.event_id).holds[hold.id].status
            assert row.seat_ids == tuple(sorted(hold.seat_ids))


async def test_a_new_owner_recovers_every_active_hold(
    engine: RunningEngine,
    engine_client: EngineClient,
    make_event: MakeEvent,
    buyers: Buyers,
    redis: RedisClient,
) -> None:
    event = await make_event(seats=6)
    alice, bob = await buyers(2)
    held = (await ask_hold(engine_client, event.event_id, alice, event.seat_ids[:2])).hold
    assert held is not None

    await engine.stop()
    await engine.start()

    recovered = engine.actor_state(event.event_id)
    assert recovered.holds[held.id].status is HoldStatus.HELD
    assert recovered.events[event.event_id].seats[event.seat_ids[0]].status is SeatStatus.HELD
    keys = ShardKeys(shard_of(event.event_id, engine.settings.engine.shards))
    assert await redis.get(keys.lock(event.seat_ids[0])) == held.id.encode()
    again = await ask_hold(engine_client, event.event_id, bob, event.seat_ids[1:3])
    assert again.rejection is not None
    assert again.rejection.code is RejectCode.SEATS_UNAVAILABLE
    assert again.rejection.details["seat_ids"] == [event.seat_ids[1]]


@ON_BOTH_REDIS
async def test_commands_in_flight_when_an_actor_died_are_decided_by_the_next_one(
    settings: Settings, db: Database, redis: RedisClient, make_event: MakeEvent, buyers: Buyers
) -> None:
    event = await make_event(seats=4)
    [alice] = await buyers(1)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    reply_to = "rq:reply:{test-inflight}"
    command = HoldRequest(
        id="taken-then-crashed",
        reply_to=reply_to,
        event_id=event.event_id,
        user_id=alice,
        seat_ids=event.seat_ids[:1],
    )
    # What a crash between taking a command and applying its batch leaves behind.
    await redis.lpush(keys.inflight, encode_command(command))

    running = RunningEngine(settings, db)
    await running.start()
    try:
        popped = await redis.blpop([reply_to], timeout=5)
        assert popped is not None, "the replayed command was answered"
        reply = Reply.decode(popped[1])
        assert reply.command_id == command.id
        assert reply.hold is not None
        assert await redis.llen(keys.inflight) == 0
    finally:
        await running.stop()


async def test_a_retried_command_gets_the_first_decision(
    engine: RunningEngine, engine_client: EngineClient, make_event: MakeEvent, buyers: Buyers
) -> None:
    event = await make_event(seats=4)
    [alice] = await buyers(1)
    first = await ask_hold(engine_client, event.event_id, alice, event.seat_ids[:1], "same-id")
    again = await ask_hold(engine_client, event.event_id, alice, event.seat_ids[:1], "same-id")
    assert first.hold is not None
    assert again.hold is not None
    assert again.hold.id == first.hold.id
    assert len(engine.actor_state(event.event_id).holds) == 1


async def test_a_stale_token_can_write_neither_redis_nor_mariadb(
    settings: Settings, db: Database, redis: RedisClient, make_event: MakeEvent, buyers: Buyers
) -> None:
    event = await make_event(seats=2)
    keys = ShardKeys(0)
    scripts = Scripts.register(redis)
    shards = settings.engine.shards
    old = ShardLease(redis, scripts, keys, ttl_ms=60_000, owner="old", shard_count=shards)
    assert await old.try_acquire()
    # The old owner pauses past its lease; a new owner takes the shard.
    await redis.delete(keys.lease)
    new = ShardLease(redis, scripts, keys, ttl_ms=60_000, owner="new", shard_count=shards)
    assert await new.try_acquire()
    assert new.token == old.token + 1

    payload = orjson.dumps(
        {
            "seats": [[5, False, "zombie-hold", 60_000]],
            "holds": [],
            "results": [],
            "exp_add": [],
            "exp_rem": [],
            "journal": False,
            "events": [],
        }
    )
    outcome = await scripts.apply(
        keys=[keys.fence, keys.inflight, keys.journal, keys.expiries, keys.lock(event.seat_ids[0])],
        args=[old.token, payload],
        client=redis,
    )
    assert outcome == [b"fenced"]
    assert await redis.get(keys.lock(event.seat_ids[0])) is None

    [alice] = await buyers(1)
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO shard_fences (shard, token) VALUES (0, %s)", (new.token,))
    seat = SeatRow(
        id=event.seat_ids[0],
        event_id=event.event_id,
        venue_seat_id=0,
        status=SeatStatus.HELD,
        hold_id=None,
        holder_id=alice,
        hold_expires_at_ms=None,
        version=99,
    )
    with pytest.raises(Fenced):
        async with db.transaction() as conn:
            await apply_journal(conn, 0, old.token, [JournalBatch("1-0", [], [seat], [])])
    assert (await stored_seats(db, event.event_id))[event.seat_ids[0]][0] == "available"
    with pytest.raises(Exception, match="lease taken over"):
        await old.renew()


async def test_a_paused_owner_stands_down_and_its_commands_are_decided_by_the_next(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    settings = make_settings(ENGINE_SHARDS="1", ENGINE_DECISION_TIMEOUT_SECONDS="1")
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    keys = ShardKeys(0)
    running = RunningEngine(settings, db)
    await running.start()
    try:
        # Another process takes the lease while the running owner is unaware of it.
        scripts = Scripts.register(redis)
        await redis.delete(keys.lease)
        usurper = ShardLease(redis, scripts, keys, ttl_ms=60_000, owner="usurper", shard_count=1)
        assert await usurper.try_acquire()

        async with EngineClient(redis, settings.engine) as client:
            command_id = idempotent_command_id("usurped", "retry")
            with pytest.raises(Exception, match="did not answer in time"):
                await ask_hold(client, event.event_id, alice, event.seat_ids[:1], command_id)
            assert await redis.get(keys.lock(event.seat_ids[0])) is None
            assert await redis.llen(keys.inflight) == 1, "the command waits in flight"

            # The usurper goes away; the engine takes the shard back and decides the command.
            await usurper.release()
            reply = await ask_hold(client, event.event_id, alice, event.seat_ids[:1], command_id)
            assert reply.hold is not None
            assert await redis.get(keys.lock(event.seat_ids[0])) == reply.hold.id.encode()
    finally:
        await running.stop()


@ON_BOTH_REDIS
async def test_the_actors_own_timer_expires_a_hold(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    settings = make_settings(HOLD_TTL_SECONDS="60")
    clock = ManualClock()
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    channel = ShardKeys(shard_of(event.event_id, settings.engine.shards)).seat_channel(
        event.event_id
    )
    running = RunningEngine(settings, db, clock=clock)
    await running.start()
    pubsub = ShardChannels(redis)
    try:
        async with EngineClient(redis, settings.engine) as client:
            held = (await ask_hold(client, event.event_id, alice, event.seat_ids[:1])).hold
            assert held is not None
        await pubsub.subscribe(channel)
        clock.advance(60_000)
        assert await next_seat_change(pubsub) == [
            {"seat_id": event.seat_ids[0], "status": "available"}
        ]
        assert running.actor_state(event.event_id).holds[held.id].status is HoldStatus.EXPIRED
    finally:
        await pubsub.aclose()
        await running.stop()


async def test_the_sweeper_asks_for_holds_an_absent_actor_missed(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    settings = make_settings(HOLD_TTL_SECONDS="60", SWEEP_GRACE_SECONDS="1")
    clock = ManualClock()
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    running = RunningEngine(settings, db, clock=clock)
    await running.start()
    async with EngineClient(redis, settings.engine) as client:
        held = (await ask_hold(client, event.event_id, alice, event.seat_ids[:1])).hold
    assert held is not None
    await journals_drained(redis, settings)
    await running.stop()

    sweeper = Sweeper(redis=redis, db=db, settings=settings.engine, clock=clock)
    assert await sweeper.sweep_once() == 0, "nothing is overdue yet"
    clock.advance(62_000)
    # The Redis reminder gone too: MariaDB alone still names the hold.
    await redis.delete(keys.expiries)
    assert await sweeper.sweep_once() == 1
    queued = await redis.lrange(keys.commands, 0, -1)
    assert [orjson.loads(raw)["hold_id"] for raw in queued] == [held.id]

    changes = ShardChannels(redis)
    await changes.subscribe(keys.seat_channel(event.event_id))
    await running.start()
    try:
        assert await next_seat_change(changes) == [
            {"seat_id": event.seat_ids[0], "status": "available"}
        ]
        assert await redis.llen(keys.commands) == 0
        assert running.actor_state(event.event_id).holds[held.id].status is HoldStatus.EXPIRED
        await journals_drained(redis, settings)
        async with db.transaction() as conn:
            row = await get_hold(conn, held.id)
        assert isinstance(row, HoldRow)
        assert row.status is HoldStatus.EXPIRED
    finally:
        await changes.aclose()
        await running.stop()
