"""Venues, price categories, seats and events: every catalog query.

Catalog rows are written once by an organizer and then only read, except an event's settings
(`set_event_settings`); seat statuses in `event_seats` are the engine's to change (it writes
them behind), so nothing here updates them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from asyncmy.constants.ER import DUP_ENTRY
from asyncmy.errors import IntegrityError

from domain.catalog import (
    CategorySpec,
    RowSpec,
    SectionSpec,
    VenueLayout,
    check_prices,
    geometry_document,
    parse_geometry,
)
from domain.errors import InvalidInput, NotFound
from domain.statuses import SeatStatus

if TYPE_CHECKING:
    from datetime import datetime

    from domain.catalog import EventSpec
    from persistence.database import Connection, Row


@dataclass(frozen=True, slots=True)
class CategoryRow:
    code: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueSummary:
    id: int
    name: str
    seats: int
    categories: tuple[CategoryRow, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSummary:
    """An event with its seat counts as last written behind to MariaDB."""

    id: int
    name: str
    venue_id: int
    venue: str
    starts_at: datetime
    sale_starts_at: datetime
    sale_ends_at: datetime
    currency: str
    max_seats_per_buyer: int
    no_single_gaps: bool
    time_zone: str  # IANA name; the times above are UTC, shown in this zone
    seats_total: int
    seats_available: int


@dataclass(frozen=True, slots=True)
class PriceRow:
    category: str
    name: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class EventDetail:
    event: EventSummary
    prices: tuple[PriceRow, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SeatRow:
    id: int
    section: str
    row: str
    number: int
    category: str
    price: int
    status: SeatStatus


@dataclass(frozen=True, slots=True)
class PricedCategory:
    code: str
    name: str
    price: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EventLayout:
    """What an event's map is drawn from and never changes: its venue's layout and geometry,
    the event's prices, and the event seat id of every seat, both in layout order."""

    event_id: int
    venue: str
    currency: str
    categories: tuple[PricedCategory, ...]
    layout: VenueLayout
    seat_ids: tuple[int, ...]


_VENUES: Final = """
    SELECT v.id, v.name, (SELECT COUNT(*) FROM seats s WHERE s.venue_id = v.id) AS seats
    FROM venues v
    WHERE %s IS NULL OR v.id = %s
    ORDER BY v.id
"""

_CATEGORIES: Final = """
    SELECT venue_id, code, name FROM price_categories
    WHERE %s IS NULL OR venue_id = %s
    ORDER BY venue_id, id
"""

# One statement for the list and for one event; the parameter test folds to a constant, so the
# single-event form still uses the primary key.
_EVENTS: Final = """
    SELECT e.id, e.name, e.venue_id, v.name AS venue, e.starts_at, e.sale_starts_at,
           e.sale_ends_at, e.currency, e.max_seats_per_buyer, e.no_single_gaps, e.time_zone,
           COUNT(es.id) AS seats_total,
           COUNT(CASE WHEN es.status = 'available' THEN 1 END) AS seats_available
    FROM events e
    JOIN venues v ON v.id = e.venue_id
    LEFT JOIN event_seats es ON es.event_id = e.id
    WHERE %s IS NULL OR e.id = %s
    GROUP BY e.id
    ORDER BY e.starts_at, e.id
"""


async def create_venue(conn: Connection, layout: VenueLayout) -> int:
    """Store a venue with its categories and every seat; return the venue id.

    `InvalidInput` if two codes, or two seat positions, are one value to MariaDB's collation
    even though the layout's own checks told them apart.
    """
    geometry = geometry_document(layout)
    venue_id = await conn.insert(
        "INSERT INTO venues (name, geometry) VALUES (%s, %s)",
        (layout.name, None if geometry is None else json.dumps(geometry)),
    )
    try:
        await conn.execute_many(
            "INSERT INTO price_categories (venue_id, code, name) VALUES (%s, %s, %s)",
            [(venue_id, category.code, category.name) for category in layout.categories],
        )
        category_ids = await _category_ids(conn, venue_id)
        # Seats go in layout order, so ordering by id later gives the organizer's order back.
        await conn.execute_many(
            "INSERT INTO seats (venue_id, section, row_label, number, category_id, seat_rank)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (
                    venue_id,
                    seat.section,
                    seat.row,
                    seat.number,
                    category_ids[seat.category],
                    seat.rank,
                )
                for seat in layout.seats()
            ],
        )
    except IntegrityError as exc:
        if exc.args[0] != DUP_ENTRY:
            raise
        field = "categories" if "uq_categories_code" in str(exc) else "sections"
        raise InvalidInput(
            f"'{field}' has two names that the database treats as one (it ignores case, accents"
            " and some invisible characters)",
            field=field,
        ) from None
    return venue_id


