"""What both benchmarks need: private servers, a seeded event, engine processes, invariants."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from config import Settings
from devstack.servers import MariaDBServer, RedisServer
from domain.catalog import CategorySpec, EventSpec, RowSpec, SectionSpec, VenueLayout
from engine.keys import ShardKeys
from persistence import Database
from persistence.catalog import create_event, create_venue, event_seat_map

ROOT: Final = Path(__file__).resolve().parents[1]
SEATS_PER_ROW: Final = 50


@dataclass(frozen=True, slots=True)
class Servers:
    redis_url: str
    database_url: str


@asynccontextmanager
async def private_servers() -> AsyncIterator[Servers]:
    """Fresh Redis and MariaDB on free loopback ports, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="rushqueue-bench-") as folder:
        redis = RedisServer(Path(folder) / "redis").start()
        mariadb = MariaDBServer(Path(folder) / "mariadb", durable=False).start()
        try:
            yield Servers(redis.url, mariadb.url)
        finally:
            mariadb.stop()
            redis.stop()


def settings_for(servers: Servers, **overrides: str) -> Settings:
    return Settings.from_env(
        {"REDIS_URL": servers.redis_url, "DATABASE_URL": servers.database_url, **overrides}
    )


@dataclass(frozen=True, slots=True)
class SeededEvent:
    event_id: int
    seat_ids: tuple[int, ...]  # best seats first
    user_ids: tuple[int, ...]


async def seed_event(db: Database, *, seats: int, buyers: int, max_per_buyer: int) -> SeededEvent:
    """A venue of `seats` seats in rows of 50 (front rows are category A, the best), an event
    on sale now, and `buyers` users (written in bulk; they never log in here)."""
    rows = -(-seats // SEATS_PER_ROW)
    layout_rows = []
    for row in range(rows):
        count = min(SEATS_PER_ROW, seats - row * SEATS_PER_ROW)
        category = "A" if row < rows / 10 else "B" if row < rows / 2 else "C"
        layout_rows.append(RowSpec(str(row + 1), tuple(range(1, count + 1)), category))
    layout = VenueLayout(
        name=f"Bench Arena {seats}",
        categories=(
            CategorySpec("A", "Front"),
            CategorySpec("B", "Middle"),
            CategorySpec("C", "Back"),
        ),
        sections=(SectionSpec("Floor", tuple(layout_rows)),),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, layout)
        event_id = await create_event(
            conn,
            EventSpec(
                venue_id=venue_id,
                name="Bench Night",
                starts_at=now + timedelta(days=2),
                sale_starts_at=now - timedelta(minutes=5),
                sale_ends_at=now + timedelta(days=1),
                currency="EUR",
                max_seats_per_buyer=max_per_buyer,
                prices={"A": 9000, "B": 6000, "C": 3000},
            ),
        )
        seat_ids = tuple(seat.id for seat in await event_seat_map(conn, event_id))
        first = await conn.fetch_value("SELECT COALESCE(MAX(id), 0) FROM users")
        await conn.execute_many(
            "INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s)",
            [(f"bench{first + n}@example.com", "Bench", "-") for n in range(buyers)],
        )
        users = await conn.fetch_all("SELECT id FROM users WHERE id > %s ORDER BY id", (first,))
    return SeededEvent(event_id, seat_ids, tuple(row["id"] for row in users))


class EngineProcesses:
    """`python -m engine run` children, stopped with SIGTERM at the end."""

    def __init__(self, env: Mapping[str, str], count: int, log_dir: Path) -> None:
        self._env = {**os.environ, **env}
        self._count = count
        self._log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for index in range(self._count):
            log = (self._log_dir / f"engine-{index}.log").open("ab")
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "engine", "run"],
                    cwd=ROOT,
                    env=self._env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


async def wait_for_owners(redis_url: str, shards: int, within: float = 30.0) -> None:
    """Until every shard's lease is held (engines announce nothing else to a separate process)."""
    from config import RedisSettings
    from engine.redis_client import connect_redis

    redis = connect_redis(RedisSettings(url=redis_url))
    try:
        async with asyncio.timeout(within):
            while True:
                held = [await redis.exists(ShardKeys(s).lease) for s in range(shards)]
                if all(held):
                    return
                await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
