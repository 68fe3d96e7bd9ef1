from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from devstack.demo import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    ORGANIZER_EMAIL,
    ORGANIZER_PASSWORD,
    load_demo,
)
from domain.catalog import naive_utc
from domain.statuses import Role
from gateway.auth.passwords import PasswordHasher
from persistence.catalog import get_event, get_venue
from persistence.users import find_user_by_email

if TYPE_CHECKING:
    from persistence import Database

COUNTED = ("venues", "price_categories", "seats", "events", "event_prices", "event_seats", "users")


@pytest.fixture
async def hasher() -> AsyncIterator[PasswordHasher]:
    cheap = PasswordHasher.from_profile("cheapest", max_workers=1)
    yield cheap
    cheap.close()


async def row_counts(db: Database) -> dict[str, int]:
    async with db.transaction() as conn:
        return {
            table: await conn.fetch_value(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            for table in COUNTED
        }


async def test_the_demo_is_an_event_on_sale_now_and_a_buyer(
    db: Database, hasher: PasswordHasher
) -> None:
    info = await load_demo(db, hasher=hasher)

    async with db.transaction() as conn:
        venue = await get_venue(conn, info.venue_id)
        detail = await get_event(conn, info.event_id)
        user = await find_user_by_email(conn, info.email)
    assert venue is not None
    assert venue.name == "RushQueue Arena"
    assert 300 <= venue.seats <= 1000
    assert detail is not None
    assert detail.event.name == "Demo Night"
    assert detail.event.currency == "EUR"
    assert detail.event.time_zone == "Europe/Amsterdam"
    assert detail.event.seats_available == detail.event.seats_total == venue.seats
    now = naive_utc(datetime.now(UTC))
    assert detail.event.sale_starts_at < now < detail.event.sale_ends_at
    assert detail.event.sale_ends_at < detail.event.starts_at
    assert [(p.category, p.amount_minor) for p in detail.prices] == [
        ("A", 9500),
        ("B", 6500),
        ("C", 3500),
    ]
    assert (info.email, info.password) == (DEMO_EMAIL, DEMO_PASSWORD)
    assert user is not None
    assert user.role is Role.BUYER
    assert await hasher.verify(user.password_hash, DEMO_PASSWORD)
    async with db.transaction() as conn:
        organizer = await find_user_by_email(conn, info.organizer_email)
    assert (info.organizer_email, info.organizer_password) == (ORGANIZER_EMAIL, ORGANIZER_PASSWORD)
    assert organizer is not None
    assert organizer.role is Role.ADMIN
    assert await hasher.verify(organizer.password_hash, ORGANIZER_PASSWORD)


async def test_loading_twice_creates_nothing_new(db: Database, hasher: PasswordHasher) -> None:
    first = await load_demo(db, hasher=hasher)
    counts = await row_counts(db)

    second = await load_demo(db, hasher=hasher)

    assert second == first
    assert await row_counts(db) == counts
    assert counts["events"] == 1
    assert counts["users"] == 2


async def test_the_demo_password_uses_the_production_profile_by_default(db: Database) -> None:
    await load_demo(db)

    async with db.transaction() as conn:
        user = await find_user_by_email(conn, DEMO_EMAIL)
    assert user is not None
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,")
