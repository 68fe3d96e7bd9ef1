"""A shard's lease: who may run its actor, and the fencing token that proves it.

The lease is a Redis key set with NX and a TTL; taking it also increments the shard's fence
counter, and that number is the owner's token. Every write the actor makes checks the token, so
an owner that was paused past its TTL and then wakes up cannot write after someone else took over
even if it has not noticed yet. The owner also stops itself as soon as a renewal is late.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from redis.exceptions import RedisError

from engine.keys import ShardKeys
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from engine.shard_count import ShardCountMismatch

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """This process no longer owns the shard; its actor must stop at once."""


class ShardLease:
    def __init__(
        self,
        redis: RedisClient,
        scripts: Scripts,
        keys: ShardKeys,
        *,
        ttl_ms: int,
        owner: str,
        shard_count: int,
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self.keys = keys
        self.ttl_ms = ttl_ms
        self.owner = owner
        self.shard_count = shard_count
        self.token = 0
        self._valid_until = 0.0

    @staticmethod
    def new_owner_id() -> str:
        return uuid.uuid4().hex

    @property
    def held(self) -> bool:
        """True while the last renewal is recent enough that nobody else can have the lease."""
        return self.token > 0 and time.monotonic() < self._valid_until

    def _validity_from(self, sent_at: float) -> float:
        # Counted from when the request left, minus a margin for clock drift between hosts.
        return sent_at + self.ttl_ms / 1000 * 0.8

    async def try_acquire(self) -> bool:
        """Take the lease if it is free; raise `ShardCountMismatch`, taking nothing, if the
        shard's stored count is not ours (checked in the same script as the lease)."""
        sent_at = time.monotonic()
        token = await self._scripts.lease_acquire(
            keys=[self.keys.lease, self.keys.fence, self.keys.shard_count],
            args=[self.owner, self.ttl_ms, self.shard_count],
            client=self._redis,
        )
        if token is None:
            return False
        if isinstance(token, bytes):
            raise ShardCountMismatch(configured=self.shard_count, stored=int(token))
        self.token = int(token)
        self._valid_until = self._validity_from(sent_at)
        return True

    async def renew(self) -> None:
        sent_at = time.monotonic()
        renewed = await self._scripts.lease_renew(
            keys=[self.keys.lease, self.keys.fence],
            args=[self.owner, self.ttl_ms, self.token],
            client=self._redis,
        )
        if not renewed:
            self._valid_until = 0.0
            raise LeaseLost(f"shard {self.keys.shard}: lease taken over")
        self._valid_until = self._validity_from(sent_at)

    async def keep_renewed(self) -> None:
        """Renew every third of the TTL; raise LeaseLost as soon as the lease can't be trusted."""
        interval = self.ttl_ms / 1000 / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(interval):
                    await self.renew()
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("shard %d: lease renewal failed: %s", self.keys.shard, exc)
            if not self.held:
                raise LeaseLost(f"shard {self.keys.shard}: lease renewal is overdue")

    async def release(self) -> None:
        if self.token == 0:
            return
        self._valid_until = 0.0
        try:
            await self._scripts.lease_release(
                keys=[self.keys.lease], args=[self.owner], client=self._redis
            )
        except RedisError as exc:
            log.warning("shard %d: lease release failed (it will lapse): %s", self.keys.shard, exc)
