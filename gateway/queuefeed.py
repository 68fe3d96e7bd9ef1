"""Waiting-room progress for every open queue screen, from one Redis subscription per event.

The event's actor publishes its whole room (`RoomWire`) as one text whenever admission moves on
(at most about once a second) or the organizer changes a setting. A buyer's page knows its own
rank, so that one text tells every waiting buyer where they stand. This process turns each
message into one websocket frame, once, and writes those same bytes to every socket's transport
straight from the subscription reader: no task wakes up, no frame is built, per socket. 50,000
waiting sockets cost one message per update and a `write` each, never a message computed per
buyer. (The frames are plain unmasked text frames, which is what a server sends; per-message
deflate is off on these sockets, so aiohttp's own writer would send the very same bytes.)

Every message is complete, so there is nothing to replay: a socket only needs the newest, and
skips one older than what it has already sent (its first frame is read from Redis and may be
newer than a message that arrived meanwhile). A socket whose unsent bytes pile up is not reading
and is closed instead of growing without bound; after a lost subscription the room is read
afresh, once per event, and sent to every socket.

What is kept for an event (its watchers and subscription) is created by its first watcher and
dropped with its last, so memory follows the sockets open, never the event ids asked about.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self, cast

import orjson
from redis.exceptions import RedisError

from config import EngineSettings
from engine.keys import ShardKeys, shard_of
from engine.redis_client import RedisClient
from engine.waiting import cancel_and_wait
from gateway.shardchannels import ChannelMessage, Kind, ShardChannels

log = logging.getLogger(__name__)

# Updates come about once a second and are a few hundred bytes: a socket with this much unsent
# is not reading at all.
_MAX_UNSENT_BYTES: Final = 64 * 1024
_POLL_SECONDS: Final = 1.0
_SUBSCRIBE_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class RoomFrame:
    """One room text, its decision time read once, and the websocket frame that carries it."""

    at: int
    data: bytes
    frame: bytes

    @classmethod
    def of(cls, data: bytes) -> RoomFrame:
        return cls(at=int(orjson.loads(data)["at"]), data=data, frame=text_frame(data))


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame (RFC 6455 section 5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


@dataclass(slots=True, eq=False)
class QueueWatcher:
    """One open queue screen. Until its first frame is out (`start`), updates are held back,
    the newest kept; from then on each is written to its transport as it arrives."""

    transport: asyncio.Transport | None = None
    at: int = 0
    held: RoomFrame | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self, transport: asyncio.Transport, at: int) -> None:
        """The first frame (of time `at`) is out: send what came meanwhile, if newer."""
        self.transport, self.at = transport, at
        held, self.held = self.held, None
        if held is not None:
            self.offer(held)

    def offer(self, frame: RoomFrame) -> None:
        # Equal times go out too: a setting changed within the tick that was last sent.
        if frame.at < self.at or self.ended.is_set():
            return
        transport = self.transport
        if transport is None:
            self.held = frame
            return
        if transport.is_closing() or transport.get_write_buffer_size() > _MAX_UNSENT_BYTES:
            self.close()
            return
        transport.write(frame.frame)
        self.at = frame.at

    def close(self) -> None:
        """Ask the socket's handler to close it (it fell behind, or the gateway stops)."""
        self.ended.set()


@dataclass(slots=True, eq=False)
class _Channel:
    room_key: str
    watchers: set[QueueWatcher] = field(default_factory=set)
    subscribe_sent: bool = False
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)


class QueueFeed:
    def __init__(self, redis: RedisClient, settings: EngineSettings) -> None:
        self._redis = redis
        self._settings = settings
        self._subscriber: ShardChannels | None = None
        self._channels: dict[str, _Channel] = {}
        self._reader: asyncio.Task[None] | None = None
        self._subscribing = asyncio.Lock()

    async def __aenter__(self) -> Self:
        self._subscriber = ShardChannels(self._redis)
        self._reader = asyncio.create_task(self._read(), name="queue-feed")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            await cancel_and_wait(self._reader)
        if self._subscriber is not None:
            await self._subscriber.aclose()

    def close_watchers(self) -> None:
        """Ask every open queue screen to close (graceful shutdown: handlers must finish)."""
        for channel in self._channels.values():
            for watcher in channel.watchers:
                watcher.close()

    def watching(self, event_id: int) -> int:
        """Sockets of this process watching the event (for tests and metrics)."""
        channel = self._channels.get(self.channel(event_id))
        return 0 if channel is None else len(channel.watchers)

    def channel(self, event_id: int) -> str:
        return ShardKeys(shard_of(event_id, self._settings.shards)).queue_channel(event_id)

    @contextlib.asynccontextmanager
    async def watch(self, event_id: int) -> AsyncIterator[QueueWatcher]:
        """Watch an event's room. On entry the subscription is confirmed by Redis, so a room
        read afterwards is never older than the next message."""
        assert self._subscriber is not None, "use QueueFeed as an async context manager"
        keys = ShardKeys(shard_of(event_id, self._settings.shards))
        name = keys.queue_channel(event_id)
        watcher = QueueWatcher()
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = _Channel(room_key=keys.queue_room(event_id))
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
                log.warning("queue feed lost Redis (%s); resubscribing in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                await self._resubscribe()
                continue
            if message is None:
                continue
            self._dispatch(message)
            if message.kind is Kind.RESUBSCRIBED:
                await self._reread(message.channel)

    async def _resubscribe(self) -> None:
        """Subscribe every channel again, on the node serving its slot now (a cluster may have
        failed over). Updates published while the subscription was down are gone, so each
        channel's screens get their room read afresh once Redis confirms its renewal. If the
        renewal fails, they are served at once all the same (one whose room cannot be read is
        closed), and the next read fails, so this runs again."""
        assert self._subscriber is not None
        async with self._subscribing:
            try:
                await self._subscriber.renew()
                return
            except (RedisError, OSError) as exc:
                log.warning("queue feed cannot resubscribe yet: %s", exc)
        for name in list(self._channels):
            await self._reread(name)

    def _dispatch(self, message: ChannelMessage) -> None:
        channel = self._channels.get(message.channel)
        if channel is None:  # its last watcher has just left
            return
        if message.kind in (Kind.SUBSCRIBED, Kind.RESUBSCRIBED):
            # A renewal's confirmation is also the first of a subscribe it overtook.
            channel.confirmed.set()
            return
        if message.kind is not Kind.MESSAGE:
            return
        data = message.data
        try:
            frame = RoomFrame.of(data)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("queue feed ignored a message that is not a room: %.80r", data)
            return
        for watcher in channel.watchers:
            watcher.offer(frame)

    async def _reread(self, name: str) -> None:
        channel = self._channels.get(name)
        if channel is None:  # its last watcher has just left
            return
        try:
            # The gateway's Redis client never decodes responses: this is bytes.
            data = cast(bytes | None, await self._redis.get(channel.room_key))
        except (RedisError, OSError) as exc:
            log.warning("queue feed cannot reread %s (%s); closing its sockets", name, exc)
            data = None
        for watcher in list(channel.watchers):
            if data is None:
                watcher.close()
            else:
                watcher.offer(RoomFrame.of(data))
