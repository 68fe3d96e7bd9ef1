"""The processes of the Procfile as children of a test, and ways to hurt them.

Every process is started the way the Procfile starts it (`bench.stack.procfile`), with the
test's environment, logging to a file of its own. A test kills, freezes or stops them by name;
whatever is still running at the end is killed (after SIGCONT, in case it is frozen).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Final, Literal

import aiohttp

from bench.stack import Children, procfile, wait_for_owners
from config import Settings
from devstack.servers import LOOPBACK, free_port

Role = Literal["engine", "sweeper", "web", "flusher"]
JWT_SECRET: Final = "chaos-suite-jwt-secret-0123456789abcdef"
_TAKEN: Final = re.compile(r"shard (\d+): lease taken \(token (\d+)\)")
# What an engine logs as a shard comes and goes: taken, or let go (handed over, released on
# stop, or stood down).
_OWNERSHIP: Final = re.compile(r"shard (\d+): (lease taken|handed over|released|.*standing down)")


def scale() -> int:
    """CHAOS_SCALE: 1 for the short variants that `make test` runs, more for `make chaos`."""
    return max(1, int(os.environ.get("CHAOS_SCALE", "1")))


# Every scenario's shard count: two, so that a fault hits more than one shard's recovery.
SHARDS: Final = 2


class Stack:
    def __init__(self, *, redis_url: str, database_url: str, log_dir: Path, **env: str) -> None:
        self.http_port = free_port()
        self.env: dict[str, str] = {
            "RUSHQUEUE_ENV": "test",
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "HTTP_HOST": LOOPBACK,
            "HTTP_PORT": str(self.http_port),
            "JWT_SECRET": JWT_SECRET,
            "ARGON2_PROFILE": "cheapest",
            "ENGINE_SHARDS": str(SHARDS),
            "ENGINE_LEASE_TTL_MS": "1000",
            "ENGINE_BATCH_SIZE": "16",
            "LOG_LEVEL": "INFO",
            # Rushes reuse a few hundred buyers and retry hard; per-buyer limits would answer
            # 429 and test the limiter instead of the fault handling.
            "RATE_LIMITS": "off",
            **env,
        }
        self.log_dir = log_dir
        self.children = Children(self.env, log_dir)
        self._argv = procfile()

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    def client_settings(self) -> Settings:
        """Settings for the test's own EngineClient: a short decision timeout, so a request
        that the fault swallowed comes back as a retryable error quickly."""
        return Settings.from_env({**self.env, "ENGINE_DECISION_TIMEOUT_SECONDS": "1"})

    async def wait_for_owners(self, within: float = 30.0) -> None:
        """Until every shard's lease is held: the engines announce nothing else to the test."""
        await wait_for_owners(self.env["REDIS_URL"], int(self.env["ENGINE_SHARDS"]), within)

    def start(self, name: str, role: Role, **env: str) -> None:
        """Start the Procfile's `role` as `name`; `env` adds variables for this child alone
        (its METRICS_PORT, say)."""
        self.children.spawn(name, self._argv[role], env)

    def process(self, name: str) -> subprocess.Popen[bytes]:
        return self.children.processes[name]

    def kill(self, name: str) -> None:
        process = self.process(name)
        process.kill()
        process.wait()

    def send(self, name: str, sig: signal.Signals) -> None:
        self.process(name).send_signal(sig)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def tokens_taken(self, name: str) -> dict[int, int]:
        """Shard → the last fencing token this engine logged taking."""
        return {int(s): int(t) for s, t in _TAKEN.findall(self.log(name))}

    def shards_held(self, name: str) -> set[int]:
        """The shards this engine last logged taking and has not logged letting go since."""
        held: set[int] = set()
        for shard, what in _OWNERSHIP.findall(self.log(name)):
            if what == "lease taken":
                held.add(int(shard))
            else:
                held.discard(int(shard))
        return held

    def terminate_all(self, within: float = 10.0) -> dict[str, tuple[int, float]]:
        """SIGTERM every running child at once; each one's exit code and how long it took
        (a child still running after `within` is killed and shows as -9)."""
        running = {n: p for n, p in self.children.processes.items() if p.poll() is None}
        started = time.monotonic()
        for process in running.values():
            process.terminate()
        stopped: dict[str, tuple[int, float]] = {}
        for name, process in running.items():
            left = max(0.0, within - (time.monotonic() - started))
            try:
                code = process.wait(left)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            stopped[name] = (code, time.monotonic() - started)
        return stopped

    def cleanup(self) -> None:
        for process in self.children.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait()


async def wait_for_log(stack: Stack, name: str, pattern: str, within: float) -> re.Match[str]:
    """Until the child's log matches; the child announces nothing else to another process."""
    compiled = re.compile(pattern)
    async with asyncio.timeout(within):
        while True:
            if match := compiled.search(stack.log(name)):
                return match
            await asyncio.sleep(0.05)


async def wait_for_readyz(base_url: str, status: int, within: float) -> float | None:
    """Until the gateway's /readyz answers `status`; how long that took, or None if it never
    did within `within` seconds."""
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while time.monotonic() - started < within:
            try:
                async with session.get(f"{base_url}/readyz") as response:
                    if response.status == status:
                        return time.monotonic() - started
            except (aiohttp.ClientError, TimeoutError):
                pass  # not listening (yet, or any more)
            await asyncio.sleep(0.05)
    return None
