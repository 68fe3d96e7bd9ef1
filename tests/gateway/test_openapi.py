"""The OpenAPI document: valid 3.1, in step with the routes the app mounts, and true to what the
handlers answer (live responses are validated against the schemas it gives for them)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

import pytest
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

import domain.catalog
import gateway.idempotency as idempotency
import gateway.openapi.constraints as doc_module
import gateway.routes.auth
import gateway.routes.holds
import gateway.routes.payments
from domain.statuses import Role
from domain.text import is_blank
from gateway.app import make_app
from gateway.openapi import openapi_document

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient
    from pytest_aiohttp import AiohttpClient

    from config import Settings
    from engine.redis_client import RedisClient
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.engine import RunningEngine
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

OPENAPI_URL: Final = "/api/v1/openapi.json"
METHODS: Final = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ERROR_REF: Final = {"$ref": "#/components/schemas/Error"}
# The one error response that is not the error shape: a readiness probe answers its own body.
NOT_ERROR_SHAPED: Final = {("get", "/readyz", "503")}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def schema_errors(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    """Why `instance` does not fit `schema` (whose `$ref`s point into the document)."""
    validator = OAS31Validator(
        {**schema, "components": document["components"]}, format_checker=oas31_format_checker
    )
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


async def assert_documented(
    document: dict[str, Any], method: str, path: str, response: ClientResponse
) -> Any:
    """The response's status is documented for the operation, and its body fits the schema."""
    operation = operations(document)[(method, path)]
    status = str(response.status)
    assert status in operation["responses"], f"{method} {path} answered undocumented {status}"
    documented = operation["responses"][status]
    for header in documented.get("headers", {}):
        assert header in response.headers, f"{method} {path} {status} lacks {header}"
    if "content" not in documented:
        if response.status < 300:
            assert await response.read() == b""
        return None
    assert response.content_type in documented["content"]
    if response.content_type != "application/json":
        return await response.text()
    body = await response.json()
    schema = documented["content"]["application/json"]["schema"]
    assert schema_errors(document, schema, body) == [], body
    return body


@pytest.fixture
def document(settings: Settings) -> dict[str, Any]:
    return openapi_document(settings)


# -- the document itself ---------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(PUBLIC_URL="https://tickets.example.com")
    document = openapi_document(settings)

    validate(document, cls=OpenAPIV31SpecValidator)

    assert document["openapi"].startswith("3.1.")
    assert document["servers"] == [{"url": "https://tickets.example.com"}]


def test_every_route_is_documented_and_nothing_else(settings: Settings) -> None:
    app = make_app(settings)
    mounted = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method not in ("HEAD", "OPTIONS") and route.resource is not None
    }

    documented = set(operations(openapi_document(settings)))

    assert mounted - documented == set(), "routes without an OpenAPI description"
    assert documented - mounted == set(), "OpenAPI describes routes the app does not have"


def test_every_operation_can_succeed_and_errors_use_the_error_schema(
    document: dict[str, Any],
) -> None:
    for (method, path), operation in operations(document).items():
        statuses = set(operation["responses"])
        # A redirect is how a form post succeeds; an upgrade is how a websocket does.
        succeeded = {s for s in statuses if s.startswith("2") or s in ("101", "303")}
        assert succeeded, f"{method} {path} never succeeds"
        assert {"500", "503"} <= statuses, f"{method} {path}: the catch-all and outages"
        if operation.get("security") != []:
            assert "401" in statuses, f"{method} {path}: the guard"
        for status, response in operation["responses"].items():
            if status[0] not in "45" or (method, path, status) in NOT_ERROR_SHAPED:
                continue
            assert response["content"] == {"application/json": {"schema": ERROR_REF}}, (
                f"{method} {path} {status}"
            )
            if status in ("429", "503"):
                assert "Retry-After" in response["headers"], f"{method} {path} {status}"


