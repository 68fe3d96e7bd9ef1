"""The sharded subscriber the seat and queue feeds share, against a real Redis."""

from __future__ import annotations

import asyncio

from engine.redis_client import RedisClient
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
