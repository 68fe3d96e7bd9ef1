"""Waiting-room helpers for gateway tests: set a room up through the admin API, and follow its
progress on the public websocket until a rank is admitted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestClient

    Client = TestClient[web.Request, web.Application]


def queue_url(event_id: int) -> str:
    return f"/api/v1/events/{event_id}/queue"


def room_url(event_id: int) -> str:
    return f"/api/v1/admin/events/{event_id}/waiting-room"


def room_settings(**changes: Any) -> dict[str, Any]:
    """A whole waiting room (a PUT body): on, open since an hour ago, admitting fast."""
    opened = datetime.now(UTC) - timedelta(hours=1)
    return {
        "enabled": True,
        "queue_opens_at": opened.isoformat(),
        "admissions_per_minute": 6000,
        "max_inside": 100,
        "session_minutes": 10,
        "paused": False,
    } | changes


async def set_room(
    client: Client, admin: dict[str, str], event_id: int, **changes: Any
) -> dict[str, Any]:
    response = await client.put(room_url(event_id), json=room_settings(**changes), headers=admin)
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def join(client: Client, headers: dict[str, str], event_id: int) -> dict[str, Any]:
    response = await client.post(queue_url(event_id), headers=headers)
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def admitted(client: Client, headers: dict[str, str], event_id: int) -> dict[str, Any]:
    """Join, wait on the room's websocket until admission reaches the place, then answer the
    place's status (admitted)."""
    async with client.ws_connect(f"{queue_url(event_id)}/ws") as socket:
        rank = (await join(client, headers, event_id))["position"]
        assert rank is not None, "joined in the pre-queue: no rank to wait for"
        async with asyncio.timeout(10):
            while (await socket.receive_json())["admitted_through"] < rank:
                pass
    response = await client.get(queue_url(event_id), headers=headers)
    status: dict[str, Any] = await response.json()
    assert status["state"] == "admitted", status
    return status
