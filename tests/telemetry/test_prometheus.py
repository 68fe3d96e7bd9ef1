"""The metrics through a real Prometheus: the Procfile's processes as children, each serving
/metrics on its own loopback port, scraped every second by Debian's `prometheus` with the config
`make observe` uses (devstack.prometheus); and `promtool check metrics` on every exposition."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import orjson
import pytest

from bench.stack import SeededEvent, seed_event, wait_until_ready
from devstack.prometheus import default_rule_files, prometheus_command, prometheus_config
from devstack.servers import LOOPBACK, free_port
from domain.statuses import Role
from gateway.auth.tokens import TokenCodec
from tests.chaos.stack import JWT_SECRET, Stack
from tests.chaos.stack import Role as ProcessRole

if TYPE_CHECKING:
    from devstack.servers import MariaDBServer
    from engine.redis_client import RedisClient
    from persistence import Database

HOLDS: Final = 7
PROCESSES: Final[tuple[ProcessRole, ...]] = ("engine", "sweeper", "web")
HOLDS_ANSWERED: Final = (
    'sum(rushqueue_http_requests_total{route="/api/v1/events/{id}/holds",status_class="2xx"})'
)
HOLDS_DECIDED: Final = 'sum(rushqueue_engine_commands_total{command="hold",outcome="ok"})'
WITHIN: Final = 30.0


@dataclass(frozen=True, slots=True)
class MeteredStack:
    stack: Stack
    metrics_ports: dict[ProcessRole, int]  # each process's METRICS_PORT
    event: SeededEvent


@pytest.fixture
async def metered_stack(
    tmp_path: Path,
    redis_url: str,
    mariadb_server: MariaDBServer,
    redis: RedisClient,
    db: Database,
) -> AsyncIterator[MeteredStack]:
    """Engine, sweeper and gateway over clean Redis and MariaDB, each with its own metrics port
    and logging JSON, and an event of 20 seats with HOLDS buyers."""
    event = await seed_event(db, seats=20, buyers=HOLDS, max_per_buyer=2)
    stack = Stack(
        redis_url=redis_url,
        database_url=mariadb_server.url,
        log_dir=tmp_path,
        LOG_FORMAT="json",
    )
    ports = {name: free_port() for name in PROCESSES}
    try:
        for name in PROCESSES:
            stack.start(name, name, METRICS_PORT=str(ports[name]))
        await stack.wait_for_owners()
        await wait_until_ready(stack.base_url, stack.children, within=WITHIN)
        yield MeteredStack(stack, ports, event)
    finally:
        stack.cleanup()


@pytest.fixture
def prometheus(tmp_path: Path, metered_stack: MeteredStack) -> Iterator[str]:
    """A Prometheus on a free loopback port scraping the stack every second; its base URL."""
    config = tmp_path / "prometheus.yml"
    targets: dict[str, list[int]] = {
        name: [port] for name, port in metered_stack.metrics_ports.items()
    }
    config.write_bytes(prometheus_config(targets, rule_files=default_rule_files()))
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            prometheus_command(config, tmp_path / "tsdb", port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((LOOPBACK, port)) == 0


async def hold_seats(stack: MeteredStack) -> None:
    """HOLDS buyers hold one seat each through the gateway's HTTP API; every one is granted."""
    tokens = TokenCodec(JWT_SECRET, ttl_seconds=3600)
    async with aiohttp.ClientSession() as session:
        for index, user_id in enumerate(stack.event.user_ids):
            async with session.post(
                f"{stack.stack.base_url}/api/v1/events/{stack.event.event_id}/holds",
                json={"seat_ids": [stack.event.seat_ids[index]]},
                headers={"Authorization": f"Bearer {tokens.issue(user_id, Role.BUYER).token}"},
            ) as response:
                assert response.status == 201, await response.text()


async def api(session: aiohttp.ClientSession, url: str, **params: str) -> Any:
    """Prometheus' answer's data; a Prometheus not up yet answers nothing."""
    try:
        async with session.get(url, params=params) as response:
            if response.status != 200:
                return None
            body = await response.json()
    except aiohttp.ClientConnectionError:
        return None
    assert body["status"] == "success", body
    return body["data"]


