"""The seat order behind best-available: distance from the stage, the organizer's ranks, and
lines cut at gaps in the numbering."""

from __future__ import annotations

import pytest

from domain.catalog import parse_venue_layout
from domain.errors import InvalidInput
from domain.geometry import plan_venue
from domain.seat_ranking import rank_seats
from tests.helpers.catalog import arena_layout, demo_layout


def test_orders_follow_distance_from_the_stage() -> None:
    layout = arena_layout()
    placed = plan_venue(layout).seats
    ranking = rank_seats(layout, tuple(range(len(placed))))
    order = {
        seat: o
        for line in ranking.lines
        for seat, o in zip(line.seat_ids, line.orders, strict=True)
    }

    by_distance = sorted(range(len(placed)), key=lambda index: placed[index].distance)
    assert [order[index] for index in by_distance] == list(range(len(placed)))
    assert [line.best_order for line in ranking.lines] == sorted(
        line.best_order for line in ranking.lines
    )


def test_a_gap_in_the_numbering_cuts_the_row_into_lines() -> None:
    layout = demo_layout()
    ranking = rank_seats(layout, tuple(range(layout.seat_count)))

    row_six = sorted(
        line.numbers for line in ranking.lines if (line.section, line.row) == ("Floor", "6")
    )
    assert row_six == [(1, 2, 3, 4, 5, 6), (9, 10, 11, 12, 13, 14)]
    assert sum(len(line.seat_ids) for line in ranking.lines) == layout.seat_count


def test_ranks_come_before_distance_and_a_seats_rank_before_its_rows() -> None:
    layout = parse_venue_layout(
        {
            "name": "Ranked",
            "categories": [{"code": "A", "name": "Stalls"}],
            "sections": [
                {
                    "name": "Stalls",
                    "rows": [
                        {"label": "1", "seats": 3, "category": "A"},
                        {"label": "2", "seats": 3, "category": "A", "rank": 2},
                        {"label": "3", "seats": 3, "category": "A", "seat_ranks": {"3": 1}},
                    ],
                }
            ],
        }
    )
    ranking = rank_seats(layout, tuple(range(9)))
    order = {
        seat: o
        for line in ranking.lines
        for seat, o in zip(line.seat_ids, line.orders, strict=True)
    }

    # Row 3 seat 3 (rank 1), then row 2 (rank 2, middle first), then the unranked by distance.
    assert sorted(order, key=order.__getitem__)[:4] == [8, 4, 3, 5]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"rank": 0}, "sections[0].rows[0].rank"),
        ({"seat_ranks": {"9": 1}}, "sections[0].rows[0].seat_ranks.9"),
        ({"seat_ranks": {"1": "first"}}, "sections[0].rows[0].seat_ranks.1"),
        ({"seat_ranks": [1]}, "sections[0].rows[0].seat_ranks"),
    ],
)
def test_bad_ranks_are_refused_by_name(row: dict[str, object], field: str) -> None:
    body = {
        "name": "Ranked",
        "categories": [{"code": "A", "name": "Stalls"}],
        "sections": [{"name": "S", "rows": [{"label": "1", "seats": 3, "category": "A", **row}]}],
    }
    with pytest.raises(InvalidInput) as caught:
        parse_venue_layout(body)
    assert caught.value.details["field"] == field
