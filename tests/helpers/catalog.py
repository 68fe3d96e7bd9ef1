"""Fixtures: catalog.

`make_event` writes a venue and an event through persistence, on sale now unless told otherwise:

    event = await make_event(seats=10, prices={"A": 5000, "B": 2500}, max_seats_per_buyer=4)
    event.seat_ids        # event_seat ids in layout order: 5 A seats, then 5 B seats
    event.seat_prices     # event_seat id -> amount_minor
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

import pytest

from devstack.servers import MariaDBServer
from domain.catalog import (
    CategorySpec,
    EventSpec,
    RowSpec,
    SectionSpec,
    VenueLayout,
    naive_utc,
    parse_venue_layout,
)
from persistence.catalog import create_event, create_venue, event_seat_map

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from persistence import Database


@dataclass(frozen=True, slots=True, kw_only=True)
class MadeEvent:
    event_id: int
    venue_id: int
    seat_ids: tuple[int, ...]
    seat_prices: dict[int, int]
    prices: dict[str, int]
    currency: str
    max_seats_per_buyer: int
    sale_starts_at: datetime
    sale_ends_at: datetime


class MakeEvent(Protocol):
    async def __call__(
        self,
        *,
        seats: int = 10,
        prices: Mapping[str, int] | None = None,
        max_seats_per_buyer: int = 6,
        sale_starts_at: datetime | None = None,
        sale_ends_at: datetime | None = None,
        name: str = "Test Night",
        currency: str = "EUR",
    ) -> MadeEvent: ...


ARENA_FILE: Final = Path(__file__).parents[2] / "devstack" / "layouts" / "arena-venue.json"
ARENA_PRICES: Final = {"A": 12000, "B": 8500, "C": 5500}


DEMO_FILE: Final = ARENA_FILE.with_name("demo-venue.json")
DEMO_PRICES: Final = {"A": 8900, "B": 6500, "C": 3900}


def demo_layout() -> VenueLayout:
    """The demo hall of `devstack/layouts/demo-venue.json`: rows of different lengths, one with
    a gap in its numbering, and a compact balcony, in the default arrangement."""
    return parse_venue_layout(json.loads(DEMO_FILE.read_text()))


def arena_layout() -> VenueLayout:
    """The 20,000-seat arena of `devstack/layouts/arena-venue.json`, with its geometry."""
    return parse_venue_layout(json.loads(ARENA_FILE.read_text()))


def split_layout(name: str, seats: int, categories: list[str]) -> VenueLayout:
    """One section, one row per category, seats shared out in order (earlier rows get any
    remainder): 10 seats over A, B, C is 4 A, 3 B, 3 C."""
    if seats < len(categories):
        raise ValueError("need at least one seat per category")
    share, extra = divmod(seats, len(categories))
    rows = tuple(
        RowSpec(str(index + 1), tuple(range(1, share + (index < extra) + 1)), code)
        for index, code in enumerate(categories)
    )
    return VenueLayout(
        name=name,
        categories=tuple(CategorySpec(code, f"Category {code}") for code in categories),
        sections=(SectionSpec("Main", rows),),
    )


_venues = itertools.count(1)


async def create_on_sale_event(
    db: Database,
    *,
    seats: int = 10,
    prices: Mapping[str, int] | None = None,
    max_seats_per_buyer: int = 6,
    sale_starts_at: datetime | None = None,
    sale_ends_at: datetime | None = None,
    name: str = "Test Night",
    currency: str = "EUR",
    layout: VenueLayout | None = None,
    no_single_gaps: bool = False,
    starts_at: datetime | None = None,
    time_zone: str = "UTC",
) -> MadeEvent:
    """A venue and an event on sale now (unless told otherwise) in any database, for tests
    that run on a private server as well as for `make_event`. `layout` replaces the made-up
    one-section venue (then `seats` is ignored and `prices` must cover its categories).
    The event starts an hour after its sale closes unless `starts_at` says otherwise."""
    price_map = dict(prices or {"A": 5000})
    now = naive_utc(datetime.now(UTC))
    opens = naive_utc(sale_starts_at) if sale_starts_at else now - timedelta(hours=1)
    closes = naive_utc(sale_ends_at) if sale_ends_at else max(opens, now) + timedelta(days=1)
    layout = layout or split_layout(f"Test Venue {next(_venues)}", seats, list(price_map))
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, layout)
        event_id = await create_event(
            conn,
            EventSpec(
                venue_id=venue_id,
                name=name,
                starts_at=naive_utc(starts_at) if starts_at else closes + timedelta(hours=1),
                sale_starts_at=opens,
                sale_ends_at=closes,
                currency=currency,
                max_seats_per_buyer=max_seats_per_buyer,
                prices=price_map,
                no_single_gaps=no_single_gaps,
                time_zone=time_zone,
            ),
        )
        seat_rows = await event_seat_map(conn, event_id)
    return MadeEvent(
        event_id=event_id,
        venue_id=venue_id,
        seat_ids=tuple(seat.id for seat in seat_rows),
        seat_prices={seat.id: seat.price for seat in seat_rows},
        prices=price_map,
        currency=currency,
        max_seats_per_buyer=max_seats_per_buyer,
        sale_starts_at=opens,
        sale_ends_at=closes,
    )


@pytest.fixture
def make_event(db: Database) -> MakeEvent:
    """An async factory for an on-sale event (by default: 10 seats, one category "A" at 5000,
    EUR, sale open from an hour ago for a day). Datetimes may be aware or naive UTC."""

    async def make(
        *,
        seats: int = 10,
        prices: Mapping[str, int] | None = None,
        max_seats_per_buyer: int = 6,
        sale_starts_at: datetime | None = None,
        sale_ends_at: datetime | None = None,
        name: str = "Test Night",
        currency: str = "EUR",
    ) -> MadeEvent:
        return await create_on_sale_event(
            db,
            seats=seats,
            prices=prices,
            max_seats_per_buyer=max_seats_per_buyer,
            sale_starts_at=sale_starts_at,
            sale_ends_at=sale_ends_at,
            name=name,
            currency=currency,
        )

    return make


@pytest.fixture
def private_mariadb(tmp_path: Path) -> Iterator[MariaDBServer]:
    """A MariaDB of the test's own, so stopping it disturbs nobody else."""
    server = MariaDBServer(tmp_path / "mariadb", durable=False).start()
    yield server
    server.stop()
