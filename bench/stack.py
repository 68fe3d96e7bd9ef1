"""What both benchmarks need: private servers, a seeded event, child processes."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Final, NamedTuple, TypeVar

import aiohttp

from config import Settings, WriteBehind
from devstack.servers import (
    LOOPBACK,
    MariaDBServer,
    RedisClusterServer,
    RedisServer,
    ServerError,
    free_port,
)
from domain.catalog import CategorySpec, EventSpec, RowSpec, SectionSpec, VenueLayout
from engine.keys import ShardKeys
from persistence import Database
from persistence.catalog import create_event, create_venue, event_seat_map
from persistence.database import Connection

T = TypeVar("T")

ROOT: Final = Path(__file__).resolve().parents[1]
SEATS_PER_ROW: Final = 50
STOP_WITHIN_S: Final = 15.0
_COMPLAINT: Final = re.compile(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b")
_NUMBER: Final = re.compile(r"\d+")
_ASSIGNMENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True, slots=True)
class RedisShape:
    """The private Redis a benchmark runs on: one server, or a cluster of CLUSTER_MASTERS
    masters with `replicas` replicas each. A cluster with replicas runs as production does,
    with REDIS_MIN_REPLICAS=1: a turn's decisions are answered once a replica has them."""

    cluster: bool = False
    replicas: int = 0

    CLUSTER_MASTERS: ClassVar[int] = 3
    # Redis's own default is 15 s; this is short enough for a lost node to be noticed within a
    # run and long enough that a master starved of CPU by the benchmark is not failed over.
    NODE_TIMEOUT_MS: ClassVar[int] = 5000

    @property
    def min_replicas(self) -> int:
        return min(self.replicas, 1)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RedisShape:
        """The shape `add_redis_options`'s options chose."""
        return cls(cluster=True, replicas=args.replicas) if args.cluster else cls()

    def describe(self) -> str:
        if not self.cluster:
            return "one server"
        return (
            f"cluster of {self.CLUSTER_MASTERS} masters, {self.replicas} replica(s) each, "
            f"REDIS_MIN_REPLICAS={self.min_replicas}"
        )


ONE_SERVER: Final = RedisShape()


def add_redis_options(parser: argparse.ArgumentParser) -> None:
    """`--cluster` and `--replicas`, the same for every benchmark (`RedisShape.from_args`)."""
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="a private Redis Cluster of three masters instead of one server",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        choices=(0, 1),
        default=1,
        help="--cluster: replicas per master; with 1, REDIS_MIN_REPLICAS=1 (default: 1)",
    )


@dataclass(frozen=True, slots=True)
class Servers:
    redis_url: str
    database_url: str
    # Every redis-server by role, for the CPU each spends: "redis-server" alone, or on a
    # cluster "redis-master-N" and "redis-replica-N" (as `redis-cli --cluster create` made them).
    redis_pids: dict[str, int] = field(default_factory=dict)
    min_replicas: int = 0  # REDIS_MIN_REPLICAS, for every process over these servers

    @property
    def redis_env(self) -> dict[str, str]:
        """The Redis settings every process over these servers gets."""
        return {"REDIS_URL": self.redis_url, "REDIS_MIN_REPLICAS": str(self.min_replicas)}


