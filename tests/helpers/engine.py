"""Fixtures: the seat engine.

`engine` runs every shard's actor in this test's loop, over the test's Redis and MariaDB, and
waits until each shard has recovered. `engine_client` is the gateway's client for it. `buyers`
writes user rows straight through persistence (the engine only needs their ids).
`EngineProcess` runs `python -m engine run` as a real child process, for crash tests.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from config import Settings
from engine.client import EngineClient
from engine.clock import Clock, SystemClock
from engine.keys import ShardKeys, shard_of
from engine.metrics import EngineMetrics
from engine.protocol import HoldRequest, Reply, new_command_id
from engine.redis_client import RedisClient, connect_redis
from engine.state import ShardState
from engine.supervisor import Engine
from persistence import Database
from persistence.users import create_user

ROOT = Path(__file__).resolve().parents[2]


@dataclass(slots=True)
class RunningEngine:
    """An in-process engine that a test can stop and start again."""

    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    metrics: EngineMetrics | None = None
    redis: RedisClient | None = None
    engine: Engine | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.redis = connect_redis(
            self.settings.redis, extra_connections=self.settings.engine.shards
        )
        self.engine = Engine(
            redis=self.redis,
            db=self.db,
            settings=self.settings.engine,
            clock=self.clock,
            metrics=self.metrics,
        )
        self.stopping = asyncio.Event()
        self.task = asyncio.create_task(self.engine.run(self.stopping))
        await asyncio.wait_for(self.engine.wait_owned(), 15)

    async def stop(self) -> None:
        if self.task is not None:
            self.stopping.set()
            await asyncio.wait_for(self.task, 15)
            self.task = None
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    def actor_state(self, event_id: int) -> ShardState:
        assert self.engine is not None
        runner = self.engine.runners[shard_of(event_id, self.settings.engine.shards)]
        assert runner.actor is not None, "that shard has no actor right now"
        return runner.actor.state


@pytest.fixture
async def engine(
    settings: Settings, db: Database, redis: RedisClient
) -> AsyncIterator[RunningEngine]:
    running = RunningEngine(settings, db)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def engine_client(settings: Settings, redis: RedisClient) -> AsyncIterator[EngineClient]:
    async with EngineClient(redis, settings.engine) as client:
        yield client


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, now_ms: int | None = None) -> None:
        self._now_ms = now_ms if now_ms is not None else SystemClock().now_ms()

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        self._now_ms += ms


async def journals_drained(redis: RedisClient, settings: Settings, within: float = 15.0) -> None:
    """Until every shard's write-behind journal is empty. The flusher lives in another task or
    process and announces nothing, so this polls, with a deadline."""
    async with asyncio.timeout(within):
        while True:
            lengths = [
                await redis.xlen(ShardKeys(shard).journal)
                for shard in range(settings.engine.shards)
            ]
            if not any(lengths):
                return
            await asyncio.sleep(0.02)


class Buyers(Protocol):
    async def __call__(self, count: int) -> list[int]: ...


@pytest.fixture
def buyers(db: Database) -> Buyers:
    serial = itertools.count(1)

    async def make(count: int) -> list[int]:
        ids = []
        async with db.transaction() as conn:
            for _ in range(count):
                user = await create_user(
                    conn,
                    email=f"buyer{next(serial)}@example.com",
                    name="Buyer",
                    password_hash="unused-in-engine-tests",
                )
                ids.append(user.id)
        return ids

    return make


async def ask_hold(
    client: EngineClient,
    event_id: int,
    user_id: int,
    seat_ids: tuple[int, ...],
    command_id: str | None = None,
) -> Reply:
    return await client.submit(
        HoldRequest(
            id=command_id or new_command_id(),
            reply_to=client.reply_to,
            event_id=event_id,
            user_id=user_id,
            seat_ids=seat_ids,
        )
    )


class EngineProcess:
    """`python -m engine run` as a child process with the test's settings."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self._env = {**os.environ, **env}
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine", "run"],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    @property
    def log(self) -> str:
        return self._log_path.read_text()


@pytest.fixture
def engine_process(tmp_path: Path) -> Iterator[Callable[[Mapping[str, str]], EngineProcess]]:
    started: list[EngineProcess] = []

    def make(env: Mapping[str, str]) -> EngineProcess:
        process = EngineProcess(env, tmp_path / f"engine-{len(started)}.log")
        started.append(process)
        return process

    yield make
    for process in started:
        process.kill()
