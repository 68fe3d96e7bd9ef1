"""A shard's queue and in-flight list against real Redis: what a turn takes, what its apply
removes, and what an owner that lost its lease can still move."""

from __future__ import annotations

import asyncio

import pytest

from config import Settings
from engine.client import EngineClient
from engine.effects import Effects
from engine.keys import ShardKeys, shard_of
from engine.lease import LeaseLost, ShardLease
from engine.protocol import HoldRequest, Reply, encode_command
from engine.queue import ShardQueue
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from persistence import Database
from tests.helpers.catalog import MakeEvent
from tests.helpers.engine import Buyers, ManualClock, RunningEngine, ask_hold

REPLY_TO = "rq:reply:{test-queue}"


def hold(command_id: str, event_id: int, user_id: int, seat_id: int) -> bytes:
    return encode_command(
        HoldRequest(
            id=command_id,
            reply_to=REPLY_TO,
            event_id=event_id,
            user_id=user_id,
            seat_ids=(seat_id,),
        )
    )


async def test_a_command_moved_in_flight_after_the_take_survives_the_apply(
    settings: Settings, db: Database, redis: RedisClient, make_event: MakeEvent, buyers: Buyers
) -> None:
    event = await make_event(seats=4)
    [alice] = await buyers(1)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    scripts = Scripts.register(redis)
    lease = ShardLease(
        redis, scripts, keys, ttl_ms=60_000, owner="owner", shard_count=settings.engine.shards
    )
    assert await lease.try_acquire()
    queue = ShardQueue(redis, scripts, keys, batch_size=16, token=lease.token)
    first = hold("first", event.event_id, alice, event.seat_ids[0])
    second = hold("second", event.event_id, alice, event.seat_ids[1])
    late = hold("late", event.event_id, alice, event.seat_ids[2])
    await redis.lpush(keys.commands, first, second)
    taken = await queue.take(0.0)
    assert taken == [first, second]

    # Between this turn's take and its apply, a stale owner's BLMOVE (blocked before it froze)
    # moves in what arrives next: a retry of `first` (the very same bytes) and a new command.
    await redis.lpush(keys.commands, first, late)
    for _ in range(2):
        await redis.lmove(keys.commands, keys.inflight, "RIGHT", "LEFT")
    rendered_keys, payload = Effects(keys, ManualClock().now_ms()).render()
    outcome = await scripts.apply(
        keys=rendered_keys, args=[lease.token, payload, len(taken)], client=redis
    )
    assert outcome[0] == b"ok"
    assert await redis.lrange(keys.inflight, 0, -1) == [late, first], (
        "the apply removes exactly the two commands its turn took"
    )

    # The next owner's first turn decides both.
    await lease.release()
    running = RunningEngine(settings, db)
    await running.start()
    try:
        answered: set[str] = set()
        for _ in range(2):
            popped = await redis.blpop([REPLY_TO], timeout=5)
            assert popped is not None, f"answered so far: {answered}"
            reply = Reply.decode(popped[1])
            assert reply.hold is not None
            answered.add(reply.command_id)
        assert answered == {"first", "late"}
        assert await redis.llen(keys.inflight) == 0
    finally:
        await running.stop()


async def test_a_stale_token_takes_nothing(
    redis: RedisClient, make_event: MakeEvent, buyers: Buyers, settings: Settings
) -> None:
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    scripts = Scripts.register(redis)
    old = ShardLease(
        redis, scripts, keys, ttl_ms=60_000, owner="old", shard_count=settings.engine.shards
    )
    assert await old.try_acquire()
    # The old owner pauses past its lease; a new owner takes the shard.
    await redis.delete(keys.lease)
    new = ShardLease(
        redis, scripts, keys, ttl_ms=60_000, owner="new", shard_count=settings.engine.shards
    )
    assert await new.try_acquire()
    commands = [hold(f"c{n}", event.event_id, alice, event.seat_ids[0]) for n in range(3)]
    await redis.lpush(keys.commands, *commands[1:])
    await redis.lpush(keys.inflight, commands[0])

    stale = ShardQueue(redis, scripts, keys, batch_size=16, token=old.token)
    with pytest.raises(LeaseLost):
        await stale.take(0.0)
    with pytest.raises(LeaseLost):
        await stale.take(0.0, [(REPLY_TO, b"a reply of an applied batch")])
    assert await redis.lrange(keys.commands, 0, -1) == commands[:0:-1]
    assert await redis.lrange(keys.inflight, 0, -1) == commands[:1]


