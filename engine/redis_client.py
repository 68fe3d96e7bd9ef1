"""The one way to build a Redis client, sized for the blocking readers that share its pool.

`REDIS_URL` picks the kind (config.RedisSettings): one server (`redis://`) or a Redis Cluster
(`redis+cluster://`). Every other module takes a `RedisClient` and works with either: each
script, pipeline and blocking read touches keys of one hash slot (engine.keys), and the few
places where the two clients differ (pub/sub, the turn's WAIT) ask `is_cluster`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, Final, TypeAlias, TypeGuard

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import SlotNotCoveredError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config import RedisMode, RedisSettings

RedisClient: TypeAlias = Redis | RedisCluster
RedisPipeline: TypeAlias = Pipeline | ClusterPipeline


def is_cluster(redis: RedisClient) -> TypeGuard[RedisCluster]:
    return isinstance(redis, RedisCluster)


async def read_slot_map(redis: RedisClient) -> None:
    """On a cluster, have the client read which node serves which slot, if it has not yet or
    again after a lost node. redis-py's pub/sub looks a channel's node up in that map without
    ever reading it itself: before the client's first command it is empty, and after a failover
    it names the dead master until some command is redirected. A no-op for one server."""
    if not is_cluster(redis):
        return
    try:
        await redis.initialize()  # the first time: the whole client, slot map included
        await redis.nodes_manager.initialize()
    except SlotNotCoveredError as exc:
        raise ClusterUnavailable(str(exc)) from exc


def queue_replica_wait(
    redis: RedisClient, pipe: RedisPipeline, tag: str, replicas: int, wait_ms: int
) -> None:
    """Add `WAIT replicas wait_ms` to `pipe`, on the connection of the node that serves `tag`'s
    slot: WAIT counts the writes made on its own connection. Keyless, a cluster pipeline would
    send it to any node, so it is pointed at the right one."""
    if is_cluster(redis):
        node = redis.get_node_from_key(tag)
        pipe.execute_command("WAIT", replicas, wait_ms, target_nodes=node)
    else:
        pipe.execute_command("WAIT", replicas, wait_ms)


class ClusterUnavailable(RedisConnectionError):
    """A slot has no master right now (a failover under way): an outage like a lost connection,
    which every caller already handles as a RedisError."""


class _Cluster(RedisCluster):
    """redis-py's cluster client with the three things it lacks for a rush, each at the one
    place every command and pipeline passes through:

    - It never waits for a free connection: past a node's pool size a command fails at once
      (MaxConnectionsError). Worse, a pipeline that meets that error, or any lost connection,
      closes the whole client before its retry, under every other command in flight. So
      commands queue here for one of `max_in_flight` permits, as many as a node's pool holds:
      however the slots fall, no node is asked for more connections than it has.
    - A command whose connection that reset closed under it fails with the transport's
      RuntimeError or AttributeError (redis-py issue 4287's kind); such an error, raised while
      a reset happened, is the outage it is.
    - SlotNotCoveredError, which is no RedisError, comes once its retries run out while a dead
      master's slots await a replica's promotion.
    All three become `ClusterUnavailable`, which callers already handle as a RedisError."""

    def __init__(self, *, max_in_flight: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._permits = asyncio.Semaphore(max_in_flight)
        self._resets = 0

    async def aclose(self) -> None:
        self._resets += 1
        await super().aclose()

    @asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """A permit for one command or pipeline, unless this task holds one already (a command
        redis-py issues while running another must not wait for a permit behind itself)."""
        if _holds_permit.get():
            yield
            return
        resets = self._resets
        async with self._permits:
            token = _holds_permit.set(True)
            try:
                yield
            except SlotNotCoveredError as exc:
                raise ClusterUnavailable(str(exc)) from exc
            except (RuntimeError, AttributeError) as exc:
                if self._resets == resets:
                    raise
                raise ClusterUnavailable(f"the client reset its connections: {exc}") from exc
            finally:
                _holds_permit.reset(token)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self.in_flight():
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        # As redis-py builds its own; its typing marks an attribute abstract that is not.
        return _ClusterPipeline(self, transaction)  # type: ignore[abstract]


# The pub/sub readers one process keeps (seat notices, revocations, the waiting room's feeds).
_SUBSCRIBER_CONNECTIONS: Final = 8
_holds_permit: ContextVar[bool] = ContextVar("holds_cluster_permit", default=False)


class _ClusterPipeline(ClusterPipeline):
    def __init__(self, client: _Cluster, transaction: Any | None = None) -> None:
        super().__init__(client, transaction=transaction)
        self._cluster = client

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        async with self._cluster.in_flight():
            return await super().execute(raise_on_error, allow_redirections)


def connect_redis(settings: RedisSettings, *, extra_connections: int = 0) -> RedisClient:
    """A client for one server or for a cluster, as `settings.mode` says.

    `extra_connections` reserves room for connections that blocking commands hold for their
    whole wait (one per actor, one reply reader), so they never starve ordinary commands.
    """
    if settings.mode is RedisMode.CLUSTER:
        return _connect_cluster(settings, extra_connections)
    pool = BlockingConnectionPool.from_url(
        settings.url,
        max_connections=settings.max_connections + extra_connections,
        timeout=settings.socket_timeout,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    # from_pool hands the pool to the client, so closing the client closes its connections.
    return Redis.from_pool(pool)


def _connect_cluster(settings: RedisSettings, extra_connections: int) -> RedisCluster:
    """The cluster client keeps a pool per node, and every blocking reader may land on the same
    node (their keys' slots decide), so each node's pool is sized as the single server's is,
    with room besides for the sharded subscriptions, which hold a node's connection for their
    life outside the client's permits.

    Retries with back-off cover a failover: while a dead master's replica is promoted its slots
    answer with connection errors, then MOVED to the new master, which redis-py follows after
    refreshing its slot map."""
    in_flight = settings.max_connections + extra_connections
    return _Cluster(
        max_in_flight=in_flight,
        startup_nodes=[ClusterNode(node.host, node.port) for node in settings.seed_nodes],
        username=settings.username,
        password=settings.password,
        max_connections=in_flight + _SUBSCRIBER_CONNECTIONS,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=6),
    )
