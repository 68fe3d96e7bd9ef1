"""The hold-only rush under wrk at its quick size, and the chart drawn from its report: each must
exit 0 and write what it says. Nothing about speed is asserted; that is the machine's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.test_smoke import run_quick
from tests.helpers.commands import ROOT


# `make bench` runs this benchmark in full; its smoke runs in `make chaos`.
@pytest.mark.long
@pytest.mark.timeout(240)
def test_hold_rush_under_wrk_decides_every_request_and_draws_its_curve(tmp_path: Path) -> None:
    report = run_quick("bench.holdrush", tmp_path, "--sweep", "200,400")

    assert report["benchmark"] == "holdrush"
    closed = report["closed_loop"]
    done = closed["wrk"]
    assert done["decisions"] > 0
    assert done["errors"] == 0
    granted = sum(n for status, n in done["statuses"].items() if status.startswith("2"))
    # Each grant is one held seat once the journal has drained, and the engine's own /metrics
    # counted every grant (it also counts those still in flight when wrk stopped).
    engine = closed["metrics"]["engine"]
    assert closed["held_seats_in_mariadb"] == engine["by_outcome"]["ok"] >= granted
    assert engine["hold_decisions"] >= done["decisions"]
    # CPU per process, the load client's included.
    assert {"web", "engine", "redis-server", "mariadbd", "honcho", "wrk"} <= closed["cpu_s"].keys()
    assert [point["offered_per_s"] for point in report["sweep"]] == [200, 400]
    assert all(point["achieved_per_s"] > 0 for point in report["sweep"])

    chart = tmp_path / "curve.png"
    finished = subprocess.run(
        [sys.executable, "-m", "bench.curve", "--results", str(tmp_path), "--out", str(chart)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert chart.read_bytes().startswith(b"\x89PNG")