async def test_a_busy_shard_applies_and_takes_in_one_round_trip(
    settings: Settings,
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    """Under load each turn's apply and the next take share one pipeline, with scripts called by
    SHA: no `SCRIPT EXISTS` per turn, and never more takes than applies plus idle waits."""
    event = await make_event(seats=60)
    users = await buyers(60)
    running = RunningEngine(settings, db)
    await running.start()
    try:
        async with EngineClient(redis, settings.engine) as client:
            await redis.config_resetstat()
            replies = await asyncio.gather(
                *(
                    ask_hold(client, event.event_id, user, (seat,))
                    for user, seat in zip(users, event.seat_ids, strict=True)
                )
            )
            stats = await redis.info("commandstats")
    finally:
        await running.stop()
    assert all(reply.ok for reply in replies)
    assert "cmdstat_script|exists" not in stats
    blocking_takes = stats.get("cmdstat_blmove", {}).get("calls", 0)
    evalsha = stats["cmdstat_evalsha"]["calls"]
    # Each apply brings the next take along: scripts run at most twice per applied turn, plus
    # the take after each blocking wait.
    assert evalsha <= 2 * settings.engine.shards + 2 * len(replies) + blocking_takes


async def test_scripts_forgotten_by_redis_are_loaded_again_without_losing_a_command(
    settings: Settings,
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    event = await make_event(seats=2)
    alice, bob = await buyers(2)
    running = RunningEngine(settings, db)
    await running.start()
    try:
        assert running.engine is not None
        runner = running.engine.runners[shard_of(event.event_id, settings.engine.shards)]
        async with EngineClient(redis, settings.engine) as client:
            assert (await ask_hold(client, event.event_id, alice, event.seat_ids[:1])).ok
            actor = runner.actor
            await redis.script_flush()  # what a Redis restart does to the scripts
            after = await ask_hold(client, event.event_id, bob, event.seat_ids[1:])
            assert runner.actor is actor  # the same actor went on: no failure, no recovery
    finally:
        await running.stop()
    assert after.ok


async def test_a_stopping_owner_leaves_its_blocking_read_at_once_and_loses_nothing(
    settings: Settings, redis: RedisClient, make_event: MakeEvent, buyers: Buyers
) -> None:
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    scripts = Scripts.register(redis)
    lease = ShardLease(
        redis, scripts, keys, ttl_ms=60_000, owner="owner", shard_count=settings.engine.shards
    )
    assert await lease.try_acquire()
    queue = ShardQueue(redis, scripts, keys, batch_size=16, token=lease.token)
    await queue.prepare()
    stopping = asyncio.Event()

    # A read that would block for a minute: being told to stop ends it (the test's own
    # timeout would fail it otherwise), and it took nothing.
    waiting = asyncio.create_task(queue.take(60.0, interrupt=stopping))
    await blocked_in_blmove(redis)
    stopping.set()
    assert await waiting == []

    # The same read with a command arriving while it waits takes it, stop or not.
    command = hold("arrives", event.event_id, alice, event.seat_ids[0])
    waiting = asyncio.create_task(queue.take(60.0, interrupt=asyncio.Event()))
    await redis.lpush(keys.commands, command)
    assert await waiting == [command]


async def blocked_in_blmove(redis: RedisClient) -> None:
    """Until Redis has a client blocked in BLMOVE: Redis announces nothing, so this polls."""
    async with asyncio.timeout(5):
        while True:
            if any(client["cmd"] == "blmove" for client in await redis.client_list()):
                return
            await asyncio.sleep(0.01)
