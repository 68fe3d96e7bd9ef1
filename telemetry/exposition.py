"""Serving one process's metrics to Prometheus: `GET /metrics` on `127.0.0.1:METRICS_PORT`.

Every process makes its own registry at start-up (`new_registry`) rather than using the
library's global one, so several gateways built in one test process never collide, and serves it
from a small aiohttp app on its own port, beside (never inside) the public HTTP port: metrics
name internals that the public has no business reading. The gateway runs it as a `cleanup_ctx`,
the engine and the sweeper around their main coroutine; both stop it on SIGTERM with the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

# Loopback only, whatever HTTP_HOST says: a scraper on this machine (or an agent forwarding
# for one) is the only reader.
METRICS_HOST: Final = "127.0.0.1"

_REGISTRY: Final = web.AppKey("registry", CollectorRegistry)


def new_registry() -> CollectorRegistry:
    """A registry for this process, with the standard process and runtime metrics in it
    (resident memory, CPU seconds, open files, GC), read when scraped."""
    registry = CollectorRegistry()
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    return registry


async def _metrics(request: web.Request) -> web.Response:
    # An engine of 64 shards has some 6,000 series, tens of milliseconds to render: in a
    # thread, the loop keeps its turns going meanwhile (the GIL is handed back every few ms).
    body = await asyncio.to_thread(generate_latest, request.app[_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def metrics_app(registry: CollectorRegistry) -> web.Application:
    app = web.Application()
    app[_REGISTRY] = registry
    app.router.add_get("/metrics", _metrics)
    return app


@asynccontextmanager
async def serving_metrics(registry: CollectorRegistry, port: int) -> AsyncIterator[str | None]:
    """Serve `registry` on the loopback `port` for the block, yielding its URL; port 0 serves
    nothing and yields None. A port already taken fails here, at start-up, naming it."""
    if port == 0:
        yield None
        return
    # Scrapes every few seconds would flood an access log with nothing worth reading.
    runner = web.AppRunner(metrics_app(registry), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, METRICS_HOST, port)
        try:
            await site.start()
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot serve metrics on {METRICS_HOST}:{port} (METRICS_PORT): {exc}"
            ) from exc
        url = f"http://{METRICS_HOST}:{port}/metrics"
        log.info("metrics on %s", url)
        yield url
    finally:
        await runner.cleanup()
