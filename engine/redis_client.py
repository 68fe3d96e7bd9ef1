"""The one way to build a Redis client, sized for the blocking readers that share its pool.

`REDIS_URL` picks the kind (config.RedisSettings): one server (`redis://`) or a Redis Cluster
(`redis+cluster://`). Every other module takes a `RedisClient` and works with either: each
script, pipeline and blocking read touches keys of one hash slot (engine.keys), and the few
places where the two clients differ (pub/sub, the turn's WAIT) ask `is_cluster`.
"""

from __future__ import annotations

from typing import Any, TypeAlias, TypeGuard

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
    """redis-py raises SlotNotCoveredError, which is no RedisError, once its retries run out
    while a dead master's slots await a replica's promotion; here it becomes one."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except SlotNotCoveredError as exc:
            raise ClusterUnavailable(str(exc)) from exc

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        # As redis-py builds its own; its typing marks an attribute abstract that is not.
        return _ClusterPipeline(self, transaction)  # type: ignore[abstract]


class _ClusterPipeline(ClusterPipeline):
    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        try:
            return await super().execute(raise_on_error, allow_redirections)
        except SlotNotCoveredError as exc:
            raise ClusterUnavailable(str(exc)) from exc


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
    node (their keys' slots decide), so each node's pool is sized as the single server's is.
    Unlike that pool it does not wait for a free connection: past its size a command fails at
    once (MaxConnectionsError), which the sizing is there to prevent.

    Retries with back-off cover a failover: while a dead master's replica is promoted its slots
    answer with connection errors, then MOVED to the new master, which redis-py follows after
    refreshing its slot map."""
    return _Cluster(
        startup_nodes=[ClusterNode(node.host, node.port) for node in settings.seed_nodes],
        username=settings.username,
        password=settings.password,
        max_connections=settings.max_connections + extra_connections,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=6),
    )