def test_each_caller_gets_a_document_of_its_own(settings: Settings) -> None:
    first = openapi_document(settings)
    first["paths"]["/healthz"]["get"]["responses"]["500"]["description"] = "changed"
    first["components"]["schemas"]["Error"]["required"].append("changed")

    second = openapi_document(settings)

    assert second["paths"]["/healthz"]["get"]["responses"]["500"]["description"] != "changed"
    assert second["paths"]["/readyz"]["get"]["responses"]["500"]["description"] != "changed"
    assert second["components"]["schemas"]["Error"]["required"] == ["error"]


def test_every_operation_id_is_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for operation in operations(document).values()]
    assert len(ids) == len(set(ids))


def test_the_documented_limits_are_the_handlers_limits() -> None:
    auth = gateway.routes.auth
    holds = gateway.routes.holds
    payments = gateway.routes.payments
    catalog = domain.catalog
    assert (
        doc_module.MAX_EMAIL_LENGTH,
        doc_module.MIN_PASSWORD_LENGTH,
        doc_module.MAX_PASSWORD_LENGTH,
        doc_module.MAX_NAME_LENGTH,
    ) == (
        auth.MAX_EMAIL_LENGTH,
        auth.MIN_PASSWORD_LENGTH,
        auth.MAX_PASSWORD_LENGTH,
        auth.MAX_NAME_LENGTH,
    )
    assert (
        doc_module.MAX_SEATS_PER_HOLD,
        doc_module.IDEMPOTENCY_KEY_MAX,
        doc_module.MAX_SESSION_ID,
    ) == (holds.MAX_SEATS_PER_HOLD, idempotency.MAX_KEY_LENGTH, payments._MAX_SESSION_ID)
    assert (
        doc_module.VENUE_NAME_MAX,
        doc_module.EVENT_NAME_MAX,
        doc_module.CATEGORY_CODE_MAX,
        doc_module.CATEGORY_NAME_MAX,
        doc_module.SECTION_NAME_MAX,
        doc_module.ROW_LABEL_MAX,
    ) == (
        catalog._VENUE_NAME_MAX,
        catalog._EVENT_NAME_MAX,
        catalog._CATEGORY_CODE_MAX,
        catalog._CATEGORY_NAME_MAX,
        catalog._SECTION_NAME_MAX,
        catalog._ROW_LABEL_MAX,
    )


def test_not_blank_means_a_visible_character_as_the_handlers_say() -> None:
    not_blank = re.compile(doc_module.NOT_BLANK)
    for code in range(0x10000):
        assert (not_blank.search(chr(code)) is None) is is_blank(chr(code)), hex(code)


# -- served, and true to the handlers ----------------------------------------------------------


async def test_the_document_is_served_anonymously(client: Client, document: dict[str, Any]) -> None:
    first = await client.get(OPENAPI_URL)
    second = await client.get(OPENAPI_URL)

    assert first.status == 200
    assert first.content_type == "application/json"
    assert await first.json() == document
    assert await second.read() == await first.read()


async def test_a_route_needs_a_token_exactly_when_documented(
    client: Client, document: dict[str, Any]
) -> None:
    for (method, path), operation in operations(document).items():
        hold_id = "h1_" + "0" * 32
        url = path.replace("holds/{id}", f"holds/{hold_id}").replace("{session_id}", "cs_none")
        url = url.replace("{event_id}", "1").replace("{id}", "1")
        response = await client.request(method.upper(), url)
        protected = operation.get("security", document["security"]) != []
        if protected:
            assert response.status == 401, f"{method} {path} answered anyone"
            assert (await response.json())["error"]["code"] == "unauthorized"
        else:
            assert response.status != 401, f"{method} {path} is documented as public"
        await assert_documented(document, method, path, response)


