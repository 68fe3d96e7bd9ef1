"""`make run`: the whole stack on one machine, for development.

Starts a private Redis and MariaDB with their data under `.data/` (kept between runs), applies the
migrations, loads the demo data (idempotent, so a second run adds nothing), then runs every
Procfile process under honcho until Ctrl-C or SIGTERM, and stops everything in reverse order:
honcho (which stops its children), then MariaDB, then Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

from config import Settings, SettingsError
from devstack.demo import DemoInfo, load_demo
from devstack.servers import LOOPBACK, MariaDBServer, RedisServer, ServerError
from engine.redis_client import connect_redis
from engine.shard_count import ShardCountChangeRefused, change_shard_count
from persistence import Database, DatabaseUnavailable
from persistence.migrate import migrate

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import FrameType

ROOT: Final = Path(__file__).resolve().parents[1]
DATA_DIR: Final = ROOT / ".data"
PROCFILE: Final = ROOT / "Procfile"
REDIS_PORT_VAR: Final = "RUSHQUEUE_DEV_REDIS_PORT"
DB_PORT_VAR: Final = "RUSHQUEUE_DEV_DB_PORT"
METRICS_PORT_VAR: Final = "RUSHQUEUE_DEV_METRICS_PORT"
WEB_PROCESSES_VAR: Final = "WEB_PROCESSES"
PROMETHEUS_PORT_VAR: Final = "RUSHQUEUE_DEV_PROMETHEUS_PORT"
DEFAULT_REDIS_PORT: Final = 6390
DEFAULT_DB_PORT: Final = 3390
DEFAULT_METRICS_PORT: Final = 9100
# `make observe`'s. Not 9090: installing Debian's package starts a system-wide Prometheus there.
DEFAULT_PROMETHEUS_PORT: Final = 9095
# honcho's numbering of $PORT: each process type starts 100 above the previous one.
_PORTS_PER_TYPE: Final = 100
_PROCFILE_LINE: Final = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
# honcho sends SIGTERM, then SIGKILL after 5 s; this leaves it room to do both and exit.
HONCHO_STOP_TIMEOUT: Final = 15.0
WEB_READY_TIMEOUT: Final = 60.0
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(KeyboardInterrupt):
    """A stop signal arrived.

    A KeyboardInterrupt so that it unwinds like Ctrl-C everywhere, asyncio included (which would
    swallow an ordinary exception raised inside a callback), running every `finally` that stops
    a process on the way out.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class DevPorts:
    """The loopback ports of the private servers, the first metrics port (honcho's `-p`) and
    `make observe`'s Prometheus; HTTP_PORT is read by `Settings`."""

    redis: int = DEFAULT_REDIS_PORT
    database: int = DEFAULT_DB_PORT
    metrics: int = DEFAULT_METRICS_PORT
    prometheus: int = DEFAULT_PROMETHEUS_PORT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DevPorts:
        return cls(
            redis=_port_from(env, REDIS_PORT_VAR, DEFAULT_REDIS_PORT),
            database=_port_from(env, DB_PORT_VAR, DEFAULT_DB_PORT),
            metrics=_port_from(env, METRICS_PORT_VAR, DEFAULT_METRICS_PORT),
            prometheus=_port_from(env, PROMETHEUS_PORT_VAR, DEFAULT_PROMETHEUS_PORT),
        )


def procfile_names(path: Path = PROCFILE) -> list[str]:
    """The Procfile's process types, in order: honcho numbers their ports in this order."""
    found = (_PROCFILE_LINE.match(line) for line in path.read_text().splitlines())
    return [match.group(1) for match in found if match]


def metrics_ports(
    base: int, names: list[str], counts: Mapping[str, int] | None = None
) -> dict[str, list[int]]:
    """Each process's METRICS_PORT under `honcho start -p base -c ...`: a type's first instance
    gets its port, the next ones that port + 1, + 2 and so on."""
    return {
        name: [base + _PORTS_PER_TYPE * index + n for n in range((counts or {}).get(name, 1))]
        for index, name in enumerate(names)
    }


