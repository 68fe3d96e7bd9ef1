"""The organizer's waiting-room controls: the admin API (GET, PUT, PATCH) over the live app and
an in-process engine, `python -m gateway waiting-room` as a real subprocess, and both answering
as the OpenAPI document says."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from domain.statuses import Role
from gateway.openapi import openapi_document
from tests.gateway.test_cli import cli_env, run_cli  # noqa: F401 - cli_env is a fixture
from tests.gateway.test_openapi import assert_documented
from tests.helpers.queue import join, room_settings, room_url, set_room

if TYPE_CHECKING:
    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.engine import RunningEngine
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

PATH = "/api/v1/admin/events/{event_id}/waiting-room"


@pytest.fixture
def document(settings: Settings) -> dict[str, Any]:
    return openapi_document(settings)


async def error_of(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    body = await response.json()
    assert response.status == status, body
    error: dict[str, Any] = body["error"]
    assert (error["status"], error["code"]) == (status, code), error
    return error


async def test_an_organizer_sets_a_room_then_pauses_and_speeds_it_up(
    client: Client,
    engine: RunningEngine,
    signup: Signup,
    make_event: MakeEvent,
    document: dict[str, Any],
) -> None:
    made = await make_event(seats=4)
    admin = await signup(role=Role.ADMIN)
    url = room_url(made.event_id)

    before = await client.get(url, headers=admin.headers)
    put = await client.put(
        url, json=room_settings(admissions_per_minute=60, max_inside=5), headers=admin.headers
    )
    await join(client, (await signup()).headers, made.event_id)
    paused = await client.patch(url, json={"paused": True}, headers=admin.headers)
    faster = await client.patch(url, json={"admissions_per_minute": 900}, headers=admin.headers)
    shown = await client.get(url, headers=admin.headers)
    event = await (await client.get(f"/api/v1/events/{made.event_id}")).json()

    assert await assert_documented(document, "get", PATH, before) == {
        "event_id": made.event_id,
        "settings": None,
        "stats": None,
    }
    saved = await assert_documented(document, "put", PATH, put)
    assert saved["settings"] | {"queue_opens_at": None} == {
        "enabled": True,
        "queue_opens_at": None,
        "admissions_per_minute": 60,
        "max_inside": 5,
        "session_minutes": 10,
        "paused": False,
        "version": 1,
    }
    assert saved["stats"] is not None
    paused_body = await assert_documented(document, "patch", PATH, paused)
    assert (paused_body["settings"]["paused"], paused_body["settings"]["version"]) == (True, 2)
    # Paused: nobody is let in, so the queue has no time to clear.
    assert paused_body["stats"]["rate_per_minute"] == 0
    faster_body = await assert_documented(document, "patch", PATH, faster)
    assert faster_body["settings"] | {"queue_opens_at": None} == {
        **saved["settings"],
        "queue_opens_at": None,
        "admissions_per_minute": 900,
        "paused": True,
        "version": 3,
    }
    shown_body = await assert_documented(document, "get", PATH, shown)
    assert shown_body["settings"] == faster_body["settings"]
    assert {"waiting", "admitted_total", "inside", "estimated_seconds_to_clear"} <= set(
        shown_body["stats"]
    )
    assert event["event"]["waiting_room"] == {
        "enabled": True,
        "queue_opens_at": saved["settings"]["queue_opens_at"],
        "queue_url": f"/api/v1/events/{made.event_id}/queue",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (room_settings(admissions_per_minute=0), "admissions_per_minute"),
        (room_settings(max_inside=1_000_001), "max_inside"),
        (room_settings(session_minutes=0), "session_minutes"),
        (room_settings(session_minutes=24 * 60 + 1), "session_minutes"),
        (room_settings(queue_opens_at="tomorrow"), "queue_opens_at"),
        (room_settings(queue_opens_at="2030-05-01T09:00:00"), "queue_opens_at"),
        (room_settings(queue_opens_at="2999-01-01T00:00:00Z"), "queue_opens_at"),
        (room_settings(enabled="yes"), "enabled"),
        (room_settings(admissions_per_minute=True), "admissions_per_minute"),
        ({k: v for k, v in room_settings().items() if k != "max_inside"}, "max_inside"),
        (room_settings(colour="red"), "colour"),
    ],
)
async def test_a_whole_room_is_checked_field_by_field(
    client: Client,
    signup: Signup,
    make_event: MakeEvent,
    document: dict[str, Any],
    body: dict[str, Any],
    field: str,
) -> None:
    """Refused before anything is saved or sent: no engine runs here, so a body let through
    would come back as a 503, not a 422."""
    made = await make_event(seats=2)
    admin = await signup(role=Role.ADMIN)

    response = await client.put(room_url(made.event_id), json=body, headers=admin.headers)

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == field
    await assert_documented(document, "put", PATH, response)


async def test_partial_changes_need_a_room_and_known_settings(
    client: Client, signup: Signup, make_event: MakeEvent, document: dict[str, Any]
) -> None:
    made = await make_event(seats=2)
    admin, buyer = await signup(role=Role.ADMIN), await signup()
    url = room_url(made.event_id)

    no_room = await client.patch(url, json={"paused": True}, headers=admin.headers)
    nothing = await client.patch(url, json={}, headers=admin.headers)
    null = await client.patch(url, json={"paused": None}, headers=admin.headers)
    not_admin = await client.patch(url, json={"paused": True}, headers=buyer.headers)
    no_event = await client.get(room_url(made.event_id + 1000), headers=admin.headers)

    await error_of(no_room, 409, "no_waiting_room")
    await error_of(nothing, 422, "invalid_input")
    assert (await error_of(null, 422, "invalid_input"))["field"] == "paused"
    await error_of(not_admin, 403, "forbidden")
    await error_of(no_event, 404, "not_found")
    for response in (no_room, nothing, null, not_admin):
        await assert_documented(document, "patch", PATH, response)
    await assert_documented(document, "get", PATH, no_event)


async def test_the_queue_answers_as_documented(
    client: Client,
    engine: RunningEngine,
    signup: Signup,
    make_event: MakeEvent,
    document: dict[str, Any],
) -> None:
    made = await make_event(seats=2)
    admin, buyer = await signup(role=Role.ADMIN), await signup()
    url = f"/api/v1/events/{made.event_id}/queue"
    path = "/api/v1/events/{event_id}/queue"

    missing = await client.get(url, headers=buyer.headers)
    no_room = await client.post(url, headers=buyer.headers)
    await set_room(client, admin.headers, made.event_id, paused=True)
    joined = await client.post(url, headers=buyer.headers)
    shown = await client.get(url, headers=buyer.headers)
    held = await client.post(
        f"/api/v1/events/{made.event_id}/holds",
        json={"seat_ids": [made.seat_ids[0]]},
        headers=buyer.headers,
    )
    left = await client.delete(url, headers=buyer.headers)

    assert (missing.status, no_room.status, joined.status, shown.status) == (409, 409, 200, 200)
    assert (held.status, left.status) == (403, 200)
    await assert_documented(document, "get", path, missing)
    await assert_documented(document, "post", path, no_room)
    await assert_documented(document, "post", path, joined)
    await assert_documented(document, "get", path, shown)
    await assert_documented(document, "post", "/api/v1/events/{id}/holds", held)
    await assert_documented(document, "delete", path, left)


async def test_the_cli_shows_and_changes_a_room(
    cli_env: dict[str, str],  # noqa: F811 - the fixture imported above
    settings: Settings,
    engine: RunningEngine,
    make_event: MakeEvent,
) -> None:
    made = await make_event(seats=2)
    event = str(made.event_id)
    # The same deployment as the engine's: another shard count would ask the wrong actor.
    cli_env = {**cli_env, "ENGINE_SHARDS": str(settings.engine.shards)}

    empty = await run_cli(cli_env, "waiting-room", event)
    partial = await run_cli(cli_env, "waiting-room", event, "--pause")
    created = await run_cli(
        cli_env,
        "waiting-room",
        event,
        "--enable",
        "--opens-at",
        "2020-01-01T09:00:00+01:00",
        "--rate",
        "120",
        "--cap",
        "50",
    )
    paused = await run_cli(cli_env, "waiting-room", event, "--pause", "--session-minutes", "15")
    bad = await run_cli(cli_env, "waiting-room", event, "--rate", "0")

    assert (empty.code, json.loads(empty.stdout)["settings"]) == (0, None), empty.stderr
    assert partial.code == 1
    assert "no waiting room yet" in partial.stderr
    assert created.code == 0, created.stderr
    saved = json.loads(created.stdout)["settings"]
    assert saved == {
        "enabled": True,
        "queue_opens_at": "2020-01-01T08:00:00+00:00",
        "admissions_per_minute": 120,
        "max_inside": 50,
        "session_minutes": 10,
        "paused": False,
        "version": 1,
    }
    assert paused.code == 0, paused.stderr
    changed = json.loads(paused.stdout)
    assert changed["settings"] == {**saved, "paused": True, "session_minutes": 15, "version": 2}
    assert changed["stats"]["rate_per_minute"] == 0
    assert bad.code == 1
    assert bad.stderr.startswith("error: Admissions per minute must be between")
