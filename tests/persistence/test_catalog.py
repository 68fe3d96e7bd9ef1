from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from domain.catalog import (
    CategorySpec,
    EventSpec,
    RowSpec,
    SectionSpec,
    VenueLayout,
    naive_utc,
)
from domain.errors import InvalidInput, NotFound
from domain.geometry import SectionGeometry, Stage
from domain.statuses import SeatStatus
from persistence.catalog import (
    create_event,
    create_venue,
    event_id_by_name,
    event_layout,
    event_seat_map,
    event_statuses,
    get_event,
    get_venue,
    list_events,
    list_venues,
    venue_id_by_name,
)

if TYPE_CHECKING:
    from persistence import Database
    from tests.helpers.catalog import MakeEvent

LAYOUT = VenueLayout(
    name="Hall",
    categories=(CategorySpec("A", "Front"), CategorySpec("B", "Back")),
    sections=(
        SectionSpec("Floor", (RowSpec("1", (1, 2), "A"), RowSpec("2", (1, 2, 4), "B"))),
        SectionSpec("Gallery", (RowSpec("G", (7,), "B"),)),
    ),
)


NIGHT = EventSpec(
    venue_id=0,
    name="Night",
    starts_at=datetime(2030, 5, 1, 19, 30),
    sale_starts_at=datetime(2030, 3, 1, 10),
    sale_ends_at=datetime(2030, 5, 1, 17),
    currency="EUR",
    max_seats_per_buyer=4,
    prices={"A": 9000, "B": 4000},
)


def spec(venue_id: int, **changes: Any) -> EventSpec:
    return replace(NIGHT, venue_id=venue_id, **changes)


async def test_a_venue_keeps_its_layout(db: Database) -> None:
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, LAYOUT)
    async with db.transaction() as conn:
        venue = await get_venue(conn, venue_id)
        seats = await conn.fetch_all(
            "SELECT s.section, s.row_label, s.number, pc.code FROM seats s"
            " JOIN price_categories pc ON pc.id = s.category_id"
            " WHERE s.venue_id = %s ORDER BY s.id",
            (venue_id,),
        )

    assert venue is not None
    assert (venue.id, venue.name, venue.seats) == (venue_id, "Hall", 6)
    assert [(c.code, c.name) for c in venue.categories] == [("A", "Front"), ("B", "Back")]
    assert [tuple(row.values()) for row in seats] == [
        ("Floor", "1", 1, "A"),
        ("Floor", "1", 2, "A"),
        ("Floor", "2", 1, "B"),
        ("Floor", "2", 2, "B"),
        ("Floor", "2", 4, "B"),
        ("Gallery", "G", 7, "B"),
    ]


async def test_an_events_layout_is_its_venues_layout_and_geometry(db: Database) -> None:
    placed = replace(
        LAYOUT,
        stage=Stage(x=0.0, y=-2.0, width=6.0, depth=2.0),
        sections=(
            replace(LAYOUT.sections[0], geometry=SectionGeometry(x=0.0, y=3.0, curve=5.0)),
            replace(LAYOUT.sections[1], geometry=SectionGeometry(x=1.0, y=9.0, rotation=10.0)),
        ),
    )
    async with db.transaction() as conn:
        event_id = await create_event(conn, spec(await create_venue(conn, placed)))
        stored = await event_layout(conn, event_id)
        statuses = await event_statuses(conn, event_id)
        seats = await event_seat_map(conn, event_id)

    assert stored is not None
    assert (stored.event_id, stored.venue, stored.currency) == (event_id, "Hall", "EUR")
    assert [(c.code, c.name, c.price) for c in stored.categories] == [
        ("A", "Front", 9000),
        ("B", "Back", 4000),
    ]
    assert stored.layout == replace(placed, name="Hall")
    assert stored.seat_ids == tuple(seat.id for seat in seats)
    assert statuses == [(seat.id, SeatStatus.AVAILABLE) for seat in seats]


