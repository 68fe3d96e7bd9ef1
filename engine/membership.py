"""This engine process's place among the engine processes that share the shards.

Each process keeps an entry in one sorted set, scored by when its heartbeat lapses on the Redis
server's clock (`members_heartbeat.lua` renews it, drops the lapsed and returns who is left, in
one step). It renews every third of the TTL, the same cadence as a shard lease, and in between
reads a version counter that every join, leave or lapse raises, so a change reaches every engine
within `_WATCH_SECONDS` rather than a whole heartbeat later. A clean stop removes the entry at
once (`members_leave.lua`); a process that dies simply lapses.

A process that finds its own entry must have lapsed (nothing renewed it for a whole TTL: it was
paused, or cut off from Redis) waits `_REJOIN_AFTER_TTLS` TTLs before it announces itself again.
Its shards have been taken meanwhile; rejoining at once would pull them straight back in a second
handover, and a process that pauses now and then would keep the shards moving. It keeps its last
view while it waits, so a lone engine cut off from Redis takes its shards back the moment their
leases can be had, whatever its membership says.

Membership only says who should own what. It never grants a write: the shard lease and its
fencing token remain the only authority, so two engines that briefly disagree on the member list
race for a lease exactly as before, and one of them waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

from redis.exceptions import RedisError

from engine.keys import MembershipKeys
from engine.redis_client import RedisClient
from engine.scripts import Scripts

log = logging.getLogger(__name__)

# How often the version counter is read between heartbeats: one GET, a fifth of a second apart,
# is all a join or a leave waits before every engine recomputes the assignment.
_WATCH_SECONDS: Final = 0.2
_REJOIN_AFTER_TTLS: Final = 2

Members = tuple[str, ...]


class Membership:
    def __init__(self, redis: RedisClient, scripts: Scripts, *, member: str, ttl_ms: int) -> None:
        self._redis = redis
        self._scripts = scripts
        self._keys = MembershipKeys()
        self.member = member
        self.ttl_ms = ttl_ms
        self.members: Members = ()
        self._version = -1
        self._failing = False

    async def heartbeat(self) -> bool:
        """Renew this member's entry and read the live members; return whether they changed."""
        version, raw = await self._scripts.members_heartbeat(
            keys=[self._keys.members, self._keys.version],
            args=[self.member, self.ttl_ms],
            client=self._redis,
        )
        self._version = int(version)
        members = tuple(sorted(item.decode() for item in raw))
        changed = members != self.members
        self.members = members
        return changed

    async def follow(self, on_change: Callable[[Members], None]) -> None:
        """Keep this member alive and call `on_change` with every new member list, until
        cancelled. While Redis cannot be reached the last list stands: this process cannot
        tell who else is alive, and its shard leases, not this list, decide whether it writes."""
        ttl = self.ttl_ms / 1000
        interval = ttl / 3
        next_heartbeat = 0.0
        renewed_at: float | None = None
        while True:
            if renewed_at is not None and time.monotonic() - renewed_at > ttl:
                log.warning(
                    "membership: this engine's entry lapsed (nothing renewed it for %.1fs); "
                    "rejoining in %.1fs",
                    time.monotonic() - renewed_at,
                    _REJOIN_AFTER_TTLS * ttl,
                )
                await asyncio.sleep(_REJOIN_AFTER_TTLS * ttl)
                renewed_at = None
            try:
                async with asyncio.timeout(interval):
                    if time.monotonic() >= next_heartbeat or await self._version_moved():
                        next_heartbeat = time.monotonic() + interval
                        sent_at = time.monotonic()
                        changed = await self.heartbeat()
                        renewed_at = sent_at
                        if changed:
                            on_change(self.members)
            except (RedisError, OSError, TimeoutError) as exc:
                if not self._failing:
                    log.warning("membership: heartbeat failed, keeping the last view: %s", exc)
                self._failing = True
            else:
                if self._failing:
                    log.info("membership: heartbeat working again")
                self._failing = False
            await asyncio.sleep(_WATCH_SECONDS)

    async def _version_moved(self) -> bool:
        raw = await self._redis.get(self._keys.version)
        return int(raw or 0) != self._version

    async def leave(self) -> None:
        """Remove this member at once, so the others start taking its shards; if Redis cannot
        be reached the entry lapses within the TTL instead."""
        try:
            async with asyncio.timeout(self.ttl_ms / 1000 / 3):
                await self._scripts.members_leave(
                    keys=[self._keys.members, self._keys.version],
                    args=[self.member],
                    client=self._redis,
                )
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("membership: leave failed (the entry will lapse): %s", exc)
