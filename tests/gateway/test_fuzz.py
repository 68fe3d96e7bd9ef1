"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

Each documented operation is fed generated requests, valid and invalid, against the real app on a
real loopback server with a running engine, a seeded on-sale event, a buyer, an admin and a live
hold. Every answer must be no 5xx, a documented status, a documented content type and headers,
and a body that fits the documented schema; error bodies must be the one error shape.

Bounded for CI: `FUZZ_EXAMPLES` examples per operation and generation mode (25 unless the
environment says otherwise, e.g. `FUZZ_EXAMPLES=500 .venv/bin/pytest tests/gateway/test_fuzz.py`
for a longer run), derandomized so that a failure reproduces, with no example database.

schemathesis calls the server synchronously (through `requests`), so it runs in a worker thread
while the test's loop serves the app, the engine and the fixtures.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from domain.statuses import Role
from gateway.openapi import openapi_document

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.engine import RunningEngine
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

EXAMPLES: Final = int(os.environ.get("FUZZ_EXAMPLES", "25"))

# Every operation the fuzzer drives, as (method, path template), with who calls it.
BUYER: Final = "buyer"
ADMIN: Final = "admin"
FUZZED: Final[dict[tuple[str, str], str]] = {
    ("get", "/healthz"): BUYER,
    ("get", "/readyz"): BUYER,
    ("get", "/api/v1/openapi.json"): BUYER,
    ("post", "/api/v1/auth/signup"): BUYER,
    ("post", "/api/v1/auth/login"): BUYER,
    ("get", "/api/v1/me"): BUYER,
    ("get", "/api/v1/events"): BUYER,
    ("get", "/api/v1/events/{event_id}"): BUYER,
    ("get", "/api/v1/events/{event_id}/seats"): BUYER,
    ("get", "/api/v1/events/{event_id}/layout"): BUYER,
    ("get", "/api/v1/events/{event_id}/seats/live"): BUYER,
    ("post", "/api/v1/admin/venues"): ADMIN,
    ("get", "/api/v1/admin/venues"): ADMIN,
    ("post", "/api/v1/admin/events"): ADMIN,
    ("patch", "/api/v1/admin/events/{event_id}"): ADMIN,
    ("post", "/api/v1/events/{id}/holds"): BUYER,
    ("get", "/api/v1/holds/{id}"): BUYER,
    ("delete", "/api/v1/holds/{id}"): BUYER,
    ("post", "/api/v1/holds/{id}/checkout"): BUYER,
    ("post", "/api/v1/events/{event_id}/queue"): BUYER,
    ("get", "/api/v1/events/{event_id}/queue"): BUYER,
    ("delete", "/api/v1/events/{event_id}/queue"): BUYER,
    ("get", "/api/v1/admin/events/{event_id}/waiting-room"): ADMIN,
    ("put", "/api/v1/admin/events/{event_id}/waiting-room"): ADMIN,
    ("patch", "/api/v1/admin/events/{event_id}/waiting-room"): ADMIN,
    ("get", "/api/v1/payments/success"): BUYER,
    ("get", "/api/v1/payments/cancel"): BUYER,
    ("get", "/api/v1/bookings"): BUYER,
    ("get", "/api/v1/events/{event_id}/my-seats"): BUYER,
    ("get", "/checkout/local/{session_id}"): BUYER,
    ("post", "/checkout/local/{session_id}/pay"): BUYER,
    ("post", "/checkout/local/{session_id}/cancel"): BUYER,
    ("get", "/"): BUYER,
    ("get", "/static/{path}"): BUYER,
}
# Documented, but not fuzzed by the schema checks; each has its reason.
EXCLUDED: Final[dict[tuple[str, str], str]] = {
    # An upgrade: `requests` cannot speak websocket, and a plain GET is only ever the documented
    # 400 (tests/gateway/test_seats_ws.py and test_openapi.py cover both).
    ("get", "/api/v1/events/{id}/seats/ws"): "websocket upgrade",
    # The same, for the waiting room's progress (tests/gateway/test_queue.py).
    ("get", "/api/v1/events/{event_id}/queue/ws"): "websocket upgrade",
    # A generated payload can never carry a valid Stripe signature, so every answer is the same
    # 400: `test_the_webhook_refuses_every_generated_request` below fuzzes it for exactly that.
    ("post", "/api/v1/payments/webhook"): "needs a Stripe signature",
}

CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# The one error status whose body is not the error shape: readiness answers its own body.
NOT_ERROR_SHAPED: Final = {("get", "/readyz", 503)}


