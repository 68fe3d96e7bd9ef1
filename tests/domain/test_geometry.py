"""Venue geometry: seats placed by section, rotation, spacing and curve; the default
arrangement for layouts without geometry; distances from the focal point; and what the layout
parser accepts of it."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any, Final

import pytest

from domain.catalog import geometry_document, parse_geometry, parse_venue_layout
from domain.errors import InvalidInput
from domain.geometry import Point, plan_venue

LAYOUTS: Final = Path(__file__).parents[2] / "devstack" / "layouts"
STAGE: Final = {"x": 0, "y": 0, "width": 10, "depth": 4}


def venue(*sections: dict[str, Any], stage: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Hall",
        "categories": [{"code": "A", "name": "All"}],
        "sections": list(sections),
    }
    if stage is not None:
        body["stage"] = stage
    return body


def compact(name: str, rows: int, seats: int, **geometry: Any) -> dict[str, Any]:
    section: dict[str, Any] = {"name": name, "rows": rows, "seats": seats, "category": "A"}
    if geometry:
        section["geometry"] = geometry
    return section


def close(point: Point, x: float, y: float) -> bool:
    return math.isclose(point.x, x, abs_tol=1e-9) and math.isclose(point.y, y, abs_tol=1e-9)


def test_without_geometry_sections_stand_side_by_side_facing_the_stage() -> None:
    plan = plan_venue(parse_venue_layout(venue(compact("L", 2, 3), compact("R", 2, 5))))

    left = [seat for seat in plan.seats if seat.section == "L"]
    right = [seat for seat in plan.seats if seat.section == "R"]
    stage_front = plan.stage.y + plan.stage.depth / 2
    assert all(seat.position.y > stage_front for seat in plan.seats)
    assert max(seat.position.x for seat in left) < min(seat.position.x for seat in right)
    # Row 1 is nearest the stage, and every row runs straight across.
    assert {seat.position.y for seat in left if seat.row == "1"} == {
        seat.position.y for seat in right if seat.row == "1"
    }
    assert all(section.rotation == 0 for section in plan.sections)
    midpoint = (min(s.position.x for s in plan.seats) + max(s.position.x for s in plan.seats)) / 2
    assert math.isclose(midpoint, plan.stage.x, abs_tol=1e-9)


def test_seats_are_spaced_and_rows_run_back_from_the_front_row_centre() -> None:
    layout = venue(
        compact("S", 2, 3, x=1, y=10, rotation=0, seat_spacing=0.5, row_spacing=1), stage=STAGE
    )

    seats = plan_venue(parse_venue_layout(layout)).seats

    assert [(seat.row, seat.number) for seat in seats][:3] == [("1", 1), ("1", 2), ("1", 3)]
    assert close(seats[0].position, 0.5, 10)
    assert close(seats[1].position, 1, 10)
    assert close(seats[4].position, 1, 11)
    assert math.isclose(seats[1].distance, math.hypot(1, 10))


def test_a_section_without_rotation_faces_the_focal_point() -> None:
    layout = venue(compact("East", 2, 3, x=20, y=0), stage=STAGE)

    plan = plan_venue(parse_venue_layout(layout))

    [section] = plan.sections
    assert math.isclose(section.rotation, -90)
    front, back = plan.seats[1], plan.seats[4]  # the middle seat of each row
    assert close(front.position, 20, 0)
    assert back.position.x > front.position.x  # the second row is further from the stage
    assert back.distance > front.distance


def test_a_curved_section_keeps_its_seats_on_arcs_around_the_focal_point() -> None:
    layout = venue(compact("Arc", 3, 11, x=0, y=12, curve=12), stage=STAGE)

    seats = plan_venue(parse_venue_layout(layout)).seats

    for index, row in enumerate(("1", "2", "3")):
        radius = 12 + index * 0.9
        assert all(math.isclose(seat.distance, radius) for seat in seats if seat.row == row), (
            f"row {row} is not an arc of radius {radius}"
        )
    first_row = [seat.position for seat in seats if seat.row == "1"]
    assert all(
        math.isclose(a.distance_to(b), 2 * 12 * math.sin(0.5 / 12 / 2))
        for a, b in itertools.pairwise(first_row)
    )


def test_the_outline_encloses_every_seat() -> None:
    layout = venue(compact("S", 4, 6, x=0, y=8, rotation=30), stage=STAGE)

    plan = plan_venue(parse_venue_layout(layout))

    [section] = plan.sections
    xs = [point.x for point in section.outline]
    ys = [point.y for point in section.outline]
    assert all(
        min(xs) < s.position.x < max(xs) and min(ys) < s.position.y < max(ys) for s in plan.seats
    )


def test_old_layout_files_load_and_the_arena_file_is_20000_seats_around_its_stage() -> None:
    old = parse_venue_layout(json.loads((LAYOUTS / "demo-venue.json").read_text()))
    arena = parse_venue_layout(json.loads((LAYOUTS / "arena-venue.json").read_text()))

    assert old.stage is None
    assert geometry_document(old) is None
    assert len(plan_venue(old).seats) == old.seat_count
    arena_plan = plan_venue(arena)
    assert len(arena_plan.seats) == 20_000
    assert min(seat.distance for seat in arena_plan.seats) > arena_plan.stage.depth / 2


def test_stored_geometry_reads_back_as_it_was_given() -> None:
    layout = parse_venue_layout(json.loads((LAYOUTS / "arena-venue.json").read_text()))

    document = geometry_document(layout)
    assert document is not None
    stage, sections = parse_geometry(json.loads(json.dumps(document)))

    assert stage == layout.stage
    assert sections == {section.name: section.geometry for section in layout.sections}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (venue(compact("S", 1, 2, x=0, y=4)), "stage", "required when the sections"),
        (
            venue(compact("S", 1, 2, x=0, y=4), compact("T", 1, 2), stage=STAGE),
            "sections[1].geometry",
            "every section geometry or none",
        ),
        (venue(compact("S", 1, 2, x=0), stage=STAGE), "sections[0].geometry.y", "is required"),
        (venue(compact("S", 1, 2, x=0, y="4"), stage=STAGE), "sections[0].geometry.y", "a number"),
        (
            venue(compact("S", 1, 2, x=0, y=4, curve=0.5), stage=STAGE),
            "sections[0].geometry.curve",
            "between 1",
        ),
        (
            venue(compact("S", 1, 2, x=0, y=4, seat_spacing=0), stage=STAGE),
            "sections[0].geometry.seat_spacing",
            "between",
        ),
        (
            venue(compact("S", 1, 2, x=0, y=4, tilt=3), stage=STAGE),
            "sections[0].geometry",
            "unknown fields: tilt",
        ),
        (venue(compact("S", 1, 2), stage={**STAGE, "width": -1}), "stage.width", "between"),
        (venue(compact("S", 1, 2), stage={**STAGE, "x": 1e9}), "stage.x", "between"),
    ],
)
def test_geometry_mistakes_name_their_field(body: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_venue_layout(body)

    assert caught.value.details["field"] == field
    assert words in caught.value.message
