from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import argon2
import jwt
import pytest
from argon2 import profiles

from domain.statuses import Role
from gateway.appkeys import DATABASE, PASSWORDS, TOKENS
from gateway.auth.principal import Principal
from persistence.users import create_user, find_user_by_email
from tests.helpers.users import DEFAULT_PASSWORD, bearer

if TYPE_CHECKING:
    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from persistence import Database
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

SIGNUP = "/api/v1/auth/signup"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/me"


async def error_of(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """The error object of a response, checked against the one error shape."""
    assert response.status == status
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"status", "code", "message"} <= set(error)
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def valid_signup(**overrides: Any) -> dict[str, Any]:
    return {"email": "ada@example.com", "password": DEFAULT_PASSWORD, "name": "Ada"} | overrides


def token_with(settings: Settings, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "1", "role": "buyer", "iat": now, "exp": now + 600} | overrides
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- signup ---------------------------------------------------------------------------------------


async def test_signup_creates_a_buyer_and_returns_a_working_token(
    client: Client, db: Database
) -> None:
    response = await client.post(
        SIGNUP,
        json={"email": "  Ada@Example.COM ", "password": DEFAULT_PASSWORD, "name": " Ada L. "},
    )

    assert response.status == 201
    body = await response.json()
    assert set(body) == {"user", "token", "expires_at"}
    user = body["user"]
    assert set(user) == {"id", "email", "name", "role", "created_at"}
    assert user["email"] == "ada@example.com"
    assert user["name"] == "Ada L."
    assert user["role"] == "buyer"
    assert datetime.fromisoformat(user["created_at"]).tzinfo is not None
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=59) < expires_at - datetime.now(UTC) <= timedelta(hours=1)
    assert client.app[TOKENS].decode(body["token"]) == Principal(user["id"], Role.BUYER)

    async with db.transaction() as conn:
        stored = await find_user_by_email(conn, "ada@example.com")
    assert stored is not None
    assert stored.id == user["id"]
    assert stored.password_hash.startswith("$argon2id$")
    assert DEFAULT_PASSWORD not in stored.password_hash


async def test_signup_with_an_email_in_use_is_409_in_any_case(client: Client) -> None:
    first = await client.post(SIGNUP, json=valid_signup())
    assert first.status == 201

    again = await client.post(SIGNUP, json=valid_signup(email="ADA@example.com", name="Other"))

    await error_of(again, 409, "email_taken")


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada lovelace@example.com",
        "ada@exa mple.com",
        "ada@-example.com",
        "ada@example..com",
        "ädä@example.com",
        f"{'a' * 65}@example.com",
        # Every label is fine, but the address is longer than 254 characters.
        f"ada@{'a' * 60}.{'b' * 60}.{'c' * 60}.{'d' * 60}.example.com",
    ],
)
async def test_signup_with_an_invalid_email_is_422(client: Client, email: str) -> None:
    response = await client.post(SIGNUP, json=valid_signup(email=email))

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == "email"


@pytest.mark.parametrize(
    "email", ["o'brien+tickets@mail.example.co.uk", "a.b-c_d@x-y.io", "Z@EXAMPLE.ORG"]
)
async def test_signup_accepts_ordinary_addresses(client: Client, email: str) -> None:
    response = await client.post(SIGNUP, json=valid_signup(email=email))

    assert response.status == 201
    assert (await response.json())["user"]["email"] == email.lower()


@pytest.mark.parametrize("password", ["", "seven77", "x" * 257])
async def test_signup_with_a_password_too_short_or_long_is_422(
    client: Client, password: str
) -> None:
    response = await client.post(SIGNUP, json=valid_signup(password=password))

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == "password"


@pytest.mark.parametrize("password", ["eight888", "x" * 256])
async def test_signup_accepts_passwords_at_the_length_limits(client: Client, password: str) -> None:
    response = await client.post(SIGNUP, json=valid_signup(password=password))

    assert response.status == 201


@pytest.mark.parametrize("name", ["", "   ", "\u200b\u200d", "\u202e", "n" * 201])
async def test_signup_with_a_blank_or_long_name_is_422(client: Client, name: str) -> None:
    response = await client.post(SIGNUP, json=valid_signup(name=name))

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == "name"


@pytest.mark.parametrize("missing", ["email", "password", "name"])
async def test_signup_without_a_field_is_422(client: Client, missing: str) -> None:
    body = valid_signup()
    del body[missing]

    response = await client.post(SIGNUP, json=body)

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == missing


@pytest.mark.parametrize(
    ("name", "value"),
    [("email", 5), ("email", None), ("password", ["secret-password"]), ("name", True)],
)
async def test_signup_with_a_field_of_the_wrong_type_is_422(
    client: Client, name: str, value: object
) -> None:
    response = await client.post(SIGNUP, json=valid_signup(**{name: value}))

    error = await error_of(response, 422, "invalid_input")
    assert error["field"] == name


