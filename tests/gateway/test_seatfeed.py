"""The seat feed's fan-out: a socket that falls behind is dropped, never waited for."""

from __future__ import annotations

import asyncio

from gateway.pushwindow import FeedMessage
from gateway.seatfeed import Watcher


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