async def test_account_responses_fit_their_schemas(
    client: Client, document: dict[str, Any]
) -> None:
    credentials = {"email": "Fan@Example.com", "password": "long enough", "name": " Fan "}

    signed_up = await client.post("/api/v1/auth/signup", json=credentials)
    session = await assert_documented(document, "post", "/api/v1/auth/signup", signed_up)
    again = await client.post("/api/v1/auth/signup", json=credentials)
    logged_in = await client.post("/api/v1/auth/login", json=credentials)
    wrong = await client.post("/api/v1/auth/login", json={**credentials, "password": "wrong one"})
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {session['token']}"})

    assert signed_up.status == 201
    assert (again.status, logged_in.status, wrong.status, me.status) == (409, 200, 401, 200)
    await assert_documented(document, "post", "/api/v1/auth/signup", again)
    await assert_documented(document, "post", "/api/v1/auth/login", logged_in)
    await assert_documented(document, "post", "/api/v1/auth/login", wrong)
    await assert_documented(document, "get", "/api/v1/me", me)


async def test_catalog_responses_fit_their_schemas(
    client: Client, document: dict[str, Any], make_event: MakeEvent
) -> None:
    made = await make_event(seats=4, prices={"A": 1200, "B": 800})

    listed = await client.get("/api/v1/events")
    one = await client.get(f"/api/v1/events/{made.event_id}")
    seats = await client.get(f"/api/v1/events/{made.event_id}/seats")
    missing = await client.get(f"/api/v1/events/{made.event_id + 1}")
    layout = await client.get(f"/api/v1/events/{made.event_id}/layout")
    unchanged = await client.get(
        f"/api/v1/events/{made.event_id}/layout", headers={"If-None-Match": layout.headers["ETag"]}
    )
    live = await client.get(f"/api/v1/events/{made.event_id}/seats/live")
    no_layout = await client.get(f"/api/v1/events/{made.event_id + 1}/layout")

    assert (listed.status, one.status, seats.status, missing.status) == (200, 200, 200, 404)
    events = await assert_documented(document, "get", "/api/v1/events", listed)
    assert len(events["events"]) == 1
    await assert_documented(document, "get", "/api/v1/events/{event_id}", one)
    await assert_documented(document, "get", "/api/v1/events/{event_id}/seats", seats)
    await assert_documented(document, "get", "/api/v1/events/{event_id}", missing)
    assert (layout.status, unchanged.status, live.status) == (200, 304, 200)
    for response in (layout, unchanged, no_layout):
        await assert_documented(document, "get", "/api/v1/events/{event_id}/layout", response)
    await assert_documented(document, "get", "/api/v1/events/{event_id}/seats/live", live)


async def test_the_seat_socket_answers_as_documented(
    client: Client, document: dict[str, Any], make_event: MakeEvent
) -> None:
    made = await make_event(seats=2)
    path = "/api/v1/events/{id}/seats/ws"
    url = f"/api/v1/events/{made.event_id}/seats/ws"

    plain = await client.get(url)
    async with client.ws_connect(url) as socket:
        snapshot = await socket.receive_json(timeout=5)

    assert plain.status == 400
    await assert_documented(document, "get", path, plain)
    assert "101" in operations(document)[("get", path)]["responses"]
    assert snapshot == {
        "type": "snapshot",
        "event_id": made.event_id,
        "seq": 0,
        "seats": [{"seat_id": seat_id, "status": "available"} for seat_id in made.seat_ids],
    }


async def test_the_seat_sockets_refusals_are_documented(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    redis: RedisClient,
    document: dict[str, Any],
    make_event: MakeEvent,
) -> None:
    """A made-up event is a 404 and one request over the per-IP limit a 429 with Retry-After,
    both before the upgrade and both as the document says."""
    client = await aiohttp_client(make_app(make_settings(RATE_LIMIT_SEAT_MAP_PER_IP="1/60")))
    made = await make_event(seats=2)
    path = "/api/v1/events/{id}/seats/ws"
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }

    missing = await client.get(f"/api/v1/events/{made.event_id + 1}/seats/ws", headers=upgrade)
    limited = await client.get(f"/api/v1/events/{made.event_id}/seats/ws", headers=upgrade)

    assert (missing.status, limited.status) == (404, 429)
    await assert_documented(document, "get", path, missing)
    await assert_documented(document, "get", path, limited)


