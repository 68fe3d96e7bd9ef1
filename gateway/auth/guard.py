"""Deny by default: every /api/v1 route needs a bearer token unless its handler is `@public`.

The guard reads the matched route's own handler, so marking a handler is the only way to open it
and a new route is protected without anyone remembering to protect it.

A token stays valid until it expires, so deleting a user (`python -m gateway delete-user`) also
revokes them: a Redis key per deleted user that outlives every token issued before the deletion.
The guard checks it on every protected request, one EXISTS round trip, which is cheaper than a
database read and is seen by every gateway at once. If Redis cannot answer, the check is skipped
with a warning rather than refusing every buyer: users are deleted rarely and by hand, and the
routes that matter most (holds) need Redis anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.errors import Forbidden, NotAuthenticated
from gateway.appkeys import PRINCIPAL, REDIS, TOKENS
from gateway.auth.principal import Principal
from gateway.auth.tokens import CLOCK_SKEW_SECONDS
from gateway.limits import revoked_user_key

log = logging.getLogger(__name__)

_PUBLIC_ATTR: Final = "__rushqueue_public__"

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])


def public(handler: H) -> H:
    """Open a handler to anonymous callers."""
    setattr(handler, _PUBLIC_ATTR, True)
    return handler


def _is_public(request: web.Request) -> bool:
    route_handler = request.match_info.handler
    return bool(getattr(route_handler, _PUBLIC_ATTR, False)) or not request.path.startswith("/api/")


def principal_from(request: web.Request) -> Principal | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return request.app[TOKENS].decode(token.strip())


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None or _is_public(request):
        # A stale or broken token on an open route is ignored, not refused: a health probe or a
        # login page must work whatever header a client still sends.
        try:
            principal = principal_from(request)
        except NotAuthenticated:
            principal = None
        if principal is not None:
            request[PRINCIPAL] = principal
        return await handler(request)
    principal = principal_from(request)
    if principal is None:
        raise NotAuthenticated("Send 'Authorization: Bearer <token>'; log in to get one")
    if await is_revoked(request.app[REDIS], principal.user_id):
        raise NotAuthenticated("The account for this token no longer exists")
    request[PRINCIPAL] = principal
    return await handler(request)


async def revoke_user(redis: Redis, user_id: int, *, token_ttl_seconds: int) -> None:
    """Refuse every token already issued to `user_id`, for as long as one could be unexpired."""
    await redis.set(revoked_user_key(user_id), 1, ex=token_ttl_seconds + CLOCK_SKEW_SECONDS)


async def unrevoke_user(redis: Redis, user_id: int) -> None:
    """Undo `revoke_user`, for a deletion that was refused after all."""
    await redis.delete(revoked_user_key(user_id))


async def is_revoked(redis: Redis, user_id: int) -> bool:
    try:
        return bool(await redis.exists(revoked_user_key(user_id)))
    except RedisError as exc:
        log.warning("token revocation not checked, Redis is unavailable: %s", exc)
        return False


def current_user(request: web.Request) -> Principal:
    try:
        return request[PRINCIPAL]
    except KeyError:
        raise NotAuthenticated("Log in first") from None


def require_admin(request: web.Request) -> Principal:
    principal = current_user(request)
    if not principal.is_admin:
        raise Forbidden("This needs the admin role")
    return principal