async def test_signup_with_a_json_array_body_is_422(client: Client) -> None:
    response = await client.post(SIGNUP, json=[valid_signup()])

    await error_of(response, 422, "invalid_input")


async def test_signup_with_a_non_json_content_type_is_415(client: Client) -> None:
    response = await client.post(
        SIGNUP, data=json.dumps(valid_signup()), headers={"Content-Type": "text/plain"}
    )

    await error_of(response, 415, "unsupported_media_type")


async def test_signup_with_malformed_json_is_422(client: Client) -> None:
    response = await client.post(
        SIGNUP, data='{"email": "ada@example.com",', headers={"Content-Type": "application/json"}
    )

    await error_of(response, 422, "malformed_json")


# -- login ----------------------------------------------------------------------------------------


async def test_login_returns_a_token_for_the_user(client: Client, signup: Signup) -> None:
    account = await signup(email="ada@example.com", name="Ada")

    response = await client.post(
        LOGIN, json={"email": " ADA@example.com", "password": DEFAULT_PASSWORD}
    )

    assert response.status == 200
    body = await response.json()
    assert set(body) == {"user", "token", "expires_at"}
    assert body["user"]["id"] == account.user_id
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["name"] == "Ada"
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)
    me = await client.get(ME, headers=bearer(body["token"]))
    assert me.status == 200


async def test_an_admin_logs_in_with_the_admin_role(client: Client, signup: Signup) -> None:
    admin = await signup(role=Role.ADMIN)

    response = await client.post(LOGIN, json={"email": admin.email, "password": admin.password})

    assert response.status == 200
    body = await response.json()
    assert body["user"]["role"] == "admin"
    assert client.app[TOKENS].decode(body["token"]) == Principal(admin.user_id, Role.ADMIN)


async def test_login_with_a_wrong_password_or_unknown_email_gives_the_same_401(
    client: Client, signup: Signup
) -> None:
    account = await signup()

    wrong_password = await client.post(
        LOGIN, json={"email": account.email, "password": "not the password"}
    )
    unknown_email = await client.post(
        LOGIN, json={"email": "nobody@example.com", "password": "not the password"}
    )

    wrong_password_error = await error_of(wrong_password, 401, "invalid_credentials")
    unknown_email_error = await error_of(unknown_email, 401, "invalid_credentials")
    assert wrong_password_error == unknown_email_error


async def test_login_for_an_unknown_email_still_runs_a_password_check(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    passwords = client.app[PASSWORDS]
    dummy_checks: list[str] = []
    real_verify_dummy = passwords.verify_dummy

    async def counting_verify_dummy(password: str) -> None:
        dummy_checks.append(password)
        await real_verify_dummy(password)

    monkeypatch.setattr(passwords, "verify_dummy", counting_verify_dummy)

    response = await client.post(LOGIN, json={"email": "nobody@example.com", "password": "guess"})

    await error_of(response, 401, "invalid_credentials")
    assert dummy_checks == ["guess"]


async def test_login_upgrades_a_hash_made_with_other_parameters(
    client: Client, db: Database
) -> None:
    weaker = argon2.Parameters(
        type=argon2.Type.ID,
        version=19,
        salt_len=8,
        hash_len=8,
        time_cost=2,
        memory_cost=16,
        parallelism=1,
    )
    old_hash = argon2.PasswordHasher.from_parameters(weaker).hash(DEFAULT_PASSWORD)
    async with db.transaction() as conn:
        await create_user(conn, email="ada@example.com", name="Ada", password_hash=old_hash)

    response = await client.post(
        LOGIN, json={"email": "ada@example.com", "password": DEFAULT_PASSWORD}
    )

    assert response.status == 200
    async with db.transaction() as conn:
        stored = await find_user_by_email(conn, "ada@example.com")
    assert stored is not None
    assert stored.password_hash != old_hash
    assert argon2.extract_parameters(stored.password_hash) == profiles.CHEAPEST
    again = await client.post(
        LOGIN, json={"email": "ada@example.com", "password": DEFAULT_PASSWORD}
    )
    assert again.status == 200


async def test_login_keeps_a_current_hash(client: Client, db: Database, signup: Signup) -> None:
    account = await signup()
    async with db.transaction() as conn:
        before = await find_user_by_email(conn, account.email)

    response = await client.post(LOGIN, json={"email": account.email, "password": account.password})

    assert response.status == 200
    async with db.transaction() as conn:
        after = await find_user_by_email(conn, account.email)
    assert before is not None
    assert after is not None
    assert after.password_hash == before.password_hash


@pytest.mark.parametrize(
    "body",
    [
        {"password": DEFAULT_PASSWORD},
        {"email": "ada@example.com"},
        {"email": 1, "password": DEFAULT_PASSWORD},
        {"email": "ada@example.com", "password": None},
    ],
)
async def test_login_with_missing_or_mistyped_fields_is_422(
    client: Client, body: dict[str, Any]
) -> None:
    response = await client.post(LOGIN, json=body)

    await error_of(response, 422, "invalid_input")


async def test_login_with_a_non_json_content_type_is_415(client: Client) -> None:
    response = await client.post(LOGIN, data="email=ada@example.com&password=x")

    await error_of(response, 415, "unsupported_media_type")


# -- me -------------------------------------------------------------------------------------------


async def test_me_returns_the_tokens_user(client: Client, signup: Signup) -> None:
    account = await signup(email="ada@example.com", name="Ada")

    response = await client.get(ME, headers=account.headers)

    assert response.status == 200
    body = await response.json()
    assert set(body) == {"user"}
    user = body["user"]
    assert set(user) == {"id", "email", "name", "role", "created_at"}
    assert user["id"] == account.user_id
    assert user["email"] == "ada@example.com"
    assert user["name"] == "Ada"
    assert user["role"] == "buyer"
    assert datetime.fromisoformat(user["created_at"]) <= datetime.now(UTC)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic YWRhOnNlY3JldA=="}],
)
async def test_me_without_a_bearer_token_is_401(client: Client, headers: dict[str, str]) -> None:
    response = await client.get(ME, headers=headers)

    await error_of(response, 401, "unauthorized")