def error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is JSON in the one error shape, whatever the document says."""
    status: int = response.status_code
    key = (case.operation.method.lower(), case.operation.path, status)
    if status < 400 or key in NOT_ERROR_SHAPED:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/json"), f"{status} as {content_type}"
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["status"] == status, body
    assert isinstance(error["code"], str), body
    assert error["code"], body
    assert isinstance(error["message"], str), body
    assert error["message"], body
    return None


def invalid_signature(ctx: Any, response: Any, case: Any) -> bool | None:
    """Nothing generated is signed, so everything is refused as `invalid_signature`."""
    code = response.json()["error"]["code"]
    assert (response.status_code, code) == (400, "invalid_signature"), response.text
    return None


def fuzz(
    operation: Any,
    *,
    base_url: str,
    headers: dict[str, str],
    checks: list[Callable[..., bool | None]],
    aimed: dict[str, Any] | None = None,
) -> Counter[int]:
    """Run the operation's property test (blocking); counts the statuses it was answered with."""
    strategies = [
        operation.as_strategy(generation_mode=mode)
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    ]
    if aimed:
        # A third of the time aim at the seeded objects, so handlers get past their 404s.
        strategies.append(operation.as_strategy(**aimed))
    statuses: Counter[int] = Counter()

    @hypothesis.settings(
        max_examples=EXAMPLES * len(strategies),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        response = case.call_and_validate(
            base_url=base_url, headers=headers, checks=checks, timeout=10
        )
        statuses[response.status_code] += 1

    run()
    return statuses


def test_every_operation_is_fuzzed_or_excluded_with_a_reason(settings: Settings) -> None:
    paths = openapi_document(settings)["paths"]
    documented = {(method, path) for path, item in paths.items() for method in item}

    assert set(FUZZED) | set(EXCLUDED) == documented
    assert set(FUZZED).isdisjoint(EXCLUDED)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Rate limits off: with them on, most generated requests would stop at a 429 and never
    reach the handler (tests/gateway/test_limits.py covers the limiter and its 429s)."""
    return make_settings(RATE_LIMITS="off")


@pytest.fixture
async def seeded(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> dict[str, Any]:
    """A live stack: an on-sale event, a buyer holding one of its seats, and an admin."""
    event = await make_event(seats=6, prices={"A": 5000, "B": 2500})
    buyer = await signup()
    admin = await signup(role=Role.ADMIN)
    held = await client.post(
        f"/api/v1/events/{event.event_id}/holds",
        json={"seat_ids": [event.seat_ids[0]]},
        headers=buyer.headers,
    )
    assert held.status == 201, await held.text()
    hold_id = (await held.json())["hold"]["id"]
    opened = await client.post(f"/api/v1/holds/{hold_id}/checkout", headers=buyer.headers)
    assert opened.status == 201, await opened.text()
    session_id = (await opened.json())["session_id"]
    event_id, hold_id = {"event_id": event.event_id}, {"id": hold_id}
    session = {"session_id": session_id}
    return {
        "base_url": str(client.make_url("")).rstrip("/"),
        "headers": {BUYER: buyer.headers, ADMIN: admin.headers},
        # Arguments to `as_strategy` that point generated requests at the seeded objects.
        "aimed": {
            ("get", "/api/v1/events/{event_id}"): {"path_parameters": event_id},
            ("get", "/api/v1/events/{event_id}/seats"): {"path_parameters": event_id},
            ("patch", "/api/v1/admin/events/{event_id}"): {"path_parameters": event_id},
            ("post", "/api/v1/events/{id}/holds"): {
                "path_parameters": {"id": event.event_id},
                "body": {"seat_ids": [event.seat_ids[1]]},
            },
            ("get", "/api/v1/holds/{id}"): {"path_parameters": hold_id},
            ("delete", "/api/v1/holds/{id}"): {"path_parameters": hold_id},
            ("post", "/api/v1/holds/{id}/checkout"): {"path_parameters": hold_id},
            ("get", "/api/v1/payments/success"): {"query": session},
            ("get", "/api/v1/payments/cancel"): {"query": session},
            ("get", "/checkout/local/{session_id}"): {"path_parameters": session},
            ("post", "/checkout/local/{session_id}/pay"): {"path_parameters": session},
            ("post", "/checkout/local/{session_id}/cancel"): {"path_parameters": session},
        },
    }


@pytest.mark.timeout(30 + 2 * EXAMPLES)
@pytest.mark.parametrize(
    ("method", "path"), list(FUZZED), ids=[f"{m.upper()} {p}" for m, p in FUZZED]
)
async def test_the_api_keeps_to_its_document(
    settings: Settings, seeded: dict[str, Any], method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_dict(openapi_document(settings))
    operation = schema[path][method.upper()]
    aimed = seeded["aimed"].get((method, path))
    statuses = await asyncio.to_thread(
        fuzz,
        operation,
        base_url=seeded["base_url"],
        headers=seeded["headers"][FUZZED[(method, path)]],
        checks=[*CHECKS, error_shape],
        aimed=aimed,
    )

    assert statuses
    if aimed is not None:
        # Aimed at live objects, the fuzzer must have reached the handler's success path.
        assert any(200 <= status < 400 for status in statuses), statuses


@pytest.mark.timeout(30 + 2 * EXAMPLES)
async def test_the_webhook_refuses_every_generated_request(
    settings: Settings, seeded: dict[str, Any]
) -> None:
    schema = schemathesis.openapi.from_dict(openapi_document(settings))
    operation = schema["/api/v1/payments/webhook"]["POST"]

    statuses = await asyncio.to_thread(
        fuzz,
        operation,
        base_url=seeded["base_url"],
        headers={},
        checks=[not_a_server_error, invalid_signature],
    )

    assert statuses[400] > 0, statuses


async def test_a_non_utf8_webhook_body_is_an_invalid_signature(client: Client) -> None:
    response = await client.post(
        "/api/v1/payments/webhook",
        data=b'{"id": "\xff"}',
        headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"},
    )

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_signature"