@asynccontextmanager
async def private_servers(redis_shape: RedisShape = ONE_SERVER) -> AsyncIterator[Servers]:
    """Fresh Redis (one server or a cluster, as `redis_shape` says) and MariaDB on free loopback
    ports, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="rushqueue-bench-") as folder:
        redis: RedisServer | RedisClusterServer
        if redis_shape.cluster:
            redis = RedisClusterServer(
                Path(folder) / "redis",
                masters=RedisShape.CLUSTER_MASTERS,
                replicas=redis_shape.replicas,
                node_timeout_ms=RedisShape.NODE_TIMEOUT_MS,
            )
        else:
            redis = RedisServer(Path(folder) / "redis")
        redis.start()
        try:
            mariadb = MariaDBServer(Path(folder) / "mariadb", durable=False).start()
            try:
                yield Servers(
                    redis.url,
                    mariadb.url,
                    _redis_pids(redis),
                    redis_shape.min_replicas if redis_shape.cluster else 0,
                )
            finally:
                mariadb.stop()
        finally:
            redis.stop()


def _redis_pids(redis: RedisServer | RedisClusterServer) -> dict[str, int]:
    if isinstance(redis, RedisServer):
        return {"redis-server": _pid_of(redis)}
    masters = RedisShape.CLUSTER_MASTERS
    return {
        (f"redis-master-{index}" if index < masters else f"redis-replica-{index - masters}"): (
            _pid_of(node)
        )
        for index, node in enumerate(redis.nodes)
    }


def _pid_of(node: RedisServer) -> int:
    pid = node.info_field("server", "process_id")
    if pid is None:
        raise ServerError(f"redis-server on port {node.port} gave no process_id")
    return int(pid)


def stack_environment(servers: Servers, **settings: str) -> dict[str, str]:
    """What every child of a private stack gets: its servers, the gateway on a free loopback
    port (and the public URL on it), a fresh JWT secret, the cheapest password hashing, the local
    checkout and warnings only; `settings` adds to it or overrides it."""
    port = free_port()
    return {
        "RUSHQUEUE_ENV": "development",
        **servers.redis_env,
        "DATABASE_URL": servers.database_url,
        "HTTP_HOST": LOOPBACK,
        "HTTP_PORT": str(port),
        "PUBLIC_URL": f"http://{LOOPBACK}:{port}",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ARGON2_PROFILE": "cheapest",
        "STRIPE_SECRET_KEY": "",  # empty counts as unset: the local checkout
        "LOG_LEVEL": "WARNING",
        **settings,
    }


def settings_for(servers: Servers, **overrides: str) -> Settings:
    return Settings.from_env(
        {**servers.redis_env, "DATABASE_URL": servers.database_url, **overrides}
    )


def engine_env(servers: Servers, shards: int) -> dict[str, str]:
    """The environment of engine processes over `servers`, quiet but for warnings."""
    return {
        **servers.redis_env,
        "DATABASE_URL": servers.database_url,
        "ENGINE_SHARDS": str(shards),
        "LOG_LEVEL": "WARNING",
    }


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
        user_ids = await create_buyers(conn, buyers)
    return SeededEvent(event_id, seat_ids, user_ids)


async def create_buyers(conn: Connection, count: int) -> tuple[int, ...]:
    """`count` buyers written in bulk, with no password: they never log in, their bearer
    tokens are minted directly."""
    first = await conn.fetch_value("SELECT COALESCE(MAX(id), 0) FROM users")
    await conn.execute_many(
        "INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s)",
        [(f"bench{first + n}@example.com", "Bench", "-") for n in range(count)],
    )
    users = await conn.fetch_all("SELECT id FROM users WHERE id > %s ORDER BY id", (first,))
    return tuple(row["id"] for row in users)


class Exit(NamedTuple):
    code: int
    seconds: float  # from SIGTERM to exit


class Children:
    """Child processes on loopback, each logging to a file, stopped with SIGTERM at the end."""

    def __init__(self, env: Mapping[str, str], log_dir: Path) -> None:
        self._env = {**os.environ, **env}
        self._log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        """Start `argv` as `name`; `env` adds variables for this child alone."""
        with (self._log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env=self._env if env is None else {**self._env, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def exited(self) -> dict[str, int]:
        """Children that have already ended, with their exit codes."""
        codes = {name: process.poll() for name, process in self.processes.items()}
        return {name: code for name, code in codes.items() if code is not None}

    def log_tail(self, name: str, lines: int = 20) -> str:
        return "\n".join(self._log(name)[-lines:])

    def complaints(self, shown: int = 5) -> dict[str, dict[str, Any]]:
        """Per child that logged any: how many warning, error or traceback lines, and the most
        frequent of them with their counts, numbers blanked so that alike lines count as one
        (the children run at LOG_LEVEL=WARNING, so this is all they said)."""
        found: dict[str, dict[str, Any]] = {}
        for name in self.processes:
            lines = [line for line in self._log(name) if _COMPLAINT.search(line)]
            if lines:
                alike = Counter(_NUMBER.sub("N", line)[:200] for line in lines)
                found[name] = {"lines": len(lines), "most_common": alike.most_common(shown)}
        return found

    def _log(self, name: str) -> list[str]:
        return (self._log_dir / f"{name}.log").read_text(errors="replace").splitlines()

    def stop(self, within: float = STOP_WITHIN_S, *, in_turn: bool = False) -> dict[str, Exit]:
        """SIGTERM to the children, the last started first, and how each ended: its exit code
        and the seconds since its SIGTERM (one still running `within` seconds after it is
        killed). `in_turn` waits for each to end before signalling the next, so a gateway stops
        before the engine it needs; otherwise all are signalled at once."""
        order = list(reversed(self.processes.items()))
        signalled: dict[str, float] = {}

        def terminate(name: str, process: subprocess.Popen[bytes]) -> None:
            signalled[name] = time.monotonic()
            if process.poll() is None:
                process.terminate()

        if not in_turn:
            for name, process in order:
                terminate(name, process)
        ended: dict[str, Exit] = {}
        for name, process in order:
            if in_turn:
                terminate(name, process)
            try:
                code = process.wait(max(0.0, signalled[name] + within - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            ended[name] = Exit(code, round(time.monotonic() - signalled[name], 2))
        return ended


class EngineProcesses(Children):
    """`python -m engine run` children, each serving its metrics on a port of its own unless
    `metrics` is off (the benchmark's way to measure what the metrics cost), and beside them the
    flusher process (`python -m engine flush`, named `flusher`) wherever the stack would run one
    (WRITE_BEHIND=flusher, the default)."""

    def __init__(
        self, env: Mapping[str, str], count: int, log_dir: Path, *, metrics: bool = True
    ) -> None:
        super().__init__(env, log_dir)
        self._count = count
        self._metrics = metrics
        self.metrics_urls: list[str] = []
        self.flusher_metrics_url: str | None = None

    def start(self) -> None:
        for index in range(self._count):
            port = self._metrics_port()
            if port:
                self.metrics_urls.append(f"http://{LOOPBACK}:{port}/metrics")
            self.spawn(
                f"engine-{index}",
                [sys.executable, "-m", "engine", "run"],
                {"METRICS_PORT": str(port)},
            )
        if Settings.from_env(self._env).engine.write_behind is WriteBehind.FLUSHER:
            port = self._metrics_port()
            if port:
                self.flusher_metrics_url = f"http://{LOOPBACK}:{port}/metrics"
            self.spawn(
                "flusher", [sys.executable, "-m", "engine", "flush"], {"METRICS_PORT": str(port)}
            )

    def _metrics_port(self) -> int:
        return free_port() if self._metrics else 0


def procfile(path: Path = ROOT / "Procfile") -> dict[str, list[str]]:
    """The Procfile's processes as argument lists, run with this interpreter. Leading
    `NAME=value` words (the supervisor's per-process `$PORT` passed on as METRICS_PORT) are left
    out: whoever starts these sets each child's environment itself."""
    commands: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if not sep or line.lstrip().startswith("#"):
            continue
        argv = shlex.split(command)
        while argv and _ASSIGNMENT.match(argv[0]):
            del argv[0]
        if argv and argv[0] == "python":
            argv[0] = sys.executable
        commands[name.strip()] = argv
    return commands


async def wait_until_ready(base_url: str, children: Children, within: float = 30.0) -> None:
    """Until the gateway's readiness probe answers 200; a child that exits meanwhile fails at
    once with its log, instead of after the deadline."""
    async with aiohttp.ClientSession() as session, asyncio.timeout(within):
        while True:
            if exited := children.exited():
                name, code = next(iter(exited.items()))
                raise RuntimeError(
                    f"{name} exited with {code} while starting:\n{children.log_tail(name)}"
                )
            try:
                async with session.get(f"{base_url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass  # not listening yet
            await asyncio.sleep(0.1)


async def wait_for_owners(redis_url: str, shards: int, within: float = 30.0) -> None:
    """Until every shard's lease is held (engines announce nothing else to a separate process)."""
    from config import RedisSettings
    from engine.redis_client import connect_redis

    redis = connect_redis(RedisSettings.from_url(redis_url))
    try:
        async with asyncio.timeout(within):
            while True:
                held = [await redis.exists(ShardKeys(s).lease) for s in range(shards)]
                if all(held):
                    return
                await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


async def interruptible(work: Coroutine[Any, Any, T]) -> T:
    """`work`, cancelled by SIGTERM or SIGINT, so that its cleanup stops the servers and the
    children it started (they run in sessions of their own and would outlive it)."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await task
