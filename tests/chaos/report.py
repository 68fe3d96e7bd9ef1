"""The fault suite's results: one row per scenario, printed as a table when the session ends.

Each scenario records its row before it asserts, so a failing invariant shows up in the table
too. With `CHAOS_REPORT=path.json` the rows are also written as JSON (`make chaos` does this).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

COLUMNS: Final = ("scenario", "requests", "faults injected", "invariants", "recovery", "outcome")


@dataclass(slots=True)
class ScenarioResult:
    scenario: str
    requests: int = 0
    retryable_errors: int = 0
    faults: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    recovery_seconds: float | None = None
    outcome: str = "not run"

    @property
    def invariants(self) -> str:
        failed = [name for name, ok in self.checks.items() if not ok]
        if failed:
            return "FAILED: " + ", ".join(failed)
        return f"{len(self.checks)}/{len(self.checks)} ok"

    def row(self) -> tuple[str, ...]:
        recovery = "-" if self.recovery_seconds is None else f"{self.recovery_seconds:.2f} s"
        requests = f"{self.requests} ({self.retryable_errors} retried)"
        faults = "; ".join(self.faults)
        return (self.scenario, requests, faults, self.invariants, recovery, self.outcome)


RESULTS: list[ScenarioResult] = []


def table(results: list[ScenarioResult]) -> list[str]:
    """A Markdown table, readable in a terminal and pasteable into docs/reliability.md."""
    rows = [COLUMNS, *(result.row() for result in results)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(rows[0]), line(tuple("-" * w for w in widths)), *(line(r) for r in rows[1:])]


def write_json(results: list[ScenarioResult]) -> None:
    path = os.environ.get("CHAOS_REPORT")
    if path:
        Path(path).write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
