"""Forged, altered, stale and orphaned tokens, tried on every protected route, not just /me.

The protected routes are read from the OpenAPI document, which test_openapi holds equal to the
routes the app mounts, so a new route is attacked here without anyone adding it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import pytest

from devstack.servers import LOOPBACK, free_port
from gateway.openapi import openapi_document
from persistence.users import find_user_by_email, get_user
from tests.helpers.users import DEFAULT_PASSWORD, bearer

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from devstack.servers import MariaDBServer
    from engine.redis_client import RedisClient
    from persistence import Database
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.engine import RunningEngine
    from tests.helpers.users import SignedUp, Signup

    Client = TestClient[web.Request, web.Application]

METHODS: Final = ("get", "put", "post", "delete", "patch")
ME: Final = "/api/v1/me"


def protected_urls(settings: Settings) -> list[tuple[str, str]]:
    """Every protected operation as (METHOD, concrete url)."""
    document = openapi_document(settings)
    urls = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS or operation.get("security") == []:
                continue
            url = path.replace("holds/{id}", "holds/h1_" + "0" * 32)
            url = url.replace("{event_id}", "1").replace("{id}", "1")
            urls.append((method.upper(), url))
    return urls


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], claims: dict[str, Any], secret: str | None) -> str:
    """A JWT assembled by hand: any header, HMAC-SHA256 over it with `secret` (or no signature).

    Signing with the server's own secret whatever the header claims is the confusion attack in
    its strongest form: the signature is right, only the algorithm is not the one we issue."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = b""
    if secret is not None:
        signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims_for(user_id: int, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": str(user_id), "role": "admin", "iat": now, "exp": now + 600} | overrides


@dataclass(frozen=True, slots=True)
class Attack:
    name: str
    make: Callable[[Settings, SignedUp], str]


def _tampered(settings: Settings, account: SignedUp) -> str:
    # A genuine token with its payload swapped for an admin's, the signature left as it was.
    header, _, signature = account.token.split(".")
    payload = b64url(json.dumps(claims_for(account.user_id)).encode())
    return f"{header}.{payload}.{signature}"


ATTACKS: Final = [
    Attack("alg none", lambda s, a: hand_made({"alg": "none"}, claims_for(a.user_id), None)),
    Attack(
        "alg None, signed anyway",
        lambda s, a: hand_made({"alg": "None"}, claims_for(a.user_id), s.jwt_secret),
    ),
    Attack(
        "RS256 header, HMAC with our secret",
        lambda s, a: hand_made({"alg": "RS256"}, claims_for(a.user_id), s.jwt_secret),
    ),
    Attack(
        "ES256 header, HMAC with our secret",
        lambda s, a: hand_made({"alg": "ES256"}, claims_for(a.user_id), s.jwt_secret),
    ),
    Attack(
        "HS256 with another secret",
        lambda s, a: hand_made(
            {"alg": "HS256"}, claims_for(a.user_id), "an-attackers-secret-long-enough-0123456789"
        ),
    ),
    Attack("payload tampered", _tampered),
    Attack(
        "expired",
        lambda s, a: hand_made(
            {"alg": "HS256"},
            claims_for(a.user_id, iat=int(time.time()) - 7200, exp=int(time.time()) - 60),
            s.jwt_secret,
        ),
    ),
    Attack(
        "not valid before a minute from now",
        lambda s, a: hand_made(
            {"alg": "HS256"}, claims_for(a.user_id, nbf=int(time.time()) + 60), s.jwt_secret
        ),
    ),
    Attack(
        "issued in the future",
        lambda s, a: hand_made(
            {"alg": "HS256"}, claims_for(a.user_id, iat=int(time.time()) + 60), s.jwt_secret
        ),
    ),
]


async def assert_refused_everywhere(client: Client, settings: Settings, token: str) -> None:
    answers = {
        (method, url): await client.request(method, url, headers=bearer(token))
        for method, url in protected_urls(settings)
    }
    wrong = {}
    for route, response in answers.items():
        body = await response.json()
        if response.status != 401 or body["error"]["code"] != "unauthorized":
            wrong[route] = (response.status, body)
    assert wrong == {}


def test_every_protected_route_is_attacked(settings: Settings) -> None:
    urls = protected_urls(settings)
    # A canary: if the document stopped marking routes protected, the attacks would prove little.
    assert ("GET", ME) in urls
    assert ("POST", "/api/v1/events/1/holds") in urls
    assert ("POST", "/api/v1/admin/venues") in urls
    assert len(urls) >= 8


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda attack: attack.name)
async def test_a_forged_or_stale_token_is_refused_on_every_protected_route(
    client: Client, settings: Settings, signup: Signup, attack: Attack
) -> None:
    account = await signup()
    # The real token works, so the refusals below are the forgery's doing.
    assert (await client.get(ME, headers=account.headers)).status == 200

    await assert_refused_everywhere(client, settings, attack.make(settings, account))


