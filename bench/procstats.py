"""Peak memory and CPU time of the processes under test, read from /proc.

Both must be read while each process is alive (its /proc entry goes with it), so a run samples
CPU time when the rush starts and both figures at the end, before anything is stopped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, TypedDict

from engine.redis_client import RedisClient
from persistence import Database

CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


class ProcessUsage(TypedDict):
    pid: int
    peak_rss_mib: float
    cpu_s: float


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far (utime and stime, fields 14 and 15 of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses; the fields after its last ')' do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process has had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise LookupError(f"/proc/{pid}/status has no VmHWM")


async def server_pids(redis: RedisClient, db: Database) -> dict[str, int]:
    """The pids of redis-server (one server) and mariadbd, as the servers themselves report
    them. A cluster's nodes are named by bench.stack.Servers.redis_pids instead."""
    info = await redis.info("server")
    return {"redis-server": int(info["process_id"]), "mariadbd": await mariadb_pid(db)}


async def mariadb_pid(db: Database) -> int:
    async with db.transaction() as conn:
        pid_file = await conn.fetch_value("SELECT @@pid_file")
    return _pid_in(Path(pid_file))


def _pid_in(pid_file: Path) -> int:
    return int(pid_file.read_text().strip())


def cpu_of(usage: dict[str, ProcessUsage], prefix: str) -> float:
    """The CPU seconds of every process whose name starts with `prefix` ("engine", "redis")."""
    return round(sum(used["cpu_s"] for name, used in usage.items() if name.startswith(prefix)), 2)


def per_cpu_second(decisions: int, cpu_s: float) -> int | None:
    return round(decisions / cpu_s) if cpu_s > 0 else None


class UsageMeter:
    """CPU seconds spent by each process between `start` and `finish`, and its peak RSS."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._cpu_at_start: dict[str, float] = {}

    def start(self) -> None:
        self._cpu_at_start = {name: cpu_seconds(pid) for name, pid in self._pids.items()}

    def finish(self) -> dict[str, ProcessUsage]:
        return {
            name: {
                "pid": pid,
                "peak_rss_mib": peak_rss_mib(pid),
                "cpu_s": round(cpu_seconds(pid) - self._cpu_at_start[name], 2),
            }
            for name, pid in self._pids.items()
        }