async def test_admin_responses_fit_their_schemas(
    client: Client, document: dict[str, Any], signup: Signup
) -> None:
    admin = await signup(role=Role.ADMIN)
    buyer = await signup()
    layout = {
        "name": "Hall",
        "categories": [{"code": "A", "name": "Front"}],
        "sections": [{"name": "Floor", "rows": 2, "seats": [1, 3], "category": "A"}],
    }

    venue = await client.post("/api/v1/admin/venues", json=layout, headers=admin.headers)
    venue_body = await assert_documented(document, "post", "/api/v1/admin/venues", venue)
    event = await client.post(
        "/api/v1/admin/events",
        headers=admin.headers,
        json={
            "venue_id": venue_body["venue"]["id"],
            "name": "Night",
            "starts_at": "2030-05-01T19:30:00Z",
            "sale_starts_at": "2030-04-01T10:00:00+02:00",
            "sale_ends_at": "2030-05-01T18:00:00Z",
            "currency": "EUR",
            "prices": {"A": 4500},
        },
    )
    listed = await client.get("/api/v1/admin/venues", headers=admin.headers)
    refused = await client.get("/api/v1/admin/venues", headers=buyer.headers)

    assert (venue.status, event.status, listed.status, refused.status) == (201, 201, 200, 403)
    await assert_documented(document, "post", "/api/v1/admin/events", event)
    await assert_documented(document, "get", "/api/v1/admin/venues", listed)
    await assert_documented(document, "get", "/api/v1/admin/venues", refused)


async def test_hold_responses_fit_their_schemas(
    client: Client,
    document: dict[str, Any],
    signup: Signup,
    make_event: MakeEvent,
    engine: RunningEngine,
) -> None:
    made = await make_event(seats=4)
    buyer = await signup()
    holds_path = "/api/v1/events/{id}/holds"
    url = f"/api/v1/events/{made.event_id}/holds"

    created = await client.post(
        url,
        json={"seat_ids": list(made.seat_ids[:2])},
        headers={**buyer.headers, "Idempotency-Key": "first try"},
    )
    hold = (await assert_documented(document, "post", holds_path, created))["hold"]
    taken = await client.post(url, json={"seat_ids": [made.seat_ids[0]]}, headers=buyer.headers)
    shown = await client.get(f"/api/v1/holds/{hold['id']}", headers=buyer.headers)
    released = await client.delete(f"/api/v1/holds/{hold['id']}", headers=buyer.headers)

    assert (created.status, taken.status, shown.status, released.status) == (201, 409, 200, 204)
    await assert_documented(document, "post", holds_path, taken)
    await assert_documented(document, "get", "/api/v1/holds/{id}", shown)
    await assert_documented(document, "delete", "/api/v1/holds/{id}", released)