async def create_event(conn: Connection, spec: EventSpec) -> int:
    """Store an event, its prices and one available event seat per venue seat.

    Raises `NotFound` for an unknown venue and `InvalidInput` unless the prices cover exactly
    the venue's categories.
    """
    exists = await conn.fetch_value("SELECT 1 FROM venues WHERE id = %s", (spec.venue_id,))
    if exists is None:
        raise NotFound(f"No venue {spec.venue_id}", field="venue_id")
    category_ids = await _category_ids(conn, spec.venue_id)
    check_prices(spec.prices, set(category_ids))
    event_id = await conn.insert(
        "INSERT INTO events (venue_id, name, starts_at, sale_starts_at, sale_ends_at, currency,"
        " max_seats_per_buyer, no_single_gaps, time_zone)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            spec.venue_id,
            spec.name,
            spec.starts_at,
            spec.sale_starts_at,
            spec.sale_ends_at,
            spec.currency,
            spec.max_seats_per_buyer,
            spec.no_single_gaps,
            spec.time_zone,
        ),
    )
    await conn.execute_many(
        "INSERT INTO event_prices (event_id, category_id, amount_minor) VALUES (%s, %s, %s)",
        [(event_id, category_ids[code], amount) for code, amount in spec.prices.items()],
    )
    await conn.execute(
        "INSERT INTO event_seats (event_id, seat_id, status)"
        " SELECT %s, s.id, 'available' FROM seats s WHERE s.venue_id = %s ORDER BY s.id",
        (event_id, spec.venue_id),
    )
    return event_id


async def list_venues(conn: Connection) -> list[VenueSummary]:
    return await _venues(conn, None)


async def get_venue(conn: Connection, venue_id: int) -> VenueSummary | None:
    found = await _venues(conn, venue_id)
    return found[0] if found else None


async def venue_id_by_name(conn: Connection, name: str) -> int | None:
    """The oldest venue with this name (names are not unique)."""
    found: int | None = await conn.fetch_value(
        "SELECT id FROM venues WHERE name = %s ORDER BY id LIMIT 1", (name,)
    )
    return found


async def event_id_by_name(conn: Connection, venue_id: int, name: str) -> int | None:
    """The oldest event with this name at this venue."""
    found: int | None = await conn.fetch_value(
        "SELECT id FROM events WHERE venue_id = %s AND name = %s ORDER BY id LIMIT 1",
        (venue_id, name),
    )
    return found


async def list_events(conn: Connection) -> list[EventSummary]:
    """Every event, soonest first."""
    return [_event(row) for row in await conn.fetch_all(_EVENTS, (None, None))]


async def event_exists(conn: Connection, event_id: int) -> bool:
    found = await conn.fetch_value("SELECT 1 FROM events WHERE id = %s", (event_id,))
    return found is not None


async def set_event_settings(conn: Connection, event_id: int, *, no_single_gaps: bool) -> None:
    """Store an event's settings (the engine loads them with the event); an unknown event is
    left to the caller, which reads the event back. The row stays locked until the commit."""
    await conn.execute(
        "UPDATE events SET no_single_gaps = %s WHERE id = %s", (no_single_gaps, event_id)
    )


async def get_event(conn: Connection, event_id: int) -> EventDetail | None:
    row = await conn.fetch_one(_EVENTS, (event_id, event_id))
    if row is None:
        return None
    prices = await conn.fetch_all(
        "SELECT pc.code, pc.name, ep.amount_minor FROM event_prices ep"
        " JOIN price_categories pc ON pc.id = ep.category_id"
        " WHERE ep.event_id = %s ORDER BY pc.id",
        (event_id,),
    )
    return EventDetail(
        _event(row),
        tuple(PriceRow(price["code"], price["name"], price["amount_minor"]) for price in prices),
    )


async def event_seat_map(conn: Connection, event_id: int) -> list[SeatRow]:
    """Every seat of an event in layout order, with its price and stored status."""
    rows = await conn.fetch_all(
        "SELECT es.id, s.section, s.row_label, s.number, pc.code, ep.amount_minor, es.status"
        " FROM event_seats es"
        " JOIN seats s ON s.id = es.seat_id"
        " JOIN price_categories pc ON pc.id = s.category_id"
        " JOIN event_prices ep ON ep.event_id = es.event_id AND ep.category_id = s.category_id"
        " WHERE es.event_id = %s ORDER BY es.id",
        (event_id,),
    )
    return [
        SeatRow(
            id=row["id"],
            section=row["section"],
            row=row["row_label"],
            number=row["number"],
            category=row["code"],
            price=row["amount_minor"],
            status=SeatStatus(row["status"]),
        )
        for row in rows
    ]