# -- deleted users ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(redis_url: str, mariadb_server: MariaDBServer) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL",)}
    env.update(
        RUSHQUEUE_ENV="test",
        DATABASE_URL=mariadb_server.url,
        REDIS_URL=redis_url,
        ARGON2_PROFILE="cheapest",
        LOG_LEVEL="WARNING",
    )
    return env


async def delete_user(env: dict[str, str], email: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "delete-user",
        email,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_a_deleted_users_token_is_refused_on_every_protected_route(
    client: Client, settings: Settings, signup: Signup, cli_env: dict[str, str]
) -> None:
    account = await signup()
    other = await signup()
    assert (await client.get("/api/v1/bookings", headers=account.headers)).status == 200

    code, stdout, stderr = await delete_user(cli_env, account.email)

    assert code == 0, stderr
    assert f"user {account.user_id} deleted" in stdout
    await assert_refused_everywhere(client, settings, account.token)
    # Only that user: everyone else's tokens still work.
    assert (await client.get(ME, headers=other.headers)).status == 200


async def test_a_deleted_user_is_anonymised_and_cannot_log_in(
    client: Client, db: Database, signup: Signup, cli_env: dict[str, str]
) -> None:
    account = await signup(name="Ada Lovelace")

    code, _, stderr = await delete_user(cli_env, account.email)
    login = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": DEFAULT_PASSWORD}
    )

    assert code == 0, stderr
    assert login.status == 401
    async with db.transaction() as conn:
        assert await find_user_by_email(conn, account.email) is None
        row = await get_user(conn, account.user_id)
    assert row is not None
    assert (row.email, row.name) == (f"deleted:{account.user_id}", "Deleted user")
    assert "Lovelace" not in row.password_hash


async def test_an_account_named_like_a_deleted_one_cannot_block_a_deletion(
    client: Client, db: Database, signup: Signup, cli_env: dict[str, str]
) -> None:
    victim = await signup()
    # The form deleted accounts used to get: signing it up used to make the victim's deletion
    # fail on the unique email key.
    squatter = await signup(email=f"deleted-{victim.user_id}@deleted.invalid")

    code, stdout, stderr = await delete_user(cli_env, victim.email)

    assert code == 0, stderr
    assert f"user {victim.user_id} deleted" in stdout
    assert "Traceback" not in stderr
    async with db.transaction() as conn:
        assert await find_user_by_email(conn, victim.email) is None
        assert await find_user_by_email(conn, squatter.email) is not None
    assert (await client.get(ME, headers=squatter.headers)).status == 200
    # What deleted accounts are anonymised to now is no address, so nobody can sign it up.
    taken = await client.post(
        "/api/v1/auth/signup",
        json={"email": f"deleted:{victim.user_id}", "password": DEFAULT_PASSWORD, "name": "X"},
    )
    assert taken.status == 422


async def test_a_revocation_outlives_every_token_issued_before_it(
    signup: Signup, cli_env: dict[str, str], redis: RedisClient, settings: Settings
) -> None:
    account = await signup()

    await delete_user(cli_env, account.email)

    keys = await redis.keys("rq:revoked:*")
    assert len(keys) == 1
    assert settings.jwt_ttl_seconds < await redis.ttl(keys[0]) <= settings.jwt_ttl_seconds + 5


async def test_a_user_with_an_active_hold_is_not_deleted(
    client: Client,
    db: Database,
    signup: Signup,
    make_event: MakeEvent,
    engine: RunningEngine,
    cli_env: dict[str, str],
    redis: RedisClient,
) -> None:
    event = await make_event(seats=2)
    account = await signup()
    held = await client.post(
        f"/api/v1/events/{event.event_id}/holds",
        json={"seat_ids": [event.seat_ids[0]]},
        headers=account.headers,
    )
    assert held.status == 201
    # The refusal reads MariaDB, so wait for the write-behind to put the hold there.
    async with asyncio.timeout(15):
        while True:
            async with db.transaction() as conn:
                if await conn.fetch_value("SELECT COUNT(*) FROM holds"):
                    break
            await asyncio.sleep(0.05)

    code, _, stderr = await delete_user(cli_env, account.email)

    assert code == 1
    assert "1 active hold(s)" in stderr
    # Refused means untouched: the account and its token still work.
    assert (await client.get(ME, headers=account.headers)).status == 200
    assert await redis.keys("rq:revoked:*") == []


async def test_deleting_an_unknown_email_exits_1(cli_env: dict[str, str], db: Database) -> None:
    code, _, stderr = await delete_user(cli_env, "nobody@example.com")

    assert code == 1
    assert "no user has the email" in stderr


async def test_deleting_without_redis_changes_nothing_and_exits_1(
    client: Client, db: Database, signup: Signup, cli_env: dict[str, str]
) -> None:
    account = await signup()
    no_redis = {**cli_env, "REDIS_URL": f"redis://{LOOPBACK}:{free_port()}/0"}

    code, _, stderr = await delete_user(no_redis, account.email)

    assert code == 1
    assert "cannot revoke" in stderr
    async with db.transaction() as conn:
        assert await find_user_by_email(conn, account.email) is not None
