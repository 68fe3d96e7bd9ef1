"""The gateway's metrics, made once per app in the app's own registry.

Labels are bounded: a route is the router's template (`/api/v1/events/{id}/holds`, never an id),
or `unmatched` for a request no route took; a method outside HTTP's usual set counts as `other`;
a status is counted by class. Label children are looked up once and kept, because the hold path is
benchmarked and `.labels()` costs a lock and a tuple build each call.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from engine.protocol import CommandType
from gateway.limits import LimitRule
from gateway.payments.webhook import Outcome

UNMATCHED: Final = "unmatched"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_OTHER_METHOD: Final = "other"
_STATUS_CLASSES: Final = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
# Seconds; a hold is decided in milliseconds, a timeout is ENGINE_DECISION_TIMEOUT_SECONDS (5).
_LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class WebsocketKind(enum.StrEnum):
    SEAT_MAP = "seat_map"
    QUEUE = "queue"


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayMetrics:
    registry: CollectorRegistry
    requests: Counter
    request_seconds: Histogram
    websockets_open: Gauge
    engine_roundtrip_seconds: Histogram
    engine_timeouts: Counter
    rate_limited: Counter
    webhook_outcomes: Counter
    outbox_backlog: Gauge
    _counted: dict[tuple[str, str, str], Counter] = field(default_factory=dict)
    _timed: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    _roundtrips: dict[CommandType, Histogram] = field(default_factory=dict)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> GatewayMetrics:
        metrics = cls(
            registry=registry,
            requests=Counter(
                "rushqueue_http_requests",
                "HTTP requests answered, by route template, method and status class.",
                ["route", "method", "status_class"],
                registry=registry,
            ),
            request_seconds=Histogram(
                "rushqueue_http_request_duration_seconds",
                "Time from a request's head to its answer (a websocket's whole life).",
                ["route", "method"],
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            websockets_open=Gauge(
                "rushqueue_websockets_open",
                "Websockets open on this gateway, by kind.",
                ["kind"],
                registry=registry,
            ),
            engine_roundtrip_seconds=Histogram(
                "rushqueue_engine_roundtrip_seconds",
                "Time from submitting a command to the engine to its decision, by command.",
                ["command"],
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            engine_timeouts=Counter(
                "rushqueue_engine_timeouts",
                "Commands the engine did not answer within the decision timeout.",
                ["command"],
                registry=registry,
            ),
            rate_limited=Counter(
                "rushqueue_rate_limited",
                "Requests refused by a rate limit or the websocket cap, by rule.",
                ["rule"],
                registry=registry,
            ),
            webhook_outcomes=Counter(
                "rushqueue_webhook_outcomes",
                "Payment webhook events handled, by outcome.",
                ["outcome"],
                registry=registry,
            ),
            outbox_backlog=Gauge(
                "rushqueue_outbox_backlog",
                "Outbox jobs not done yet, as this gateway's outbox worker last counted them.",
                registry=registry,
            ),
        )
        # Every bounded series exists from the start at 0, so a rate over the first refusal,
        # timeout or outcome is seen in full rather than as a series appearing from nowhere.
        for command in CommandType:
            metrics.engine_timeouts.labels(command=command.value)
            metrics._roundtrips[command] = metrics.engine_roundtrip_seconds.labels(
                command=command.value
            )
        for rule in LimitRule:
            metrics.rate_limited.labels(rule=rule.value)
        for outcome in Outcome:
            metrics.webhook_outcomes.labels(outcome=outcome.value)
        for kind in WebsocketKind:
            metrics.websockets_open.labels(kind=kind.value)
        return metrics

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        if method not in _METHODS:
            method = _OTHER_METHOD
        key = (route, method, _STATUS_CLASSES.get(status // 100, "other"))
        counter = self._counted.get(key)
        if counter is None:
            counter = self._counted[key] = self.requests.labels(*key)
        counter.inc()
        timer = self._timed.get((route, method))
        if timer is None:
            timer = self._timed[route, method] = self.request_seconds.labels(route, method)
        timer.observe(seconds)

    def websockets(self, kind: WebsocketKind) -> Gauge:
        return self.websockets_open.labels(kind=kind.value)

    # -- engine.client.SubmitObserver ------------------------------------------------------

    def answered(self, command: CommandType, seconds: float) -> None:
        self._roundtrips[command].observe(seconds)

    def timed_out(self, command: CommandType) -> None:
        self.engine_timeouts.labels(command=command.value).inc()

    # -- the refusals and outcomes counted elsewhere ---------------------------------------

    def refused(self, rule: LimitRule) -> None:
        self.rate_limited.labels(rule=rule.value).inc()

    def webhook_outcome(self, outcome: Outcome) -> None:
        self.webhook_outcomes.labels(outcome=outcome.value).inc()

    def outbox_counted(self, backlog: int) -> None:
        self.outbox_backlog.set(backlog)