async def event_layout(conn: Connection, event_id: int) -> EventLayout | None:
    """The event's layout rebuilt from its stored seats (in layout order) and venue geometry;
    None for no such event."""
    event = await conn.fetch_one(
        "SELECT v.name, v.geometry, e.currency FROM events e"
        " JOIN venues v ON v.id = e.venue_id WHERE e.id = %s",
        (event_id,),
    )
    if event is None:
        return None
    prices = await conn.fetch_all(
        "SELECT pc.code, pc.name, ep.amount_minor FROM event_prices ep"
        " JOIN price_categories pc ON pc.id = ep.category_id"
        " WHERE ep.event_id = %s ORDER BY pc.id",
        (event_id,),
    )
    seats = await conn.fetch_all(
        "SELECT es.id, s.section, s.row_label, s.number, s.seat_rank, pc.code FROM event_seats es"
        " JOIN seats s ON s.id = es.seat_id"
        " JOIN price_categories pc ON pc.id = s.category_id"
        " WHERE es.event_id = %s ORDER BY es.id",
        (event_id,),
    )
    # section -> row label -> (category, numbers, seat ranks), all in layout order; a row's
    # rank was spread over its seats when stored, so every rank comes back as a seat's.
    sections: dict[str, dict[str, tuple[str, list[int], list[tuple[int, int]]]]] = {}
    for seat in seats:
        rows = sections.setdefault(seat["section"], {})
        _, numbers, ranks = rows.setdefault(seat["row_label"], (seat["code"], [], []))
        numbers.append(seat["number"])
        if seat["seat_rank"] is not None:
            ranks.append((seat["number"], int(seat["seat_rank"])))
    stage, geometry = (
        (None, {}) if event["geometry"] is None else parse_geometry(json.loads(event["geometry"]))
    )
    layout = VenueLayout(
        event["name"],
        tuple(CategorySpec(price["code"], price["name"]) for price in prices),
        tuple(
            SectionSpec(
                name,
                tuple(
                    RowSpec(label, tuple(numbers), code, None, tuple(sorted(ranks)))
                    for label, (code, numbers, ranks) in rows.items()
                ),
                geometry.get(name),
            )
            for name, rows in sections.items()
        ),
        stage,
    )
    return EventLayout(
        event_id=event_id,
        venue=event["name"],
        currency=event["currency"],
        categories=tuple(
            PricedCategory(price["code"], price["name"], price["amount_minor"]) for price in prices
        ),
        layout=layout,
        seat_ids=tuple(seat["id"] for seat in seats),
    )


async def event_statuses(conn: Connection, event_id: int) -> list[tuple[int, SeatStatus]]:
    """Every event seat's id and stored status, in layout order."""
    rows = await conn.fetch_all(
        "SELECT id, status FROM event_seats WHERE event_id = %s ORDER BY id", (event_id,)
    )
    return [(row["id"], SeatStatus(row["status"])) for row in rows]


async def _category_ids(conn: Connection, venue_id: int) -> dict[str, int]:
    rows = await conn.fetch_all(
        "SELECT id, code FROM price_categories WHERE venue_id = %s", (venue_id,)
    )
    return {row["code"]: row["id"] for row in rows}


async def _venues(conn: Connection, venue_id: int | None) -> list[VenueSummary]:
    args = (venue_id, venue_id)
    categories: defaultdict[int, list[CategoryRow]] = defaultdict(list)
    for row in await conn.fetch_all(_CATEGORIES, args):
        categories[row["venue_id"]].append(CategoryRow(row["code"], row["name"]))
    return [
        VenueSummary(
            id=row["id"],
            name=row["name"],
            seats=row["seats"],
            categories=tuple(categories[row["id"]]),
        )
        for row in await conn.fetch_all(_VENUES, args)
    ]


def _event(row: Row) -> EventSummary:
    return EventSummary(
        id=row["id"],
        name=row["name"],
        venue_id=row["venue_id"],
        venue=row["venue"],
        starts_at=row["starts_at"],
        sale_starts_at=row["sale_starts_at"],
        sale_ends_at=row["sale_ends_at"],
        currency=row["currency"],
        max_seats_per_buyer=row["max_seats_per_buyer"],
        no_single_gaps=bool(row["no_single_gaps"]),
        time_zone=str(row["time_zone"]),
        seats_total=row["seats_total"],
        seats_available=row["seats_available"],
    )
