"""The benchmark's figures read from the processes' own /metrics, as Prometheus would read them,
so the published numbers and the dashboard come from the same counters.

A run scrapes every engine process before and after; the difference of the two is the run's:
hold decisions counted by the engine, and the decision latency (enqueue → applied decision)
from its histogram, with quantiles interpolated within buckets as PromQL's
`histogram_quantile` does.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

DECIDED: Final = "rushqueue_engine_commands_total"
DECISION: Final = "rushqueue_engine_decision_seconds"
REQUESTS: Final = "rushqueue_http_requests_total"
ROUNDTRIP: Final = "rushqueue_engine_roundtrip_seconds"
SHARDS_OWNED: Final = "rushqueue_engine_shards_owned"
SHARDS_ASSIGNED: Final = "rushqueue_engine_shards_assigned"
MEMBERS: Final = "rushqueue_engine_members"
HOLDS_ROUTE: Final = "/api/v1/events/{id}/holds"
STARTING_WITHIN: Final = 15.0


@dataclass(slots=True)
class EngineScrape:
    """Hold decisions and their latency histogram, summed over shards and processes."""

    decisions: dict[str, float] = field(default_factory=dict)  # outcome → count
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound → cumulative count
    seconds: float = 0.0
    count: float = 0.0

    def __sub__(self, before: EngineScrape) -> EngineScrape:
        return EngineScrape(
            decisions={
                outcome: value - before.decisions.get(outcome, 0.0)
                for outcome, value in self.decisions.items()
            },
            buckets={le: value - before.buckets.get(le, 0.0) for le, value in self.buckets.items()},
            seconds=self.seconds - before.seconds,
            count=self.count - before.count,
        )

    def quantile_ms(self, q: float) -> float | None:
        """`histogram_quantile(q, …)` in milliseconds; None without observations."""
        if self.count <= 0:
            return None
        rank = q * self.count
        lower, below = 0.0, 0.0
        for upper in sorted(self.buckets):
            cumulative = self.buckets[upper]
            if cumulative >= rank:
                if math.isinf(upper):
                    return round(lower * 1000, 2)  # past the last bound: its lower edge
                within = (rank - below) / (cumulative - below) if cumulative > below else 1.0
                return round((lower + (upper - lower) * within) * 1000, 2)
            lower, below = upper, cumulative
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "hold_decisions": round(sum(self.decisions.values())),
            "by_outcome": {outcome: round(n) for outcome, n in sorted(self.decisions.items())},
            "decision_mean_ms": round(self.seconds / self.count * 1000, 2) if self.count else None,
            "decision_p50_ms": self.quantile_ms(0.5),
            "decision_p99_ms": self.quantile_ms(0.99),
        }


@dataclass(slots=True)
class GatewayScrape:
    """Hold requests by status class, and the gateway's round trip to the engine for holds
    (its latency histogram), summed over gateway processes."""

    requests: dict[str, float] = field(default_factory=dict)  # status class → count
    roundtrip: EngineScrape = field(default_factory=EngineScrape)

    def __sub__(self, before: GatewayScrape) -> GatewayScrape:
        return GatewayScrape(
            requests={
                status: value - before.requests.get(status, 0.0)
                for status, value in self.requests.items()
            },
            roundtrip=self.roundtrip - before.roundtrip,
        )

    def summary(self) -> dict[str, Any]:
        return {
            "hold_requests": {status: round(n) for status, n in sorted(self.requests.items())},
            "engine_roundtrip_p50_ms": self.roundtrip.quantile_ms(0.5),
            "engine_roundtrip_p99_ms": self.roundtrip.quantile_ms(0.99),
        }


def parse_gateway(texts: Iterable[str]) -> GatewayScrape:
    requests: defaultdict[str, float] = defaultdict(float)
    timings: list[str] = []
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name == REQUESTS
                    and labels.get("route") == HOLDS_ROUTE
                    and labels.get("method") == "POST"
                ):
                    requests[labels["status_class"]] += sample.value
        timings.append(text)
    return GatewayScrape(requests=dict(requests), roundtrip=_histogram(timings, ROUNDTRIP))


def parse_engine(texts: Iterable[str]) -> EngineScrape:
    return _histogram(texts, DECISION, counter=DECIDED)


def _histogram(texts: Iterable[str], histogram: str, *, counter: str | None = None) -> EngineScrape:
    """The hold command's series of `histogram` (and of `counter`, by outcome)."""
    scrape = EngineScrape()
    decisions: defaultdict[str, float] = defaultdict(float)
    buckets: defaultdict[float, float] = defaultdict(float)
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.labels.get("command") != "hold":
                    continue
                if sample.name == counter:
                    decisions[sample.labels["outcome"]] += sample.value
                elif sample.name == f"{histogram}_bucket":
                    buckets[float(sample.labels["le"])] += sample.value
                elif sample.name == f"{histogram}_sum":
                    scrape.seconds += sample.value
                elif sample.name == f"{histogram}_count":
                    scrape.count += sample.value
    scrape.decisions = dict(decisions)
    scrape.buckets = dict(buckets)
    return scrape


async def scrape_engines(urls: Iterable[str], within: float = STARTING_WITHIN) -> EngineScrape:
    return parse_engine(await scrape_texts(urls, within))


async def scrape_gateways(urls: Iterable[str], within: float = STARTING_WITHIN) -> GatewayScrape:
    return parse_gateway(await scrape_texts(urls, within))


async def scrape_texts(urls: Iterable[str], within: float = STARTING_WITHIN) -> list[str]:
    texts = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for url in urls:
            texts.append(await _scrape(session, url, within))
    return texts


async def _scrape(session: aiohttp.ClientSession, url: str, within: float) -> str:
    # An engine that owns no shard yet may still be starting: its port opens when it has.
    async with asyncio.timeout(within):
        while True:
            try:
                async with session.get(url) as response:
                    response.raise_for_status()
                    return await response.text()
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.05)


async def wait_for_even_spread(urls: list[str], shards: int, within: float = 60.0) -> None:
    """Until the engines behind `urls` see each other and each owns exactly the shards the
    membership assigns it. Engines started together first race for every lease, then hand the
    extras over: a run measured before that would time handovers, not decisions."""
    async with aiohttp.ClientSession() as session, asyncio.timeout(within):
        while True:
            gauges = [_engine_gauges(await _scrape(session, url, within)) for url in urls]
            if sum(owned for owned, _, _ in gauges) == shards and all(
                owned == assigned and members == len(urls) for owned, assigned, members in gauges
            ):
                return
            # Not faster: each scrape renders every series, and the engine pays for it.
            await asyncio.sleep(0.2)


def _engine_gauges(text: str) -> tuple[float, float, float]:
    """(shards owned, shards assigned, members seen) from one engine's exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name in (SHARDS_OWNED, SHARDS_ASSIGNED, MEMBERS):
            found[family.name] = family.samples[0].value
    return found.get(SHARDS_OWNED, 0.0), found.get(SHARDS_ASSIGNED, -1.0), found.get(MEMBERS, 0.0)