async def test_a_venue_stored_without_geometry_has_none(db: Database) -> None:
    """Venues from before geometry (a NULL column) and layouts without it read back alike."""
    async with db.transaction() as conn:
        event_id = await create_event(conn, spec(await create_venue(conn, LAYOUT)))
        stored = await event_layout(conn, event_id)

    assert stored is not None
    assert stored.layout == LAYOUT
    assert stored.layout.stage is None


async def test_an_unknown_events_layout_is_none(db: Database) -> None:
    async with db.transaction() as conn:
        assert await event_layout(conn, 424242) is None


@pytest.mark.parametrize(
    ("layout", "field"),
    [
        (
            VenueLayout(
                "Hall",
                (CategorySpec("x", "Front"), CategorySpec("X", "Back")),
                (SectionSpec("Floor", (RowSpec("1", (1,), "x"),)),),
            ),
            "categories",
        ),
        (
            VenueLayout(
                "Hall",
                (CategorySpec("A", "Front"),),
                (
                    SectionSpec("Floor", (RowSpec("1", (1,), "A"),)),
                    SectionSpec("FLOOR", (RowSpec("1", (1,), "A"),)),
                ),
            ),
            "sections",
        ),
    ],
)
async def test_a_collision_under_the_collation_is_invalid_input_and_stores_nothing(
    db: Database, layout: VenueLayout, field: str
) -> None:
    """Specs built without the parser's checks still cannot make a 500 out of a unique key."""
    with pytest.raises(InvalidInput, match="treats as one") as caught:
        async with db.transaction() as conn:
            await create_venue(conn, layout)

    assert caught.value.details["field"] == field
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM venues") == 0


async def test_venues_are_listed_with_their_own_categories(db: Database) -> None:
    club_layout = VenueLayout(
        "Club",
        (CategorySpec("GA", "Standing"),),
        (SectionSpec("Pit", (RowSpec("1", (1,), "GA"),)),),
    )
    async with db.transaction() as conn:
        hall = await create_venue(conn, LAYOUT)
        club = await create_venue(conn, club_layout)
        venues = await list_venues(conn)
        missing = await get_venue(conn, club + 1)

    assert [(v.id, v.name, v.seats) for v in venues] == [(hall, "Hall", 6), (club, "Club", 1)]
    assert [c.code for c in venues[0].categories] == ["A", "B"]
    assert [c.code for c in venues[1].categories] == ["GA"]
    assert missing is None


async def test_an_event_gets_one_available_seat_per_venue_seat(db: Database) -> None:
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, LAYOUT)
        event_id = await create_event(conn, spec(venue_id))
    async with db.transaction() as conn:
        seats = await event_seat_map(conn, event_id)
        detail = await get_event(conn, event_id)

    assert [(s.section, s.row, s.number, s.category, s.price) for s in seats] == [
        ("Floor", "1", 1, "A", 9000),
        ("Floor", "1", 2, "A", 9000),
        ("Floor", "2", 1, "B", 4000),
        ("Floor", "2", 2, "B", 4000),
        ("Floor", "2", 4, "B", 4000),
        ("Gallery", "G", 7, "B", 4000),
    ]
    assert {s.status for s in seats} == {SeatStatus.AVAILABLE}
    assert [s.id for s in seats] == sorted(s.id for s in seats)
    assert detail is not None
    event = detail.event
    assert (event.id, event.name, event.venue_id, event.venue) == (
        event_id,
        "Night",
        venue_id,
        "Hall",
    )
    assert event.starts_at == datetime(2030, 5, 1, 19, 30)
    assert event.sale_starts_at == datetime(2030, 3, 1, 10)
    assert event.sale_ends_at == datetime(2030, 5, 1, 17)
    assert (event.currency, event.max_seats_per_buyer) == ("EUR", 4)
    assert (event.seats_total, event.seats_available) == (6, 6)
    assert [(p.category, p.name, p.amount_minor) for p in detail.prices] == [
        ("A", "Front", 9000),
        ("B", "Back", 4000),
    ]


