"""Catalog wire shapes: venues, events, prices and seat maps.

Datetimes are stored as naive UTC and leave as ISO-8601 with an explicit +00:00 offset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from collections.abc import Mapping

    from domain.statuses import SeatStatus
    from persistence.catalog import EventDetail, EventSummary, SeatRow, VenueSummary


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
    currency: str
    max_seats_per_buyer: int
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


def utc_iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat()


def venue_view(venue: VenueSummary) -> VenueView:
    return {
        "id": venue.id,
        "name": venue.name,
        "seats": venue.seats,
        "categories": [{"code": c.code, "name": c.name} for c in venue.categories],
    }


def event_view(event: EventSummary) -> EventView:
    return {
        "id": event.id,
        "name": event.name,
        "venue_id": event.venue_id,
        "venue": event.venue,
        "starts_at": utc_iso(event.starts_at),
        "sale_starts_at": utc_iso(event.sale_starts_at),
        "sale_ends_at": utc_iso(event.sale_ends_at),
        "currency": event.currency,
        "max_seats_per_buyer": event.max_seats_per_buyer,
        "seats_total": event.seats_total,
        "seats_available": event.seats_available,
    }


def event_detail_view(detail: EventDetail) -> EventDetailView:
    return {
        **event_view(detail.event),
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
