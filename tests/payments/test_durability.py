"""Faults around the webhook: it answers 2xx only once its outcome is in MariaDB, and a delivery
retried after any failure books exactly once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import pytest

from devstack.servers import MariaDBServer
from engine.client import EngineClient
from engine.protocol import ConfirmRequest, new_command_id
from persistence import Database
from persistence.migrate import migrate
from tests.helpers.catalog import create_on_sale_event
from tests.payments.conftest import eventually, invariant_violations

if TYPE_CHECKING:
    from config import Settings
    from engine.redis_client import RedisClient
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.fake_stripe import FakeStripe
    from tests.payments.conftest import OpenStack


@pytest.fixture
async def private_db(
    private_mariadb: MariaDBServer, make_settings: Callable[..., Settings]
) -> AsyncIterator[Database]:
    database = await Database.connect(make_settings(DATABASE_URL=private_mariadb.url).database)
    await migrate(database)
    yield database
    await database.close()


@pytest.mark.timeout(120)
async def test_mariadb_down_during_the_webhook_is_a_503_and_a_redelivery_books_once(
    open_stack: OpenStack,
    private_mariadb: MariaDBServer,
    private_db: Database,
    fake_stripe: FakeStripe,
) -> None:
    stack = await open_stack(database=private_db, DATABASE_URL=private_mariadb.url)
    event = await create_on_sale_event(private_db, seats=2, prices={"A": 1000})
    event_id, seats = event.event_id, event.seat_ids
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, event_id, seats)
    session_id = await stack.open_checkout(buyer, hold_id)
    paid = await fake_stripe.complete(session_id)

    await asyncio.to_thread(private_mariadb.stop)
    refused = await stack.deliver(paid)
    await asyncio.to_thread(private_mariadb.start)

    assert refused[0] == 503, refused
    delivered: list[str] = []

    async def redelivered() -> bool:
        # Stripe keeps retrying until it gets a 2xx; the pool's dead connections go first.
        status, body = await stack.deliver(paid)
        if status == 200:
            delivered.append(json.loads(body)["outcome"])
        return status == 200

    await eventually(redelivered, within=30, what="a redelivery to be accepted")
    again = await stack.deliver(paid)

    assert delivered == ["booked"]
    assert json.loads(again[1])["outcome"] == "duplicate"
    assert await stack.hold_status(buyer, hold_id) == "booked"
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 1
    assert await invariant_violations(private_db) == {}


async def test_a_delivery_retried_after_the_engine_booked_books_once(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe, redis: RedisClient
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:2])
    session_id = await stack.open_checkout(buyer, hold_id)
    paid = await fake_stripe.complete(session_id)
    # A first delivery got as far as the engine's decision, then its process died. The retry
    # asks again under a command id of its own; the engine answers per hold.
    async with EngineClient(redis, stack.settings.engine) as engine:
        first = await engine.submit(
            ConfirmRequest(
                id=new_command_id(),
                reply_to=engine.reply_to,
                event_id=made.event_id,
                hold_id=hold_id,
                user_id=buyer.user_id,
                seat_ids=made.seat_ids[:2],
            )
        )
    assert first.hold is not None

    status, body = await stack.deliver(paid)

    assert (status, json.loads(body)["outcome"]) == (200, "booked")
    assert await stack.count("SELECT COUNT(*) FROM bookings") == 1
    assert await stack.count("SELECT COUNT(*) FROM booking_seats") == 2
