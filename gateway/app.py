"""The gateway application: middlewares, routes, and the resources it owns.

Long-lived resources live in `cleanup_ctx` generators, so they are created inside the running
loop and closed in reverse order on shutdown: the /metrics server, database, Redis, engine
client, seat feed, queue feed, jobs, payments (the provider and this process's outbox worker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiojobs
from aiohttp import web
from aiohttp.typedefs import Middleware

from config import Settings
from engine.client import EngineClient
from engine.redis_client import connect_redis
from gateway.appkeys import (
    DATABASE,
    ENGINE,
    LAYOUTS,
    LIMITER,
    LIVE_STATES,
    METRICS,
    PASSWORDS,
    PAYMENTS,
    QUEUE_FEED,
    REDIS,
    REVOCATIONS,
    SCHEDULER,
    SEAT_FEED,
    SETTINGS,
    TOKENS,
    WEBSOCKET_CAP,
)
from gateway.auth.guard import auth_middleware
from gateway.auth.passwords import PasswordHasher
from gateway.auth.revocation import Revocations
from gateway.auth.tokens import TokenCodec
from gateway.instrumentation import add_request_id, instrumentation_middleware
from gateway.layouts import LayoutCache
from gateway.limits import RateLimiter, WebsocketCap, proxy_middleware
from gateway.livestate import LiveStates
from gateway.metrics import GatewayMetrics
from gateway.middlewares import error_middleware
from gateway.payments import open_payments
from gateway.queuefeed import QueueFeed
from gateway.routes import ROUTE_TABLES
from gateway.seatfeed import SeatFeed
from persistence import Database
from telemetry.exposition import new_registry, serving_metrics


async def _metrics_server(app: web.Application) -> AsyncIterator[None]:
    async with serving_metrics(app[METRICS].registry, app[SETTINGS].telemetry.metrics_port):
        yield


async def _passwords(app: web.Application) -> AsyncIterator[None]:
    app[PASSWORDS] = PasswordHasher.from_profile(app[SETTINGS].argon2_profile)
    yield
    app[PASSWORDS].close()


async def _database(app: web.Application) -> AsyncIterator[None]:
    app[DATABASE] = await Database.connect(app[SETTINGS].database)
    yield
    await app[DATABASE].close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    # The engine client's reply reader, the seat feed, the queue feed and the revocation
    # listener each hold a connection for good.
    app[REDIS] = connect_redis(app[SETTINGS].redis, extra_connections=4)
    # The limiter's script is registered once here and reused by every request.
    app[LIMITER] = RateLimiter(app[REDIS], app[SETTINGS].limits, on_refused=app[METRICS].refused)
    async with Revocations(
        app[REDIS], remember_seconds=app[SETTINGS].revocation_cache_ms / 1000
    ) as revocations:
        app[REVOCATIONS] = revocations
        yield
    await app[REDIS].aclose()


async def _engine(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with EngineClient(app[REDIS], settings.engine, observer=app[METRICS]) as client:
        app[ENGINE] = client
        yield


async def _seat_feed(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with SeatFeed(
        app[REDIS], settings.engine, push_window_seconds=settings.http.seat_push_window_ms / 1000
    ) as feed:
        app[SEAT_FEED] = feed
        yield


async def _queue_feed(app: web.Application) -> AsyncIterator[None]:
    async with QueueFeed(app[REDIS], app[SETTINGS].engine) as feed:
        app[QUEUE_FEED] = feed
        yield


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    async with aiojobs.Scheduler(close_timeout=5.0) as scheduler:
        app[SCHEDULER] = scheduler
        yield


async def _payments(app: web.Application) -> AsyncIterator[None]:
    async with open_payments(
        app[SETTINGS], db=app[DATABASE], engine=app[ENGINE], redis=app[REDIS], metrics=app[METRICS]
    ) as provider:
        app[PAYMENTS] = provider
        yield


async def _close_seat_maps(app: web.Application) -> None:
    # Open websockets would otherwise keep their handlers, and so the process, alive.
    app[SEAT_FEED].close_watchers()
    app[QUEUE_FEED].close_watchers()


def make_app(settings: Settings) -> web.Application:
    # Instrumentation outermost: it counts and tags the answer the client actually gets. Only
    # the trusted-proxy middleware goes before it (it cannot fail), so that every log line,
    # limit and socket cap sees the client behind the proxies.
    middlewares: list[Middleware] = [instrumentation_middleware, error_middleware, auth_middleware]
    if settings.limits.trusted_proxies:
        middlewares.insert(0, proxy_middleware(settings.limits.trusted_proxies))
    app = web.Application(middlewares=middlewares, client_max_size=settings.http.max_body_bytes)
    app[SETTINGS] = settings
    # A registry per app, never the library's global one: a test may build several apps.
    app[METRICS] = GatewayMetrics.create(new_registry())
    app[TOKENS] = TokenCodec(settings.jwt_secret, ttl_seconds=settings.jwt_ttl_seconds)
    app[WEBSOCKET_CAP] = WebsocketCap(settings.limits, on_refused=app[METRICS].refused)
    app[LAYOUTS] = LayoutCache()
    app[LIVE_STATES] = LiveStates()
    app.on_response_prepare.append(add_request_id)
    app.on_shutdown.append(_close_seat_maps)
    app.cleanup_ctx.extend(
        [
            _metrics_server,
            _passwords,
            _database,
            _redis,
            _engine,
            _seat_feed,
            _queue_feed,
            _scheduler,
            _payments,
        ]
    )
    for table in ROUTE_TABLES:
        app.router.add_routes(table)
    return app
