"""The asyncmy pool, wrapped so a transaction is one `async with`.

asyncmy connections start with autocommit off. A query cancelled mid-flight leaves unread
packets on its connection; such a connection is closed rather than returned to the pool, where
the next borrower would read someone else's result. Every connect and every read is bounded
(`DatabaseSettings`): a server that hangs without refusing surfaces as `DatabaseUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar

import asyncmy
from asyncmy.cursors import DictCursor
from asyncmy.errors import InterfaceError, OperationalError

from config import DatabaseSettings

log = logging.getLogger(__name__)

Row = dict[str, Any]
T = TypeVar("T")

# ER_LOCK_DEADLOCK and ER_LOCK_WAIT_TIMEOUT: InnoDB rolled the transaction back to let another
# one through. Nothing is wrong with the server; the same transaction run again is expected to
# succeed.
_CONFLICT_CODES: Final = frozenset({1213, 1205})


class DatabaseUnavailable(RuntimeError):
    """MariaDB could not be reached or dropped the connection."""


class TransactionConflict(DatabaseUnavailable):
    """InnoDB rolled the transaction back to break a deadlock or a lock wait; see
    `Database.run_transaction`, which runs it again."""


class Connection:
    """A borrowed connection inside one transaction."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    async def execute(self, sql: str, args: Sequence[Any] | None = None) -> int:
        async with self._raw.cursor() as cursor:
            affected: int = await cursor.execute(sql, args)
            return affected

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        async with self._raw.cursor() as cursor:
            affected: int = await cursor.executemany(sql, rows)
            return affected

    async def insert(self, sql: str, args: Sequence[Any] | None = None) -> int:
        """Run an INSERT and return the new AUTO_INCREMENT id."""
        async with self._raw.cursor() as cursor:
            await cursor.execute(sql, args)
            last: int = cursor.lastrowid
            return last

    async def fetch_all(self, sql: str, args: Sequence[Any] | None = None) -> list[Row]:
        async with self._raw.cursor(DictCursor) as cursor:
            await cursor.execute(sql, args)
            rows: list[Row] = list(await cursor.fetchall())
            return rows

    async def fetch_one(self, sql: str, args: Sequence[Any] | None = None) -> Row | None:
        async with self._raw.cursor(DictCursor) as cursor:
            await cursor.execute(sql, args)
            row: Row | None = await cursor.fetchone()
            return row

    async def fetch_value(self, sql: str, args: Sequence[Any] | None = None) -> Any:
        async with self._raw.cursor() as cursor:
            await cursor.execute(sql, args)
            row = await cursor.fetchone()
            return None if row is None else row[0]


class Database:
    """Owns the pool. Create inside the running loop with `await Database.connect(...)`."""

    def __init__(self, pool: Any, settings: DatabaseSettings) -> None:
        self._pool = pool
        self.settings = settings

    @classmethod
    async def connect(cls, settings: DatabaseSettings) -> Database:
        try:
            pool = await asyncmy.create_pool(
                minsize=settings.pool_min,
                maxsize=settings.pool_max,
                pool_recycle=600,
                **_connection_options(settings, settings.read_timeout_seconds),
            )
        except (OSError, OperationalError) as exc:
            raise DatabaseUnavailable(f"cannot connect to MariaDB: {exc}") from exc
        return cls(pool, settings)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Borrow a connection, commit on success, roll back on error."""
        try:
            raw = await self._pool.acquire()
        except (OSError, OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        try:
            async with _committed(raw) as conn:
                yield conn
        finally:
            self._pool.release(raw)

    @asynccontextmanager
    async def long_transaction(self, *, read_timeout_seconds: float) -> AsyncIterator[Connection]:
        """A transaction on a connection of its own, outside the pool, whose reads may wait up to
        `read_timeout_seconds`: for work that legitimately runs longer than the pool's bound
        (migrations wait for a lock and may rebuild a table). Closed afterwards."""
        try:
            raw = await asyncmy.connect(**_connection_options(self.settings, read_timeout_seconds))
        except (OSError, OperationalError) as exc:
            raise DatabaseUnavailable(f"cannot connect to MariaDB: {exc}") from exc
        try:
            async with _committed(raw) as conn:
                yield conn
        finally:
            raw.close()

    async def run_transaction(
        self, body: Callable[[Connection], Awaitable[T]], *, attempts: int = 3
    ) -> T:
        """`body` in a transaction, run again (from the start, in a fresh transaction) when
        InnoDB rolls it back to break a deadlock: for work that concurrent writers contend on.
        `body` must do nothing outside the database that a second run would repeat."""
        attempt = 1
        while True:
            try:
                async with self.transaction() as conn:
                    return await body(conn)
            except TransactionConflict as exc:
                if attempt >= attempts:
                    raise
                attempt += 1
                log.info("transaction rolled back (%s); running it again", exc)

    async def ping(self) -> bool:
        try:
            async with self.transaction() as conn:
                return bool(await conn.fetch_value("SELECT 1") == 1)
        except DatabaseUnavailable:
            return False

    async def close(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()


def _connection_options(settings: DatabaseSettings, read_timeout_seconds: float) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "user": settings.user,
        "password": settings.password,
        "db": settings.database,
        "autocommit": False,
        "charset": "utf8mb4",
        # Times are stored as UTC: CURRENT_TIMESTAMP must agree with the UTC datetimes Python
        # writes, whatever zone the server runs in.
        "init_command": "SET time_zone = '+00:00'",
        # Covers the TCP connect only; the server's greeting is a read, bounded by read_timeout,
        # which matters most: a frozen server's kernel still accepts connections.
        "connect_timeout": settings.connect_timeout_seconds,
        # asyncmy closes the connection and raises OperationalError when the server sends
        # nothing for this long (asyncmy.connection `_fill_buffer`).
        "read_timeout": read_timeout_seconds,
    }


@asynccontextmanager
async def _committed(raw: Any) -> AsyncIterator[Connection]:
    """Commit on success, roll back on error, and report a lost server as DatabaseUnavailable.
    The caller gives the connection back (pool) or closes it."""
    try:
        yield Connection(raw)
        await raw.commit()
    except asyncio.CancelledError:
        raw.close()
        raise
    except (OSError, OperationalError, InterfaceError) as exc:
        if isinstance(exc, OperationalError) and exc.args and exc.args[0] in _CONFLICT_CODES:
            await _roll_back(raw)
            raise TransactionConflict(str(exc)) from exc
        raw.close()
        raise DatabaseUnavailable(str(exc)) from exc
    except BaseException:
        await _roll_back(raw)
        raise


async def _roll_back(raw: Any) -> None:
    try:
        await raw.rollback()
    except (OSError, OperationalError, InterfaceError):
        raw.close()
