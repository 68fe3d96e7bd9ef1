"""The waiting room in a running engine over real Redis and MariaDB: places and admissions are
durable before anyone hears of them, broadcast once per update, and survive a takeover in order."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest

from config import Settings
from domain.waiting_room import QueueState
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.protocol import RejectCode, RoomWire
from engine.queue_view import read_place, read_room
from engine.redis_client import RedisClient
from gateway.shardchannels import Kind, ShardChannels
from persistence import Database
from tests.helpers.catalog import MakeEvent
from tests.helpers.engine import Buyers, ManualClock, RunningEngine, ask_hold
from tests.helpers.redis_modes import ON_BOTH_REDIS
from tests.helpers.waiting_room import configure_room, join, room


async def room_where(
    redis: RedisClient,
    settings: Settings,
    event_id: int,
    done: Callable[[RoomWire], bool],
    within: float = 10.0,
) -> RoomWire:
    """The room once `done` holds for it. A test without a subscription has nothing to await,
    so this polls Redis, with a deadline."""
    async with asyncio.timeout(within):
        while True:
            current = await read_room(redis, settings.engine, event_id)
            if current is not None and done(current):
                return current
            await asyncio.sleep(0.05)


def ticked_at(now_ms: int) -> Callable[[RoomWire], bool]:
    return lambda room: room["at"] >= now_ms


async def test_a_place_is_durable_and_the_same_on_every_join(
    engine: RunningEngine,
    engine_client: EngineClient,
    make_event: MakeEvent,
    buyers: Buyers,
    db: Database,
    redis: RedisClient,
    settings: Settings,
) -> None:
    future = datetime(2100, 1, 1, tzinfo=UTC)
    event = await make_event(sale_starts_at=future, sale_ends_at=future.replace(year=2101))
    [alice] = await buyers(1)
    await configure_room(db, engine_client, event.event_id, room())
    first = await join(engine_client, event.event_id, alice)
    again = await join(engine_client, event.event_id, alice)
    assert again == first
    assert first.state is QueueState.PRE_QUEUE
    stored = await read_place(redis, settings.engine, event.event_id, alice)
    assert stored == first


@ON_BOTH_REDIS
async def test_admission_is_broadcast_and_gates_holds(
    engine: RunningEngine,
    engine_client: EngineClient,
    make_event: MakeEvent,
    buyers: Buyers,
    db: Database,
    redis: RedisClient,
    settings: Settings,
) -> None:
    event = await make_event(seats=4)
    alice, bob = await buyers(2)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    pubsub = ShardChannels(redis)
    await pubsub.subscribe(keys.queue_channel(event.event_id))
    try:
        await configure_room(db, engine_client, event.event_id, room(rate=60, cap=1))
        refused = await ask_hold(engine_client, event.event_id, alice, event.seat_ids[:1])
        assert refused.rejection is not None
        assert refused.rejection.code is RejectCode.NOT_ADMITTED
        place = await join(engine_client, event.event_id, alice)
        await join(engine_client, event.event_id, bob)
        async with asyncio.timeout(10):
            while True:
                message = await pubsub.get_message(1.0)
                if message is None or message.kind is not Kind.MESSAGE:
                    continue
                body = orjson.loads(message.data)
                if body["admitted_through"] >= (place.rank or 0):
                    break
        assert body["inside"] == 1
        assert body["type"] == "queue"
    finally:
        await pubsub.aclose()
    held = await ask_hold(engine_client, event.event_id, alice, event.seat_ids[:1])
    assert held.ok
    outsider = await ask_hold(engine_client, event.event_id, bob, event.seat_ids[1:2])
    assert outsider.rejection is not None
    assert outsider.rejection.code is RejectCode.NOT_ADMITTED


async def test_a_takeover_keeps_every_place_and_admits_on_in_rank_order(
    settings: Settings,
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    clock = ManualClock()
    starts = datetime.fromtimestamp((clock.now_ms() + 60_000) / 1000, UTC)
    event = await make_event(seats=10, sale_starts_at=starts)
    users = await buyers(30)
    running = RunningEngine(settings, db, clock=clock)
    await running.start()
    try:
        async with EngineClient(redis, settings.engine) as client:
            await configure_room(db, client, event.event_id, room(rate=300, cap=1000))
            before = {user: await join(client, event.event_id, user) for user in users[:20]}
            assert all(p.state is QueueState.PRE_QUEUE for p in before.values())
            clock.advance(60_000)  # the sale starts: the pre-queue is ranked
            await join(client, event.event_id, users[20])
            ranked = await room_where(
                redis, settings, event.event_id, lambda r: r["admitted_through"] >= 5
            )
            assert ranked["shuffled"]
        admitted_before = ranked["admitted_through"]
        ranks = {
            user: (await read_place(redis, settings.engine, event.event_id, user))
            for user in users[:21]
        }
        await running.stop()
        await running.start()  # a new owner: recovers the room from Redis
        async with EngineClient(redis, settings.engine) as client:
            late = await join(client, event.event_id, users[21])
            again = {user: await join(client, event.event_id, user) for user in users[:21]}
        state = running.actor_state(event.event_id).events[event.event_id].room
        assert state is not None
        assert late.rank == 22  # behind everyone who joined before the takeover
        for user, place in again.items():
            assert place.id == ranks[user].id  # type: ignore[union-attr]
            assert place.rank == ranks[user].rank  # type: ignore[union-attr]
        assert state.admitted_through >= admitted_before
        for _ in range(3):
            clock.advance(1000)
            await room_where(redis, settings, event.event_id, ticked_at(clock.now_ms()))
        admitted = sorted(
            (p.rank or 0, p.admitted_at_ms or 0)
            for p in state.places.values()
            if p.admitted_at_ms is not None
        )
        assert [rank for rank, _ in admitted] == list(range(1, len(admitted) + 1))
        assert [at for _, at in admitted] == sorted(at for _, at in admitted)
    finally:
        await running.stop()


@pytest.mark.parametrize("lazily", [False, True])
async def test_an_event_loaded_after_takeover_brings_its_room(
    settings: Settings,
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
    lazily: bool,
) -> None:
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    running = RunningEngine(settings, db)
    await running.start()
    try:
        async with EngineClient(redis, settings.engine) as client:
            await configure_room(db, client, event.event_id, room(rate=60, cap=5))
            place = await join(client, event.event_id, alice)
        await running.stop()
        if lazily:
            # An ended sale is not loaded at takeover; only a command brings it in.
            async with db.transaction() as conn:
                await conn.execute(
                    "UPDATE events SET sale_ends_at = '2001-01-01' , sale_starts_at = '2000-01-01'"
                    " WHERE id = %s",
                    (event.event_id,),
                )
        await running.start()
        async with EngineClient(redis, settings.engine) as client:
            again = await join(client, event.event_id, alice)
        assert again.id == place.id
    finally:
        await running.stop()


async def test_rate_cap_session_end_and_pause_hold_in_a_running_engine(
    settings: Settings,
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    """Against the real servers, with the engine's clock in the test's hand: one admission a
    second, at most three inside; sessions that run out hand their slots on; a pause holds the
    line where it is and a resume carries on from there, in rank order."""
    clock = ManualClock()
    event = await make_event(seats=10)
    users = await buyers(9)
    settings_on = room(rate=60, cap=3, session_seconds=60)
    running = RunningEngine(settings, db, clock=clock)
    await running.start()
    try:
        async with EngineClient(redis, settings.engine) as client:
            await configure_room(db, client, event.event_id, settings_on)
            places = [await join(client, event.event_id, user) for user in users]
            assert [place.rank for place in places] == list(range(1, 10))

            async def tick(ms: int) -> RoomWire:
                clock.advance(ms)
                # Any command makes a turn; the room's tick runs in it, before the answer.
                await join(client, event.event_id, users[0])
                state = running.actor_state(event.event_id).events[event.event_id].room
                assert state is not None
                return state.wire(clock.now_ms())

            # The first second's admission plus the one banked when admission began.
            assert (await tick(1000))["admitted_through"] == 2
            capped = await tick(1000)
            assert (capped["admitted_through"], capped["inside"]) == (3, 3)
            assert (await tick(1000))["admitted_through"] == 3  # the cap holds the line
            renewed = await tick(60_000)  # the three sessions ran out: their slots go on
            assert (renewed["admitted_through"], renewed["inside"]) == (5, 2)
            expired = await read_place(redis, settings.engine, event.event_id, users[0])
            assert expired is not None
            assert expired.state is QueueState.EXPIRED

            paused = dataclasses.replace(settings_on, paused=True)
            assert (await configure_room(db, client, event.event_id, paused))["paused"]
            held = await tick(61_000)  # sessions end, but nobody comes in while paused
            assert (held["admitted_through"], held["inside"]) == (5, 0)
            await configure_room(db, client, event.event_id, settings_on)
            # In force from that turn's tick: one second's worth at once, then one a second.
            assert (await tick(0))["admitted_through"] == 6
            assert (await tick(1000))["admitted_through"] == 7
    finally:
        await running.stop()
