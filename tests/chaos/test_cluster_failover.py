"""`kill -9` of the Redis master that serves a shard, on a private cluster whose masters have a
replica each: once the replica is promoted, and the dead node is back as its replica (with
REDIS_MIN_REPLICAS=1 a master without one answers nobody), the engine answers again, a seat
map's subscription follows the shard's slot to the new master (a resync notice first, then live
changes), and the hold granted before the failover is still there (its turn waited for the
replica)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
import pytest
from redis.crc import key_slot

from config import Settings
from devstack.servers import RedisClusterServer
from domain.errors import EngineUnavailable
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.protocol import Reply
from engine.redis_client import connect_redis
from gateway.pushwindow import FeedMessage, FrameKind
from gateway.seatfeed import SeatFeed, Watcher
from persistence import Database
from tests.helpers.catalog import MakeEvent
from tests.helpers.engine import Buyers, RunningEngine, ask_hold

# Long, and in make chaos only. It failed every other run while a seat feed gave up for good after
# one failed renewal (tests/gateway/test_shardchannels.py has that and the other gaps fixed since).
pytestmark = [pytest.mark.chaos, pytest.mark.long, pytest.mark.timeout(90)]


async def next_frame(watcher: Watcher, kind: FrameKind) -> FeedMessage:
    while True:
        message = await watcher.queue.get()
        if message.kind is kind:
            return message


async def change_of(watcher: Watcher, seat_id: int) -> None:
    """Until a batch that changes `seat_id` arrives (one published before it may come first)."""
    while True:
        frame = await next_frame(watcher, FrameKind.SEATS)
        if any(change["seat_id"] == seat_id for change in orjson.loads(frame.data)["changes"]):
            return


async def subscribed_where_served(cluster: RedisClusterServer, channel: str) -> None:
    """Until the node now serving `channel`'s slot has a subscriber to it: the feed's renewal
    has landed where the engine publishes."""
    slot = key_slot(channel.encode())
    while True:
        node = await asyncio.to_thread(cluster.master_of, slot)
        answer = await asyncio.to_thread(node.cli, "PUBSUB", "SHARDNUMSUB", channel)
        if answer.split()[-1:] != ["0"]:
            return
        await asyncio.sleep(0.05)


async def hold_until_answered(
    client: EngineClient, event_id: int, user_id: int, seat_ids: tuple[int, ...]
) -> Reply:
    """As a buyer's retries do: the same command id until the engine answers it."""
    while True:
        try:
            return await ask_hold(
                client, event_id, user_id, seat_ids, command_id=f"hold-{seat_ids}"
            )
        except EngineUnavailable:
            await asyncio.sleep(0.2)


async def test_a_killed_master_fails_over_and_the_shard_answers_and_notifies_again(
    private_cluster: RedisClusterServer,
    make_settings: Callable[..., Settings],
    db: Database,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    settings = make_settings(
        REDIS_URL=private_cluster.url, REDIS_MIN_REPLICAS="1", ENGINE_DECISION_TIMEOUT_SECONDS="2"
    )
    event = await make_event(seats=4)
    [alice] = await buyers(1)
    keys = ShardKeys(shard_of(event.event_id, settings.engine.shards))
    redis = connect_redis(settings.redis)
    running = RunningEngine(settings, db)
    await running.start()
    try:
        async with (
            EngineClient(redis, settings.engine) as client,
            SeatFeed(redis, settings.engine) as feed,
            feed.watch(event.event_id) as watcher,
        ):
            first = await hold_until_answered(client, event.event_id, alice, event.seat_ids[:1])
            assert first.hold is not None
            await next_frame(watcher, FrameKind.SEATS)

            master = private_cluster.master_of(key_slot(keys.tag.encode()))
            private_cluster.kill(master)
            # The promoted replica has no replica of its own, and with REDIS_MIN_REPLICAS=1 its
            # shards answer nobody until the dead node is back as its replica (a replaced
            # machine).
            await asyncio.to_thread(
                private_cluster.wait_failover, key_slot(keys.tag.encode()), master
            )
            await asyncio.to_thread(private_cluster.restart_as_replica, master)
            second = await hold_until_answered(client, event.event_id, alice, event.seat_ids[1:2])
            assert second.hold is not None
            # The subscription was lost with the master: the map is told to fetch a snapshot
            # (once for every failed renewal, and once more when Redis confirms the one that
            # worked), then sees the changes published on the new master.
            await asyncio.wait_for(next_frame(watcher, FrameKind.RESYNC), 15)
            channel = feed.channel(event.event_id)
            await asyncio.wait_for(subscribed_where_served(private_cluster, channel), 15)
            third = await hold_until_answered(client, event.event_id, alice, event.seat_ids[2:3])
            assert third.hold is not None
            await asyncio.wait_for(change_of(watcher, event.seat_ids[2]), 15)

            assert await redis.exists(keys.hold(first.hold.id)) == 1
    finally:
        await running.stop()
        await redis.aclose()
