"""The seat feed's fan-out: a socket that falls behind is dropped, never waited for; and what
it keeps for an event lasts exactly as long as the event's watchers (real Redis)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import orjson

from gateway.pushwindow import FeedMessage
from gateway.seatfeed import SeatFeed, Snapshot, Watcher
from gateway.shardchannels import ChannelMessage, Kind
from tests.helpers.seatfeed import per_event_state

if TYPE_CHECKING:
    from config import Settings
    from engine.redis_client import RedisClient


async def forever() -> None:
    await asyncio.Event().wait()


async def test_a_watcher_a_full_queue_behind_has_its_forwarder_cancelled() -> None:
    watcher = Watcher()
    watcher.forwarder = asyncio.create_task(forever())
    capacity = watcher.queue.maxsize
    for seq in range(1, capacity + 1):
        watcher.offer(FeedMessage.batch(seq, b"{}"))
    await asyncio.sleep(0)
    assert not watcher.forwarder.done(), "a full queue is still within bounds"

    watcher.offer(FeedMessage.batch(capacity + 1, b"{}"))

    await asyncio.wait({watcher.forwarder}, timeout=1)
    assert watcher.forwarder.cancelled()
    assert watcher.stopped


async def test_closing_a_watcher_before_its_forwarder_starts_is_remembered() -> None:
    watcher = Watcher()
    watcher.close()
    assert watcher.stopped
    assert watcher.forwarder is None


async def test_an_events_state_goes_with_its_last_watcher_snapshot_lock_included(
    settings: Settings, redis: RedisClient
) -> None:
    reads = 0

    async def read() -> Snapshot:
        nonlocal reads
        reads += 1
        return Snapshot(seq=0, text="{}")

    async with SeatFeed(redis, settings.engine) as feed:
        async with feed.watch(7), feed.watch(7):
            await feed.snapshot(7, read)
            await feed.snapshot(7, read)
            assert any(per_event_state(feed).values())
        state = per_event_state(feed)

    assert reads == 1, "one read per sequence number, however many sockets ask"
    assert not any(state.values()), state


async def test_a_batch_arriving_after_the_last_watcher_left_leaves_nothing(
    settings: Settings, redis: RedisClient
) -> None:
    """A batch published just before the last watcher unsubscribed can still be read after it
    left; it must not start a push window that nothing would ever drop."""
    async with SeatFeed(redis, settings.engine, push_window_seconds=0.1) as feed:
        async with feed.watch(7):
            pass
        batch = {"type": "seats", "event_id": 7, "at": 0, "seq": 1, "changes": []}
        feed._dispatch(ChannelMessage(Kind.MESSAGE, feed.channel(7), orjson.dumps(batch)))
        state = per_event_state(feed)

    assert not any(state.values()), state
