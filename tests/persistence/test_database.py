"""Transactions InnoDB rolls back to let another through are run again, not reported as an
outage; other failures are not retried; a server that hangs is an outage, found out in bounded
time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from config import Settings
from devstack.servers import MariaDBServer
from persistence import Database, DatabaseUnavailable, TransactionConflict

if TYPE_CHECKING:
    from persistence.database import Connection


async def lock_fence_row(db: Database, locked: asyncio.Event, release: asyncio.Event) -> None:
    """Hold a row lock on shard 0's fence until `release` is set."""
    async with db.transaction() as conn:
        await conn.execute("SELECT token FROM shard_fences WHERE shard = 0 FOR UPDATE")
        locked.set()
        await release.wait()


@pytest.fixture
async def fence_row(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO shard_fences (shard, token) VALUES (0, 1)")


@pytest.mark.usefixtures("fence_row")
async def test_a_transaction_rolled_back_by_a_lock_wait_is_run_again(db: Database) -> None:
    locked, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(lock_fence_row(db, locked, release))
    await locked.wait()
    attempts = 0

    async def bump(conn: Connection) -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 2:
            release.set()  # the other transaction lets go only after the first attempt failed
            await holder
        await conn.execute("SET SESSION innodb_lock_wait_timeout = 1")
        await conn.execute("UPDATE shard_fences SET token = token + 1 WHERE shard = 0")
        return attempts

    assert await db.run_transaction(bump) == 2
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT token FROM shard_fences WHERE shard = 0") == 2


@pytest.mark.usefixtures("fence_row")
async def test_a_conflict_that_outlasts_every_attempt_is_reported(db: Database) -> None:
    locked, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(lock_fence_row(db, locked, release))
    await locked.wait()
    attempts = 0

    async def bump(conn: Connection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute("SET SESSION innodb_lock_wait_timeout = 1")
        await conn.execute("UPDATE shard_fences SET token = token + 1 WHERE shard = 0")

    try:
        with pytest.raises(TransactionConflict):
            await db.run_transaction(bump, attempts=2)
    finally:
        release.set()
        await holder
    assert attempts == 2


async def test_other_errors_are_not_run_again(db: Database) -> None:
    attempts = 0

    async def broken(conn: Connection) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("a bug, not a conflict")

    with pytest.raises(ValueError, match="a bug"):
        await db.run_transaction(broken)
    assert attempts == 1


async def test_a_hung_server_is_reported_unavailable_within_the_read_timeout(
    make_settings: Callable[..., Settings], db: Database, mariadb_server: MariaDBServer
) -> None:
    # Frozen, not stopped: the kernel still accepts connections, and nothing ever answers.
    settings = make_settings(DATABASE_READ_TIMEOUT_SECONDS="3").database
    database = await Database.connect(settings)
    try:
        async with database.transaction() as conn:
            await conn.fetch_value("SELECT 1")  # a pooled connection, open before the freeze
        mariadb_server.pause()
        try:
            for what in ("a pooled connection", "a new connection"):
                started = time.monotonic()
                with pytest.raises(DatabaseUnavailable):
                    async with database.transaction() as conn:
                        await conn.fetch_value("SELECT 1")
                took = time.monotonic() - started
                assert took < settings.read_timeout_seconds + 1, f"{what}: {took:.1f} s"
        finally:
            mariadb_server.resume()
        async with database.transaction() as conn:
            assert await conn.fetch_value("SELECT 1") == 1, "usable again once it answers"
    finally:
        mariadb_server.resume()
        await database.close()