async def test_payment_responses_fit_their_schemas(
    client: Client,
    document: dict[str, Any],
    signup: Signup,
    make_event: MakeEvent,
    engine: RunningEngine,
) -> None:
    made = await make_event(seats=2)
    buyer = await signup()
    held = await client.post(
        f"/api/v1/events/{made.event_id}/holds",
        json={"seat_ids": list(made.seat_ids)},
        headers=buyer.headers,
    )
    hold_id = (await held.json())["hold"]["id"]

    opened = await client.post(f"/api/v1/holds/{hold_id}/checkout", headers=buyer.headers)
    checkout = await assert_documented(document, "post", "/api/v1/holds/{id}/checkout", opened)
    session = checkout["session_id"]
    page = await client.get(f"/checkout/local/{session}")
    paid = await client.post(f"/checkout/local/{session}/pay", allow_redirects=False)
    again = await client.post(f"/checkout/local/{session}/pay", allow_redirects=False)
    state = await client.get("/api/v1/payments/success", params={"session_id": session})
    html = await client.get(
        "/api/v1/payments/cancel", params={"session_id": session}, headers={"Accept": "text/html"}
    )
    bookings = await client.get("/api/v1/bookings", headers=buyer.headers)
    forged = await client.post(
        "/api/v1/payments/webhook", json={}, headers={"Stripe-Signature": "t=1,v1=00"}
    )

    assert (opened.status, page.status, paid.status, again.status) == (201, 200, 303, 200)
    assert (state.status, html.status, bookings.status, forged.status) == (200, 200, 200, 400)
    assert page.content_type == again.content_type == html.content_type == "text/html"
    assert paid.headers["Location"].endswith(f"/api/v1/payments/success?session_id={session}")
    await assert_documented(document, "post", "/checkout/local/{session_id}/pay", paid)
    await assert_documented(document, "post", "/checkout/local/{session_id}/pay", again)
    payment = await assert_documented(document, "get", "/api/v1/payments/success", state)
    assert payment["payment"]["status"] == "paid"
    listed = await assert_documented(document, "get", "/api/v1/bookings", bookings)
    assert [seat["id"] for seat in listed["bookings"][0]["seats"]] == list(made.seat_ids)
    mine = await client.get(f"/api/v1/events/{made.event_id}/my-seats", headers=buyer.headers)
    assert mine.status == 200
    assert (await assert_documented(document, "get", "/api/v1/events/{event_id}/my-seats", mine))[
        "booked_seat_ids"
    ] == list(made.seat_ids)
    await assert_documented(document, "post", "/api/v1/payments/webhook", forged)


# -- request schemas say what the handlers accept ----------------------------------------------

SIGNUP_CASES: Final = [
    {"email": "a@b.co"},
    {"email": "Mixed.Case+tag@Sub.Example.COM"},
    {"email": "x" * 64 + "@example.com"},
    {"email": "x" * 65 + "@example.com"},
    {"email": "a@" + "b" * 63 + ".com"},
    {"email": "a@" + "b" * 64 + ".com"},
    {"email": "a@" + ".".join(["b" * 60] * 4) + ".com"},
    {"email": "a@" + ".".join(["b" * 60] * 5) + ".com"},
    {"email": "no-at-sign"},
    {"email": "a@localhost"},
    {"email": "a@-bad.com"},
    {"email": "a b@c.com"},
    {"password": "x" * 7},
    {"password": "x" * 8},
    {"password": "x" * 256},
    {"password": "x" * 257},
    {"name": "   "},
    {"name": "\u3000\n"},
    {"name": "  Fan  "},
    {"name": "\ufeff"},
    {"name": "x" * 200},
    {"name": "x" * 201},
    {"extra": "ignored"},
]


@pytest.mark.parametrize("change", SIGNUP_CASES, ids=lambda change: repr(change)[:40])
async def test_the_signup_schema_accepts_what_the_handler_accepts(
    client: Client, document: dict[str, Any], change: dict[str, str]
) -> None:
    body = {"email": "fan@example.com", "password": "long enough", "name": "Fan", **change}
    schema = document["components"]["schemas"]["SignupRequest"]

    response = await client.post("/api/v1/auth/signup", json=body)

    schema_says = schema_errors(document, schema, body)
    assert response.status in (201, 422), await response.text()
    assert (response.status == 201) == (schema_says == []), schema_says


