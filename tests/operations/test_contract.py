"""The processes export the names the dashboard and the alerts are written against (issue 14's
metric contract in tests/operations/docs.py), read from their real registries."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from engine.metrics import EngineMetrics, FlusherMetrics, SweeperMetrics
from gateway.metrics import GatewayMetrics
from tests.operations.docs import (
    ENGINE_METRICS,
    FLUSHER_METRICS,
    GATEWAY_METRICS,
    SWEEPER_METRICS,
    exported_names,
)


def test_the_gateway_exports_every_gateway_metric_of_the_contract() -> None:
    registry = CollectorRegistry()
    GatewayMetrics.create(registry)
    exported = exported_names(registry)
    assert exported >= GATEWAY_METRICS, GATEWAY_METRICS - exported


def test_the_engine_exports_every_engine_metric_of_the_contract() -> None:
    registry = CollectorRegistry()
    EngineMetrics.create(registry).started(owner="owner", shard_count=2)
    exported = exported_names(registry)
    assert exported >= ENGINE_METRICS, ENGINE_METRICS - exported


def test_the_sweeper_exports_every_sweeper_metric_of_the_contract() -> None:
    registry = CollectorRegistry()
    SweeperMetrics.create(registry)
    exported = exported_names(registry)
    assert exported >= SWEEPER_METRICS, SWEEPER_METRICS - exported


def test_the_flusher_exports_every_flusher_metric_of_the_contract() -> None:
    registry = CollectorRegistry()
    FlusherMetrics.create(registry)
    exported = exported_names(registry)
    assert exported >= FLUSHER_METRICS, FLUSHER_METRICS - exported
