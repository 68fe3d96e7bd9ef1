"""Benchmark output: one JSON file per run and a markdown table."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson


def machine() -> dict[str, Any]:
    memory_kb = 0
    with Path("/proc/meminfo").open() as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_report(name: str, result: dict[str, Any], out: Path) -> str:
    """Write the run's JSON next to earlier ones and return its markdown table."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {"benchmark": name, "at": stamp, "machine": machine(), **result}
    path = out / f"{name}-{stamp}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    if name == "engine":
        table = _engine_table(result)
    else:
        table = "\n".join(f"| {key} | {value} |" for key, value in result.items())
    return f"{table}\n\n(written to {path})"


def _engine_table(result: dict[str, Any]) -> str:
    lines = [
        "| shards | engine processes | decisions | decisions/s | p50 ms | p99 ms | max ms "
        "| invariants |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["configurations"]:
        latency = row["latency"]
        lines.append(
            f"| {row['shards']} | {row['engine_processes']} | {row['decisions']} "
            f"| {row['decisions_per_s']} | {latency['p50_ms']} | {latency['p99_ms']} "
            f"| {latency['max_ms']} | {row['invariants']} |"
        )
    paced = result["paced"]
    lines.append("")
    lines.append(
        f"Paced at {paced['rate_per_s']}/s on one shard: p50 {paced['latency']['p50_ms']} ms, "
        f"p99 {paced['latency']['p99_ms']} ms, max {paced['latency']['max_ms']} ms "
        f"({paced['latency']['count']} decisions)."
    )
    return "\n".join(lines)
