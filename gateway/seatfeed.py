"""Live seat changes for every open seat map, from one Redis subscription per event.

The engine publishes each batch's changes for an event once, as a ready-to-send JSON text with
a sequence number. This process subscribes to an event's channel when its first socket opens
and unsubscribes when its last one closes, reads each message's sequence number once, paces the
batches into frames (`gateway.pushwindow`), and hands the same bytes to every socket's bounded
queue. A socket whose queue is full is marked overflowed (and then dropped by its handler)
instead of slowing the fan-out for everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from config import EngineSettings
from engine.keys import ShardKeys, shard_of
from engine.waiting import cancel_and_wait
from gateway.pushwindow import RESYNC, FeedMessage, FrameKind, PushWindow

log = logging.getLogger(__name__)

# Enough for a burst of batches; a socket further behind than this is dropped and resyncs.
_QUEUE_SIZE: Final = 64
_POLL_SECONDS: Final = 1.0
_SUBSCRIBE_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An event's whole seat map as a ready-to-send message, and the sequence number it is at."""

    seq: int
    text: str


@dataclass(slots=True, eq=False)
class Watcher:
    """One open seat map's view of the feed: a bounded queue, drained by the task that
    forwards it to the socket. A watcher that falls a queue behind, or that the gateway closes,
    has that task cancelled, which ends the socket's handler."""

    queue: asyncio.Queue[FeedMessage] = field(
        default_factory=lambda: asyncio.Queue(maxsize=_QUEUE_SIZE)
    )
    forwarder: asyncio.Task[None] | None = None
    stopped: bool = False

    def offer(self, message: FeedMessage) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        self.stopped = True
        if self.forwarder is not None:
            self.forwarder.cancel()


class SeatFeed:
    def __init__(
        self, redis: Redis, settings: EngineSettings, *, push_window_seconds: float = 0.0
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._push_window = PushWindow(push_window_seconds, self._fan_out)
        self._pubsub: PubSub | None = None
        self._watchers: dict[str, set[Watcher]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._reader: asyncio.Task[None] | None = None
        self._snapshots: dict[int, Snapshot] = {}
        self._subscribing = asyncio.Lock()
        self._snapshot_locks: dict[int, asyncio.Lock] = {}

    async def __aenter__(self) -> Self:
        self._pubsub = self._redis.pubsub()
        self._reader = asyncio.create_task(self._read(), name="seat-feed")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            await cancel_and_wait(self._reader)
        self._push_window.close()
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    def close_watchers(self) -> None:
        """Ask every open seat map to close (graceful shutdown: handlers must finish)."""
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.close()

    async def snapshot(self, event_id: int, read: Callable[[], Awaitable[Snapshot]]) -> Snapshot:
        """The event's snapshot, read and encoded once per sequence number however many
        sockets open at once: a rush of seat maps costs a `GET` each, not a whole map each."""
        lock = self._snapshot_locks.setdefault(event_id, asyncio.Lock())
        async with lock:
            keys = ShardKeys(shard_of(event_id, self._settings.shards))
            seq = int(await self._redis.get(keys.seat_seq(event_id)) or 0)
            cached = self._snapshots.get(event_id)
            if cached is not None and cached.seq == seq:
                return cached
            fresh = await read()
            self._snapshots[event_id] = fresh
            return fresh

    def channel(self, event_id: int) -> str:
        return ShardKeys(shard_of(event_id, self._settings.shards)).seat_channel(event_id)

    @contextlib.asynccontextmanager
    async def watch(self, event_id: int) -> AsyncIterator[Watcher]:
        """Watch an event's changes. On entry the subscription is confirmed by Redis, so a
        snapshot read afterwards misses nothing that is published later."""
        assert self._pubsub is not None, "use SeatFeed as an async context manager"
        channel = self.channel(event_id)
        watcher = Watcher()
        watchers = self._watchers.setdefault(channel, set())
        watchers.add(watcher)
        try:
            # Subscribing and unsubscribing take turns, so a last socket leaving can never
            # unsubscribe a channel a new socket has just subscribed to.
            async with self._subscribing:
                if channel not in self._confirmed:
                    self._confirmed[channel] = asyncio.Event()
                    await self._pubsub.subscribe(channel)
                confirmed = self._confirmed[channel]
            async with asyncio.timeout(_SUBSCRIBE_TIMEOUT):
                await confirmed.wait()
            yield watcher
        finally:
            watchers.discard(watcher)
            async with self._subscribing:
                if not watchers and self._watchers.get(channel) is watchers:
                    del self._watchers[channel]
                    self._confirmed.pop(channel, None)
                    self._snapshots.pop(event_id, None)
                    self._push_window.drop(channel)
                    with contextlib.suppress(RedisError):
                        await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        assert self._pubsub is not None
        backoff = 0.05
        while True:
            if not self._pubsub.subscribed:
                await asyncio.sleep(0.05)
                continue
            try:
                message = await self._pubsub.get_message(timeout=_POLL_SECONDS)
                backoff = 0.05
            except (RedisError, OSError) as exc:
                log.warning("seat feed lost Redis (%s); resubscribing in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                # Changes published meanwhile are gone: every open map fetches a fresh snapshot.
                for watchers in self._watchers.values():
                    for watcher in watchers:
                        watcher.offer(RESYNC)
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, object]) -> None:
        channel = _text(message["channel"])
        kind = message["type"]
        if kind == "subscribe":
            confirmed = self._confirmed.get(channel)
            if confirmed is not None:
                confirmed.set()
            return
        if kind != "message":
            return
        data = message["data"]
        data = data if isinstance(data, bytes) else str(data).encode()
        header = orjson.loads(data)
        seq = int(header["seq"])
        if header["type"] == FrameKind.SEATS:
            self._push_window.add(channel, int(header["event_id"]), FeedMessage.batch(seq, data))
        else:  # the engine's resync notice, after whatever went before it
            self._push_window.flush(channel)
            self._fan_out(channel, RESYNC)

    def _fan_out(self, channel: str, message: FeedMessage) -> None:
        for watcher in self._watchers.get(channel, ()):
            watcher.offer(message)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