def default_web_processes(cores: int) -> int:
    """One gateway process per two cores. The gateway is the stack's busiest process and several
    share the HTTP port (SO_REUSEPORT), the kernel spreading connections over them; but it spends
    about half the stack's CPU per hold, the engine, flusher, Redis and MariaDB on the same
    machine the other half, and each gateway batches less the more there are (on 2 cores a
    second gateway cost 0.62 ms of gateway CPU per hold against one's 0.44, and decided fewer)."""
    return max(1, cores // 2)


def process_counts(env: Mapping[str, str]) -> dict[str, int]:
    """How many of each Procfile process to run: WEB_PROCESSES gateways (by default one per two
    cores), one of everything else."""
    raw = env.get(WEB_PROCESSES_VAR, "")
    if not raw:
        return {"web": default_web_processes(os.cpu_count() or 1)}
    if not raw.isdigit() or not 0 < int(raw) <= _PORTS_PER_TYPE:
        raise SettingsError(
            f"{WEB_PROCESSES_VAR}={raw!r} is invalid: must be a whole number from 1 to "
            f"{_PORTS_PER_TYPE}"
        )
    return {"web": int(raw)}


def honcho_command(metrics_base: int, counts: Mapping[str, int]) -> list[str]:
    """honcho running the Procfile: `-p` gives each process its own $PORT, which the Procfile
    passes on as METRICS_PORT; `-c` how many of each type."""
    concurrency = ",".join(f"{name}={count}" for name, count in counts.items())
    return [
        sys.executable,
        "-m",
        "honcho",
        "start",
        "-f",
        str(PROCFILE),
        "-p",
        str(metrics_base),
        "-c",
        concurrency,
    ]


def _port_from(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"{name}={raw!r} is invalid: must be a TCP port (1-65535)")
    return int(raw)


def child_environment(
    base: Mapping[str, str], *, redis_url: str, database_url: str, venv_bin: Path
) -> dict[str, str]:
    """The environment of every Procfile process: the caller's, pointed at the private servers."""
    env = dict(base)
    env.update(
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        RUSHQUEUE_ENV="development",
        # The dev stack is reachable from this machine only, whatever the shell says.
        HTTP_HOST=LOOPBACK,
        # Procfile lines say `python`; it must be the venv's, where the project is installed.
        PATH=os.pathsep.join([str(venv_bin), base.get("PATH", os.defpath)]),
        # Children write to honcho's pipes; unbuffered, their lines show up as they happen.
        PYTHONUNBUFFERED="1",
    )
    env.setdefault("HTTP_PORT", "8080")
    return env


def taken_port(checks: Mapping[str, int]) -> str | None:
    """A one-line complaint about the first port (keyed by its variable) that is in use."""
    for variable, port in checks.items():
        if _in_use(port):
            return (
                f"port {port} ({variable}) is already in use on {LOOPBACK}; "
                f"`ss -ltnp 'sport = :{port}'` shows what holds it. Stop that, "
                f"or set {variable} to another port"
            )
    return None


def _in_use(port: int) -> bool:
    with socket.socket() as sock:
        # As the servers themselves do, so a socket in TIME_WAIT does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def banner(base_url: str, demo: DemoInfo, metrics: Mapping[str, list[int]] | None = None) -> str:
    login = json.dumps({"email": demo.email, "password": demo.password})
    where = ", ".join(
        f"{name} {', '.join(map(str, ports))}" for name, ports in (metrics or {}).items()
    )
    return f"""
  RushQueue is running: open {base_url}/ in a browser.
  Demo buyer:     {demo.email} / {demo.password}
  Demo organizer: {demo.organizer_email} / {demo.organizer_password} (the Organizer view)

  Try it:
    TOKEN=$(curl -s -X POST {base_url}/api/v1/auth/login -H 'Content-Type: application/json' \\
      -d '{login}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
    curl -s {base_url}/api/v1/me -H "Authorization: Bearer $TOKEN"
    curl -s {base_url}/api/v1/events/{demo.event_id}/seats

  Metrics: http://{LOOPBACK}:PORT/metrics, PORT being {where or "none"}
  (`make observe` starts a Prometheus scraping them).

  Ctrl-C stops everything. Data stays in .data/ for the next run (make clean-data removes it).
"""


async def _prepare(settings: Settings) -> DemoInfo:
    await _adopt_shard_count(settings)
    db = await Database.connect(settings.database)
    try:
        applied = await migrate(db)
        print(f"migrations: {len(applied)} applied", flush=True)
        return await load_demo(db)
    finally:
        await db.close()


async def _adopt_shard_count(settings: Settings) -> None:
    """This stack is the only user of its Redis and nothing of it runs yet, so a changed
    ENGINE_SHARDS is taken as the operator's decision: `set-shard-count` does it, and refuses
    while the last run left work behind (start once with the old count to finish it)."""
    redis = connect_redis(settings.redis)
    try:
        old = await change_shard_count(redis, settings.engine.shards)
    finally:
        await redis.aclose()
    if old is not None and old != settings.engine.shards:
        print(f"shard count: changed from {old} to {settings.engine.shards}", flush=True)


def _on_stop_signal(signum: int, frame: FrameType | None) -> NoReturn:
    # From here on, a second Ctrl-C, or make's SIGTERM arriving after the terminal's SIGINT,
    # must not cut the shutdown short: that would leave mariadbd running without its owner.
    _ignore_stop_signals()
    raise StopRequested(signal.Signals(signum).name)


def _ignore_stop_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _wait_for_web(honcho: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + WEB_READY_TIMEOUT
    while time.monotonic() < deadline and honcho.poll() is None:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    if honcho.poll() is None:
        print(f"web is not answering on port {port} yet; see its output above", flush=True)
    return False


def _stop(honcho: subprocess.Popen[bytes]) -> None:
    if honcho.poll() is None:
        honcho.terminate()
    try:
        honcho.wait(HONCHO_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        honcho.kill()
        honcho.wait()


def _supervise(
    settings: Settings,
    env: Mapping[str, str],
    demo: DemoInfo,
    metrics_base: int,
    counts: Mapping[str, int],
) -> int:
    honcho = subprocess.Popen(
        honcho_command(metrics_base, counts),
        cwd=ROOT,
        env=env,
        # Its own session keeps the terminal's Ctrl-C away from honcho: this process alone decides
        # when to stop it, so it is stopped once and always before the servers.
        start_new_session=True,
    )
    try:
        if _wait_for_web(honcho, settings.http.port):
            metrics = metrics_ports(metrics_base, procfile_names(), counts)
            print(banner(f"http://{LOOPBACK}:{settings.http.port}", demo, metrics), flush=True)
        # honcho returns when any process stops on its own, having stopped the others.
        code = honcho.wait()
        print(f"honcho exited with status {code}; stopping the servers", flush=True)
        return code
    finally:
        _ignore_stop_signals()
        _stop(honcho)


def _run(
    redis: RedisServer,
    mariadb: MariaDBServer,
    settings: Settings,
    env: dict[str, str],
    metrics_base: int,
    counts: Mapping[str, int],
) -> int:
    servers = (redis, mariadb)
    try:
        # Not `servers.running()`: it only stops servers whose start() returned, and a Ctrl-C
        # during MariaDB's first start (several seconds) would orphan a half-started mariadbd.
        # stop() is a no-op for a server that was never spawned.
        for server in servers:
            server.start()
        print(f"redis: {redis.url}\nmariadb: {mariadb.url}", flush=True)
        demo = asyncio.run(_prepare(settings))
        return _supervise(settings, env, demo, metrics_base, counts)
    finally:
        _ignore_stop_signals()
        for server in reversed(servers):
            server.stop()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        ports = DevPorts.from_env(os.environ)
        redis = RedisServer(DATA_DIR / "redis", ports.redis)
        mariadb = MariaDBServer(DATA_DIR / "mariadb", ports.database, durable=True)
        env = child_environment(
            os.environ,
            redis_url=redis.url,
            database_url=mariadb.url,
            venv_bin=Path(sys.executable).parent,
        )
        settings = Settings.from_env(env)
        counts = process_counts(os.environ)
    except SettingsError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    except ServerError as exc:  # a server binary is missing
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    problem = taken_port(
        {REDIS_PORT_VAR: ports.redis, DB_PORT_VAR: ports.database, "HTTP_PORT": settings.http.port}
    )
    for port in chain.from_iterable(
        metrics_ports(ports.metrics, procfile_names(), counts).values()
    ):
        # Every process's port follows from the first, so that is the variable to move.
        problem = problem or taken_port({METRICS_PORT_VAR: port})
    if problem:
        print(f"make run: {problem}", file=sys.stderr)
        return 1
    for sig in STOP_SIGNALS:
        signal.signal(sig, _on_stop_signal)
    try:
        return _run(redis, mariadb, settings, env, ports.metrics, counts)
    except StopRequested as stop:
        print(f"make run: stopped on {stop}", flush=True)
        return 0
    except (ServerError, DatabaseUnavailable, ShardCountChangeRefused) as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
