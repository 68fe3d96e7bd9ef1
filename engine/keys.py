"""Every Redis key and channel the engine uses, built in one place.

Keys that belong to a shard carry the hash tag `{rq:N}`, so every multi-key script stays inside
one Redis Cluster slot. Reply lists belong to a gateway, not a shard, and carry their own tag;
the engine processes' membership keys share the tag `{rq:engines}`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

PREFIX: Final = "rq"


def shard_of(event_id: int, shard_count: int) -> int:
    """The shard that owns an event. crc32 is stable across processes, unlike `hash()`."""
    return zlib.crc32(str(event_id).encode()) % shard_count


@dataclass(frozen=True, slots=True)
class ShardKeys:
    shard: int

    @property
    def tag(self) -> str:
        return f"{{{PREFIX}:{self.shard}}}"

    @property
    def commands(self) -> str:
        return f"{self.tag}:commands"

    @property
    def inflight(self) -> str:
        return f"{self.tag}:inflight"

    @property
    def lease(self) -> str:
        return f"{self.tag}:lease"

    @property
    def fence(self) -> str:
        return f"{self.tag}:fence"

    @property
    def shard_count(self) -> str:
        """The deployment's shard count, as this shard was told it: one copy per shard, so the
        lease script can check it inside the shard's own slot."""
        return f"{self.tag}:shard-count"

    @property
    def journal(self) -> str:
        return f"{self.tag}:journal"

    @property
    def journal_replicated(self) -> str:
        """A counter each journal writer bumps before it writes entries through, so that a
        replica's acknowledgement of the bump proves it holds the entries (engine.writebehind)."""
        return f"{self.tag}:journal-replicated"

    @property
    def expiries(self) -> str:
        return f"{self.tag}:expiries"

    def lock(self, event_seat_id: int) -> str:
        return f"{self.tag}:lock:{event_seat_id}"

    @property
    def lock_pattern(self) -> str:
        return f"{self.tag}:lock:*"

    def hold(self, hold_id: str) -> str:
        return f"{self.tag}:hold:{hold_id}"

    def result(self, command_id: str) -> str:
        return f"{self.tag}:result:{command_id}"

    def seat_status(self, event_id: int) -> str:
        return f"{self.tag}:event:{event_id}:status"

    def seat_seq(self, event_id: int) -> str:
        return f"{self.tag}:event:{event_id}:seq"

    def seat_channel(self, event_id: int) -> str:
        return f"{self.tag}:event:{event_id}:seats"

    def queue_room(self, event_id: int) -> str:
        """The event's waiting room as the actor last decided it (a `RoomWire` text)."""
        return f"{self.tag}:event:{event_id}:queue:room"

    def queue_places(self, event_id: int) -> str:
        """The event's queue places: user id -> place record."""
        return f"{self.tag}:event:{event_id}:queue:places"

    def queue_channel(self, event_id: int) -> str:
        """Where the room's progress is published; every message is a whole `RoomWire`."""
        return f"{self.tag}:event:{event_id}:queue"


def reply_list(client_id: str) -> str:
    return f"{PREFIX}:reply:{{{client_id}}}"


@dataclass(frozen=True, slots=True)
class MembershipKeys:
    """Which engine processes are alive: one slot of their own, so the heartbeat script that
    reads and writes both keys stays inside it on a cluster."""

    @property
    def tag(self) -> str:
        return f"{{{PREFIX}:engines}}"

    @property
    def members(self) -> str:
        """Sorted set: member id -> the Redis server's milliseconds when its heartbeat lapses."""
        return f"{self.tag}:members"

    @property
    def version(self) -> str:
        """Counter raised whenever a member joins, leaves or lapses."""
        return f"{self.tag}:version"
