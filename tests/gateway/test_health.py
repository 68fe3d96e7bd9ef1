"""Probes: liveness answers whatever the dependencies do; readiness says which one is down."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devstack.servers import LOOPBACK, free_port
from gateway.app import make_app

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web
    from aiohttp.test_utils import TestClient
    from pytest_aiohttp import AiohttpClient

    from config import Settings

    Client = TestClient[web.Request, web.Application]


async def test_healthz_answers(client: Client) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_redis_and_mariadb_answer(client: Client) -> None:
    response = await client.get("/readyz")

    assert response.status == 200
    assert await response.json() == {
        "status": "ready",
        "checks": {"redis": True, "database": True},
    }


async def test_readyz_is_503_naming_redis_when_redis_is_unreachable(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings]
) -> None:
    # Nothing listens on a port that was free a moment ago.
    settings = make_settings(REDIS_URL=f"redis://{LOOPBACK}:{free_port()}/0")
    client = await aiohttp_client(make_app(settings))

    ready = await client.get("/readyz")
    alive = await client.get("/healthz")

    assert ready.status == 503
    assert await ready.json() == {
        "status": "not_ready",
        "checks": {"redis": False, "database": True},
    }
    assert alive.status == 200
