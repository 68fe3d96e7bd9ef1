"""Fewer, fuller websocket frames for an event's seat changes during a rush.

Every frame costs the gateway one wake-up and one socket write per open seat map, whatever its
size: with 500 maps open, an engine turning out 60 batches a second means 30,000 frames a
second, and that, not the bytes, is what saturates a gateway process. So pushes are paced per
event: the first batch after a quiet spell goes out at once (no added latency when there is no
rush), and batches arriving within the window after a push wait for the window's end and go out
together as one `batches` frame. Its text joins the engine's ready-made texts; nothing is parsed
or encoded again.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final


class FrameKind(enum.StrEnum):
    SEATS = "seats"  # one decision batch, as the engine published it
    BATCHES = "batches"  # consecutive batches in one frame
    RESYNC = "resync"  # the engine's or this gateway's notice: maps must fetch a snapshot


@dataclass(frozen=True, slots=True)
class FeedMessage:
    """A frame for every seat map of one event: one batch (`seats`), several consecutive batches
    (`batches`, `first_seq` to `seq`), or the gateway's own notice that maps must resync."""

    kind: FrameKind
    seq: int
    data: bytes
    first_seq: int

    @classmethod
    def batch(cls, seq: int, data: bytes) -> FeedMessage:
        return cls(kind=FrameKind.SEATS, seq=seq, data=data, first_seq=seq)


RESYNC: Final = FeedMessage(kind=FrameKind.RESYNC, seq=0, data=b"", first_seq=0)


def combine(event_id: int, messages: list[FeedMessage]) -> FeedMessage:
    """Consecutive batches as one frame, in order."""
    if len(messages) == 1:
        return messages[0]
    head = b'{"type":"batches","event_id":%d,"seq":%d,"messages":[' % (event_id, messages[-1].seq)
    return FeedMessage(
        kind=FrameKind.BATCHES,
        seq=messages[-1].seq,
        data=head + b",".join(message.data for message in messages) + b"]}",
        first_seq=messages[0].first_seq,
    )


@dataclass(slots=True)
class _Window:
    event_id: int
    last_push: float = -math.inf
    pending: list[FeedMessage] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class PushWindow:
    """Paces each channel's batches into at most one push per `window_seconds`, handing each
    push to `deliver(channel, message)`. Frames stay contiguous: a batch that does not follow
    the pending ones (messages were lost) first flushes those, and the maps resync on the gap."""

    def __init__(self, window_seconds: float, deliver: Callable[[str, FeedMessage], None]) -> None:
        self._window = window_seconds
        self._deliver = deliver
        self._windows: dict[str, _Window] = {}

    def add(self, channel: str, event_id: int, message: FeedMessage) -> None:
        window = self._windows.get(channel)
        if window is None:
            window = self._windows[channel] = _Window(event_id)
        if window.pending and message.first_seq != window.pending[-1].seq + 1:
            self.flush(channel)
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not window.pending and now - window.last_push >= self._window:
            window.last_push = now
            self._deliver(channel, message)
            return
        window.pending.append(message)
        if window.timer is None:
            window.timer = loop.call_at(window.last_push + self._window, self.flush, channel)

    def drop(self, channel: str) -> None:
        """Forget a channel nobody watches any more, pending batches included."""
        window = self._windows.pop(channel, None)
        if window is not None and window.timer is not None:
            window.timer.cancel()

    def close(self) -> None:
        for channel in list(self._windows):
            self.drop(channel)

    def flush(self, channel: str) -> None:
        """Push the channel's pending batches now."""
        window = self._windows.get(channel)
        if window is None:
            return
        if window.timer is not None:
            window.timer.cancel()
            window.timer = None
        if not window.pending:
            return
        pending, window.pending = window.pending, []
        window.last_push = asyncio.get_running_loop().time()
        self._deliver(channel, combine(window.event_id, pending))
