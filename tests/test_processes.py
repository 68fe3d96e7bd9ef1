"""Every Procfile process as a real child: it comes up, and SIGTERM stops it cleanly (exit 0)
within 10 seconds; a bad setting stops it at once with exit 2 and one line naming the variable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType

from config import Settings
from devstack.servers import LOOPBACK, free_port
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from tests.helpers.engine import ask_hold, journals_drained
from tests.helpers.redis_modes import ON_BOTH_REDIS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from devstack.servers import MariaDBServer
    from engine.redis_client import RedisClient
    from persistence import Database
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.engine import Buyers

ROOT: Final = Path(__file__).resolve().parents[1]
STOP_WITHIN: Final = 10.0
START_WITHIN: Final = 30.0
SHARDS: Final = 2


class Child:
    """A child process whose merged stdout and stderr are read as they come."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process = process
        self.name = name
        self.lines: list[str] = []
        self._news = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name=f"read {name}")

    @classmethod
    async def start(cls, env: Mapping[str, str], *args: str) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *args,
            cwd=ROOT,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(process, " ".join(args))

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace"))
            self._news.set()
        self._news.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def wait_for_output(self, marker: str, within: float = START_WITHIN) -> None:
        try:
            async with asyncio.timeout(within):
                while True:
                    self._news.clear()
                    if marker in self.output:
                        return
                    if self._reader.done():
                        pytest.fail(f"{self.name} exited before logging {marker!r}:\n{self.output}")
                    await self._news.wait()
        except TimeoutError:
            pytest.fail(f"{self.name} did not log {marker!r} within {within}s:\n{self.output}")

    async def terminate(self) -> int:
        """SIGTERM, then its exit code, which must come within STOP_WITHIN seconds."""
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_WITHIN):
                code = await self.process.wait()
                await self._reader
        except TimeoutError:
            pytest.fail(f"{self.name} still running {STOP_WITHIN}s after SIGTERM:\n{self.output}")
        return code

    async def close(self) -> None:
        """Whatever happened in the test, leave no child behind."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await self._reader


@pytest.fixture
def env(
    redis_url: str, mariadb_server: MariaDBServer, redis: RedisClient, db: Database
) -> dict[str, str]:
    """The test servers' settings, over a clean Redis and clean tables."""
    return {
        **os.environ,
        "RUSHQUEUE_ENV": "test",
        "REDIS_URL": redis_url,
        "DATABASE_URL": mariadb_server.url,
        "ARGON2_PROFILE": "cheapest",
        "ENGINE_SHARDS": str(SHARDS),
        "LOG_LEVEL": "INFO",
    }


async def wait_until_healthy(child: Child, port: int) -> None:
    """Poll /healthz until it answers 200: the child says nothing when its socket is ready that
    a test could wait on instead, so this polls, with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_WITHIN
    url = f"http://{LOOPBACK}:{port}/healthz"
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            if child.process.returncode is not None:
                pytest.fail(f"gateway exited with {child.process.returncode}:\n{child.output}")
            if loop.time() > deadline:
                pytest.fail(f"/healthz did not answer within {START_WITHIN}s:\n{child.output}")
            await asyncio.sleep(0.05)


@ON_BOTH_REDIS
async def test_the_gateway_stops_cleanly_on_sigterm(env: dict[str, str]) -> None:
    port = free_port()
    child = await Child.start({**env, "HTTP_PORT": str(port)}, "gateway", "serve")
    try:
        await wait_until_healthy(child, port)

        assert await child.terminate() == 0, child.output
    finally:
        await child.close()


async def test_the_gateway_stops_cleanly_with_a_seat_map_socket_open(
    env: dict[str, str], make_event: MakeEvent
) -> None:
    made = await make_event(seats=2)
    port = free_port()
    child = await Child.start({**env, "HTTP_PORT": str(port)}, "gateway", "serve")
    try:
        await wait_until_healthy(child, port)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                f"http://{LOOPBACK}:{port}/api/v1/events/{made.event_id}/seats/ws"
            ) as socket,
        ):
            snapshot = await socket.receive_json(timeout=STOP_WITHIN)
            assert snapshot["type"] == "snapshot"
            # Like a browser, keep reading, so a close from the server is answered.
            reading = asyncio.create_task(socket.receive())
            try:
                assert await child.terminate() == 0, child.output
                # Told to come back later (to another instance), not just dropped.
                closing = await reading
                assert (closing.type, closing.data) == (
                    WSMsgType.CLOSE,
                    WSCloseCode.TRY_AGAIN_LATER,
                )
            finally:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
    finally:
        await child.close()


async def test_the_sweeper_stops_cleanly_on_sigterm(env: dict[str, str]) -> None:
    child = await Child.start(env, "engine", "sweep")
    try:
        await child.wait_for_output("sweeper: every")

        assert await child.terminate() == 0, child.output
        assert "sweep: stopped" in child.output
    finally:
        await child.close()


async def test_the_flusher_stops_cleanly_on_sigterm_while_it_writes_an_owned_journal(
    env: dict[str, str], redis: RedisClient, make_event: MakeEvent, buyers: Buyers
) -> None:
    event = await make_event(seats=2)
    [user] = await buyers(1)
    journal = ShardKeys(shard_of(event.event_id, SHARDS)).journal
    # Without a backup the engine leaves the whole write-behind to the flusher.
    engine_env = {**env, "WRITE_BEHIND_BACKUP_MS": "600000"}
    engine = await Child.start(engine_env, "engine", "run")
    flusher = await Child.start(engine_env, "engine", "flush")
    try:
        await flusher.wait_for_output(f"flusher: {SHARDS} shards")
        for shard in range(SHARDS):
            await engine.wait_for_output(f"shard {shard} recovered")
        settings = Settings.from_env(engine_env)
        async with EngineClient(redis, settings.engine) as client:
            reply = await ask_hold(client, event.event_id, user, event.seat_ids[:1])
        assert reply.hold is not None
        await journals_drained(redis, settings)

        assert await flusher.terminate() == 0, flusher.output
        assert "flush: stopped" in flusher.output
        assert await redis.xlen(journal) == 0
        assert await engine.terminate() == 0, engine.output
    finally:
        await flusher.close()
        await engine.close()


@ON_BOTH_REDIS
async def test_the_engine_stops_cleanly_on_sigterm_and_gives_up_its_leases(
    env: dict[str, str], redis: RedisClient
) -> None:
    child = await Child.start(env, "engine", "run")
    try:
        for shard in range(SHARDS):
            await child.wait_for_output(f"shard {shard} recovered")
        assert await redis.exists(*(ShardKeys(s).lease for s in range(SHARDS))) == SHARDS

        assert await child.terminate() == 0, child.output
        assert "run: stopped" in child.output
        assert await redis.exists(*(ShardKeys(s).lease for s in range(SHARDS))) == 0
    finally:
        await child.close()


@pytest.mark.parametrize(
    ("args", "variable", "value"),
    [
        (("gateway", "serve"), "HTTP_PORT", "abc"),
        (("engine", "run"), "ENGINE_SHARDS", "0"),
        (("engine", "sweep"), "SWEEP_INTERVAL_SECONDS", "-1"),
        (("engine", "flush"), "WRITE_BEHIND", "sometimes"),
    ],
)
async def test_a_bad_setting_exits_2_with_one_line_naming_it(
    env: dict[str, str], args: tuple[str, ...], variable: str, value: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *args,
        cwd=ROOT,
        env={**env, variable: value},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(STOP_WITHIN):
        stdout, stderr = await process.communicate()

    assert process.returncode == 2
    assert stdout == b""
    [line] = stderr.decode().splitlines()
    assert variable in line
    assert repr(value) in line


async def _run_to_exit(env: Mapping[str, str], *args: str) -> tuple[int, str]:
    """Run `python -m <args>` to its end: its exit code and its stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *args,
        cwd=ROOT,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(STOP_WITHIN):
            _, stderr = await process.communicate()
    except TimeoutError:
        pytest.fail(f"python -m {' '.join(args)} still running after {STOP_WITHIN}s")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stderr.decode()


