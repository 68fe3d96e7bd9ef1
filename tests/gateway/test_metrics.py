"""The gateway's metrics and request ids, over the full app, real Redis and MariaDB: every answer
carries an `X-Request-Id`, and each request, engine round trip, refusal, open seat map and webhook
outcome shows up in the app's own registry under bounded labels."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final

import orjson
import pytest
import stripe

from config.settings import DEV_WEBHOOK_SECRET
from gateway.app import make_app
from gateway.appkeys import METRICS
from telemetry.logs import stamp_request_id
from tests.helpers.users import bearer

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web
    from aiohttp.test_utils import TestClient
    from pytest_aiohttp import AiohttpClient

    from config import Settings
    from engine.redis_client import RedisClient
    from persistence import Database
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.engine import RunningEngine
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

HOLDS_ROUTE: Final = "/api/v1/events/{id}/holds"
SEATS_ROUTE: Final = "/api/v1/events/{event_id}/seats"


def sample(client: Client, name: str, **labels: str) -> float:
    """A series' current value in the app's registry; 0 for one not made yet."""
    value = client.app[METRICS].registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Until `condition` holds: for state another task changes without telling anyone."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


# -- request ids ---------------------------------------------------------------------------


async def test_a_clients_request_id_is_echoed(client: Client) -> None:
    response = await client.get("/api/v1/events", headers={"X-Request-Id": "trace-42.a_b"})
    assert response.status == 200
    assert response.headers["X-Request-Id"] == "trace-42.a_b"


@pytest.mark.parametrize("given", [None, "", "has space", "x" * 65, "semi;colon"])
async def test_a_missing_or_unfit_request_id_is_replaced_by_a_fresh_one(
    client: Client, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-Id": given}
    first = await client.get("/api/v1/events", headers=headers)
    second = await client.get("/api/v1/events", headers=headers)
    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert ids[0] != ids[1]
    assert all(len(each) == 32 and int(each, 16) >= 0 for each in ids)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/me", 401),  # a domain error from a middleware
        ("GET", "/no/such/route", 404),  # no route at all
        ("PATCH", "/api/v1/events", 405),
        ("GET", "/api/v1/events/not-a-number/seats", 404),
    ],
)
async def test_error_answers_carry_the_request_id_too(
    client: Client, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, headers={"X-Request-Id": "err-1"})
    assert response.status == status
    assert response.headers["X-Request-Id"] == "err-1"
    assert set((await response.json())["error"]) >= {"status", "code", "message"}


async def test_a_seat_map_upgrade_carries_the_request_id(
    client: Client, make_event: MakeEvent
) -> None:
    event = await make_event(seats=2)
    async with client.ws_connect(
        f"/api/v1/events/{event.event_id}/seats/ws", headers={"X-Request-Id": "ws-1"}
    ) as ws:
        assert ws._response.headers["X-Request-Id"] == "ws-1"


async def test_the_access_log_is_off_by_default(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """(aiohttp's own access log is turned off where the server is started, gateway.cli; the
    Prometheus test reads a real gateway's log for it.)"""
    with caplog.at_level(logging.DEBUG):
        await client.get("/api/v1/events")
    assert not [r for r in caplog.records if r.name == "gateway.access"]


async def test_an_access_log_line_carries_the_request_id(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await aiohttp_client(make_app(make_settings(ACCESS_LOG="on")))
    caplog.handler.addFilter(stamp_request_id)  # as every process's log handler does
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        await client.get("/api/v1/events?secret=1", headers={"X-Request-Id": "acc-9"})
    [line] = [r for r in caplog.records if r.name == "gateway.access"]
    assert line.getMessage().startswith("GET /api/v1/events 200 ")
    assert "secret" not in line.getMessage(), "query strings may hold tokens; not logged"
    assert getattr(line, "request_id", None) == "acc-9"


# -- request metrics -----------------------------------------------------------------------


async def test_requests_are_counted_by_route_template_method_and_status_class(
    client: Client, make_event: MakeEvent
) -> None:
    first, second = await make_event(seats=2), await make_event(seats=2)
    for event in (first, second, first):
        assert (await client.get(f"/api/v1/events/{event.event_id}/seats")).status == 200
    await client.get("/no/such/route")
    await client.request("PROPFIND", "/api/v1/events")  # a method llhttp knows, we do not

    counted = "rushqueue_http_requests_total"
    assert sample(client, counted, route=SEATS_ROUTE, method="GET", status_class="2xx") == 3
    assert sample(client, counted, route="unmatched", method="GET", status_class="4xx") == 1
    assert sample(client, counted, route="unmatched", method="other", status_class="4xx") == 1
    timed = "rushqueue_http_request_duration_seconds_count"
    assert sample(client, timed, route=SEATS_ROUTE, method="GET") == 3
    routes = {
        sample.labels["route"]
        for metric in client.app[METRICS].registry.collect()
        if metric.name.startswith("rushqueue_http_")
        for sample in metric.samples
    }
    assert routes == {SEATS_ROUTE, "unmatched"}, "templates only: no ids in labels"


async def test_a_hold_measures_the_engine_round_trip(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=4)
    buyer = await signup()
    response = await client.post(
        f"/api/v1/events/{event.event_id}/holds",
        json={"seat_ids": list(event.seat_ids[:2])},
        headers=bearer(buyer.token),
    )
    assert response.status == 201, await response.text()
    assert sample(client, "rushqueue_engine_roundtrip_seconds_count", command="hold") == 1
    assert sample(client, "rushqueue_engine_timeouts_total", command="hold") == 0
    assert (
        sample(
            client,
            "rushqueue_http_requests_total",
            route=HOLDS_ROUTE,
            method="POST",
            status_class="2xx",
        )
        == 1
    )


async def test_an_engine_that_does_not_answer_counts_a_timeout(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
) -> None:
    """No engine runs: the hold waits out its decision timeout and answers 503."""
    client = await aiohttp_client(make_app(make_settings(ENGINE_DECISION_TIMEOUT_SECONDS="0.2")))
    event = await make_event(seats=2)
    signed_up = await client.post(
        "/api/v1/auth/signup",
        json={"email": "late@example.com", "password": "correct horse battery", "name": "L"},
    )
    token = (await signed_up.json())["token"]
    response = await client.post(
        f"/api/v1/events/{event.event_id}/holds",
        json={"seat_ids": [event.seat_ids[0]]},
        headers=bearer(token),
    )
    assert response.status == 503
    assert sample(client, "rushqueue_engine_timeouts_total", command="hold") == 1
    assert sample(client, "rushqueue_engine_roundtrip_seconds_count", command="hold") == 0
    assert (
        sample(
            client,
            "rushqueue_http_requests_total",
            route=HOLDS_ROUTE,
            method="POST",
            status_class="5xx",
        )
        == 1
    )


async def test_rate_limit_refusals_are_counted_by_rule(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
) -> None:
    client = await aiohttp_client(make_app(make_settings(RATE_LIMIT_LOGIN_PER_IP="1/60")))
    login = {"email": "nobody@example.com", "password": "wrong password here"}
    assert (await client.post("/api/v1/auth/login", json=login)).status == 401
    assert (await client.post("/api/v1/auth/login", json=login)).status == 429

    assert sample(client, "rushqueue_rate_limited_total", rule="login_ip") == 1
    assert sample(client, "rushqueue_rate_limited_total", rule="login_email") == 0


async def test_the_websocket_cap_counts_as_a_rule(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
) -> None:
    client = await aiohttp_client(make_app(make_settings(WS_MAX_PER_IP="1")))
    event = await make_event(seats=2)
    url = f"/api/v1/events/{event.event_id}/seats/ws"
    async with client.ws_connect(url) as ws:
        await ws.receive_json(timeout=5)
        refused = await client.get(url)
        assert refused.status == 429
    assert sample(client, "rushqueue_rate_limited_total", rule="websocket_cap") == 1


async def test_open_seat_maps_are_a_gauge(client: Client, make_event: MakeEvent) -> None:
    event = await make_event(seats=2)
    gauge = "rushqueue_websockets_open"
    assert sample(client, gauge, kind="seat_map") == 0
    async with client.ws_connect(f"/api/v1/events/{event.event_id}/seats/ws") as ws:
        await ws.receive_json(timeout=5)  # the snapshot: the socket is open
        assert sample(client, gauge, kind="seat_map") == 1
    await until(lambda: sample(client, gauge, kind="seat_map") == 0)


async def test_webhook_outcomes_are_counted(client: Client) -> None:
    payload = orjson.dumps(
        {"id": "evt_1", "object": "event", "type": "customer.created", "data": {"object": {}}}
    ).decode()
    signature = stripe.WebhookSignature.generate_signature_header(
        payload, DEV_WEBHOOK_SECRET, timestamp=int(time.time())
    )
    response = await client.post(
        "/api/v1/payments/webhook", data=payload, headers={"Stripe-Signature": signature}
    )
    assert (await response.json())["outcome"] == "ignored"
    assert sample(client, "rushqueue_webhook_outcomes_total", outcome="ignored") == 1
    assert sample(client, "rushqueue_webhook_outcomes_total", outcome="booked") == 0
