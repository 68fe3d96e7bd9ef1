"""TRUSTED_PROXIES: X-Forwarded-For is believed only from the listed proxies, walked from the
right, and every per-IP limit counts the client it yields (gateway.limits, config.settings)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import pytest

from config.settings import SettingsError
from gateway.app import make_app
from gateway.limits import forwarded_client
from tests.helpers.users import DEFAULT_PASSWORD

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web
    from aiohttp.test_utils import TestClient
    from pytest_aiohttp import AiohttpClient

    from config import Settings
    from engine.redis_client import RedisClient
    from persistence import Database

    Client = TestClient[web.Request, web.Application]

LOGIN = "/api/v1/auth/login"
PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::1/128"))


def login(email: str) -> dict[str, str]:
    return {"email": email, "password": DEFAULT_PASSWORD}


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        # An untrusted peer's header is never read, however it looks.
        ("203.0.113.9", ["198.51.100.1"], None),
        # One trusted proxy: the address it appended is the client; what the client wrote
        # to its left is not believed.
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        # A chain of trusted proxies, in one header or several.
        ("10.0.0.2", ["198.51.100.1, 10.1.1.1, 10.2.2.2"], "198.51.100.1"),
        ("10.0.0.2", ["198.51.100.1", "10.1.1.1"], "198.51.100.1"),
        ("2001:db8::1", ["2001:db8:aaaa::5"], "2001:db8:aaaa::5"),
        # Malformed: the walk stops at the last hop it could read and vouch for.
        ("10.0.0.2", ["garbage"], None),
        ("10.0.0.2", ["198.51.100.1, 10.1.1.1, not-an-ip"], None),
        ("10.0.0.2", ["garbage, 10.1.1.1"], "10.1.1.1"),
        ("10.0.0.2", ["198.51.100.1:4711"], None),
        # Only proxies: the farthest one is all there is to go on.
        ("10.0.0.2", ["10.9.9.9, 10.1.1.1"], "10.9.9.9"),
        ("10.0.0.2", [], None),
        (None, ["198.51.100.1"], None),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str | None, header: list[str], client: str | None
) -> None:
    assert forwarded_client(peer, header, PROXIES) == client


def test_a_bad_trusted_proxies_value_names_the_variable(
    make_settings: Callable[..., Settings],
) -> None:
    assert make_settings().limits.trusted_proxies == ()
    parsed = make_settings(TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.7,2001:db8::/32")
    assert [str(network) for network in parsed.limits.trusted_proxies] == [
        "10.0.0.0/8",
        "192.0.2.7/32",
        "2001:db8::/32",
    ]
    for bad in ("10.0.0.1/8", "proxy.local", "10.0.0.0/8,,192.0.2.7", "300.1.1.1"):
        with pytest.raises(SettingsError, match=r"^TRUSTED_PROXIES="):
            make_settings(TRUSTED_PROXIES=bad)


async def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
) -> None:
    """No trusted proxies: a client cannot spread its logins over made-up addresses."""
    client = await aiohttp_client(make_app(make_settings(RATE_LIMIT_LOGIN_PER_IP="2/60")))

    statuses = [
        (
            await client.post(
                LOGIN,
                json=login(f"u{n}@example.com"),
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
        ).status
        for n in range(3)
    ]

    assert statuses == [401, 401, 429]


async def test_behind_a_trusted_proxy_each_client_gets_its_own_limit(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
) -> None:
    """The test client connects from loopback, which plays the proxy here."""
    settings = make_settings(TRUSTED_PROXIES="127.0.0.1", RATE_LIMIT_LOGIN_PER_IP="2/60")
    client = await aiohttp_client(make_app(settings))

    async def attempt(forwarded: str) -> int:
        response = await client.post(
            LOGIN, json=login("fan@example.com"), headers={"X-Forwarded-For": forwarded}
        )
        return response.status

    # The client's own claim (left) is ignored: the proxy's entry (right) is what counts.
    first = [await attempt(f"6.6.6.{n}, 198.51.100.1") for n in range(3)]
    other = await attempt("198.51.100.2")
    # A header that cannot be read counts against the proxy itself, never a made-up client.
    malformed = [await attempt("not an address") for _ in range(3)]

    assert first == [401, 401, 429]
    assert other == 401
    assert malformed == [401, 401, 429]


async def test_the_queue_join_limit_counts_the_forwarded_client(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
) -> None:
    """Refused before the engine is asked (none runs here): a join let through would wait for
    the engine and come back as a 503."""
    settings = make_settings(
        TRUSTED_PROXIES="127.0.0.0/8",
        RATE_LIMIT_QUEUE_JOIN_PER_IP="1/60",
        ENGINE_DECISION_TIMEOUT_SECONDS="0.2",
    )
    client: Client = await aiohttp_client(make_app(settings))
    signed_up = await client.post(
        "/api/v1/auth/signup",
        json={"email": "fan@example.com", "password": DEFAULT_PASSWORD, "name": "Fan"},
        headers={"X-Forwarded-For": "198.51.100.50"},
    )
    headers = {"Authorization": f"Bearer {(await signed_up.json())['token']}"}

    async def join(forwarded: str) -> int:
        response = await client.post(
            "/api/v1/events/1/queue", headers={**headers, "X-Forwarded-For": forwarded}
        )
        return response.status

    assert [await join("198.51.100.1"), await join("198.51.100.1")] == [503, 429]
    assert await join("198.51.100.2") == 503
