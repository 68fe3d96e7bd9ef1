from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from domain.errors import EmailTaken
from domain.statuses import Role
from persistence.users import (
    create_user,
    find_user_by_email,
    get_user,
    normalize_email,
    update_password_hash,
)

if TYPE_CHECKING:
    from persistence import Database


async def test_a_created_user_reads_back_as_written(db: Database) -> None:
    before = datetime.now(UTC)
    async with db.transaction() as conn:
        created = await create_user(
            conn, email="ada@example.com", name="Ada Lovelace", password_hash="$argon2id$h1"
        )
    async with db.transaction() as conn:
        stored = await get_user(conn, created.id)

    assert stored == created
    assert created.id > 0
    assert created.email == "ada@example.com"
    assert created.name == "Ada Lovelace"
    assert created.role is Role.BUYER
    assert created.password_hash == "$argon2id$h1"
    assert created.created_at.tzinfo is UTC
    assert before <= created.created_at <= datetime.now(UTC)


async def test_an_admin_keeps_the_admin_role(db: Database) -> None:
    async with db.transaction() as conn:
        created = await create_user(
            conn, email="root@example.com", name="Root", password_hash="h", role=Role.ADMIN
        )
        stored = await get_user(conn, created.id)

    assert stored is not None
    assert stored.role is Role.ADMIN


async def test_emails_are_stored_and_found_normalized(db: Database) -> None:
    async with db.transaction() as conn:
        created = await create_user(
            conn, email="  Grace.Hopper@Example.COM ", name="Grace", password_hash="h"
        )
        found = await find_user_by_email(conn, "GRACE.HOPPER@example.com")

    assert created.email == "grace.hopper@example.com"
    assert found == created


async def test_an_email_in_use_in_any_case_is_taken_and_nothing_is_written(db: Database) -> None:
    async with db.transaction() as conn:
        first = await create_user(conn, email="ada@example.com", name="Ada", password_hash="h")

    with pytest.raises(EmailTaken) as caught:
        async with db.transaction() as conn:
            await create_user(conn, email="ADA@example.com ", name="Imposter", password_hash="x")

    assert caught.value.code == "email_taken"
    assert caught.value.status == 409
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM users") == 1
        assert await find_user_by_email(conn, "ada@example.com") == first


async def test_unknown_users_are_none(db: Database) -> None:
    async with db.transaction() as conn:
        created = await create_user(conn, email="ada@example.com", name="Ada", password_hash="h")
        assert await find_user_by_email(conn, "nobody@example.com") is None
        assert await get_user(conn, created.id + 1) is None


async def test_update_password_hash_replaces_only_that_users_hash(db: Database) -> None:
    async with db.transaction() as conn:
        ada = await create_user(conn, email="ada@example.com", name="Ada", password_hash="old-a")
        bob = await create_user(conn, email="bob@example.com", name="Bob", password_hash="old-b")
    async with db.transaction() as conn:
        await update_password_hash(conn, ada.id, "new-a")
    async with db.transaction() as conn:
        ada_after = await get_user(conn, ada.id)
        bob_after = await get_user(conn, bob.id)

    assert ada_after is not None
    assert bob_after is not None
    assert ada_after.password_hash == "new-a"
    assert bob_after.password_hash == "old-b"


async def test_created_at_is_utc_whatever_the_session_time_zone(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("SET time_zone = '+05:00'")
        created = await create_user(conn, email="ada@example.com", name="Ada", password_hash="h")
        stored = await get_user(conn, created.id)

    assert stored is not None
    assert abs(stored.created_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_normalize_email_strips_and_lower_cases() -> None:
    assert normalize_email("  Ada@Example.COM\n") == "ada@example.com"