async def test_me_with_an_alg_none_token_is_401(client: Client, signup: Signup) -> None:
    account = await signup()
    now = int(time.time())
    claims = {"sub": str(account.user_id), "role": "admin", "iat": now, "exp": now + 600}
    unsigned = jwt.encode(claims, None, algorithm="none")

    response = await client.get(ME, headers=bearer(unsigned))

    await error_of(response, 401, "unauthorized")


async def test_me_with_a_token_signed_by_another_secret_is_401(
    client: Client, signup: Signup
) -> None:
    account = await signup()
    now = int(time.time())
    claims = {"sub": str(account.user_id), "role": "buyer", "iat": now, "exp": now + 600}
    forged = jwt.encode(claims, "an-attackers-secret-that-is-long-enough-xyz", algorithm="HS256")

    response = await client.get(ME, headers=bearer(forged))

    await error_of(response, 401, "unauthorized")


async def test_me_with_an_rs256_token_is_401(client: Client, signup: Signup) -> None:
    account = await signup()
    now = int(time.time())
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = {"sub": str(account.user_id), "role": "buyer", "iat": now, "exp": now + 600}
    token = f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(b'signature')}"

    response = await client.get(ME, headers=bearer(token))

    await error_of(response, 401, "unauthorized")


async def test_me_with_an_expired_token_is_401(
    client: Client, settings: Settings, signup: Signup
) -> None:
    account = await signup()
    now = int(time.time())
    expired = token_with(settings, sub=str(account.user_id), iat=now - 7200, exp=now - 3600)

    response = await client.get(ME, headers=bearer(expired))

    error = await error_of(response, 401, "unauthorized")
    assert "expired" in error["message"]


@pytest.mark.parametrize("claim", ["iat", "nbf"])
async def test_me_with_a_token_from_the_future_is_401(
    client: Client, settings: Settings, signup: Signup, claim: str
) -> None:
    account = await signup()
    future = token_with(settings, sub=str(account.user_id), **{claim: int(time.time()) + 3600})

    response = await client.get(ME, headers=bearer(future))

    error = await error_of(response, 401, "unauthorized")
    assert "not valid yet" in error["message"]


async def test_me_with_a_token_for_a_deleted_user_is_401(
    client: Client, db: Database, signup: Signup
) -> None:
    account = await signup()
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM users WHERE id = %s", (account.user_id,))

    response = await client.get(ME, headers=account.headers)

    await error_of(response, 401, "unauthorized")


async def test_me_reads_the_user_from_the_database_not_the_token(
    client: Client, settings: Settings, signup: Signup
) -> None:
    account = await signup(name="Ada")
    # A genuinely signed token whose role claim disagrees with the stored user.
    claims_admin = token_with(settings, sub=str(account.user_id), role="admin")

    response = await client.get(ME, headers=bearer(claims_admin))

    assert response.status == 200
    body = await response.json()
    assert body["user"]["role"] == "buyer"
    assert body["user"]["name"] == "Ada"


async def test_the_signup_fixture_writes_admins_through_persistence(
    client: Client, signup: Signup
) -> None:
    admin = await signup(role=Role.ADMIN)

    async with client.app[DATABASE].transaction() as conn:
        stored = await find_user_by_email(conn, admin.email)
    assert stored is not None
    assert stored.role is Role.ADMIN
    me = await client.get(ME, headers=admin.headers)
    assert (await me.json())["user"]["role"] == "admin"
