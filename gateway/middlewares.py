"""The one place where errors become HTTP responses.

Every error leaves as `{"error": {"status", "code", "message", ...details}}`. Domain errors map by
their class; aiohttp's own HTTP errors (404 route, 405, 413) keep their status; anything else is
logged with its traceback and answered as an opaque 500, so no stack trace reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import RedisError

from domain.errors import DomainError, RateLimited, Unavailable
from gateway.wire import json_response
from persistence import DatabaseUnavailable

log = logging.getLogger(__name__)

_HTTP_CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> web.Response:
    # Details come first so that none of them can overwrite the shape's own three keys.
    body = {"error": {**(details or {}), "status": status, "code": code, "message": message}}
    return json_response(body, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        headers = None
        if isinstance(exc, RateLimited | Unavailable):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(exc.status, exc.code, exc.message, headers, exc.details)
    except (DatabaseUnavailable, RedisError) as exc:
        # An outage of ours, not the caller's mistake, and retrying soon is the right move.
        log.warning("dependency unavailable on %s %s: %s", request.method, request.path, exc)
        return error_response(
            503,
            "unavailable",
            "The service is briefly unavailable; try again shortly",
            {"Retry-After": "1"},
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        message = exc.reason
        if exc.status == 404:
            message = "No such resource"
        elif exc.status == 413:
            message = "Request body is too large"
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, code, message, headers)
    except ConnectionResetError:
        # The caller hung up before its body arrived (a client's timeout in a rush): nothing was
        # done and nobody is left to read an answer; it is no error of ours.
        log.info("caller hung up before %s %s was read", request.method, request.path)
        return error_response(400, "request_incomplete", "The request ended before its body")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side")
