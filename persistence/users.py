"""Every query on `users`.

Emails are stored stripped and lower-cased, and looked up the same way, so the unique key on
`email` is what stops two accounts for one address, whatever case they were typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from asyncmy.constants.ER import DUP_ENTRY
from asyncmy.errors import IntegrityError

from domain.errors import EmailTaken
from domain.statuses import Role

if TYPE_CHECKING:
    from persistence.database import Connection, Row

_COLUMNS: Final = "id, email, name, role, password_hash, created_at"


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    email: str
    name: str
    role: Role
    password_hash: str
    created_at: datetime


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def create_user(
    conn: Connection, *, email: str, name: str, password_hash: str, role: Role = Role.BUYER
) -> UserRow:
    """Insert a user; `EmailTaken` if the address already has an account."""
    email = normalize_email(email)
    # Stamped here rather than by the column default, which follows the session's time zone; and
    # knowing it saves reading the row back.
    created_at = datetime.now(UTC)
    try:
        user_id = await conn.insert(
            "INSERT INTO users (email, name, password_hash, role, created_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (email, name, password_hash, role.value, created_at.replace(tzinfo=None)),
        )
    except IntegrityError as exc:
        if exc.args[0] == DUP_ENTRY:
            raise EmailTaken("An account with this email already exists") from None
        raise
    return UserRow(
        id=user_id,
        email=email,
        name=name,
        role=role,
        password_hash=password_hash,
        created_at=created_at,
    )


async def find_user_by_email(conn: Connection, email: str) -> UserRow | None:
    row = await conn.fetch_one(
        f"SELECT {_COLUMNS} FROM users WHERE email = %s",  # noqa: S608 - fixed column list
        (normalize_email(email),),
    )
    return None if row is None else _user(row)


async def get_user(conn: Connection, user_id: int) -> UserRow | None:
    row = await conn.fetch_one(
        f"SELECT {_COLUMNS} FROM users WHERE id = %s",  # noqa: S608 - fixed column list
        (user_id,),
    )
    return None if row is None else _user(row)


async def update_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
    )


async def active_hold_count(conn: Connection, user_id: int) -> int:
    """Holds of the user that still keep seats, locking those rows until the transaction ends."""
    count: int = await conn.fetch_value(
        "SELECT COUNT(*) FROM holds WHERE user_id = %s AND status IN ('held', 'checkout')"
        " FOR UPDATE",
        (user_id,),
    )
    return count


async def anonymise_user(conn: Connection, user_id: int) -> None:
    """Erase what identifies the user, and make the account impossible to log in to.

    The row itself stays: holds, payments and bookings keep pointing at it, and a hold the engine
    decided just before the deletion may still be on its way to MariaDB by write-behind.
    """
    await conn.execute(
        "UPDATE users SET email = %s, name = %s, password_hash = %s WHERE id = %s",
        # "!" is no argon2 hash, so no password verifies against it. The email has no "@", so no
        # signup can take it first and make this update fail on the unique key.
        (f"deleted:{user_id}", "Deleted user", "!", user_id),
    )


def _user(row: Row) -> UserRow:
    return UserRow(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=Role(row["role"]),
        password_hash=row["password_hash"],
        # DATETIME has no zone; every time in the schema is UTC.
        created_at=row["created_at"].replace(tzinfo=UTC),
    )
