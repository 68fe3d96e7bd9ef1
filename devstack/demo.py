"""Demo data for a local stack: a venue, an event on sale now, and a buyer who can log in.

Loading is idempotent: the venue, event and buyer are found by name (and email) and only what is
missing is created, so `make run` can load the demo on every start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from domain.catalog import CategorySpec, EventSpec, RowSpec, SectionSpec, VenueLayout, naive_utc
from gateway.auth.passwords import PasswordHasher
from persistence.catalog import create_event, create_venue, event_id_by_name, venue_id_by_name
from persistence.users import create_user, find_user_by_email

if TYPE_CHECKING:
    from persistence import Database

VENUE_NAME: Final = "RushQueue Arena"
EVENT_NAME: Final = "Demo Night"
DEMO_EMAIL: Final = "demo@rushqueue.local"
DEMO_PASSWORD: Final = "demo-password"
DEMO_PRICES: Final = {"A": 9500, "B": 6500, "C": 3500}
_ROW_CATEGORIES: Final = "AAABBBBCCC"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoInfo:
    venue_id: int
    event_id: int
    email: str
    password: str


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
                ),
            )
        demo_user = await find_user_by_email(conn, DEMO_EMAIL)
    if demo_user is None:
        owned = hasher is None
        hasher = hasher or PasswordHasher.from_profile("rfc9106-low-memory")
        try:
            # Hashed outside the transaction, so no connection is held while argon2 runs.
            password_hash = await hasher.hash(DEMO_PASSWORD)
        finally:
            if owned:
                hasher.close()
        async with db.transaction() as conn:
            await create_user(
                conn, email=DEMO_EMAIL, name="Demo Buyer", password_hash=password_hash
            )
    return DemoInfo(venue_id=venue_id, event_id=event_id, email=DEMO_EMAIL, password=DEMO_PASSWORD)
