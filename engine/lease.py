"""A shard's lease: who may run its actor, and the fencing token that proves it.

The lease is a Redis key set with NX and a TTL; taking it also increments the shard's fence
counter, and that number is the owner's token. Every write the actor makes checks the token, so
an owner that was paused past its TTL and then wakes up cannot write after someone else took over
even if it has not noticed yet. The owner also stops itself as soon as a renewal is late.

An engine process renews all the leases it holds together (`LeaseRenewals`): one pipelined round
trip every third of the TTL, however many shards it owns, rather than one per shard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from redis.exceptions import NoScriptError, RedisError

from engine.keys import ShardKeys
from engine.redis_client import RedisClient, queue_replica_wait
from engine.scripts import Scripts
from engine.shard_count import ShardCountMismatch
from engine.waiting import wait_until_set

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
        min_replicas: int = 0,
        replica_wait_ms: int = 1000,
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self.keys = keys
        self.ttl_ms = ttl_ms
        self.owner = owner
        self.shard_count = shard_count
        self._min_replicas = min_replicas
        self._replica_wait_ms = replica_wait_ms
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
        keys = [self.keys.lease, self.keys.fence, self.keys.shard_count]
        args: list[str | int] = [self.owner, self.ttl_ms, self.shard_count]
        if self._min_replicas:
            token = await self._acquire_replicated(keys, args)
        else:
            token = await self._scripts.lease_acquire(keys=keys, args=args, client=self._redis)
        if token is None:
            return False
        if isinstance(token, bytes):
            raise ShardCountMismatch(configured=self.shard_count, stored=int(token))
        self.token = int(token)
        self._valid_until = self._validity_from(sent_at)
        return True

    async def _acquire_replicated(
        self, keys: list[str], args: list[str | int]
    ) -> int | bytes | None:
        """The lease script and a WAIT in one round trip. A lease (and the fence increment that
        made its token) that no replica holds could be lost with the master, and the promoted
        replica would hand the same token out again: such a lease is let go, not used."""
        script = self._scripts.lease_acquire
        for attempt in range(2):
            async with self._redis.pipeline(transaction=False) as pipe:
                # Not `pipe.evalsha`, which redis-py's cluster pipeline refuses.
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
                queue_replica_wait(
                    self._redis, pipe, self.keys.tag, self._min_replicas, self._replica_wait_ms
                )
                token, replicas = await pipe.execute(raise_on_error=False)
            if isinstance(token, NoScriptError) and not attempt:
                await self._redis.script_load(script.script)
                continue
            break
        if isinstance(token, Exception):
            raise token
        if not isinstance(token, int):
            return token  # type: ignore[no-any-return]  # None (taken) or bytes (count)
        if not (isinstance(replicas, int) and replicas >= self._min_replicas):
            log.warning(
                "shard %d: lease taken but held by %r replicas, %d required; letting it go",
                self.keys.shard,
                replicas,
                self._min_replicas,
            )
            self.token = int(token)
            await self.release()
            self.token = 0
            return None
        return token

    @property
    def renew_keys(self) -> list[str]:
        return [self.keys.lease, self.keys.fence]

    @property
    def renew_args(self) -> list[str | int]:
        return [self.owner, self.ttl_ms, self.token]

    @property
    def seconds_left(self) -> float:
        return self._valid_until - time.monotonic()

    async def renew(self) -> None:
        sent_at = time.monotonic()
        renewed = await self._scripts.lease_renew(
            keys=self.renew_keys, args=self.renew_args, client=self._redis
        )
        self.renewed(sent_at, bool(renewed))

    def renewed(self, sent_at: float, renewed: bool) -> None:
        """The answer to a renewal sent at `sent_at`; raise LeaseLost if it was refused."""
        if not renewed:
            self._valid_until = 0.0
            raise LeaseLost(f"shard {self.keys.shard}: lease taken over")
        self._valid_until = self._validity_from(sent_at)

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


class LeaseRenewals:
    """Renews every lease of this process in one pipelined round trip a third of the TTL apart.

    `run` is the engine's; each owner's `keep` enrolls its lease and raises LeaseLost as soon as
    the lease can't be trusted: refused, or not renewed in time (Redis away, or `run` stuck),
    which it notices by the lease's own validity, not by waiting on `run`.
    """

    def __init__(self, redis: RedisClient, scripts: Scripts, *, ttl_ms: int) -> None:
        self._redis = redis
        self._script = scripts.lease_renew
        self._interval = ttl_ms / 1000 / 3
        self._leases: set[ShardLease] = set()
        self._round = asyncio.Event()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            leases = list(self._leases)
            if leases:
                await self._renew(leases)
            # Every watcher looks at its lease after each round, renewed or not.
            done, self._round = self._round, asyncio.Event()
            done.set()

    async def _renew(self, leases: list[ShardLease]) -> None:
        sent_at = time.monotonic()
        try:
            async with asyncio.timeout(self._interval):
                answers = await self._send(leases)
                if any(isinstance(answer, NoScriptError) for answer in answers):
                    # Redis lost its script cache (a restart): load it and ask once more.
                    await self._redis.script_load(self._script.script)
                    answers = await self._send(leases)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("lease renewal of %d shards failed: %s", len(leases), exc)
            return
        for lease, answer in zip(leases, answers, strict=True):
            if isinstance(answer, Exception):
                log.warning("shard %d: lease renewal failed: %s", lease.keys.shard, answer)
                continue
            # A refused one raises in its watcher, after this round.
            with contextlib.suppress(LeaseLost):
                lease.renewed(sent_at, bool(answer))

    async def _send(self, leases: list[ShardLease]) -> list[object]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for lease in leases:
                # Not `pipe.evalsha`, which redis-py's cluster pipeline refuses: the raw command
                # is routed by its keys' slot, each shard's to its own node.
                pipe.execute_command(
                    "EVALSHA",
                    self._script.sha,
                    2,
                    *lease.renew_keys,
                    *lease.renew_args,
                )
            answers: list[object] = await pipe.execute(raise_on_error=False)
        return answers

    async def keep(self, lease: ShardLease) -> None:
        """Keep `lease` renewed until cancelled; raise LeaseLost once it can't be trusted."""
        self._leases.add(lease)
        try:
            while True:
                await wait_until_set(self._round, max(lease.seconds_left, 0.0))
                if not lease.held:
                    raise LeaseLost(f"shard {lease.keys.shard}: lease lost or renewal overdue")
        finally:
            self._leases.discard(lease)
