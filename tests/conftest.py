"""Real servers for the whole suite: one Redis and one MariaDB per session, on free loopback
ports, in a temporary folder. Each test starts from empty Redis and empty tables.

A test that asks for `redis_url` with the parameter "cluster" (tests.helpers.redis_modes) runs
on a real Redis Cluster instead, started the first time a test needs it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from config import Settings
from devstack.servers import MariaDBServer, RedisClusterServer, RedisServer
from engine.redis_client import RedisClient, connect_redis
from gateway.app import make_app
from persistence import Database
from persistence.migrate import migrate

pytest_plugins = [
    "tests.helpers.users",
    "tests.helpers.catalog",
    "tests.helpers.engine",
    "tests.helpers.fake_stripe",
]

APP_TABLES = (
    "waiting_rooms",
    "booking_seats",
    "bookings",
    "payments",
    "hold_seats",
    "holds",
    "event_seats",
    "event_prices",
    "events",
    "seats",
    "price_categories",
    "venues",
    "users",
    "shard_fences",
    "payment_events",
    "outbox",
)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), durable=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServer]:
    """Three masters with a replica each, so the turn's WAIT has a replica to count."""
    cluster = RedisClusterServer(
        tmp_path_factory.mktemp("redis-cluster"), replicas=1, durable=False
    )
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """The Redis every client of the test uses: the session's one server unless the test is
    parametrized with "cluster" (indirectly, see tests.helpers.redis_modes), or every
    test when RUSHQUEUE_TEST_REDIS=cluster (a whole-suite check, not part of `make test`). The
    servers are looked up lazily, so a run that never asks for the cluster never starts it."""
    mode: str = getattr(request, "param", os.environ.get("RUSHQUEUE_TEST_REDIS", "single"))
    if mode == "cluster":
        cluster: RedisClusterServer = request.getfixturevalue("redis_cluster")
        return cluster.url
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb"), durable=False)
    server.start()
    settings = Settings.from_env({"DATABASE_URL": server.url}).database

    async def apply() -> None:
        db = await Database.connect(settings)
        try:
            await migrate(db)
        finally:
            await db.close()

    asyncio.run(apply())
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, so restarting it disturbs nobody else."""
    server = RedisServer(tmp_path / "private-redis").start()
    yield server
    server.stop()


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[RedisClusterServer]:
    """A Redis Cluster of this test's own (three masters with a replica each), so killing one
    of its nodes disturbs nobody else."""
    cluster = RedisClusterServer(tmp_path / "cluster", replicas=1, durable=False).start()
    yield cluster
    cluster.stop()


@pytest.fixture
async def private_mariadb(tmp_path: Path) -> AsyncIterator[MariaDBServer]:
    """A migrated MariaDB of this test's own, so stopping it disturbs nobody else."""
    server = MariaDBServer(tmp_path / "private-mariadb", durable=False).start()
    try:
        db = await Database.connect(Settings.from_env({"DATABASE_URL": server.url}).database)
        try:
            await migrate(db)
        finally:
            await db.close()
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_settings(redis_url: str, mariadb_server: MariaDBServer) -> Callable[..., Settings]:
    """Settings for a test; keyword overrides are environment variables."""

    def build(**overrides: str) -> Settings:
        env = {
            "RUSHQUEUE_ENV": "test",
            "REDIS_URL": redis_url,
            "DATABASE_URL": mariadb_server.url,
            "ARGON2_PROFILE": "cheapest",
            "ENGINE_SHARDS": "2",
            "ENGINE_LEASE_TTL_MS": "1500",
            # In-process engines run without the flusher process, so they write their journals
            # through themselves (tests/engine/test_flusher.py runs the flusher).
            "WRITE_BEHIND": "inline",
            "ENGINE_DECISION_TIMEOUT_SECONDS": "5",
            "LOG_LEVEL": "DEBUG",
            # A deletion must show on the very next request here; the one-second memory has
            # its own tests (tests/gateway/test_revocation.py).
            "AUTH_REVOCATION_CACHE_MS": "0",
        }
        env.update(overrides)
        return Settings.from_env(env)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[RedisClient]:
    client = connect_redis(settings.redis)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = await Database.connect(settings.database)
    async with database.transaction() as conn:
        await conn.execute("SET FOREIGN_KEY_CHECKS = 0")
        for table in APP_TABLES:
            await conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        await conn.execute("SET FOREIGN_KEY_CHECKS = 1")
    yield database
    await database.close()


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    settings: Settings,
    db: Database,
    redis: RedisClient,
) -> TestClient[web.Request, web.Application]:
    """The gateway app on a test server, over clean Redis and MariaDB."""
    return await aiohttp_client(make_app(settings))
