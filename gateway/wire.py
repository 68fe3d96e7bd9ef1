"""JSON on the wire: orjson in both directions, and typed request-body parsing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

import orjson
from aiohttp import web

from domain.errors import (
    InvalidInput,
    MalformedJson,
    NotFound,
    RequestTimeout,
    UnsupportedMediaType,
)
from gateway.appkeys import SETTINGS

T = TypeVar("T")

_ID: Final = re.compile(r"[0-9]{1,18}")


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a clear 415/422."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as application/json")
    raw = await read_body(request)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedJson("The body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object")
    return body


async def read_body(request: web.Request) -> bytes:
    """The whole body, or a 408 if it has not arrived within `HTTP_BODY_TIMEOUT_SECONDS`."""
    if request.content.is_eof():
        # Arrived whole with the head, as a small body does: nothing to wait for, so no timer
        # (setting one up and tearing it down was a tenth of a busy gateway's hold path).
        return await request.read()
    try:
        async with asyncio.timeout(request.app[SETTINGS].http.body_timeout_seconds):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout("The request body did not arrive in time") from None


def field(
    body: dict[str, Any],
    name: str,
    kind: type[T],
    *,
    check: Callable[[T], str | None] | None = None,
) -> T:
    """A required field of the given JSON type; `check` returns a problem or None."""
    if name not in body:
        raise InvalidInput(f"'{name}' is required", field=name)
    value = body[name]
    # bool is an int in Python but never a valid JSON number here.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidInput(f"'{name}' must be {_json_type(kind)}", field=name)
    if check is not None:
        problem = check(value)
        if problem is not None:
            raise InvalidInput(f"'{name}' {problem}", field=name)
    return value


def optional_field(
    body: dict[str, Any],
    name: str,
    kind: type[T],
    default: T,
    *,
    check: Callable[[T], str | None] | None = None,
) -> T:
    if body.get(name) is None:
        return default
    return field(body, name, kind, check=check)


def path_id(request: web.Request, name: str = "id") -> int:
    """A positive integer id from the URL; anything else is a 404 (no such resource)."""
    raw = request.match_info[name]
    # ASCII digits only: str.isdigit() also accepts characters such as '²' that int() refuses.
    if _ID.fullmatch(raw) is None or int(raw) == 0:
        raise NotFound(f"No {name.removesuffix('_id')} {raw!r}")
    return int(raw)


def _json_type(kind: type[Any]) -> str:
    return {
        str: "a string",
        int: "an integer",
        list: "an array",
        dict: "an object",
        bool: "true or false",
        float: "a number",
    }.get(kind, kind.__name__)