@pytest.mark.parametrize(
    "args", [("gateway", "serve"), ("engine", "run"), ("engine", "sweep"), ("engine", "flush")]
)
async def test_a_process_refuses_to_start_under_another_shard_count(
    env: dict[str, str], redis: RedisClient, args: tuple[str, ...]
) -> None:
    # The deployment runs four shards; this process was started with two, so it would send an
    # event's commands to (or run) another actor than the rest of the deployment does.
    deployed = 2 * SHARDS
    for shard in range(deployed):
        await redis.set(ShardKeys(shard).shard_count, deployed)

    code, stderr = await _run_to_exit({**env, "HTTP_PORT": str(free_port())}, *args)

    assert code == 2, stderr
    [line] = [line for line in stderr.splitlines() if "ENGINE_SHARDS" in line]
    assert f"ENGINE_SHARDS={SHARDS}" in line
    assert f"stored for this deployment is {deployed}" in line
    shards = [ShardKeys(shard) for shard in range(deployed)]
    assert await redis.exists(*(keys.lease for keys in shards)) == 0, "a lease was taken"
    assert await redis.exists(*(keys.fence for keys in shards)) == 0, "a token was handed out"
    stored = str(deployed).encode()
    assert [await redis.get(keys.shard_count) for keys in shards] == [stored] * deployed


async def test_set_shard_count_waits_for_a_quiet_deployment_then_changes_it(
    env: dict[str, str], redis: RedisClient
) -> None:
    for shard in range(SHARDS):
        await redis.set(ShardKeys(shard).shard_count, SHARDS)
    await redis.set(ShardKeys(1).lease, "a running engine", px=60_000)

    refused = await _run_to_exit(env, "engine", "set-shard-count", str(2 * SHARDS))

    assert refused[0] == 1, refused[1]
    assert "shard 1" in refused[1]
    assert "lease" in refused[1]
    assert await redis.get(ShardKeys(0).shard_count) == str(SHARDS).encode()

    await redis.delete(ShardKeys(1).lease)
    changed = await _run_to_exit(env, "engine", "set-shard-count", str(2 * SHARDS))

    assert changed[0] == 0, changed[1]
    stored = [await redis.get(ShardKeys(shard).shard_count) for shard in range(2 * SHARDS)]
    assert stored == [str(2 * SHARDS).encode()] * (2 * SHARDS)
    engine = await Child.start({**env, "ENGINE_SHARDS": str(2 * SHARDS)}, "engine", "run")
    try:
        await engine.wait_for_output(f"shard {2 * SHARDS - 1} recovered")
        assert await engine.terminate() == 0, engine.output
    finally:
        await engine.close()