async def test_counts_follow_stored_statuses(db: Database, make_event: MakeEvent) -> None:
    made = await make_event(seats=5)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE event_seats SET status = 'booked' WHERE id IN (%s, %s)", made.seat_ids[:2]
        )
    async with db.transaction() as conn:
        summary = (await list_events(conn))[0]
        seats = await event_seat_map(conn, made.event_id)

    assert (summary.seats_total, summary.seats_available) == (5, 3)
    assert [s.status for s in seats] == [SeatStatus.BOOKED] * 2 + [SeatStatus.AVAILABLE] * 3


async def test_events_are_listed_soonest_first(db: Database) -> None:
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, LAYOUT)
        later = await create_event(conn, spec(venue_id, name="Later"))
        sooner = await create_event(
            conn,
            spec(
                venue_id,
                name="Sooner",
                starts_at=datetime(2030, 4, 1, 20),
                sale_ends_at=datetime(2030, 4, 1, 18),
            ),
        )
        events = await list_events(conn)

    assert [(e.id, e.name) for e in events] == [(sooner, "Sooner"), (later, "Later")]
    assert all(e.seats_total == 6 for e in events)


async def test_an_unknown_event_is_none(db: Database) -> None:
    async with db.transaction() as conn:
        assert await get_event(conn, 424242) is None
        assert await event_seat_map(conn, 424242) == []


async def test_an_event_needs_a_known_venue(db: Database) -> None:
    with pytest.raises(NotFound, match="No venue 999"):
        async with db.transaction() as conn:
            await create_event(conn, spec(999))


@pytest.mark.parametrize(
    ("prices", "words"),
    [
        ({"A": 9000}, "no amount for categories B"),
        ({"A": 9000, "B": 1, "VIP": 2}, "does not have: VIP"),
    ],
)
async def test_an_event_prices_every_category_of_its_venue(
    db: Database, prices: dict[str, int], words: str
) -> None:
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, LAYOUT)
    with pytest.raises(InvalidInput, match=words):
        async with db.transaction() as conn:
            await create_event(conn, spec(venue_id, prices=prices))
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM events") == 0


async def test_lookups_by_name_find_the_oldest(db: Database) -> None:
    async with db.transaction() as conn:
        first = await create_venue(conn, LAYOUT)
        await create_venue(conn, LAYOUT)
        event_id = await create_event(conn, spec(first))
        await create_event(conn, spec(first))

        assert await venue_id_by_name(conn, "Hall") == first
        assert await venue_id_by_name(conn, "Nowhere") is None
        assert await event_id_by_name(conn, first, "Night") == event_id
        assert await event_id_by_name(conn, first, "Other") is None


async def test_make_event_shares_seats_among_categories(
    db: Database, make_event: MakeEvent
) -> None:
    made = await make_event(seats=7, prices={"A": 500, "B": 300}, max_seats_per_buyer=2)

    assert len(made.seat_ids) == 7
    assert sorted(made.seat_prices.values()) == [300] * 3 + [500] * 4
    async with db.transaction() as conn:
        detail = await get_event(conn, made.event_id)
    assert detail is not None
    assert detail.event.max_seats_per_buyer == 2
    assert detail.event.sale_starts_at == made.sale_starts_at
    assert made.sale_starts_at < naive_utc(datetime.now(UTC)) < made.sale_ends_at


async def test_an_event_keeps_its_time_zone(db: Database) -> None:
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, LAYOUT)
        event_id = await create_event(conn, spec(venue_id, time_zone="Asia/Tokyo"))
    async with db.transaction() as conn:
        detail = await get_event(conn, event_id)
    assert detail is not None
    assert detail.event.time_zone == "Asia/Tokyo"


async def test_an_event_stored_without_a_time_zone_is_in_utc(db: Database) -> None:
    """Rows from before 0006_event_time_zone.sql, as the migration leaves them."""
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, LAYOUT)
        event_id = await conn.insert(
            "INSERT INTO events (venue_id, name, starts_at, sale_starts_at, sale_ends_at,"
            " currency) VALUES (%s, 'Old', %s, %s, %s, 'EUR')",
            (venue_id, NIGHT.starts_at, NIGHT.sale_starts_at, NIGHT.sale_ends_at),
        )
        [event] = [found for found in await list_events(conn) if found.id == event_id]
    assert event.time_zone == "UTC"
