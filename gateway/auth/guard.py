"""Deny by default: every /api/v1 route needs a bearer token unless its handler is `@public`.

The guard reads the matched route's own handler, so marking a handler is the only way to open it
and a new route is protected without anyone remembering to protect it. A protected request's
user must also not be revoked (`gateway.auth.revocation`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from domain.errors import Forbidden, NotAuthenticated
from domain.statuses import Role
from gateway.appkeys import DATABASE, PRINCIPAL, REVOCATIONS, TOKENS
from gateway.auth.principal import Principal
from persistence.users import get_user

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
    if await request.app[REVOCATIONS].is_revoked(principal.user_id):
        raise NotAuthenticated("The account for this token no longer exists")
    request[PRINCIPAL] = principal
    return await handler(request)


def current_user(request: web.Request) -> Principal:
    try:
        return request[PRINCIPAL]
    except KeyError:
        raise NotAuthenticated("Log in first") from None


async def require_admin(request: web.Request) -> Principal:
    """The caller, if they are an admin now. The token says what the role was when it was
    issued; organizer requests are few and powerful, so the role is read afresh from the
    database, and an admin demoted (or deleted) since loses the rights at once."""
    principal = current_user(request)
    if not principal.is_admin:
        raise Forbidden("This needs the admin role")
    async with request.app[DATABASE].transaction() as conn:
        user = await get_user(conn, principal.user_id)
    if user is None or user.role is not Role.ADMIN:
        raise Forbidden("This needs the admin role")
    return principal
