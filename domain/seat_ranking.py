"""Which seats are best: one order over every seat of a venue, and the lines seats sit in.

The model, used by best-available holds (engine/seat_index.py):

- A seat's key is `(rank, distance, layout position)`, lowest best. `rank` is the organizer's
  override: a seat's own rank, else its row's, else none, and seats without a rank come after
  every ranked seat. `distance` is metres from the focal point (the stage's centre) as
  `domain.geometry.plan_venue` places the seat, so layouts without geometry are ranked by the
  default arrangement: front rows first, middle seats before the ends. The layout position
  breaks exact ties, so the order is total and the same every time it is computed.
- Sorting every seat by its key gives its `order` (0 is the best seat of the venue). A group of
  seats is better than another when the sum of its orders is lower.
- Seats are adjacent when they are in the same row and their numbers are consecutive: a gap in
  the numbering is a gap in the row (an aisle, a pillar), exactly as the map draws it. So a
  row is cut at every gap into `SeatLine`s, and a line's two ends are row ends for the rule
  that no single seat may be stranded (an orphan): one free seat between taken seats, or
  between a taken seat and its line's end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from domain.geometry import plan_venue

if TYPE_CHECKING:
    from domain.catalog import VenueLayout
    from domain.geometry import PlacedSeat

# Where a seat without an organizer's rank sorts: after every rank a layout may give.
UNRANKED: Final = math.inf


@dataclass(frozen=True, slots=True)
class SeatLine:
    """Seats that sit side by side, in number order: a row, or a piece of one between gaps."""

    section: str
    row: str
    category: str
    seat_ids: tuple[int, ...]  # event seat ids, by seat number
    numbers: tuple[int, ...]
    orders: tuple[int, ...]  # each seat's place in the venue's order, 0 best

    @property
    def best_order(self) -> int:
        return min(self.orders)


@dataclass(frozen=True, slots=True)
class SeatRanking:
    """Every seat of an event in lines, the lines best first (by their best seat)."""

    lines: tuple[SeatLine, ...]


def rank_seats(layout: VenueLayout, seat_ids: tuple[int, ...]) -> SeatRanking:
    """The ranking of an event on `layout`, whose seats have `seat_ids` in layout order."""
    placed = plan_venue(layout).seats
    if len(placed) != len(seat_ids):
        raise ValueError(f"{len(seat_ids)} seat ids for a layout of {len(placed)} seats")
    ranks = [
        row.rank_of(number)
        for section in layout.sections
        for row in section.rows
        for number in row.numbers
    ]
    keys = sorted(
        range(len(placed)),
        key=lambda index: (
            UNRANKED if ranks[index] is None else ranks[index],
            placed[index].distance,
            index,
        ),
    )
    order = [0] * len(placed)
    for position, index in enumerate(keys):
        order[index] = position
    lines: list[SeatLine] = []
    start = 0
    for section in layout.sections:
        for row in section.rows:
            indexes = sorted(range(start, start + len(row.numbers)), key=lambda i: placed[i].number)
            start += len(row.numbers)
            piece: list[int] = []
            for index in indexes:
                if piece and placed[index].number != placed[piece[-1]].number + 1:
                    lines.append(_line(piece, seat_ids, placed, order))
                    piece = []
                piece.append(index)
            lines.append(_line(piece, seat_ids, placed, order))
    lines.sort(key=lambda line: line.best_order)
    return SeatRanking(tuple(lines))


def _line(
    indexes: list[int], seat_ids: tuple[int, ...], placed: tuple[PlacedSeat, ...], order: list[int]
) -> SeatLine:
    first = placed[indexes[0]]
    return SeatLine(
        section=first.section,
        row=first.row,
        category=first.category,
        seat_ids=tuple(seat_ids[index] for index in indexes),
        numbers=tuple(placed[index].number for index in indexes),
        orders=tuple(order[index] for index in indexes),
    )
