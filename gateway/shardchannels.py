"""Sharded pub/sub (`SSUBSCRIBE`), the same on one Redis server and on a Redis Cluster.

The engine publishes seat changes, resync notices and waiting-room progress with `SPUBLISH`
(engine/scripts/apply.lua, restore.lua) on channels that carry their shard's hash tag. On a
cluster a sharded message travels only to the nodes that serve the channel's slot, not over the
whole cluster bus as `PUBLISH` does, so the notices of one shard cost the other masters nothing.
Redis 7 serves `SSUBSCRIBE` on a single server too, which keeps one code path for both.

redis-py hands out a different subscriber for each kind of client: a `PubSub` on one connection
for a single server, a `ClusterPubSub` with a connection per node for a cluster (read with
`get_sharded_message`). This module hides that difference from the seat and queue feeds.

After a lost connection (a node restarted, or a master failed over to its replica) `renew`
starts again from a fresh subscriber, asking each channel's slot owner as the client now knows
it, so a subscription follows its slot to whichever node serves it. A subscription can also end
without a lost connection: when a slot leaves a node (the node learns that its replica was
promoted in its place, or the slot is resharded), Redis 7 unsubscribes that node's clients from
the slot's sharded channels with a `SUNSUBSCRIBE` of its own. And redis-py's subscriber, finding
its connection closed between two reads (the cluster client's pipeline retry closes every
connection of its client, this one included), reconnects and subscribes again by itself, so
that what was published in between is lost without a word; the confirmation it then reads is
the only sign. A read reports each of these as an outage, so the feed renews and resyncs its
sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, SlotNotCoveredError

from engine.redis_client import ClusterUnavailable, RedisClient, is_cluster, read_slot_map


class Kind(Enum):
    SUBSCRIBED = "subscribed"  # Redis confirmed a subscription
    # Redis confirmed a renewed subscription: from here on nothing is missed, and whatever was
    # published since the subscription was lost is gone, so this is when to read afresh.
    RESUBSCRIBED = "resubscribed"
    MESSAGE = "message"
    OTHER = "other"  # an unsubscribe confirmation and the like


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    kind: Kind
    channel: str
    data: bytes


_KINDS = {
    "ssubscribe": Kind.SUBSCRIBED,
    "resubscribe": Kind.RESUBSCRIBED,
    "smessage": Kind.MESSAGE,
}


class ShardChannels:
    """One subscriber for many sharded channels. Not safe for concurrent subscribe calls: the
    feeds serialise them (their `_subscribing` lock)."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._names: set[str] = set()
        self._pubsub = self._open()
        # Set while a renewal has not finished: reads fail until one does, so the caller's
        # retry loop keeps trying instead of waiting on a subscriber that lacks channels.
        self._renewing = False
        # Set once a subscribe has gone out: before that the subscriber has no connection, and
        # redis-py answers a read with a RuntimeError, no RedisError, that would end the reader.
        self._connected = False
        # Channels subscribed or unsubscribed here whose confirmation has not been read: any
        # other confirmation of a wanted channel means the subscription had a gap.
        self._joining: set[str] = set()
        self._leaving: set[str] = set()
        # Channels renewed here whose confirmation has not been read yet.
        self._rejoining: set[str] = set()

    def _open(self) -> PubSub:
        return self._redis.pubsub()

    @property
    def subscribed(self) -> bool:
        """Whether there is anything to read: a channel wanted, and its subscribe sent or its
        renewal owed. While a renewal is owed (the last one failed, say because the failover
        was still under way) a read raises, which sends the reader to renew again; were the
        reader left waiting for a subscribe instead, nothing would ever renew the channels."""
        return bool(self._names) and (self._connected or self._renewing)

    async def subscribe(self, name: str) -> None:
        self._names.add(name)
        self._joining.add(name)
        with _as_outage():
            if is_cluster(self._redis):
                # ClusterPubSub picks the node from the client's slot map, which a client that
                # has sent no command yet has not read.
                await self._redis.initialize()
            await self._pubsub.ssubscribe(name)
        self._connected = True

    async def unsubscribe(self, name: str) -> None:
        self._names.discard(name)
        self._leaving.add(name)
        with _as_outage():
            await self._pubsub.sunsubscribe(name)

    async def get_message(self, wait_seconds: float) -> ChannelMessage | None:
        """The next message or confirmation, waiting up to about `wait_seconds` for one; raises
        RedisError or OSError once the connection (or, on a cluster, a node's) is lost."""
        if self._renewing:
            raise RedisConnectionError("sharded subscriptions are not renewed yet")
        pubsub = self._pubsub
        if isinstance(pubsub, ClusterPubSub):
            if not pubsub.node_pubsub_mapping:
                # Nothing to read from yet (a subscribe under way); redis-py would answer at once.
                await asyncio.sleep(wait_seconds)
                return None
            with _as_outage():
                raw = await pubsub.get_sharded_message(timeout=wait_seconds)
        else:
            raw = await pubsub.get_message(timeout=wait_seconds)
        if raw is None:
            return None
        kind, channel, data = _text(raw["type"]), _text(raw["channel"]), raw["data"]
        if kind == "ssubscribe":
            self._check_joined(channel)
            if channel in self._rejoining:
                self._rejoining.discard(channel)
                kind = "resubscribe"
        elif kind == "sunsubscribe":
            self._check_left(channel)
        return ChannelMessage(
            _KINDS.get(kind, Kind.OTHER),
            channel,
            data if isinstance(data, bytes) else str(data).encode(),
        )

    def _check_joined(self, channel: str) -> None:
        """Raise SubscriptionLost if redis-py, not this subscriber, subscribed a wanted channel
        again (after reconnecting by itself)."""
        if channel in self._joining:
            self._joining.discard(channel)
        elif channel in self._names:
            raise SubscriptionLost(f"{channel} was subscribed again after a silent reconnect")

    def _check_left(self, channel: str) -> None:
        """Raise SubscriptionLost if Redis, not this subscriber, ended a wanted channel's
        subscription."""
        if channel in self._leaving:
            self._leaving.discard(channel)
        elif channel in self._names:
            raise SubscriptionLost(f"Redis ended the sharded subscription to {channel}")

    async def renew(self) -> None:
        """A fresh subscriber, subscribed again to every channel, each on the node that serves
        its slot now; each channel's confirmation is read as `Kind.RESUBSCRIBED`. Raises
        RedisError or OSError if that cannot be done yet (a failover still under way); calling
        it again later carries on from scratch."""
        self._renewing = True
        self._connected = False
        self._joining = set(self._names)
        self._rejoining = set(self._names)
        self._leaving.clear()
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        self._pubsub = self._open()
        await read_slot_map(self._redis)
        with _as_outage():
            for name in sorted(self._names):
                await self._pubsub.ssubscribe(name)
        self._connected = bool(self._names)
        self._renewing = False

    async def aclose(self) -> None:
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]


class SubscriptionLost(RedisConnectionError):
    """A subscription this subscriber still wants had a gap: Redis unsubscribed the channel (its
    slot left the node: the node became a replica of the one promoted in its place, or the slot
    was resharded), or redis-py subscribed it again after reconnecting by itself. Like a lost
    connection, it calls for a renewal."""


@contextlib.contextmanager
def _as_outage() -> Iterator[None]:
    """ClusterPubSub looks channels' nodes up itself and raises SlotNotCoveredError, which is
    no RedisError, while a failover leaves a slot without a master."""
    try:
        yield
    except SlotNotCoveredError as exc:
        raise ClusterUnavailable(str(exc)) from exc


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
