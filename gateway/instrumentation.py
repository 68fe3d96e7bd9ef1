"""Request ids, request metrics and the access log: the outermost middleware.

Every request gets an id, the client's own `X-Request-Id` if it is a short printable token, else
a fresh one. It is set in the logging context for the whole request (so every log line about it
carries it, and the engine client can pass it on) and sent back in `X-Request-Id` on every
answer: errors, 404s of no route and websocket upgrades included, because it is added as the
response is prepared, whoever made the response.

The middleware sits outside the error middleware, so it counts the status the client gets.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.appkeys import METRICS, SETTINGS
from gateway.metrics import UNMATCHED
from telemetry.logs import RequestContext, request_id_from

REQUEST_ID_HEADER: Final = "X-Request-Id"
REQUEST_ID: Final = web.RequestKey("request_id", str)

access_log = logging.getLogger("gateway.access")


@web.middleware
async def instrumentation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    with RequestContext(request_id):
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # Redirects are raised, and the error middleware lets them through.
            _answered(request, exc.status, started)
            raise
        _answered(request, response.status, started)
        return response


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the header goes on whatever response is about to be sent."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id


def _answered(request: web.Request, status: int, started: float) -> None:
    seconds = time.perf_counter() - started
    resource = request.match_info.route.resource
    route = UNMATCHED if resource is None else resource.canonical
    app = request.app
    app[METRICS].request_answered(route, request.method, status, seconds)
    if app[SETTINGS].telemetry.access_log:
        # The path without its query: a query string may carry a token.
        milliseconds = seconds * 1000
        access_log.info(
            "%s %s %d %.1fms %s", request.method, request.path, status, milliseconds, request.remote
        )
