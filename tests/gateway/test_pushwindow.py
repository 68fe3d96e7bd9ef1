"""Pacing seat changes into frames: immediate when quiet, one frame per window under load,
consecutive batches only, in order."""

from __future__ import annotations

import asyncio

import orjson

from gateway.pushwindow import FeedMessage, FrameKind, PushWindow, combine

CHANNEL = "rq:seats:7"


def batch(seq: int) -> FeedMessage:
    text = {"type": "seats", "event_id": 7, "at": 0, "seq": seq, "changes": []}
    return FeedMessage.batch(seq, orjson.dumps(text))


class Pushes:
    """What the window delivered, awaitable one push at a time."""

    def __init__(self) -> None:
        self.delivered: list[FeedMessage] = []
        self._arrived = asyncio.Event()

    def __call__(self, channel: str, message: FeedMessage) -> None:
        assert channel == CHANNEL
        self.delivered.append(message)
        self._arrived.set()

    async def next(self, count: int) -> FeedMessage:
        async with asyncio.timeout(5):
            while len(self.delivered) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.delivered[count - 1]


def seqs_of(message: FeedMessage) -> list[int]:
    body = orjson.loads(message.data)
    if body["type"] == "batches":
        assert body["seq"] == body["messages"][-1]["seq"]
        return [inner["seq"] for inner in body["messages"]]
    return [body["seq"]]


async def test_the_first_batch_after_a_quiet_spell_goes_out_at_once() -> None:
    pushes = Pushes()
    window = PushWindow(60.0, pushes)
    window.add(CHANNEL, 7, batch(1))
    assert [seqs_of(message) for message in pushes.delivered] == [[1]]
    window.close()


async def test_batches_within_the_window_go_out_together_in_order() -> None:
    pushes = Pushes()
    window = PushWindow(0.05, pushes)
    for seq in (1, 2, 3, 4):
        window.add(CHANNEL, 7, batch(seq))
    assert len(pushes.delivered) == 1, "only the first went out before the window's end"

    together = await pushes.next(2)
    assert (together.kind, together.first_seq, together.seq) == (FrameKind.BATCHES, 2, 4)
    assert seqs_of(together) == [2, 3, 4]
    window.close()


async def test_a_lone_batch_at_the_windows_end_is_sent_as_itself() -> None:
    pushes = Pushes()
    window = PushWindow(0.05, pushes)
    window.add(CHANNEL, 7, batch(1))
    window.add(CHANNEL, 7, batch(2))
    alone = await pushes.next(2)
    assert (alone.kind, alone.first_seq, alone.seq) == (FrameKind.SEATS, 2, 2)
    window.close()


async def test_a_gap_flushes_what_was_pending_so_frames_stay_contiguous() -> None:
    pushes = Pushes()
    window = PushWindow(60.0, pushes)
    window.add(CHANNEL, 7, batch(1))
    window.add(CHANNEL, 7, batch(2))
    window.add(CHANNEL, 7, batch(3))
    window.add(CHANNEL, 7, batch(6))  # 4 and 5 were lost
    assert [seqs_of(message) for message in pushes.delivered] == [[1], [2, 3]]
    window.flush(CHANNEL)
    assert [seqs_of(message) for message in pushes.delivered] == [[1], [2, 3], [6]]
    window.close()


async def test_a_zero_window_sends_every_batch_as_it_comes() -> None:
    pushes = Pushes()
    window = PushWindow(0.0, pushes)
    for seq in (1, 2, 3):
        window.add(CHANNEL, 7, batch(seq))
    assert [seqs_of(message) for message in pushes.delivered] == [[1], [2], [3]]


async def test_a_dropped_channel_loses_its_pending_batches_and_its_timer() -> None:
    pushes = Pushes()
    window = PushWindow(0.05, pushes)
    window.add(CHANNEL, 7, batch(1))
    window.add(CHANNEL, 7, batch(2))
    window.drop(CHANNEL)
    window.flush(CHANNEL)
    # A fresh start for the channel goes out at once: nothing of the old window is left.
    window.add(CHANNEL, 7, batch(9))
    assert [seqs_of(message) for message in pushes.delivered] == [[1], [9]]
    window.close()


def test_combining_one_batch_is_that_batch() -> None:
    only = batch(5)
    assert combine(7, [only]) is only
