"""Accounts: sign up, log in, and who am I."""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web

from domain.errors import InvalidCredentials, NotAuthenticated
from domain.text import is_blank
from gateway.appkeys import DATABASE, LIMITER, PASSWORDS, TOKENS
from gateway.auth.guard import current_user, public
from gateway.limits import client_ip
from gateway.views.users import session_view, user_view
from gateway.wire import field, json_response, read_json_object
from persistence.users import (
    create_user,
    find_user_by_email,
    get_user,
    normalize_email,
    update_password_hash,
)

routes = web.RouteTableDef()

MAX_EMAIL_LENGTH: Final = 254
MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 256
MAX_NAME_LENGTH: Final = 200

# Deliberately plain: a local part of the usual characters and a dotted domain of DNS labels.
# Whether the address is real is for a confirmation mail to find out, not for a regex.
_EMAIL: Final = re.compile(
    r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+",
    re.ASCII,
)

# One message whether or not the email has an account, so a login cannot test for one.
_BAD_CREDENTIALS: Final = "The email or password is wrong"


def _email_problem(email: str) -> str | None:
    normalized = normalize_email(email)
    if len(normalized) > MAX_EMAIL_LENGTH or _EMAIL.fullmatch(normalized) is None:
        return "is not a valid email address"
    return None


def _password_problem(password: str) -> str | None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        return f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
    return None


def _name_problem(name: str) -> str | None:
    stripped = name.strip()
    if is_blank(stripped):
        return "must not be blank"
    if len(stripped) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    return None


@routes.post("/api/v1/auth/signup")
@public
async def signup(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    email = normalize_email(field(body, "email", str, check=_email_problem))
    password = field(body, "password", str, check=_password_problem)
    name = field(body, "name", str, check=_name_problem).strip()
    # Counted before argon2 runs: the hash is what a flood of signups would make us pay for.
    await request.app[LIMITER].signup(client_ip(request), email)
    # Hash before borrowing a connection, so no pooled connection waits on argon2.
    password_hash = await request.app[PASSWORDS].hash(password)
    async with request.app[DATABASE].transaction() as conn:
        user = await create_user(conn, email=email, name=name, password_hash=password_hash)
    issued = request.app[TOKENS].issue(user.id, user.role)
    return json_response(session_view(user, issued), status=201)


@routes.post("/api/v1/auth/login")
@public
async def login(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    email = field(body, "email", str)
    password = field(body, "password", str)
    # Per IP against spraying many accounts, per email and IP against guessing one password.
    await request.app[LIMITER].login(client_ip(request), normalize_email(email))
    passwords = request.app[PASSWORDS]
    database = request.app[DATABASE]
    async with database.transaction() as conn:
        user = await find_user_by_email(conn, email)
    if user is None:
        # Take as long as a real check would, so timing does not tell the email is unknown.
        await passwords.verify_dummy(password)
        raise InvalidCredentials(_BAD_CREDENTIALS)
    if not await passwords.verify(user.password_hash, password):
        raise InvalidCredentials(_BAD_CREDENTIALS)
    # Login is the only time the plain password is in hand, so the one chance to upgrade a hash
    # made with older parameters.
    if passwords.needs_rehash(user.password_hash):
        new_hash = await passwords.hash(password)
        async with database.transaction() as conn:
            await update_password_hash(conn, user.id, new_hash)
    issued = request.app[TOKENS].issue(user.id, user.role)
    return json_response(session_view(user, issued))


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    principal = current_user(request)
    async with request.app[DATABASE].transaction() as conn:
        user = await get_user(conn, principal.user_id)
    if user is None:
        # A valid signature for an account that has since been deleted proves nothing.
        raise NotAuthenticated("The account for this token no longer exists")
    return json_response({"user": user_view(user)})
