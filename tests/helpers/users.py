"""Fixtures: users.

`signup` makes an account and hands back a bearer token for it. Buyers sign up through the API,
as a real client would; admins cannot, so they are written through persistence and given a token
from the app's own `TokenCodec`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

import pytest

from domain.statuses import Role
from gateway.appkeys import DATABASE, PASSWORDS, TOKENS
from persistence.users import create_user

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestClient

DEFAULT_PASSWORD: Final = "correct horse battery staple"


@dataclass(frozen=True, slots=True)
class SignedUp:
    user_id: int
    email: str
    password: str
    token: str
    headers: dict[str, str]


class Signup(Protocol):
    async def __call__(
        self,
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        name: str = "Test User",
        role: Role = Role.BUYER,
    ) -> SignedUp: ...


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def signup(client: TestClient[web.Request, web.Application]) -> Signup:
    """An async factory: `await signup(role=Role.ADMIN)`; emails are unique unless given."""
    serial = itertools.count(1)
    app = client.app

    async def make(
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        name: str = "Test User",
        role: Role = Role.BUYER,
    ) -> SignedUp:
        email = email or f"user{next(serial)}@example.com"
        if role is Role.BUYER:
            response = await client.post(
                "/api/v1/auth/signup", json={"email": email, "password": password, "name": name}
            )
            body = await response.json()
            assert response.status == 201, body
            user_id: int = body["user"]["id"]
            token: str = body["token"]
        else:
            password_hash = await app[PASSWORDS].hash(password)
            async with app[DATABASE].transaction() as conn:
                user = await create_user(
                    conn, email=email, name=name, password_hash=password_hash, role=role
                )
            user_id = user.id
            token = app[TOKENS].issue(user.id, role).token
        return SignedUp(
            user_id=user_id, email=email, password=password, token=token, headers=bearer(token)
        )

    return make