VENUE_CASES: Final = [
    {},
    {"sections": [{"name": "S", "rows": [{"label": "1", "seats": 3, "category": "A"}]}]},
    {"sections": [{"name": "S", "rows": [{"label": "1", "seats": [2, 4], "category": "A"}]}]},
    {"sections": [{"name": "S", "rows": [{"label": "1", "seats": [2, 2], "category": "A"}]}]},
    {"sections": [{"name": "S", "rows": [{"label": "1", "seats": 0, "category": "A"}]}]},
    {"sections": [{"name": "S", "rows": [{"label": "x" * 17, "seats": 1, "category": "A"}]}]},
    {"sections": [{"name": "S", "rows": []}]},
    {"sections": [{"name": "S", "rows": 2, "seats": 2, "category": "A", "gap": 1}]},
    {"sections": [{"name": "S", "rows": True, "seats": 2, "category": "A"}]},
    {"sections": [{"name": "S", "rows": 2, "category": "A"}]},
    {"categories": [{"code": " A ", "name": "Front"}]},
    {"categories": [{"code": "A", "name": "Front", "colour": "red"}]},
    {"categories": []},
    {"name": " "},
    {"name": "x" * 201},
    {"owner": "me"},
    {"stage": {"x": 0, "y": -5, "width": 10, "depth": 4}},
    {"stage": None, "sections": [{"name": "S", "rows": 1, "seats": 2, "category": "A"}]},
    {"stage": {"x": 0, "y": 0, "width": 0, "depth": 4}},
    {"stage": {"x": 0, "y": 0, "width": 10}},
    {
        "stage": {"x": 0, "y": 0, "width": 10, "depth": 4},
        "sections": [
            {"name": "S", "rows": 2, "seats": 3, "category": "A", "geometry": {"x": 0, "y": 6}}
        ],
    },
    {
        "stage": {"x": 0, "y": 0, "width": 10, "depth": 4},
        "sections": [
            {
                "name": "S",
                "rows": [{"label": "1", "seats": 3, "category": "A"}],
                "geometry": {
                    "x": -3.5,
                    "y": 6,
                    "rotation": 20,
                    "row_spacing": 1.0,
                    "seat_spacing": 0.55,
                    "curve": 12,
                },
            }
        ],
    },
    {"sections": [{"name": "S", "rows": 2, "seats": 3, "category": "A", "geometry": {"x": 0}}]},
    {
        "sections": [
            {"name": "S", "rows": 1, "seats": 3, "category": "A", "geometry": {"x": 0, "y": 1}}
        ]
    },
    {
        "stage": {"x": 0, "y": 0, "width": 10, "depth": 4},
        "sections": [
            {"name": "S", "rows": 1, "seats": 3, "category": "A", "geometry": {"x": 0, "y": 5}},
            {"name": "T", "rows": 1, "seats": 3, "category": "A"},
        ],
    },
    {
        "stage": {"x": 0, "y": 0, "width": 10, "depth": 4},
        "sections": [
            {
                "name": "S",
                "rows": 1,
                "seats": 3,
                "category": "A",
                "geometry": {"x": 0, "y": 5, "seat_spacing": 20, "curve": None},
            }
        ],
    },
    {
        "stage": {"x": 0, "y": 0, "width": 10, "depth": 4},
        "sections": [
            {
                "name": "S",
                "rows": 1,
                "seats": 3,
                "category": "A",
                "geometry": {"x": 0, "y": 5, "rotation": True},
            }
        ],
    },
]


@pytest.mark.parametrize("change", VENUE_CASES, ids=lambda change: repr(change)[:40])
async def test_the_venue_schema_accepts_what_the_handler_accepts(
    client: Client, document: dict[str, Any], signup: Signup, change: dict[str, Any]
) -> None:
    admin = await signup(role=Role.ADMIN)
    body = {
        "name": "Hall",
        "categories": [{"code": "A", "name": "Front"}],
        "sections": [{"name": "Floor", "rows": 2, "seats": 3, "category": "A"}],
        **change,
    }
    schema = document["components"]["schemas"]["VenueLayout"]

    response = await client.post("/api/v1/admin/venues", json=body, headers=admin.headers)

    schema_says = schema_errors(document, schema, body)
    assert response.status in (201, 422), await response.text()
    assert (response.status == 201) == (schema_says == []), schema_says
