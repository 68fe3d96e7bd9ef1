"""REDIS_MIN_REPLICAS: a turn answers only once its writes are on enough replicas (`WAIT`, once
per turn, on the apply's connection), against the test cluster, whose masters have one replica
each."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from config import Settings
from devstack.servers import LOOPBACK, RedisClusterServer
from engine.client import EngineClient
from engine.effects import Effects, JournalEntry
from engine.keys import ShardKeys, shard_of
from engine.lease import ShardLease
from engine.protocol import HoldRequest, encode_command
from engine.queue import ReplicasBehind, ShardQueue
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from engine.writebehind import JournalNotReplicated, RawEntry, write_through
from persistence import Database
from persistence.seat_state import claim_fence
from tests.helpers.catalog import MakeEvent
from tests.helpers.engine import Buyers, ManualClock, RunningEngine, ask_hold
from tests.helpers.redis_modes import ON_CLUSTER

pytestmark = ON_CLUSTER


async def test_a_hold_is_answered_once_the_shards_replica_holds_it(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    redis_cluster: RedisClusterServer,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    settings = make_settings(REDIS_MIN_REPLICAS="1")
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    running = RunningEngine(settings, db)
    await running.start()
    [replica] = redis_cluster.replicas_of(redis_cluster.master_of(key_slot(keys.tag.encode())))
    on_replica = Redis(host=LOOPBACK, port=replica.port)
    try:
        await on_replica.execute_command("READONLY")  # type: ignore[no-untyped-call]
        async with EngineClient(redis, settings.engine) as client:
            reply = await ask_hold(client, event.event_id, alice, event.seat_ids[:1])
            assert reply.hold is not None
            # Read from the replica itself: what the answer promised is there already.
            assert await on_replica.exists(keys.hold(reply.hold.id)) == 1
    finally:
        await on_replica.aclose()
        await running.stop()


async def test_a_turn_short_of_replicas_raises_instead_of_answering(
    settings: Settings,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    event = await make_event(seats=2)
    [alice] = await buyers(1)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    scripts = Scripts.register(redis)
    lease = ShardLease(
        redis, scripts, keys, ttl_ms=60_000, owner="owner", shard_count=settings.engine.shards
    )
    assert await lease.try_acquire()
    command = encode_command(
        HoldRequest(
            id="c1",
            reply_to="rq:reply:{test}",
            event_id=event.event_id,
            user_id=alice,
            seat_ids=event.seat_ids[:1],
        )
    )
    await redis.lpush(keys.commands, command)
    rendered_keys, payload = Effects(keys, ManualClock().now_ms()).render()

    # Each master of the test cluster has one replica: asking for two cannot be met.
    wanting_two = ShardQueue(
        redis, scripts, keys, batch_size=16, token=lease.token, min_replicas=2, replica_wait_ms=50
    )
    await wanting_two.prepare()
    assert await wanting_two.take(0.0) == [command]
    with pytest.raises(ReplicasBehind):
        await wanting_two.apply_and_take(rendered_keys, [lease.token, payload, 1])

    wanting_one = ShardQueue(
        redis, scripts, keys, batch_size=16, token=lease.token, min_replicas=1, replica_wait_ms=1000
    )
    await redis.lpush(keys.commands, command)
    assert await wanting_one.take(0.0) == [command]
    outcome, _ = await wanting_one.apply_and_take(rendered_keys, [lease.token, payload, 1])
    assert outcome[0] == b"ok"


async def test_a_lease_no_replica_holds_is_let_go_not_used(
    settings: Settings, redis: RedisClient
) -> None:
    # Each master has one replica: asking for two can never be met. A lease and a token the
    # master alone knows could be handed out again after a failover, so none is kept.
    keys = ShardKeys(0)
    scripts = Scripts.register(redis)
    short = ShardLease(
        redis,
        scripts,
        keys,
        ttl_ms=60_000,
        owner="short-of-replicas",
        shard_count=settings.engine.shards,
        min_replicas=2,
        replica_wait_ms=50,
    )
    assert not await short.try_acquire()
    assert not short.held
    assert await redis.get(keys.lease) is None

    replicated = ShardLease(
        redis,
        scripts,
        keys,
        ttl_ms=60_000,
        owner="replicated",
        shard_count=settings.engine.shards,
        min_replicas=1,
    )
    assert await replicated.try_acquire()
    assert replicated.held
    await replicated.release()


async def test_the_journal_reaches_mariadb_only_once_a_replica_has_it(
    redis: RedisClient, db: Database
) -> None:
    # A writer may read entries before the turn's WAIT has them on a replica; written through
    # then, a failover would leave MariaDB a decision the promoted replica never saw.
    keys = ShardKeys(0)
    token = 7
    async with db.transaction() as conn:
        await claim_fence(conn, keys.shard, token)
    await redis.xadd(keys.journal, {"e": orjson.dumps(EMPTY_ENTRY)})
    raw_entries: list[RawEntry] = await redis.xrange(keys.journal)  # type: ignore[assignment]

    with pytest.raises(JournalNotReplicated):
        await write_through(redis, db, keys, token, raw_entries, min_replicas=2, replica_wait_ms=50)
    assert await redis.xlen(keys.journal) == 1
    assert await last_applied_entry(db, keys.shard) == "0-0"

    assert await write_through(redis, db, keys, token, raw_entries, min_replicas=1) == 1
    assert await redis.xlen(keys.journal) == 0
    assert await last_applied_entry(db, keys.shard) == raw_entries[0][0].decode()


EMPTY_ENTRY: JournalEntry = {"holds": [], "seats": [], "expire_sessions": []}


async def last_applied_entry(db: Database, shard: int) -> str:
    async with db.transaction() as conn:
        row = await conn.fetch_one(
            "SELECT last_journal_id FROM shard_fences WHERE shard = %s", (shard,)
        )
    assert row is not None
    last: str = row["last_journal_id"]
    return last
