"""The sharded subscriber the seat and queue feeds share, against a real Redis, and a real
Redis Cluster for what a failover does to a subscription."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Final

import orjson
from redis.crc import key_slot
from redis.exceptions import RedisError

from config import Settings
from devstack.servers import RedisClusterServer, RedisServer
from engine.redis_client import RedisClient, connect_redis
from engine.waiting import cancel_and_wait
from gateway.pushwindow import FrameKind
from gateway.seatfeed import SeatFeed, Watcher
from gateway.shardchannels import Kind, ShardChannels


async def test_there_is_something_to_read_only_once_the_subscribe_has_gone_out(
    redis: RedisClient,
) -> None:
    # A feed's reader reads as soon as `subscribed` says so. Said before the subscriber had its
    # connection, redis-py answered the read with a RuntimeError that ended the reader, and every
    # socket then waited for a confirmation that never came.
    channels = ShardChannels(redis)
    try:
        subscribing = asyncio.create_task(channels.subscribe("{rq:0}:event:1:queue"))
        await asyncio.sleep(0)  # the subscribe has started, and waits on Redis
        while_subscribing = channels.subscribed
        await subscribing

        assert (while_subscribing, channels.subscribed) == (False, True)
        message = await channels.get_message(5.0)
        assert message is not None
        assert (message.kind, message.channel) == (Kind.SUBSCRIBED, "{rq:0}:event:1:queue")
    finally:
        await channels.aclose()


EVENT: Final = 1


# The renewal after a lost subscription, driven by the seat feed's reader (the feeds own the
# retry loop; ShardChannels says when a read is due and when a subscription was lost).


def feed_settings(redis_url: str) -> Settings:
    return Settings.from_env({"RUSHQUEUE_ENV": "test", "REDIS_URL": redis_url})


async def next_frame(watcher: Watcher, kind: FrameKind) -> None:
    while (await watcher.queue.get()).kind is not kind:
        pass


async def live_again(publisher: RedisClient, feed: SeatFeed, watcher: Watcher) -> None:
    """Until a batch published now reaches the watcher: the subscription is back. Batches
    published before it was are lost, so one goes out every tenth of a second."""
    channel = feed.channel(EVENT)

    async def publish() -> None:
        for seq in itertools.count(1):
            with contextlib.suppress(RedisError):
                await publisher.spublish(channel, orjson.dumps({"type": "seats", "seq": seq}))
            await asyncio.sleep(0.1)

    publishing = asyncio.create_task(publish())
    try:
        await asyncio.wait_for(next_frame(watcher, FrameKind.SEATS), 15)
    finally:
        await cancel_and_wait(publishing)


async def test_a_renewal_that_fails_while_redis_is_down_is_tried_again_until_it_works(
    private_redis: RedisServer,
) -> None:
    # The reader used to wait for a subscribe after a failed renewal instead of renewing again,
    # so every map open through a Redis restart got its resync and then nothing, ever.
    settings = feed_settings(private_redis.url)
    redis = connect_redis(settings.redis)
    try:
        async with SeatFeed(redis, settings.engine) as feed, feed.watch(EVENT) as watcher:
            private_redis.stop()
            # Sent after the first renewal, which failed: nobody listens on the port.
            await asyncio.wait_for(next_frame(watcher, FrameKind.RESYNC), 10)
            private_redis.start()
            await live_again(redis, feed, watcher)
    finally:
        await redis.aclose()


async def test_a_subscription_redis_py_renewed_by_itself_is_resynced(settings: Settings) -> None:
    # redis-py's subscriber that finds its connection closed between two reads reconnects and
    # subscribes again by itself: what was published in between is lost, and the maps were not
    # told. The cluster client's pipeline retry closes every connection of its client, as
    # `aclose` does here (test_cluster_failover.py saw its map miss a change this way).
    redis = connect_redis(settings.redis)
    publisher = connect_redis(settings.redis)
    try:
        async with SeatFeed(redis, settings.engine) as feed, feed.watch(EVENT) as watcher:
            await redis.aclose()
            await asyncio.wait_for(next_frame(watcher, FrameKind.RESYNC), 10)
            await live_again(publisher, feed, watcher)
    finally:
        await publisher.aclose()
        await redis.aclose()


async def test_a_seat_map_follows_its_slot_to_the_promoted_replica_after_a_kill(
    private_cluster: RedisClusterServer,
) -> None:
    # The chaos failure of test_cluster_failover.py: the first renewal after the kill asks the
    # dead master (the slot map names it until its replica is promoted) and fails.
    settings = feed_settings(private_cluster.url)
    redis = connect_redis(settings.redis)
    try:
        async with SeatFeed(redis, settings.engine) as feed, feed.watch(EVENT) as watcher:
            slot = key_slot(feed.channel(EVENT).encode())
            master = private_cluster.master_of(slot)
            private_cluster.kill(master)
            await asyncio.wait_for(next_frame(watcher, FrameKind.RESYNC), 10)
            await asyncio.to_thread(private_cluster.wait_failover, slot, master)
            await live_again(redis, feed, watcher)
    finally:
        await redis.aclose()


async def test_a_subscription_redis_ends_when_its_slot_leaves_the_node_is_renewed(
    private_cluster: RedisClusterServer,
) -> None:
    # A manual failover loses no connection: the old master, now a replica, unsubscribes its
    # clients from the slot's channels itself (SUNSUBSCRIBE), which the feed used to ignore.
    settings = feed_settings(private_cluster.url)
    redis = connect_redis(settings.redis)
    # Its own client, so that the publishing cannot refresh the feed's slot map for it.
    publisher = connect_redis(settings.redis)
    try:
        async with SeatFeed(redis, settings.engine) as feed, feed.watch(EVENT) as watcher:
            slot = key_slot(feed.channel(EVENT).encode())
            master = private_cluster.master_of(slot)
            [replica] = private_cluster.replicas_of(master)
            replica.cli("CLUSTER", "FAILOVER")
            await asyncio.wait_for(next_frame(watcher, FrameKind.RESYNC), 10)
            assert private_cluster.master_of(slot) is replica
            await live_again(publisher, feed, watcher)
    finally:
        await publisher.aclose()
        await redis.aclose()
