"""Rate limits, the websocket cap and the slow-loris timeout (gateway.limits, gateway.cli)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import time
from typing import TYPE_CHECKING

import aiohttp
import orjson
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from config.settings import LimitSettings, Rate, SettingsError
from devstack.servers import LOOPBACK, free_port
from domain.errors import RateLimited
from engine.redis_client import RedisClient
from gateway.app import make_app
from gateway.appkeys import WEBSOCKET_CAP
from gateway.limits import (
    LimitRule,
    RateLimiter,
    Rule,
    WebsocketCap,
    ip_email_key,
    ip_key,
    user_key,
)
from tests.helpers.redis_modes import ON_BOTH_REDIS
from tests.helpers.users import DEFAULT_PASSWORD

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from devstack.servers import MariaDBServer
    from persistence import Database
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]
    MakeClient = Callable[..., Awaitable[Client]]

LOGIN = "/api/v1/auth/login"
SIGNUP = "/api/v1/auth/signup"
# A websocket handshake's headers, for a plain GET that can read an error body.
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.fixture
async def limited(
    aiohttp_client: MakeClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
) -> Callable[..., Awaitable[Client]]:
    """A test client for the gateway with the given settings (environment variables)."""

    async def make(**env: str) -> Client:
        return await aiohttp_client(make_app(make_settings(**env)))

    return make


async def assert_rate_limited(response: ClientResponse, *, within: int) -> int:
    assert response.status == 429, await response.text()
    error = (await response.json())["error"]
    assert (error["status"], error["code"]) == (429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= within
    return retry_after


WRONG_PASSWORD = "wrong password"


def login_body(email: str, password: str = WRONG_PASSWORD) -> dict[str, str]:
    return {"email": email, "password": password}


# -- settings --------------------------------------------------------------------------------


def test_the_defaults_are_the_documented_ones(settings: Settings) -> None:
    assert settings.limits == LimitSettings(
        enabled=True,
        login_per_ip=Rate(10, 60),
        login_per_email=Rate(5, 60),
        signup_per_ip=Rate(5, 60),
        signup_per_email=Rate(5, 60),
        holds_per_user=Rate(30, 10),
        seat_map_per_ip=Rate(60, 60),
        websockets_per_ip=20,
    )
    assert settings.http.idle_timeout_seconds == 15.0


def test_rates_are_read_as_count_per_seconds(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(RATE_LIMIT_HOLDS_PER_USER="3/7", RATE_LIMITS="off")

    assert settings.limits.holds_per_user == Rate(3, 7)
    assert settings.limits.enabled is False


@pytest.mark.parametrize("raw", ["10", "0/60", "10/0", "ten/60", "10/-1"])
@pytest.mark.parametrize("name", ["RATE_LIMIT_LOGIN_PER_IP", "RATE_LIMIT_SEAT_MAP_PER_IP"])
def test_a_bad_rate_names_its_variable(
    make_settings: Callable[..., Settings], name: str, raw: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        make_settings(**{name: raw})


# -- login and signup ----------------------------------------------------------------------


@ON_BOTH_REDIS
async def test_login_is_limited_per_email_and_ip(
    client: Client, signup: Signup, redis: RedisClient
) -> None:
    account = await signup()
    answers = [(await client.post(LOGIN, json=login_body(account.email))).status for _ in range(5)]

    refused = await client.post(LOGIN, json=login_body(account.email))
    # Even the right password waits: the limit is what stops guessing it.
    right = await client.post(LOGIN, json=login_body(account.email, DEFAULT_PASSWORD))
    other_email = await client.post(LOGIN, json=login_body("someone@example.com"))

    assert answers == [401] * 5
    await assert_rate_limited(refused, within=60)
    await assert_rate_limited(right, within=60)
    assert other_email.status == 401
    window = await redis.pttl(ip_email_key("login", "127.0.0.1", account.email))
    assert 0 < window <= 60_000


async def test_login_is_limited_per_ip_across_emails(
    limited: Callable[..., Awaitable[Client]],
) -> None:
    client = await limited(RATE_LIMIT_LOGIN_PER_IP="3/60", RATE_LIMIT_LOGIN_PER_EMAIL="100/60")
    answers = [
        (await client.post(LOGIN, json=login_body(f"u{n}@example.com"))).status for n in range(3)
    ]

    refused = await client.post(LOGIN, json=login_body("u9@example.com"))

    assert answers == [401] * 3
    await assert_rate_limited(refused, within=60)


async def test_login_emails_are_counted_case_blind(client: Client) -> None:
    for n in range(5):
        email = "Fan@Example.com" if n % 2 else " fan@example.com"
        assert (await client.post(LOGIN, json=login_body(email))).status == 401

    await assert_rate_limited(
        await client.post(LOGIN, json=login_body("FAN@EXAMPLE.COM")), within=60
    )


async def test_signup_is_limited_per_ip_and_the_refused_one_makes_no_account(
    client: Client, db: Database
) -> None:
    for n in range(5):
        body = {"email": f"fan{n}@example.com", "password": DEFAULT_PASSWORD, "name": "Fan"}
        assert (await client.post(SIGNUP, json=body)).status == 201

    refused = await client.post(
        SIGNUP, json={"email": "fan9@example.com", "password": DEFAULT_PASSWORD, "name": "Fan"}
    )

    await assert_rate_limited(refused, within=60)
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM users") == 5


async def test_signup_is_limited_per_email(limited: Callable[..., Awaitable[Client]]) -> None:
    client = await limited(RATE_LIMIT_SIGNUP_PER_EMAIL="2/60")
    body = {"email": "fan@example.com", "password": DEFAULT_PASSWORD, "name": "Fan"}

    first = await client.post(SIGNUP, json=body)
    taken = await client.post(SIGNUP, json=body)
    refused = await client.post(SIGNUP, json=body)
    other = await client.post(SIGNUP, json={**body, "email": "other@example.com"})

    assert (first.status, taken.status, other.status) == (201, 409, 201)
    await assert_rate_limited(refused, within=60)


async def test_a_new_window_lets_requests_through_again(client: Client, redis: RedisClient) -> None:
    for _ in range(5):
        await client.post(LOGIN, json=login_body("fan@example.com"))
    await assert_rate_limited(
        await client.post(LOGIN, json=login_body("fan@example.com")), within=60
    )

    # The window ending is its counter expiring; deleting it is the same thing, without a wait.
    await redis.delete(ip_email_key("login", "127.0.0.1", "fan@example.com"))

    assert (await client.post(LOGIN, json=login_body("fan@example.com"))).status == 401


async def test_rate_limits_off_lets_everything_through(
    limited: Callable[..., Awaitable[Client]], redis: RedisClient
) -> None:
    client = await limited(RATE_LIMITS="off")

    answers = {
        (await client.post(LOGIN, json=login_body("a@example.com"))).status for _ in range(12)
    }

    assert answers == {401}
    assert await redis.keys("rq:limit:*") == []


# -- holds -----------------------------------------------------------------------------------


async def test_holds_are_limited_per_buyer_before_the_body_is_read(
    limited: Callable[..., Awaitable[Client]], make_event: MakeEvent, redis: RedisClient
) -> None:
    client = await limited(RATE_LIMIT_HOLDS_PER_USER="2/10")
    event = await make_event(seats=2)
    sessions = []
    for n in range(2):
        body = {"email": f"b{n}@example.com", "password": DEFAULT_PASSWORD, "name": "B"}
        sessions.append(await (await client.post(SIGNUP, json=body)).json())
    first, second = ({"Authorization": f"Bearer {session['token']}"} for session in sessions)
    url = f"/api/v1/events/{event.event_id}/holds"
    # Invalid bodies never reach the engine, and still count: the limit comes first.
    invalid: dict[str, list[int]] = {"seat_ids": []}

    answers = [(await client.post(url, json=invalid, headers=first)).status for _ in range(2)]
    refused = await client.post(url, json=invalid, headers=first)
    other_buyer = await client.post(url, json=invalid, headers=second)

    assert answers == [422, 422]
    assert await assert_rate_limited(refused, within=10) <= 10
    assert other_buyer.status == 422
    assert await redis.get(user_key("holds", sessions[0]["user"]["id"])) == b"3"


# -- the limiter itself ----------------------------------------------------------------------


async def test_one_check_counts_every_rule_and_answers_with_the_longest_wait(
    redis: RedisClient,
) -> None:
    told: list[LimitRule] = []
    limiter = RateLimiter(redis, LimitSettings(), on_refused=told.append)
    short = Rule(ip_key("t", "10.0.0.1"), Rate(1, 5), LimitRule.LOGIN_IP)
    long = Rule(ip_key("u", "10.0.0.1"), Rate(1, 50), LimitRule.LOGIN_EMAIL)
    await limiter.check(short, long)
    assert told == []

    with pytest.raises(RateLimited) as refused:
        await limiter.check(short, long)

    assert refused.value.retry_after == 50
    assert told == [LimitRule.LOGIN_EMAIL], "the refusal is told by the rule that set the wait"
    assert await redis.get(short.key) == b"2"
    assert await redis.get(long.key) == b"2"


async def test_redis_down_lets_requests_through_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No retries: redis-py's default back-off between them only makes this test slower.
    down = Redis(
        host=LOOPBACK, port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    limiter = RateLimiter(down, LimitSettings(login_per_ip=Rate(1, 60)))
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.limits"):
            for _ in range(3):
                await limiter.login("10.0.0.1", "a@example.com")
    finally:
        await down.aclose()

    assert [record.levelno for record in caplog.records] == [logging.WARNING] * 3
    assert "Redis is unavailable" in caplog.records[0].getMessage()


# -- websockets ------------------------------------------------------------------------------


async def test_one_websocket_too_many_per_ip_is_429_before_the_upgrade(
    limited: Callable[..., Awaitable[Client]], make_event: MakeEvent
) -> None:
    client = await limited(WS_MAX_PER_IP="2")
    event = await make_event(seats=2)
    url = f"/api/v1/events/{event.event_id}/seats/ws"

    first = await client.ws_connect(url)
    second = await client.ws_connect(url)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(url)
    plain = await client.get(url)

    assert refused.value.status == 429
    assert refused.value.headers is not None
    assert refused.value.headers["Retry-After"] == "5"
    assert plain.status == 429
    assert client.app[WEBSOCKET_CAP].open_for("127.0.0.1") == 2
    assert (await second.receive_json(timeout=5))["type"] == "snapshot"
    await first.close()
    await second.close()


async def test_seat_maps_are_limited_per_ip_before_the_upgrade(
    limited: Callable[..., Awaitable[Client]], make_event: MakeEvent, redis: RedisClient
) -> None:
    """Every request to the route counts, whatever the event and however it ends: the limit is
    what bounds the work one client can ask of the gateway, Redis and MariaDB."""
    client = await limited(RATE_LIMIT_SEAT_MAP_PER_IP="3/60")
    event = await make_event(seats=2)
    url = f"/api/v1/events/{event.event_id}/seats/ws"

    async with client.ws_connect(url) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    made_up = await client.get(f"/api/v1/events/{event.event_id + 1}/seats/ws", headers=UPGRADE)
    plain = await client.get(url)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(url)
    refused_plain = await client.get(url, headers=UPGRADE)

    assert (made_up.status, plain.status) == (404, 400)
    assert refused.value.status == 429
    assert refused.value.headers is not None
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    await assert_rate_limited(refused_plain, within=60)
    window = await redis.pttl(ip_key("seat_map", "127.0.0.1"))
    assert 0 < window <= 60_000


async def test_rate_limits_off_lifts_the_seat_map_limit(
    limited: Callable[..., Awaitable[Client]], make_event: MakeEvent, redis: RedisClient
) -> None:
    client = await limited(RATE_LIMITS="off", RATE_LIMIT_SEAT_MAP_PER_IP="1/60")
    event = await make_event(seats=2)
    url = f"/api/v1/events/{event.event_id}/seats/ws"

    for _ in range(3):
        async with client.ws_connect(url) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"

    assert await redis.keys("rq:limit:*") == []


def fail_while_holding(cap: WebsocketCap, ip: str) -> None:
    with cap.hold_slot(ip):
        raise RuntimeError("the handler failed")


def test_a_websocket_slot_is_given_back_however_the_socket_ends() -> None:
    cap = WebsocketCap(LimitSettings(websockets_per_ip=1))

    with cap.hold_slot("10.0.0.1"), pytest.raises(RateLimited):
        cap.hold_slot("10.0.0.1").__enter__()
    with pytest.raises(RuntimeError):
        fail_while_holding(cap, "10.0.0.1")
    with cap.hold_slot("10.0.0.1"), cap.hold_slot("10.0.0.2"):
        assert (cap.open_for("10.0.0.1"), cap.open_for("10.0.0.2")) == (1, 1)

    assert cap.open_for("10.0.0.1") == 0


def test_rate_limits_off_lifts_the_websocket_cap() -> None:
    cap = WebsocketCap(LimitSettings(enabled=False, websockets_per_ip=1))

    with cap.hold_slot("10.0.0.1"), cap.hold_slot("10.0.0.1"):
        assert cap.open_for("10.0.0.1") == 2


# -- slow loris ------------------------------------------------------------------------------


@pytest.fixture
async def served(redis_url: str, mariadb_server: MariaDBServer, db: Database) -> AsyncIterator[int]:
    """`python -m gateway serve` with one-second idle and body timeouts; yields its port."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL",)}
    env.update(
        RUSHQUEUE_ENV="test",
        DATABASE_URL=mariadb_server.url,
        REDIS_URL=redis_url,
        ARGON2_PROFILE="cheapest",
        LOG_LEVEL="INFO",
        HTTP_PORT=str(port),
        HTTP_IDLE_TIMEOUT_SECONDS="1",
        HTTP_BODY_TIMEOUT_SECONDS="1",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "serve",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        async with asyncio.timeout(20):
            # run_app logs its address once the socket is listening.
            while f"{LOOPBACK}:{port}" not in (await process.stderr.readline()).decode():
                assert not process.stderr.at_eof(), "serve exited before listening"
        yield port
    finally:
        process.kill()
        await process.wait()


@pytest.mark.parametrize(
    "sent", [b"", b"GET /healthz HT", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a"]
)
async def test_a_client_that_never_finishes_its_request_head_is_disconnected(
    served: int, sent: bytes
) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, served)
    started = time.monotonic()
    writer.write(sent)
    try:
        async with asyncio.timeout(5):
            answer = await reader.read()
    finally:
        writer.close()
    elapsed = time.monotonic() - started

    # Closed without an answer, after the idle timeout and well before the bounded read gives up.
    assert answer == b""
    assert 0.9 <= elapsed < 4


async def test_a_client_that_finishes_its_request_in_time_is_answered(served: int) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    async with asyncio.timeout(5):
        answer = await reader.read()
    writer.close()

    assert answer.startswith(b"HTTP/1.1 200")


async def test_a_body_trickled_slower_than_the_body_timeout_gets_a_408(served: int) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, served)
    started = time.monotonic()
    writer.write(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"email": '
    )
    try:
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
            found = re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE)
            assert found is not None, head
            body = orjson.loads(await reader.readexactly(int(found[1])))
    finally:
        writer.close()
    elapsed = time.monotonic() - started

    assert head.startswith(b"HTTP/1.1 408"), head
    assert body["error"]["code"] == "request_timeout"
    assert set(body["error"]) == {"status", "code", "message"}
    assert 0.9 <= elapsed < 4
