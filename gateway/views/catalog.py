"""Catalog wire shapes: venues, events, prices and seat maps.

Datetimes are stored as naive UTC and leave as ISO-8601 with an explicit +00:00 offset.

An event's map travels in two parts. The layout (`layout_view`) never changes, so browsers and
CDNs keep it; its positions are whole decimetres, which keeps the numbers short. The live state
(`live_state_view`) is one character per seat in the layout's order, so 20,000 seats are 20,000
characters before compression.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, TypedDict

from domain.geometry import plan_venue
from domain.statuses import SeatStatus
from gateway.views.queue import EventWaitingRoomView, event_waiting_room_view

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from domain.geometry import Point
    from domain.waiting_room import WaitingRoomSettings
    from persistence.catalog import EventDetail, EventLayout, EventSummary, SeatRow, VenueSummary

# One character per status in the live state; the OpenAPI document lists the same letters.
STATUS_LETTERS: Final = {SeatStatus.AVAILABLE: "a", SeatStatus.HELD: "h", SeatStatus.BOOKED: "b"}
_DECIMETRES_PER_METRE: Final = 10


class CategoryView(TypedDict):
    code: str
    name: str


class VenueView(TypedDict):
    id: int
    name: str
    seats: int
    categories: list[CategoryView]


class EventView(TypedDict):
    id: int
    name: str
    venue_id: int
    venue: str
    starts_at: str
    sale_starts_at: str
    sale_ends_at: str
    # IANA name: the times above are instants, read by people in this zone.
    time_zone: str
    currency: str
    max_seats_per_buyer: int
    # Holds that would strand a single free seat are refused (`orphan_seat`).
    no_single_gaps: bool
    # Null: no waiting room; buyers go straight to the seats.
    waiting_room: EventWaitingRoomView | None
    seats_total: int
    seats_available: int


class PriceView(TypedDict):
    category: str
    name: str
    amount_minor: int


class EventDetailView(EventView):
    prices: list[PriceView]


class SeatView(TypedDict):
    id: int
    section: str
    row: str
    number: int
    category: str
    price: int
    status: str


class SeatMapView(TypedDict):
    event_id: int
    seq: int
    seats: list[SeatView]


class StageView(TypedDict):
    x: int
    y: int
    width: int
    depth: int


class LayoutCategoryView(TypedDict):
    code: str
    name: str
    price: int


class LayoutRowView(TypedDict):
    label: str
    category: int  # index into the layout's categories
    ids: list[int]
    numbers: list[int]
    x: list[int]
    y: list[int]


class LayoutSectionView(TypedDict):
    name: str
    outline: list[int]  # x0, y0, x1, y1, ...
    rows: list[LayoutRowView]


class LayoutView(TypedDict):
    event_id: int
    venue: str
    currency: str
    seats: int
    categories: list[LayoutCategoryView]
    stage: StageView
    sections: list[LayoutSectionView]


class LiveStateView(TypedDict):
    event_id: int
    seq: int
    statuses: str


def utc_iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat()


def venue_view(venue: VenueSummary) -> VenueView:
    return {
        "id": venue.id,
        "name": venue.name,
        "seats": venue.seats,
        "categories": [{"code": c.code, "name": c.name} for c in venue.categories],
    }


def event_view(event: EventSummary, room: WaitingRoomSettings | None) -> EventView:
    return {
        "id": event.id,
        "name": event.name,
        "venue_id": event.venue_id,
        "venue": event.venue,
        "starts_at": utc_iso(event.starts_at),
        "sale_starts_at": utc_iso(event.sale_starts_at),
        "sale_ends_at": utc_iso(event.sale_ends_at),
        "time_zone": event.time_zone,
        "currency": event.currency,
        "max_seats_per_buyer": event.max_seats_per_buyer,
        "no_single_gaps": event.no_single_gaps,
        "waiting_room": event_waiting_room_view(event.id, room),
        "seats_total": event.seats_total,
        "seats_available": event.seats_available,
    }


def event_detail_view(detail: EventDetail, room: WaitingRoomSettings | None) -> EventDetailView:
    return {
        **event_view(detail.event, room),
        "prices": [
            {"category": p.category, "name": p.name, "amount_minor": p.amount_minor}
            for p in detail.prices
        ],
    }


def seat_map_view(
    event_id: int, seq: int, seats: list[SeatRow], live: Mapping[int, SeatStatus]
) -> SeatMapView:
    """Seats with `live` statuses laid over the stored ones (seats absent from it keep theirs)."""
    return {
        "event_id": event_id,
        "seq": seq,
        "seats": [
            {
                "id": seat.id,
                "section": seat.section,
                "row": seat.row,
                "number": seat.number,
                "category": seat.category,
                "price": seat.price,
                "status": live.get(seat.id, seat.status).value,
            }
            for seat in seats
        ],
    }


def layout_view(stored: EventLayout) -> LayoutView:
    """The event's seats placed on the venue's plan, section by section and row by row."""
    plan = plan_venue(stored.layout)
    category_index = {category.code: index for index, category in enumerate(stored.categories)}
    seats = iter(zip(stored.seat_ids, plan.seats, strict=True))
    sections: list[LayoutSectionView] = []
    for spec, placed in zip(stored.layout.sections, plan.sections, strict=True):
        rows: list[LayoutRowView] = []
        for row in spec.rows:
            ids, numbers, xs, ys = [], [], [], []
            for _ in row.numbers:
                seat_id, seat = next(seats)
                ids.append(seat_id)
                numbers.append(seat.number)
                xs.append(_dm(seat.position.x))
                ys.append(_dm(seat.position.y))
            rows.append(
                {
                    "label": row.label,
                    "category": category_index[row.category],
                    "ids": ids,
                    "numbers": numbers,
                    "x": xs,
                    "y": ys,
                }
            )
        sections.append({"name": spec.name, "outline": _flat(placed.outline), "rows": rows})
    stage = plan.stage
    return {
        "event_id": stored.event_id,
        "venue": stored.venue,
        "currency": stored.currency,
        "seats": len(stored.seat_ids),
        "categories": [
            {"code": c.code, "name": c.name, "price": c.price} for c in stored.categories
        ],
        "stage": {
            "x": _dm(stage.x),
            "y": _dm(stage.y),
            "width": _dm(stage.width),
            "depth": _dm(stage.depth),
        },
        "sections": sections,
    }


def live_state_view(
    event_id: int,
    seq: int,
    stored: Iterable[tuple[int, SeatStatus]],
    live: Mapping[int, SeatStatus],
) -> LiveStateView:
    """Statuses in layout order: `live` laid over the `stored` ones, as in `seat_map_view`."""
    letters = "".join(STATUS_LETTERS[live.get(seat_id, status)] for seat_id, status in stored)
    return {"event_id": event_id, "seq": seq, "statuses": letters}


def _dm(metres: float) -> int:
    return round(metres * _DECIMETRES_PER_METRE)


def _flat(points: Iterable[Point]) -> list[int]:
    return [_dm(value) for point in points for value in (point.x, point.y)]
