from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from domain.catalog import (
    MAX_SEATS,
    RowSpec,
    check_prices,
    parse_event_spec,
    parse_venue_layout,
)
from domain.errors import InvalidInput

LAYOUT: dict[str, Any] = {
    "name": "Hall",
    "categories": [{"code": "A", "name": "Front"}, {"code": "B", "name": "Back"}],
    "sections": [
        {
            "name": "Floor",
            "rows": [
                {"label": "1", "seats": 3, "category": "A"},
                {"label": "2", "seats": [1, 2, 5], "category": "B"},
            ],
        },
        {"name": "Balcony", "rows": 2, "seats": 4, "category": "B"},
    ],
}

EVENT: dict[str, Any] = {
    "venue_id": 7,
    "name": "Spring Night",
    "starts_at": "2030-05-01T19:30:00+02:00",
    "sale_starts_at": "2030-03-01T10:00:00Z",
    "sale_ends_at": "2030-05-01T17:00:00+00:00",
    "currency": "EUR",
    "prices": {"A": 8900, "B": 0},
}


def with_change(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `base` with the item at `path` replaced, or deleted when value is ...."""
    changed = copy.deepcopy(base)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


def test_a_layout_lists_its_seats_in_order() -> None:
    layout = parse_venue_layout(LAYOUT)

    assert layout.name == "Hall"
    assert [c.code for c in layout.categories] == ["A", "B"]
    assert layout.sections[0].rows[1] == RowSpec("2", (1, 2, 5), "B")
    assert layout.seat_count == 3 + 3 + 2 * 4
    seats = [(s.section, s.row, s.number, s.category) for s in layout.seats()]
    assert seats[:4] == [
        ("Floor", "1", 1, "A"),
        ("Floor", "1", 2, "A"),
        ("Floor", "1", 3, "A"),
        ("Floor", "2", 1, "B"),
    ]
    assert seats[-1] == ("Balcony", "2", 4, "B")


def test_names_are_stripped() -> None:
    layout = parse_venue_layout(with_change(LAYOUT, ("name",), "  Hall  "))

    assert layout.name == "Hall"


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        (("name",), "   ", "name", "must not be empty"),
        (("name",), "\u200b\ufeff", "name", "must not be empty"),
        (("name",), 3, "name", "must be a string"),
        (("name",), ..., "name", "is required"),
        (("name",), "x" * 201, "name", "at most 200"),
        (("categories",), [], "categories", "must not be empty"),
        (("categories",), {"A": "Front"}, "categories", "must be an array"),
        (("categories", 1, "code"), "A", "categories", "duplicate code: 'A'"),
        (("categories", 0, "name"), "", "categories[0].name", "must not be empty"),
        (("categories", 0, "colour"), "red", "categories[0]", "unknown fields: colour"),
        (("sections",), "Floor", "sections", "must be an array"),
        (("sections", 1, "name"), "Floor", "sections", "duplicate name: 'Floor'"),
        (("sections", 0, "rows", 1, "label"), "1", "sections[0].rows", "duplicate label: '1'"),
        (("sections", 0, "rows", 0, "category"), "Z", "sections[0].rows[0].category", "'Z'"),
        (("sections", 0, "rows", 0, "seats"), 0, "sections[0].rows[0].seats", "between 1"),
        (("sections", 0, "rows", 0, "seats"), True, "sections[0].rows[0].seats", "seat count"),
        (("sections", 0, "rows", 0, "seats"), [], "sections[0].rows[0].seats", "at least one"),
        (
            ("sections", 0, "rows", 1, "seats"),
            [1, 2, 1],
            "sections[0].rows[1].seats",
            "duplicate seat number: 1",
        ),
        (
            ("sections", 0, "rows", 1, "seats"),
            [1, "2"],
            "sections[0].rows[1].seats[1]",
            "must be an integer",
        ),
        (("sections", 0, "rows", 1, "seats"), [0], "sections[0].rows[1].seats[0]", "between 1"),
        (("sections", 0, "rows", 0), "1", "sections[0].rows[0]", "must be an object"),
        (("sections", 1, "rows"), "2", "sections[1].rows", "array of rows"),
        (("sections", 1, "category"), "Q", "sections[1].category", "not one of"),
        (("sections", 1, "seats"), -1, "sections[1].seats", "between 1"),
        (("sections", 1, "label"), "x", "sections[1]", "unknown fields: label"),
        (("shape",), "round", "shape", "unknown fields: shape"),
    ],
)
def test_layout_mistakes_name_their_field(
    path: tuple[Any, ...], value: Any, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_venue_layout(with_change(LAYOUT, path, value))

    assert caught.value.details["field"] == field
    assert words in caught.value.message
    assert field in caught.value.message


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        ((("categories", 1, "code"), "a"), (("categories", 0, "code"), "A"), "categories"),
        ((("categories", 1, "code"), "e"), (("categories", 0, "code"), "É"), "categories"),
        ((("sections", 1, "name"), "FLOOR"), (("sections", 0, "name"), "Floor"), "sections"),
        ((("sections", 1, "name"), "Flöor"), (("sections", 0, "name"), "floor"), "sections"),
        (
            (("sections", 0, "rows", 0, "label"), "a"),
            (("sections", 0, "rows", 1, "label"), "A"),
            "sections[0].rows",
        ),
    ],
)
def test_names_mariadb_compares_as_equal_are_duplicates(
    first: tuple[tuple[Any, ...], str], second: tuple[tuple[Any, ...], str], field: str
) -> None:
    """The unique keys use utf8mb4_unicode_ci, which ignores case and accents."""
    layout = with_change(with_change(LAYOUT, *first), *second)

    with pytest.raises(InvalidInput, match="duplicate") as caught:
        parse_venue_layout(layout)

    assert caught.value.details["field"] == field


def test_a_layout_is_an_object() -> None:
    with pytest.raises(InvalidInput, match="must be an object"):
        parse_venue_layout(["Hall"])


def test_a_venue_has_at_most_max_seats() -> None:
    at_limit = with_change(
        LAYOUT,
        ("sections",),
        [{"name": "Big", "rows": MAX_SEATS // 1000, "seats": 1000, "category": "A"}],
    )
    assert parse_venue_layout(at_limit).seat_count == MAX_SEATS

    over = with_change(
        at_limit,
        ("sections",),
        [
            *at_limit["sections"],
            {"name": "Extra", "rows": [{"label": "1", "seats": 1, "category": "A"}]},
        ],
    )
    with pytest.raises(InvalidInput, match=f"past {MAX_SEATS} seats") as caught:
        parse_venue_layout(over)
    assert caught.value.details["field"] == "sections[1].rows[0]"


def test_an_oversized_compact_section_fails_before_it_is_built() -> None:
    huge = with_change(
        LAYOUT,
        ("sections", 1),
        {"name": "Huge", "rows": MAX_SEATS, "seats": MAX_SEATS, "category": "A"},
    )

    with pytest.raises(InvalidInput, match="past"):
        parse_venue_layout(huge)


def test_an_event_normalises_times_to_naive_utc() -> None:
    spec = parse_event_spec(EVENT)

    assert spec.venue_id == 7
    assert spec.starts_at == datetime(2030, 5, 1, 17, 30)
    assert spec.sale_starts_at == datetime(2030, 3, 1, 10, 0)
    assert spec.sale_ends_at == datetime(2030, 5, 1, 17, 0)
    assert spec.starts_at.tzinfo is None
    assert spec.max_seats_per_buyer == 6
    assert spec.prices == {"A": 8900, "B": 0}
    assert spec.time_zone == "UTC"  # none given
    assert parse_event_spec({**EVENT, "time_zone": "Europe/Lisbon"}).time_zone == "Europe/Lisbon"


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("venue_id", "7", "must be an integer"),
        ("venue_id", 0, "between 1"),
        ("venue_id", ..., "is required"),
        ("name", "", "must not be empty"),
        ("starts_at", "2030-05-01T19:30:00", "with a timezone"),
        ("starts_at", "next friday", "ISO-8601"),
        ("starts_at", "0001-01-01T00:00:00+05:00", "ISO-8601"),
        ("sale_starts_at", 1893456000, "must be a string"),
        ("currency", "eur", "three upper-case letters"),
        ("currency", "EURO", "three upper-case letters"),
        ("currency", "ÄUR", "three upper-case letters"),
        ("max_seats_per_buyer", 0, "between 1 and 50"),
        ("max_seats_per_buyer", 51, "between 1 and 50"),
        ("max_seats_per_buyer", 2.5, "must be an integer"),
        ("prices", {}, "at least one"),
        ("prices", [8900], "must be an object"),
        ("prices", {"A": -1, "B": 0}, "between 0 and 1000000000"),
        ("prices", {"A": 10**9 + 1, "B": 0}, "between 0 and 1000000000"),
        ("prices", {"A": 1.5, "B": 0}, "must be an integer"),
        ("doors_at", "2030-05-01T19:00:00Z", "unknown fields: doors_at"),
        ("time_zone", "Europe/Atlantis", "not a known IANA time zone"),
        ("time_zone", "/etc/passwd", "not a known IANA time zone"),
        ("time_zone", "Europe/../../etc", "not a known IANA time zone"),
        ("time_zone", 1, "must be a string"),
    ],
)
def test_event_mistakes_name_their_field(key: str, value: Any, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_event_spec(with_change(EVENT, (key,), value))

    assert words in caught.value.message
    assert str(caught.value.details["field"]).startswith(key)


def test_a_price_mistake_names_its_category() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_event_spec(with_change(EVENT, ("prices", "B"), -5))

    assert caught.value.details["field"] == "prices.B"


def test_the_sale_must_end_after_it_starts() -> None:
    same = with_change(EVENT, ("sale_ends_at",), EVENT["sale_starts_at"])

    with pytest.raises(InvalidInput, match="after 'sale_starts_at'") as caught:
        parse_event_spec(same)
    assert caught.value.details["field"] == "sale_ends_at"


def test_the_sale_ends_by_the_time_the_event_starts() -> None:
    late = with_change(EVENT, ("sale_ends_at",), "2030-05-01T17:30:01Z")

    with pytest.raises(InvalidInput, match="not be after 'starts_at'"):
        parse_event_spec(late)


def test_prices_must_cover_exactly_the_venues_categories() -> None:
    check_prices({"A": 1, "B": 2}, {"A", "B"})

    with pytest.raises(InvalidInput, match="no amount for categories B"):
        check_prices({"A": 1}, {"A", "B"})
    with pytest.raises(InvalidInput, match="does not have: C"):
        check_prices({"A": 1, "B": 2, "C": 3}, {"A", "B"})
