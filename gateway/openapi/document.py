"""The whole document, assembled."""

from __future__ import annotations

from typing import Any

import orjson

from config import Settings
from gateway.openapi.constraints import API_VERSION, OPENAPI_VERSION
from gateway.openapi.paths import paths
from gateway.openapi.schemas import schemas


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The whole document, served at `/api/v1/openapi.json`."""
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "RushQueue",
            "version": API_VERSION,
            "summary": "Concert seat sales that survive an on-sale rush.",
            "description": (
                'Every error is `{"error": {"status", "code", "message", ...details}}` '
                "(see the `Error` schema); `code` is stable and machine-readable. Routes under "
                "`/api/` need `Authorization: Bearer <token>` (from signup or login) unless "
                "they say otherwise; a route that needs none still refuses a bad token that is "
                "sent to it. Every answer, errors included, carries `X-Request-Id` (see the "
                "`RequestId` header): the request's own if it sent a fit one, else a fresh one."
            ),
        },
        "servers": [{"url": settings.http.public_url}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "health", "description": "Liveness and readiness probes"},
            {"name": "auth", "description": "Accounts and bearer tokens"},
            {"name": "catalog", "description": "Events, prices and seat maps"},
            {"name": "admin", "description": "Organizer endpoints (admin role)"},
            {"name": "holds", "description": "Holding seats while a buyer pays"},
            {"name": "queue", "description": "An event's waiting room: places and progress"},
            {"name": "payments", "description": "Checkout, the provider's webhook, bookings"},
            {"name": "meta", "description": "This document"},
            {"name": "pages", "description": "The buyer's page (HTML, scripts, styles)"},
        ],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "headers": {
                "RequestId": {
                    "description": (
                        "This request's id, as the server's logs know it: the `X-Request-Id` "
                        "the client sent if it was 1 to 64 characters of `A-Za-z0-9._-`, "
                        "else a fresh 32-digit hex id."
                    ),
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                },
                "RetryAfter": {
                    "description": "Seconds to wait before retrying.",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                },
            },
            "schemas": schemas(),
        },
    }
    # Through JSON and back: the building blocks (gateway.openapi.blocks) are shared between
    # operations, and some are module constants, so each caller gets objects of its own to read
    # or change freely.
    copied: dict[str, Any] = orjson.loads(orjson.dumps(document))
    return copied
