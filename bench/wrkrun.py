"""Running `wrk` with bench/wrk/hold_plan.lua: the command line, its CPU, and its figures.

wrk is a C load generator (Debian's `wrk`, installed by `make bench`): it costs a small fraction
of the server's CPU per request, where a Python client costs about as much as the gateway. Its
own CPU is read from the kernel when it exits (`wait4`'s resource usage), so it is whole.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypedDict

import orjson

SCRIPT: Final = Path(__file__).resolve().parent / "wrk" / "hold_plan.lua"
MARKER: Final = "WRK_JSON "
# Past the gateway's 5 s decision timeout, so that a slow decision is a 503, not a wrk timeout.
TIMEOUT_S: Final = 10
# wrk stops by itself after its duration; this is for a wrk that does not.
OVERRUN_S: Final = 60.0
DECIDED: Final = ("2", "409")  # 2xx (granted) and 409 (refused) are decisions


class LoadToolMissing(RuntimeError):
    pass


class SendLag(TypedDict):
    """How late requests left against their schedule (open loop only)."""

    count: int
    mean_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class WrkRun:
    seconds: float
    requests: int
    statuses: dict[str, int]
    socket_errors: dict[str, int]  # connect, read, write, timeout
    latency_ms: dict[str, float]  # min, mean, p50, p90, p99, p999, max
    send_lag: SendLag | None
    replays: int  # how many times some thread started its share of the plan again
    plan_entries: int
    cpu_s: float  # wrk's own user + system CPU

    @property
    def decisions(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith(DECIDED))

    @property
    def errors(self) -> int:
        """Answers other than 2xx and 409, and socket errors (timeouts included)."""
        return self.requests - self.decisions + sum(self.socket_errors.values())

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "decisions": self.decisions,
            "decisions_per_s": round(self.decisions / self.seconds) if self.seconds else 0,
            "statuses": dict(sorted(self.statuses.items())),
            "errors": self.errors,
            "socket_errors": self.socket_errors,
            "latency_ms": self.latency_ms,
            "send_lag": self.send_lag,
            "replays": self.replays,
            "plan_entries": self.plan_entries,
            "wrk_cpu_s": round(self.cpu_s, 2),
        }


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadToolMissing(
            "wrk not found: `make bench` installs it (devstack/ensure-system-packages.sh "
            "--with-load-tools), or: sudo apt-get install -y wrk"
        )
    return found


def command(
    base_url: str,
    plan: Path,
    event_id: int,
    *,
    connections: int,
    seconds: float,
    threads: int,
    rate: float,
) -> list[str]:
    """`rate` 0: closed loop; otherwise requests per second on a fixed schedule."""
    return [
        wrk_binary(),
        f"--threads={threads}",
        f"--connections={max(connections, threads)}",
        f"--duration={max(1, math.ceil(seconds))}s",
        f"--timeout={TIMEOUT_S}s",
        f"--script={SCRIPT}",
        base_url,
        "--",
        str(plan),
        str(event_id),
        str(threads),
        str(round(rate)),
    ]


def run(argv: list[str], seconds: float) -> WrkRun:
    """Run wrk to its end (blocking: call it in a thread) and read its figures and its CPU."""
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    watchdog = threading.Timer(seconds + OVERRUN_S, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        output = process.stdout.read().decode(errors="replace")
        process.stdout.close()
        # wait4 rather than wait: the kernel's account of the CPU wrk used, all threads.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        watchdog.cancel()
        if process.returncode is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}:\n{output[-2000:]}")
    return parse(output, usage.ru_utime + usage.ru_stime)


def parse(output: str, cpu_s: float) -> WrkRun:
    lines = [line for line in output.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise RuntimeError(f"wrk printed no {MARKER.strip()} line:\n{output[-2000:]}")
    raw: dict[str, Any] = orjson.loads(lines[-1][len(MARKER) :])
    errors = raw["errors"]
    latency = raw["latency_us"]
    return WrkRun(
        seconds=raw["duration_us"] / 1e6,
        requests=int(raw["requests"]),
        statuses={status: int(n) for status, n in raw["statuses"].items()},
        socket_errors={kind: int(errors[kind]) for kind in ("connect", "read", "write", "timeout")},
        latency_ms={
            name: round(latency[name] / 1000, 2)
            for name in ("min", "mean", "p50", "p90", "p99", "p999", "max")
        },
        send_lag=_send_lag(raw["send_lag"]),
        replays=int(raw["replays"]),
        plan_entries=int(raw["plan_entries"]),
        cpu_s=cpu_s,
    )


def _send_lag(raw: dict[str, Any]) -> SendLag | None:
    count = int(raw["count"])
    if not count:
        return None
    # 1 ms buckets (the bucket's lower edge), and "over" for a second or more.
    buckets = sorted(
        (math.inf if name == "over" else float(name), int(n))
        for name, n in raw["histogram"].items()
    )

    def at(share: float) -> float:
        rank, seen = share * count, 0
        for edge, n in buckets:
            seen += n
            if seen >= rank:
                return edge if math.isfinite(edge) else 1000.0
        return buckets[-1][0]

    return {
        "count": count,
        "mean_ms": round(float(raw["sum_ms"]) / count, 2),
        "p50_ms": at(0.5),
        "p99_ms": at(0.99),
        "max_ms": round(float(raw["max_ms"]), 2),
    }