async def query(session: aiohttp.ClientSession, base_url: str, promql: str) -> float:
    """An instant query's single value; 0 while the series does not exist yet."""
    data = await api(session, f"{base_url}/api/v1/query", query=promql)
    if not data or not data["result"]:
        return 0.0
    [series] = data["result"]
    return float(series["value"][1])


async def until_value(
    session: aiohttp.ClientSession, base_url: str, promql: str, expected: float
) -> None:
    """Until Prometheus answers `expected` for `promql` (it scrapes every second)."""
    seen: float | None = None
    try:
        async with asyncio.timeout(WITHIN):
            while True:
                if (seen := await query(session, base_url, promql)) == expected:
                    return
                await asyncio.sleep(0.2)  # polling Prometheus, which tells no one
    except TimeoutError:
        pytest.fail(f"{promql} stayed {seen}, expected {expected}")


@pytest.mark.timeout(120)
async def test_prometheus_scrapes_every_process_and_counts_every_hold(
    metered_stack: MeteredStack, prometheus: str
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        targets: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(WITHIN):
                while True:
                    data = await api(session, f"{prometheus}/api/v1/targets")
                    targets = data["activeTargets"] if data else []
                    if len(targets) == len(PROCESSES) and all(
                        target["health"] == "up" for target in targets
                    ):
                        break
                    await asyncio.sleep(0.2)  # polling Prometheus, which tells no one
        except TimeoutError:
            pytest.fail(f"not every target is up: {targets}")
        assert {target["labels"]["job"] for target in targets} == set(PROCESSES)

        answered_before = await query(session, prometheus, HOLDS_ANSWERED)
        decided_before = await query(session, prometheus, HOLDS_DECIDED)
        await hold_seats(metered_stack)

        await until_value(session, prometheus, HOLDS_ANSWERED, answered_before + HOLDS)
        await until_value(session, prometheus, HOLDS_DECIDED, decided_before + HOLDS)

    web_log = metered_stack.stack.log("web")
    assert '"POST /api/v1/events/' not in web_log, "no access log unless ACCESS_LOG=on"


async def promtool_check_metrics(exposition: bytes) -> tuple[int, str]:
    promtool = await asyncio.create_subprocess_exec(
        "promtool",
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    said, _ = await promtool.communicate(exposition)
    assert promtool.returncode is not None
    return promtool.returncode, said.decode(errors="replace")


async def test_promtool_accepts_every_process_exposition(metered_stack: MeteredStack) -> None:
    await hold_seats(metered_stack)  # so the request and round-trip series exist
    async with aiohttp.ClientSession() as session:
        for name, port in metered_stack.metrics_ports.items():
            async with session.get(f"http://{LOOPBACK}:{port}/metrics") as response:
                assert response.status == 200
                exposition = await response.read()
            assert b"process_resident_memory_bytes" in exposition, name
            # Each process's own families, with series in them, go through promtool too.
            assert {
                "web": b"rushqueue_http_requests_total{",
                "engine": b'rushqueue_engine_commands_total{command="hold",outcome="ok",shard=',
                "sweeper": b"rushqueue_sweeper_runs_total ",
            }[name] in exposition, name
            code, said = await promtool_check_metrics(exposition)
            assert code == 0, f"{name}: {said}"

    stack = metered_stack.stack
    stopped = stack.terminate_all()
    for process, port in metered_stack.metrics_ports.items():
        code, _ = stopped[process]
        log = stack.log(process)
        assert code == 0, f"{process} did not stop cleanly on SIGTERM:\n{log[-2000:]}"
        assert not listening(port), f"{process} still serves metrics"
        # LOG_FORMAT=json: every line any process wrote is one JSON object.
        records = [orjson.loads(line) for line in log.splitlines()]
        assert records, process
        assert all({"time", "level", "logger", "message"} <= set(r) for r in records), process
