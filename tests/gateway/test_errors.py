"""Errors every route shares, through the real app: the one JSON shape for aiohttp's own errors
(404, 405, 413), for bodies that are not JSON objects, for bad ids, and for a crash."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Final

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from devstack.servers import LOOPBACK, free_port
from domain.statuses import Role
from gateway.app import make_app
from gateway.middlewares import error_middleware

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from aiohttp import ClientResponse
    from aiohttp.test_utils import TestClient
    from pytest_aiohttp import AiohttpClient

    from config import Settings
    from persistence import Database
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

SIGNUP: Final = "/api/v1/auth/signup"
GOOD_SIGNUP: Final = {"email": "fan@example.com", "password": "long enough", "name": "Fan"}


async def error_of(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """The error object, after checking the body is exactly the documented error shape."""
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/json"
    body = json.loads(text)
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"status", "code", "message"} <= set(error), error
    assert (error["status"], error["code"]) == (status, code), error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert "Traceback" not in text
    return error


async def test_an_unknown_route_is_a_json_404(client: Client) -> None:
    for path in ("/api/v1/nothing-here", "/nothing-here", "/api/v2/events"):
        error = await error_of(await client.get(path), 404, "not_found")
        assert set(error) == {"status", "code", "message"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/events", {"GET", "HEAD"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
        ("PUT", SIGNUP, {"POST"}),
        ("PATCH", "/api/v1/holds/h1_00000000000000000000000000000000", {"GET", "HEAD", "DELETE"}),
        ("GET", "/api/v1/events/1/holds", {"POST"}),
    ],
)
async def test_a_wrong_method_is_a_json_405_with_allow(
    client: Client, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path)

    error = await error_of(response, 405, "method_not_allowed")
    assert set(error) == {"status", "code", "message"}
    assert set(response.headers["Allow"].split(",")) == allowed


@pytest.fixture
async def small_body_client(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings], db: Database
) -> Client:
    return await aiohttp_client(make_app(make_settings(HTTP_MAX_BODY_BYTES="1024")))


def padded_signup(size: int) -> bytes:
    """A valid signup body of exactly `size` bytes (the name is padded)."""
    bare = json.dumps({**GOOD_SIGNUP, "name": ""}).encode()
    body = json.dumps({**GOOD_SIGNUP, "name": "x" * (size - len(bare))}).encode()
    assert len(body) == size
    return body


async def test_a_body_over_the_limit_is_a_json_413(small_body_client: Client) -> None:
    headers = {"Content-Type": "application/json"}

    over = await small_body_client.post(SIGNUP, data=padded_signup(1025), headers=headers)
    at_limit = await small_body_client.post(SIGNUP, data=padded_signup(1024), headers=headers)

    error = await error_of(over, 413, "payload_too_large")
    assert set(error) == {"status", "code", "message"}
    # A body of exactly the limit is read; its 200-character-plus name is what is refused.
    assert (await error_of(at_limit, 422, "invalid_input"))["field"] == "name"


async def test_a_streamed_body_over_the_limit_is_a_json_413(small_body_client: Client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * 512

    response = await small_body_client.post(
        SIGNUP, data=chunks(), headers={"Content-Type": "application/json"}
    )

    await error_of(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b'{"email": "a@b.co",}', b"\xff\xfe", b"[" * 2000]
)
async def test_a_body_that_is_not_json_is_422_malformed_json(client: Client, raw: bytes) -> None:
    response = await client.post(SIGNUP, data=raw, headers={"Content-Type": "application/json"})

    await error_of(response, 422, "malformed_json")


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null"])
async def test_a_json_body_that_is_not_an_object_is_422(client: Client, raw: bytes) -> None:
    response = await client.post(SIGNUP, data=raw, headers={"Content-Type": "application/json"})

    await error_of(response, 422, "invalid_input")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_sent_as_json_is_415(
    client: Client, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}

    response = await client.post(
        SIGNUP,
        data=json.dumps(GOOD_SIGNUP).encode(),
        headers=headers,
        skip_auto_headers=["Content-Type"],
    )

    await error_of(response, 415, "unsupported_media_type")


BAD_IDS: Final = [
    "abc",
    "0",
    "00",
    "-1",
    "1.5",
    "1e3",
    " 1",
    "9" * 19,
    "99999999999999999999999999999999",
    # Digits to `str.isdigit`, but not to `int`.
    "\u00b2",
    "\u2460",
]


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=ascii)
async def test_a_malformed_or_huge_id_in_a_path_is_404(
    client: Client, signup: Signup, bad_id: str
) -> None:
    buyer = await signup()
    requests = [
        ("GET", f"/api/v1/events/{bad_id}", {}),
        ("GET", f"/api/v1/events/{bad_id}/seats", {}),
        ("GET", f"/api/v1/events/{bad_id}/seats/ws", {}),
        ("POST", f"/api/v1/events/{bad_id}/holds", buyer.headers),
        ("GET", f"/api/v1/holds/{bad_id}", buyer.headers),
        ("DELETE", f"/api/v1/holds/{bad_id}", buyer.headers),
    ]
    for method, url, headers in requests:
        response = await client.request(
            method, url, headers=headers, json={"seat_ids": [1]} if method == "POST" else None
        )
        assert response.status == 404, f"{method} {url!a}: {await response.text()}"
        await error_of(response, 404, "not_found")


async def test_an_id_in_non_ascii_digits_is_404(client: Client, make_event: MakeEvent) -> None:
    made = await make_event()
    # The same number in Arabic-Indic digits, which `int` reads: one event must not have two URLs.
    arabic = str(made.event_id).translate({ord("0") + d: 0x0660 + d for d in range(10)})

    plain = await client.get(f"/api/v1/events/{made.event_id}")
    response = await client.get(f"/api/v1/events/{arabic}")

    assert plain.status == 200
    await error_of(response, 404, "not_found")


async def test_an_id_of_18_digits_is_a_real_lookup(client: Client) -> None:
    response = await client.get("/api/v1/events/" + "9" * 18)

    error = await error_of(response, 404, "not_found")
    assert "9" * 18 in error["message"]


@pytest.fixture
async def crashing_client(
    aiohttp_client: AiohttpClient, settings: Settings, db: Database
) -> Client:
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret detail: password=hunter2 at /srv/app.py line 7")

    app = make_app(settings)
    app.router.add_get("/boom", boom)
    return await aiohttp_client(app)


async def test_a_crash_is_an_opaque_json_500(
    crashing_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    response = await crashing_client.get("/boom")

    text = await response.text()
    error = await error_of(response, 500, "internal_error")
    assert set(error) == {"status", "code", "message"}
    assert "secret detail" not in text
    assert "RuntimeError" not in text
    assert "hunter2" in caplog.text, "the traceback belongs in the log"


async def test_a_bad_token_is_ignored_on_a_public_route(client: Client) -> None:
    response = await client.get("/api/v1/events", headers={"Authorization": "Bearer not-a-jwt"})

    assert response.status == 200, await response.text()


@pytest.mark.parametrize(
    "layout_change",
    [
        # Distinct in Python, one and the same under MariaDB's case-insensitive collation.
        {"categories": [{"code": "a", "name": "Front"}, {"code": "A", "name": "Back"}]},
        {
            "sections": [
                {"name": "Floor", "rows": 1, "seats": 2, "category": "A"},
                {"name": "FLOOR", "rows": 1, "seats": 2, "category": "A"},
            ]
        },
    ],
)
async def test_user_input_that_collides_in_the_database_is_not_a_500(
    client: Client, signup: Signup, layout_change: dict[str, Any]
) -> None:
    admin = await signup(role=Role.ADMIN)
    layout = {
        "name": "Hall",
        "categories": [{"code": "A", "name": "Front"}],
        "sections": [{"name": "Floor", "rows": 1, "seats": 2, "category": "A"}],
        **layout_change,
    }

    response = await client.post("/api/v1/admin/venues", json=layout, headers=admin.headers)

    assert response.status != 500, await response.text()
    assert response.status in (201, 422)


WEBSOCKET_UPGRADE: Final = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def test_an_unreachable_redis_is_a_503_with_retry_after(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    make_event: MakeEvent,
) -> None:
    made = await make_event()
    settings = make_settings(REDIS_URL=f"redis://{LOOPBACK}:{free_port()}/0")
    client = await aiohttp_client(make_app(settings))
    signed_up = await client.post(SIGNUP, json=GOOD_SIGNUP)
    token = (await signed_up.json())["token"]

    seat_map = await client.get(f"/api/v1/events/{made.event_id}/seats")
    socket = await client.get(f"/api/v1/events/{made.event_id}/seats/ws", headers=WEBSOCKET_UPGRADE)
    hold = await client.post(
        f"/api/v1/events/{made.event_id}/holds",
        json={"seat_ids": [made.seat_ids[0]]},
        headers={"Authorization": f"Bearer {token}"},
    )

    await error_of(seat_map, 503, "unavailable")
    await error_of(hold, 503, "engine_unavailable")
    await error_of(socket, 503, "unavailable")
    for response in (seat_map, hold, socket):
        assert int(response.headers["Retry-After"]) >= 1


async def test_a_caller_hanging_up_mid_body_is_no_error_of_ours(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def reads_the_body(request: web.Request) -> web.StreamResponse:
        # What request.read() raises once the caller's connection is gone mid-body.
        raise ConnectionResetError("Connection lost")

    with caplog.at_level(logging.INFO, logger="gateway.middlewares"):
        response = await error_middleware(make_mocked_request("POST", SIGNUP), reads_the_body)

    assert response.status == 400
    assert [(record.levelno, record.getMessage()) for record in caplog.records] == [
        (logging.INFO, f"caller hung up before POST {SIGNUP} was read")
    ]
