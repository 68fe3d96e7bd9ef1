"""Live seat changes for every open seat map, from one Redis subscription per event.

The engine publishes each batch's changes for an event once, as a ready-to-send JSON text with
a sequence number. This process subscribes to an event's channel when its first socket opens
and unsubscribes when its last one closes, reads each message's sequence number once, paces the
batches into frames (`gateway.pushwindow`), and hands the same bytes to every socket's bounded
queue. A socket whose queue is full is marked overflowed (and then dropped by its handler)
instead of slowing the fan-out for everyone else.

Everything kept for an event (its watchers, subscription, cached snapshot and its lock, push
window) is created by its first watcher and dropped with its last, so what this process holds
is bounded by the sockets open, never by the event ids it has been asked about.
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
from redis.exceptions import RedisError

from config import EngineSettings
from engine.keys import ShardKeys, shard_of
from engine.redis_client import RedisClient
from engine.waiting import cancel_and_wait
from gateway.pushwindow import RESYNC, FeedMessage, FrameKind, PushWindow
from gateway.shardchannels import ChannelMessage, Kind, ShardChannels

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


@dataclass(slots=True, eq=False)
class _Channel:
    """One watched event's state in this process, alive exactly as long as it has watchers."""

    event_id: int
    watchers: set[Watcher] = field(default_factory=set)
    subscribe_sent: bool = False
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)
    # Sockets opening at once wait for one snapshot read instead of each reading the map.
    snapshot_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    snapshot: Snapshot | None = None


class SeatFeed:
    def __init__(
        self, redis: RedisClient, settings: EngineSettings, *, push_window_seconds: float = 0.0
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._push_window = PushWindow(push_window_seconds, self._fan_out)
        self._subscriber: ShardChannels | None = None
        self._channels: dict[str, _Channel] = {}
        self._reader: asyncio.Task[None] | None = None
        self._subscribing = asyncio.Lock()

    async def __aenter__(self) -> Self:
        self._subscriber = ShardChannels(self._redis)
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
        if self._subscriber is not None:
            await self._subscriber.aclose()

    def close_watchers(self) -> None:
        """Ask every open seat map to close (graceful shutdown: handlers must finish)."""
        for channel in self._channels.values():
            for watcher in channel.watchers:
                watcher.close()

    async def snapshot(self, event_id: int, read: Callable[[], Awaitable[Snapshot]]) -> Snapshot:
        """The event's snapshot, read and encoded once per sequence number however many
        sockets open at once: a rush of seat maps costs a `GET` each, not a whole map each.
        Only for an event being watched (inside `watch`), which is what keeps the cache and
        its lock from outliving the event's last socket."""
        channel = self._channels.get(self.channel(event_id))
        assert channel is not None, "snapshots are read inside watch()"
        async with channel.snapshot_lock:
            keys = ShardKeys(shard_of(event_id, self._settings.shards))
            seq = int(await self._redis.get(keys.seat_seq(event_id)) or 0)
            cached = channel.snapshot
            if cached is not None and cached.seq == seq:
                return cached
            channel.snapshot = fresh = await read()
            return fresh

    def channel(self, event_id: int) -> str:
        return ShardKeys(shard_of(event_id, self._settings.shards)).seat_channel(event_id)

    @contextlib.asynccontextmanager
    async def watch(self, event_id: int) -> AsyncIterator[Watcher]:
        """Watch an event's changes. On entry the subscription is confirmed by Redis, so a
        snapshot read afterwards misses nothing that is published later."""
        assert self._subscriber is not None, "use SeatFeed as an async context manager"
        name = self.channel(event_id)
        watcher = Watcher()
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = _Channel(event_id)
        channel.watchers.add(watcher)
        try:
            # Subscribing and unsubscribing take turns, so a last socket leaving can never
            # unsubscribe a channel a new socket has just subscribed to.
            async with self._subscribing:
                if not channel.subscribe_sent:
                    await self._subscriber.subscribe(name)
                    channel.subscribe_sent = True
            async with asyncio.timeout(_SUBSCRIBE_TIMEOUT):
                await channel.confirmed.wait()
            yield watcher
        finally:
            channel.watchers.discard(watcher)
            async with self._subscribing:
                if not channel.watchers and self._channels.get(name) is channel:
                    del self._channels[name]
                    self._push_window.drop(name)
                    with contextlib.suppress(RedisError):
                        await self._subscriber.unsubscribe(name)

    async def _read(self) -> None:
        assert self._subscriber is not None
        backoff = 0.05
        while True:
            if not self._subscriber.subscribed:
                await asyncio.sleep(0.05)
                continue
            try:
                message = await self._subscriber.get_message(_POLL_SECONDS)
                backoff = 0.05
            except (RedisError, OSError) as exc:
                log.warning("seat feed lost Redis (%s); resubscribing in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                await self._resubscribe()
                continue
            if message is not None:
                self._dispatch(message)

    async def _resubscribe(self) -> None:
        """Subscribe every channel again, on the node serving its slot now (a cluster may have
        failed over). Changes published while the subscription was down are gone, so each
        channel's maps are sent for a fresh snapshot once Redis confirms its renewal
        (`_dispatch`): a snapshot read before that could miss one more change. If the renewal
        fails (Redis still away, or the failover not done), the maps are sent at once all the
        same, so that one whose snapshot cannot be read is closed (its client reconnects later)
        rather than left silent; the next read fails, so this runs again."""
        assert self._subscriber is not None
        async with self._subscribing:
            try:
                await self._subscriber.renew()
                return
            except (RedisError, OSError) as exc:
                log.warning("seat feed cannot resubscribe yet: %s", exc)
        for channel in self._channels.values():
            for watcher in channel.watchers:
                watcher.offer(RESYNC)

    def _dispatch(self, message: ChannelMessage) -> None:
        name = message.channel
        channel = self._channels.get(name)
        # A message can still arrive for a channel whose last watcher has just unsubscribed;
        # it must not start a push window that nothing would ever drop.
        if channel is None:
            return
        if message.kind is Kind.SUBSCRIBED:
            channel.confirmed.set()
            return
        if message.kind is Kind.RESUBSCRIBED:
            # Also the first confirmation of a channel whose subscribe a renewal overtook.
            channel.confirmed.set()
            self._push_window.flush(name)
            self._fan_out(name, RESYNC)
            return
        if message.kind is not Kind.MESSAGE:
            return
        data = message.data
        header = orjson.loads(data)
        seq = int(header["seq"])
        if header["type"] == FrameKind.SEATS:
            self._push_window.add(name, channel.event_id, FeedMessage.batch(seq, data))
        else:  # the engine's resync notice, after whatever went before it
            self._push_window.flush(name)
            self._fan_out(name, RESYNC)

    def _fan_out(self, name: str, message: FeedMessage) -> None:
        channel = self._channels.get(name)
        if channel is not None:
            for watcher in channel.watchers:
                watcher.offer(message)
