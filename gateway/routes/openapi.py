"""The API's own description, for clients and for the fuzzer that checks the server keeps to it."""

from __future__ import annotations

import functools

import orjson
from aiohttp import web

from config import Settings
from gateway.appkeys import SETTINGS
from gateway.auth.guard import public
from gateway.openapi import openapi_document

routes = web.RouteTableDef()


# The document depends on nothing but the settings (frozen, so hashable), and an app has one
# set of them: this builds it once per app. It cannot live under an AppKey, because an app's
# state is frozen before its first request, and it is built lazily so start-up stays cheap.
@functools.lru_cache(maxsize=4)
def _document_body(settings: Settings) -> bytes:
    return orjson.dumps(openapi_document(settings))


@routes.get("/api/v1/openapi.json")
@public
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_document_body(request.app[SETTINGS]), content_type="application/json")
