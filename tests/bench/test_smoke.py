"""Both benchmarks at their quick sizes, as a user runs them: each must exit 0, write its JSON
report and find its invariants kept. Nothing about speed is asserted; that is the machine's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson
import pytest

from tests.helpers.commands import run_module

RUN_WITHIN: Final = 220.0


def run_quick(module: str, out: Path, *options: str) -> dict[str, Any]:
    """Run `python -m <module> --quick --out <out> [options]` and return the report it wrote."""
    run_module(module, "--quick", "--out", str(out), *options, within=RUN_WITHIN)
    reports = list(out.glob("*.json"))
    assert len(reports) == 1, f"expected one report in {out}, found {reports}"
    report: dict[str, Any] = orjson.loads(reports[0].read_bytes())
    return report


# `make bench` runs this benchmark in full; its smoke runs in `make chaos`.
@pytest.mark.long
@pytest.mark.timeout(240)
def test_engine_benchmark_keeps_its_invariants(tmp_path: Path) -> None:
    report = run_quick("bench.engine", tmp_path, "--sweep", "300", "--sweep-seconds", "1")

    assert report["benchmark"] == "engine"
    assert report["configurations"]
    assert all(row["invariants"] == "ok" for row in report["configurations"])
    # The open-loop sweep (bench.engine_sweep): one point, every command decided.
    [point] = report["sweep"]
    assert point["offered_per_s"] == 300
    assert report["sweep_runs"][0]["decided"] == 300


@pytest.mark.long
@pytest.mark.timeout(240)
def test_engine_benchmark_on_a_cluster_counts_every_node(tmp_path: Path) -> None:
    report = run_quick("bench.engine", tmp_path, "--cluster")

    assert report["redis"] == "cluster of 3 masters, 1 replica(s) each, REDIS_MIN_REPLICAS=1"
    assert [(row["shards"], row["engine_processes"]) for row in report["configurations"]] == [
        (1, 1),
        (2, 2),
    ]
    for row in report["configurations"]:
        assert row["invariants"] == "ok"
        # Every node's CPU is metered, the replicas' beside the masters'.
        nodes = sorted(name for name in row["cpu_s"] if name.startswith("redis"))
        assert nodes == [
            f"redis-{role}-{index}" for role in ("master", "replica") for index in range(3)
        ]
        assert row["decisions_per_engine_cpu_s"] > 0
        assert row["decisions_per_redis_cpu_s"] > 0
    assert set(report["configurations"][1]["cpu_s"]) >= {"engine-0", "engine-1"}


# `make bench` runs this benchmark in full; its smoke runs in `make chaos`.
@pytest.mark.long
@pytest.mark.timeout(240)
def test_rush_keeps_its_invariants(tmp_path: Path) -> None:
    report = run_quick("bench.rush", tmp_path)

    assert report["benchmark"] == "rush"
    assert report["invariants"] == "ok"
    assert report["holds"]["granted"] > 0
    assert report["websocket"]["messages"] > 0
    assert all(usage["peak_rss_mib"] > 0 for usage in report["processes"].values())
    # The engine's own /metrics count every granted hold once, as the load client did.
    assert report["metrics"]["engine"]["by_outcome"]["ok"] == report["holds"]["granted"]
    assert report["metrics"]["web"]["hold_requests"]["2xx"] >= report["holds"]["granted"]
    assert report["holds"]["per_engine_cpu_s"] > 0
    assert report["holds"]["per_redis_cpu_s"] > 0


@pytest.mark.long
@pytest.mark.timeout(240)
def test_waiting_room_rush_admits_in_rank_order(tmp_path: Path) -> None:
    report = run_quick("bench.rush", tmp_path, "--waiting-room")

    assert report["benchmark"] == "waiting-room"
    assert report["invariants"] == "ok"
    assert report["joins"]["answered"] == report["config"]["buyers"]
    fairness = report["fairness"]
    assert fairness["ranks_are_1_to_n"]
    assert fairness["admitted"] > 0
    assert fairness["out_of_rank_order"] == 0
    assert fairness["pre_queue_places"] > 0
    assert report["holds"]["granted"] > 0
    assert report["queue_sockets"]["open"] == report["config"]["sockets"]
    assert report["queue_sockets"]["frames"] > 0
    assert all(usage["peak_rss_mib"] > 0 for usage in report["processes"].values())
