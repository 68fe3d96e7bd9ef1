"""What one rush measured, and the shape of its report (`bench.report` prints it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.procstats import ProcessUsage, cpu_of, per_cpu_second
from bench.shoppers import Tally
from bench.stats import percentiles
from bench.watchers import FeedStats
from bench.writebehind import LagSampler


@dataclass(frozen=True, slots=True)
class Measured:
    tally: Tally
    feed: FeedStats
    lag: LagSampler
    sold_out_at: float | None  # perf_counter
    done: float  # perf_counter when the last buyer finished
    drained_s: float
    settled_s: float | None
    usage: dict[str, ProcessUsage]


def summarise(measured: Measured, setup: dict[str, Any]) -> dict[str, Any]:
    """The run's report: `setup` (the sizes and settings it ran with) and what it measured."""
    tally, feed = measured.tally, measured.feed
    assert tally.first_sent is not None
    assert tally.last_decided is not None
    decisions = len(tally.hold_latencies_s)
    sold_out_at = measured.sold_out_at
    sold_out = sold_out_at is not None and sold_out_at <= measured.done
    selling_ended = sold_out_at if sold_out_at is not None and sold_out else measured.done
    outcomes = Counter(grant.done for grant in tally.grants)
    return {
        "config": setup,
        "holds": {
            "decisions": decisions,
            "granted": len(tally.grants),
            "buyers_without_hold": tally.unserved,
            "unanswered": tally.unanswered_holds,
            "decisions_per_s": round(decisions / (tally.last_decided - tally.first_sent)),
            "latency": percentiles(tally.hold_latencies_s),
            # Over the whole run, so the engine's CPU covers its other work too (payments,
            # releases, expiries), and Redis's every node (replicas included) and every client.
            "per_engine_cpu_s": per_cpu_second(decisions, cpu_of(measured.usage, "engine")),
            "per_redis_cpu_s": per_cpu_second(decisions, cpu_of(measured.usage, "redis")),
        },
        "sell_out": {"sold_out": sold_out, "seconds": round(selling_ended - tally.first_sent, 2)},
        "checkout": {
            "outcomes": dict(sorted(outcomes.items())),
            "latency": percentiles(tally.checkout_latencies_s),
        },
        "websocket": {
            "watchers": setup["watchers"],
            "all_open_s": feed.open_s,
            "messages": feed.messages,
            "frames": feed.frames,
            "push_latency": percentiles(feed.push_latencies_s),
            "reconnects": feed.reconnects,
            "gaps": feed.gaps,
            "closes": dict(feed.closes),
            "errors": dict(feed.errors),
        },
        "write_behind": {
            "lag": percentiles(measured.lag.lags_s),
            "unseen": measured.lag.unseen,
            "drained_after_rush_s": round(measured.drained_s, 2),
        },
        "expiry": {"all_holds_ended_after_rush_s": measured.settled_s},
        "responses": dict(sorted(tally.responses.items())),
        "server_errors": [
            {"status": status, "code": code, "message": message, "count": count}
            for (status, code, message), count in tally.server_errors.most_common()
        ],
        "processes": measured.usage,
    }
