"""What the operations tests share: where docs/operations/ is, promtool, and the metric contract.

promtool comes with Debian's `prometheus` package, which the bootstrap installs for `make test`.
A missing promtool fails these tests rather than skipping them: a skipped rules check would let
a broken alert reach production unnoticed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Final

import pytest
from prometheus_client import CollectorRegistry

ROOT: Final = Path(__file__).resolve().parents[2]
OPERATIONS: Final = ROOT / "docs" / "operations"
ALERTS: Final = OPERATIONS / "alerts.yml"
ALERTS_TESTS: Final = OPERATIONS / "alerts.test.yml"
DASHBOARD: Final = OPERATIONS / "grafana-dashboard.json"
RUNBOOK: Final = OPERATIONS / "runbook.md"
PROMTOOL_TIMEOUT: Final = 30.0

# Issue 14's metric contract, as PromQL sees the samples (histograms by family name). The
# dashboard and the alerts may name nothing else, so a typo cannot leave a panel silently empty.
GATEWAY_METRICS: Final = frozenset(
    {
        "rushqueue_http_requests_total",
        "rushqueue_http_request_duration_seconds",
        "rushqueue_websockets_open",
        "rushqueue_engine_roundtrip_seconds",
        "rushqueue_engine_timeouts_total",
        "rushqueue_rate_limited_total",
        "rushqueue_webhook_outcomes_total",
        "rushqueue_outbox_backlog",
    }
)
ENGINE_METRICS: Final = frozenset(
    {
        "rushqueue_engine_commands_total",
        "rushqueue_engine_decision_seconds",
        "rushqueue_engine_batch_size",
        "rushqueue_engine_queue_depth",
        "rushqueue_engine_inflight",
        "rushqueue_engine_journal_length",
        "rushqueue_engine_journal_oldest_age_seconds",
        "rushqueue_engine_flush_seconds",
        "rushqueue_engine_shards",
        "rushqueue_engine_shard_owned",
        "rushqueue_engine_lease_token",
        "rushqueue_engine_info",
        "rushqueue_engine_lease_acquisitions_total",
        "rushqueue_engine_lease_losses_total",
        "rushqueue_engine_recoveries_total",
        "rushqueue_engine_recovery_seconds",
        "rushqueue_engine_fenced_turns_total",
        "rushqueue_engine_diverged_turns_total",
    }
)
SWEEPER_METRICS: Final = frozenset(
    {
        "rushqueue_sweeper_runs_total",
        "rushqueue_sweeper_overdue_holds_total",
        "rushqueue_sweeper_expire_commands_total",
    }
)
# The flusher process's (engine.flusher). Not in the contract until the dashboard has a panel for
# them: the contract is exactly what the dashboard shows.
FLUSHER_METRICS: Final = frozenset(
    {
        "rushqueue_flusher_entries_total",
        "rushqueue_flusher_flush_seconds",
        "rushqueue_flusher_lag_seconds",
        "rushqueue_flusher_fenced_total",
    }
)
CONTRACT_METRICS: Final = GATEWAY_METRICS | ENGINE_METRICS | SWEEPER_METRICS | FLUSHER_METRICS
_METRIC_NAME: Final = re.compile(r"\brushqueue_[a-z_]+")
_HISTOGRAM_SAMPLE: Final = re.compile(r"_(bucket|sum|count)$")


def exported_names(registry: CollectorRegistry) -> set[str]:
    """The metric names a registry's exposition gives PromQL: a counter family `x` is sampled
    as `x_total`; a histogram is named by its family."""
    return {
        f"{family.name}_total" if family.type == "counter" else family.name
        for family in registry.collect()
    }


def metric_names(text: str) -> set[str]:
    """Every rushqueue metric named in `text`, histogram samples folded into their family."""
    return {_HISTOGRAM_SAMPLE.sub("", name) for name in _METRIC_NAME.findall(text)}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run promtool; fail (never skip) when it is not installed."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(
            "promtool not found: install Debian's `prometheus` package "
            "(devstack/ensure-system-packages.sh does it for `make test`)"
        )
    return subprocess.run(
        [binary, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT,
        check=False,
    )
