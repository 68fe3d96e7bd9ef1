"""The one way to build a Redis client, sized for the blocking readers that share its pool."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config import RedisSettings


def connect_redis(settings: RedisSettings, *, extra_connections: int = 0) -> Redis:
    """A client whose pool waits for a free connection instead of failing.

    `extra_connections` reserves room for connections that blocking commands hold for their
    whole wait (one per actor, one reply reader), so they never starve ordinary commands.
    """
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
