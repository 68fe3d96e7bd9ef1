"""Demo data for a local stack: a venue, an event on sale now, a buyer and an organizer who can
log in.

Loading is idempotent: the venue, event and users are found by name (and email) and only what is
missing is created, so `make run` can load the demo on every start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from domain.catalog import CategorySpec, EventSpec, RowSpec, SectionSpec, VenueLayout, naive_utc
from domain.statuses import Role
from gateway.auth.passwords import PasswordHasher
from persistence.catalog import create_event, create_venue, event_id_by_name, venue_id_by_name
from persistence.users import create_user, find_user_by_email

if TYPE_CHECKING:
    from persistence import Database

VENUE_NAME: Final = "RushQueue Arena"
EVENT_NAME: Final = "Demo Night"
DEMO_EMAIL: Final = "demo@rushqueue.local"
DEMO_PASSWORD: Final = "demo-password"
ORGANIZER_EMAIL: Final = "organizer@rushqueue.local"
ORGANIZER_PASSWORD: Final = "organizer-password"
DEMO_PRICES: Final = {"A": 9500, "B": 6500, "C": 3500}
# The demo hall stands in Amsterdam: its times read in the zone a ticket holder lives in.
DEMO_TIME_ZONE: Final = "Europe/Amsterdam"
_ROW_CATEGORIES: Final = "AAABBBBCCC"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoInfo:
    venue_id: int
    event_id: int
    email: str
    password: str
    organizer_email: str
    organizer_password: str


def demo_layout() -> VenueLayout:
    """Three sections of ten rows that widen towards the back (12 to 21 seats); in each, rows
    1-3 are category A, 4-7 B and 8-10 C: 495 seats."""
    rows = tuple(
        RowSpec(str(row), tuple(range(1, 12 + row)), _ROW_CATEGORIES[row - 1])
        for row in range(1, 11)
    )
    return VenueLayout(
        name=VENUE_NAME,
        categories=(
            CategorySpec("A", "Front"),
            CategorySpec("B", "Middle"),
            CategorySpec("C", "Back"),
        ),
        sections=tuple(SectionSpec(name, rows) for name in ("Left", "Centre", "Right")),
    )


async def load_demo(db: Database, *, hasher: PasswordHasher | None = None) -> DemoInfo:
    """Create whatever of the demo is missing and describe it.

    `hasher` defaults to the production argon2 profile; tests pass a cheaper one.
    """
    async with db.transaction() as conn:
        venue_id = await venue_id_by_name(conn, VENUE_NAME)
        if venue_id is None:
            venue_id = await create_venue(conn, demo_layout())
        event_id = await event_id_by_name(conn, venue_id, EVENT_NAME)
        if event_id is None:
            now = naive_utc(datetime.now(UTC))
            event_id = await create_event(
                conn,
                EventSpec(
                    venue_id=venue_id,
                    name=EVENT_NAME,
                    starts_at=now + timedelta(days=31),
                    sale_starts_at=now - timedelta(hours=1),
                    sale_ends_at=now + timedelta(days=30),
                    currency="EUR",
                    prices=DEMO_PRICES,
                    time_zone=DEMO_TIME_ZONE,
                ),
            )
    owned = hasher is None
    hasher = hasher or PasswordHasher.from_profile("rfc9106-low-memory")
    try:
        await _ensure_user(db, hasher, DEMO_EMAIL, DEMO_PASSWORD, "Demo Buyer", Role.BUYER)
        await _ensure_user(
            db, hasher, ORGANIZER_EMAIL, ORGANIZER_PASSWORD, "Demo Organizer", Role.ADMIN
        )
    finally:
        if owned:
            hasher.close()
    return DemoInfo(
        venue_id=venue_id,
        event_id=event_id,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        organizer_email=ORGANIZER_EMAIL,
        organizer_password=ORGANIZER_PASSWORD,
    )


async def _ensure_user(
    db: Database, hasher: PasswordHasher, email: str, password: str, name: str, role: Role
) -> None:
    async with db.transaction() as conn:
        if await find_user_by_email(conn, email) is not None:
            return
    # Hashed outside the transaction, so no connection is held while argon2 runs.
    password_hash = await hasher.hash(password)
    async with db.transaction() as conn:
        await create_user(conn, email=email, name=name, password_hash=password_hash, role=role)
