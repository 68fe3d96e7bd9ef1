"""Latency summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict


class Percentiles(TypedDict):
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def percentiles(samples_s: Sequence[float]) -> Percentiles:
    ordered = sorted(samples_s)
    if not ordered:
        return {"count": 0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

    return {
        "count": len(ordered),
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 2),
    }
