"""Venue geometry: the stage, where each section sits and how its rows run, and from those every
seat's place on the plan and its distance from the focal point.

The plan is in metres seen from above, x to the right and y downwards (as on a screen). A
section is placed by the centre of its front row; its rows run back from there, away from the
stage, `row_spacing` apart, with seats `seat_spacing` apart along each row. `rotation` turns
the section clockwise: 0 faces the top of the plan, 90 faces right. Without a rotation the
section faces the focal point. A `curve` bends the rows into concentric arcs whose centre lies
that far in front of the front row, so seats keep their spacing along every arc.

A layout without geometry gets a default arrangement: its sections side by side, in layout
order, facing a stage above them. The same positions serve the map and any ranking of seats
by their distance from the stage, so they are computed here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from domain.catalog import RowSpec, SectionSpec, VenueLayout

DEFAULT_ROW_SPACING: Final = 0.9
DEFAULT_SEAT_SPACING: Final = 0.5
# The automatic arrangement: a stage half as wide as the sections side by side and a third as
# deep as it is wide (within these bounds), the front rows up to 3 m from it, 2 m between
# neighbouring sections.
_SECTION_GAP: Final = 2.0
_STAGE_GAP: Final = 3.0
_MIN_STAGE_WIDTH: Final = 2.0
_MIN_STAGE_DEPTH: Final = 1.0
_MAX_STAGE_DEPTH: Final = 6.0


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float

    def distance_to(self, other: Point) -> float:
        return math.hypot(self.x - other.x, self.y - other.y)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """A rectangle centred on (x, y); its centre is the focal point seats are measured from."""

    x: float
    y: float
    width: float
    depth: float

    @property
    def focal_point(self) -> Point:
        return Point(self.x, self.y)


@dataclass(frozen=True, slots=True, kw_only=True)
class SectionGeometry:
    x: float
    y: float
    rotation: float | None = None  # degrees clockwise; None faces the focal point
    row_spacing: float = DEFAULT_ROW_SPACING
    seat_spacing: float = DEFAULT_SEAT_SPACING
    curve: float | None = None  # radius of the front row's arc; None for straight rows


@dataclass(frozen=True, slots=True)
class PlacedSeat:
    section: str
    row: str
    number: int
    category: str
    position: Point
    distance: float  # from the focal point, in metres


@dataclass(frozen=True, slots=True)
class PlacedSection:
    name: str
    rotation: float  # resolved, in degrees
    # The section's edge, half a seat and half a row outside its outermost seats: along the
    # first seats of its rows from front to back, then along the last seats from back to front.
    outline: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class VenuePlan:
    stage: Stage
    sections: tuple[PlacedSection, ...]
    seats: tuple[PlacedSeat, ...]  # layout order


def plan_venue(layout: VenueLayout) -> VenuePlan:
    """Every seat of `layout` placed, with its section outlines and the stage."""
    stage, geometries = arrangement(layout)
    sections: list[PlacedSection] = []
    seats: list[PlacedSeat] = []
    focal = stage.focal_point
    for section, geometry in zip(layout.sections, geometries, strict=True):
        rotation = _rotation(geometry, focal)
        rows = [
            _place_row(geometry, rotation, index, row) for index, row in enumerate(section.rows)
        ]
        outline = _outline(geometry, rotation, section.rows)
        sections.append(PlacedSection(section.name, rotation, outline))
        for row, places in zip(section.rows, rows, strict=True):
            seats.extend(
                PlacedSeat(section.name, row.label, number, row.category, at, at.distance_to(focal))
                for number, at in zip(row.numbers, places, strict=True)
            )
    return VenuePlan(stage, tuple(sections), tuple(seats))


def arrangement(layout: VenueLayout) -> tuple[Stage, tuple[SectionGeometry, ...]]:
    """The layout's own stage and section geometry, or the default arrangement where it has
    none. The parser lets a layout place all its sections or none, and only with a stage."""
    placed = tuple(section.geometry for section in layout.sections if section.geometry)
    if layout.stage is not None and len(placed) == len(layout.sections):
        return layout.stage, placed
    return _side_by_side(layout.sections, layout.stage)


def _side_by_side(
    sections: tuple[SectionSpec, ...], stage: Stage | None
) -> tuple[Stage, tuple[SectionGeometry, ...]]:
    widths = [_width(section) for section in sections]
    total = sum(widths) + _SECTION_GAP * (len(widths) - 1)
    if stage is None:
        width = max(_MIN_STAGE_WIDTH, total / 2)
        depth = min(_MAX_STAGE_DEPTH, max(_MIN_STAGE_DEPTH, width / 3))
        stage = Stage(x=0.0, y=0.0, width=width, depth=depth)
    front = stage.y + stage.depth / 2 + min(_STAGE_GAP, stage.depth)
    left = stage.x - total / 2
    placed = []
    for width in widths:
        placed.append(SectionGeometry(x=left + width / 2, y=front, rotation=0.0))
        left += width + _SECTION_GAP
    return stage, tuple(placed)


def _width(section: SectionSpec) -> float:
    return max(_row_span(row) for row in section.rows) * DEFAULT_SEAT_SPACING


def _row_span(row: RowSpec) -> int:
    return max(row.numbers) - min(row.numbers)


def _rotation(geometry: SectionGeometry, focal: Point) -> float:
    if geometry.rotation is not None:
        return geometry.rotation
    # Turn the front (-y before rotating) towards the focal point.
    return math.degrees(math.atan2(focal.x - geometry.x, geometry.y - focal.y))


def _place_row(geometry: SectionGeometry, rotation: float, index: int, row: RowSpec) -> list[Point]:
    """Seats are placed by number, centred on the row's middle, so a gap in the numbering is a
    gap in the row and rows of different lengths line up on the section's axis."""
    middle = (min(row.numbers) + max(row.numbers)) / 2
    back = index * geometry.row_spacing
    return [
        _place(geometry, rotation, back, (number - middle) * geometry.seat_spacing)
        for number in row.numbers
    ]


def _outline(
    geometry: SectionGeometry, rotation: float, rows: tuple[RowSpec, ...]
) -> tuple[Point, ...]:
    """Each row's ends pushed out by half a seat, and the front and back rows' ends by half a
    row more, so the outline encloses the seats rather than running through them."""
    half_seat, half_row = geometry.seat_spacing / 2, geometry.row_spacing / 2
    spans = [(max(row.numbers) - min(row.numbers)) / 2 * geometry.seat_spacing for row in rows]
    backs = [index * geometry.row_spacing for index in range(len(rows))]
    edge = [(-half_row, spans[0])]
    edge += list(zip(backs, spans, strict=True))
    edge.append((backs[-1] + half_row, spans[-1]))
    left = [_place(geometry, rotation, back, -span - half_seat) for back, span in edge]
    right = [_place(geometry, rotation, back, span + half_seat) for back, span in reversed(edge)]
    return tuple(left + right)


def _place(geometry: SectionGeometry, rotation: float, back: float, along: float) -> Point:
    """The plan point `back` metres behind the front row and `along` metres from its axis."""
    if geometry.curve is None:
        local_x, local_y = along, back
    else:
        radius = geometry.curve + back
        theta = along / radius
        local_x, local_y = radius * math.sin(theta), radius * math.cos(theta) - geometry.curve
    angle = math.radians(rotation)
    cos, sin = math.cos(angle), math.sin(angle)
    return Point(
        geometry.x + local_x * cos - local_y * sin, geometry.y + local_x * sin + local_y * cos
    )
