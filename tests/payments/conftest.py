"""Fixtures for payment tests.

`open_stack` starts the gateway (wired to the fake Stripe unless told otherwise) and an engine
over the test's Redis and MariaDB; a `Stack` then plays buyer and Stripe. After every test that
touched MariaDB, the payment invariants are checked: a test that leaves a booking without a paid
payment, a paid payment without a booking, or a seat in two bookings fails.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import pytest

from engine.clock import Clock, SystemClock
from gateway.app import make_app
from tests.helpers.engine import RunningEngine

if TYPE_CHECKING:
    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from engine.redis_client import RedisClient
    from persistence import Database
    from persistence.database import Row
    from tests.helpers.fake_stripe import Event, FakeStripe

    Client = TestClient[web.Request, web.Application]

WEBHOOK_SECRET: Final = "whsec_test"
WEBHOOK_PATH: Final = "/api/v1/payments/webhook"

INVARIANTS: Final = {
    "a booking whose payment is not paid": (
        "SELECT b.id FROM bookings b JOIN payments p ON p.id = b.payment_id"
        " WHERE p.status <> 'paid'"
    ),
    "a paid payment without a booking": (
        "SELECT p.id FROM payments p LEFT JOIN bookings b ON b.payment_id = p.id"
        " WHERE p.status = 'paid' AND b.id IS NULL"
    ),
    "a booking for a payment being refunded": (
        "SELECT b.id FROM bookings b JOIN payments p ON p.id = b.payment_id"
        " WHERE p.status IN ('refund_pending', 'refunded')"
    ),
    "an event seat in two bookings": (
        "SELECT event_seat_id FROM booking_seats GROUP BY event_seat_id HAVING COUNT(*) > 1"
    ),
}


async def invariant_violations(db: Database) -> dict[str, list[Row]]:
    async with db.transaction() as conn:
        found = {name: await conn.fetch_all(sql) for name, sql in INVARIANTS.items()}
    return {name: rows for name, rows in found.items() if rows}


@pytest.fixture
async def _checked_invariants(db: Database) -> AsyncIterator[None]:
    yield
    assert await invariant_violations(db) == {}, "a payment invariant is broken"


@pytest.fixture(autouse=True)
def payment_invariants(request: pytest.FixtureRequest) -> None:
    """Check the invariants after every test here that uses the shared MariaDB. Requested from
    here (not as a parameter) so tests that need no database do not start one; requested
    first, so the check runs after the test's app and engine have stopped."""
    if "db" in request.fixturenames:
        request.getfixturevalue("_checked_invariants")


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 15.0, what: str = "the condition"
) -> None:
    """Until `check()` is true, polling; fail after `within` seconds. For outcomes another task
    produces without announcing them (the outbox worker, the engine's write-behind)."""
    try:
        async with asyncio.timeout(within):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"timed out after {within}s waiting for {what}")


@dataclass(frozen=True, slots=True)
class Buyer:
    user_id: int
    headers: dict[str, str]


@dataclass(slots=True)
class Stack:
    client: Client
    settings: Settings
    engine: RunningEngine
    db: Database
    fake: FakeStripe | None
    _serial: Iterator[int]

    async def buyer(self) -> Buyer:
        response = await self.client.post(
            "/api/v1/auth/signup",
            json={
                "email": f"buyer{next(self._serial)}@example.com",
                "password": "correct horse battery staple",
                "name": "Buyer",
            },
        )
        body = await response.json()
        assert response.status == 201, body
        return Buyer(body["user"]["id"], {"Authorization": f"Bearer {body['token']}"})

    async def hold(self, buyer: Buyer, event_id: int, seat_ids: tuple[int, ...]) -> str:
        response = await self.client.post(
            f"/api/v1/events/{event_id}/holds",
            json={"seat_ids": list(seat_ids)},
            headers=buyer.headers,
        )
        body = await response.json()
        assert response.status == 201, body
        hold_id: str = body["hold"]["id"]
        return hold_id

    async def checkout(self, buyer: Buyer, hold_id: str) -> ClientResponse:
        return await self.client.post(f"/api/v1/holds/{hold_id}/checkout", headers=buyer.headers)

    async def open_checkout(self, buyer: Buyer, hold_id: str) -> str:
        """Check out and return the session id."""
        response = await self.checkout(buyer, hold_id)
        body = await response.json()
        assert response.status == 201, body
        session_id: str = body["session_id"]
        return session_id

    async def hold_status(self, buyer: Buyer, hold_id: str) -> str:
        response = await self.client.get(f"/api/v1/holds/{hold_id}", headers=buyer.headers)
        assert response.status == 200
        status: str = (await response.json())["hold"]["status"]
        return status

    async def seat_statuses(self, event_id: int) -> dict[int, str]:
        response = await self.client.get(f"/api/v1/events/{event_id}/seats")
        assert response.status == 200
        return {seat["id"]: seat["status"] for seat in (await response.json())["seats"]}

    async def deliver(self, event: Event | dict[str, Any], **options: Any) -> tuple[int, str]:
        """Stripe delivers `event` to the webhook (signed with the app's secret)."""
        assert self.fake is not None
        url = str(self.client.make_url(WEBHOOK_PATH))
        return await self.fake.deliver(event, url, secret=WEBHOOK_SECRET, **options)

    async def payment(self, hold_id: str) -> Row:
        async with self.db.transaction() as conn:
            row = await conn.fetch_one("SELECT * FROM payments WHERE hold_id = %s", (hold_id,))
        assert row is not None, f"no payment for {hold_id}"
        return row

    async def count(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        async with self.db.transaction() as conn:
            return int(await conn.fetch_value(sql, args))

    async def outbox_done(self, kind: str) -> bool:
        """Every outbox job of this kind is done, and there is at least one."""
        async with self.db.transaction() as conn:
            rows = await conn.fetch_all("SELECT done_at FROM outbox WHERE kind = %s", (kind,))
        return bool(rows) and all(row["done_at"] is not None for row in rows)


class OpenStack(Protocol):
    async def __call__(
        self,
        *,
        stripe: bool = True,
        clock: Clock | None = None,
        database: Database | None = None,
        **env: str,
    ) -> Stack: ...


@pytest.fixture
async def open_stack(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    aiohttp_client: Callable[..., Awaitable[Client]],
    fake_stripe: FakeStripe,
) -> AsyncIterator[OpenStack]:
    """`await open_stack(HOLD_TTL_SECONDS="60", clock=ManualClock())`: the gateway on a test
    server and a running engine. `stripe=False` leaves STRIPE_SECRET_KEY unset (the local
    checkout); `database=` runs both over another MariaDB (pass its DATABASE_URL too)."""
    engines: list[RunningEngine] = []
    serial = itertools.count(1)

    async def open_(
        *,
        stripe: bool = True,
        clock: Clock | None = None,
        database: Database | None = None,
        **env: str,
    ) -> Stack:
        if stripe:
            env = {
                "STRIPE_SECRET_KEY": fake_stripe.api_key,
                "STRIPE_API_BASE": fake_stripe.base_url,
                "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                **env,
            }
        settings = make_settings(**env)
        database = database or db
        engine = RunningEngine(settings, database, clock=clock or SystemClock())
        await engine.start()
        engines.append(engine)
        client = await aiohttp_client(make_app(settings))
        return Stack(client, settings, engine, database, fake_stripe if stripe else None, serial)

    yield open_
    for engine in engines:
        await engine.stop()
