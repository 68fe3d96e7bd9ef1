"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from aiohttp import web
from redis.exceptions import RedisError

from gateway.appkeys import DATABASE, REDIS
from gateway.auth.guard import public
from gateway.wire import json_response

routes = web.RouteTableDef()


@routes.get("/healthz")
@public
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
@public
async def readyz(request: web.Request) -> web.Response:
    async def redis_ok() -> bool:
        try:
            return bool(await request.app[REDIS].ping())
        except (RedisError, OSError):
            return False

    redis_up, database_up = await asyncio.gather(redis_ok(), request.app[DATABASE].ping())
    ready = redis_up and database_up
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {"redis": redis_up, "database": database_up},
    }
    return json_response(body, status=200 if ready else 503)
