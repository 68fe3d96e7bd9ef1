"""Waiting-room wire shapes: a buyer's queue status, an event's room as the public and the
organizer see it.

A buyer's status is computed from their place and the event's room with the same arithmetic the
page uses on every broadcast (`domain.waiting_room`), so a GET and the socket always agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict

from domain.waiting_room import QueueState, estimated_wait_seconds, people_ahead

if TYPE_CHECKING:
    from domain.waiting_room import WaitingRoomSettings
    from engine.protocol import PlaceView, RoomWire


class RoomSummaryView(TypedDict):
    paused: bool
    admitted_through: int
    last_rank: int
    waiting: int
    inside: int
    rate_per_minute: float
    queue_opens_at: str
    sale_starts_at: str


class QueueStatusView(TypedDict):
    event_id: int
    place_id: str
    state: str
    position: int | None
    ahead: int | None
    estimated_wait_seconds: int | None
    session_expires_at: str | None
    session_expires_at_ms: int | None
    queue_url: str
    socket_url: str
    room: RoomSummaryView


class EventWaitingRoomView(TypedDict):
    """What the public event JSON says about the event's waiting room."""

    enabled: bool
    queue_opens_at: str
    queue_url: str


class WaitingRoomSettingsView(TypedDict):
    enabled: bool
    queue_opens_at: str
    admissions_per_minute: int
    max_inside: int
    session_minutes: int
    paused: bool
    version: int


class WaitingRoomStatsView(TypedDict):
    waiting: int
    admitted_total: int
    inside: int
    admitted_last_minute: int
    rate_per_minute: float
    estimated_seconds_to_clear: int | None


class WaitingRoomAdminView(TypedDict):
    event_id: int
    settings: WaitingRoomSettingsView | None
    stats: WaitingRoomStatsView | None


def queue_url(event_id: int) -> str:
    return f"/api/v1/events/{event_id}/queue"


def socket_url(event_id: int) -> str:
    return f"/api/v1/events/{event_id}/queue/ws"


def iso_ms(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat()


def effective_state(place: PlaceView, now_ms: int) -> QueueState:
    """The place's state now: an admission whose session has run out is refused like none,
    whether or not the actor's tick has marked it yet."""
    expires = place.session_expires_at_ms
    if place.state is QueueState.ADMITTED and expires is not None and expires <= now_ms:
        return QueueState.EXPIRED
    return place.state


def room_summary(room: RoomWire) -> RoomSummaryView:
    return {
        "paused": room["paused"],
        "admitted_through": room["admitted_through"],
        "last_rank": room["last_rank"],
        "waiting": room["waiting"],
        "inside": room["inside"],
        "rate_per_minute": room["rate_per_minute"],
        "queue_opens_at": iso_ms(room["queue_opens_at_ms"]),
        "sale_starts_at": iso_ms(room["sale_starts_at_ms"]),
    }


def queue_status_view(place: PlaceView, room: RoomWire, now_ms: int) -> QueueStatusView:
    state = effective_state(place, now_ms)
    ahead: int | None = None
    wait: int | None = None
    if state is QueueState.WAITING and place.rank is not None:
        ahead = people_ahead(place.rank, room["admitted_through"])
        wait = estimated_wait_seconds(ahead, room["rate_per_minute"])
    elif state is QueueState.ADMITTED:
        ahead, wait = 0, 0
    expires = place.session_expires_at_ms
    return {
        "event_id": place.event_id,
        "place_id": place.id,
        "state": state.value,
        "position": place.rank,
        "ahead": ahead,
        "estimated_wait_seconds": wait,
        "session_expires_at": None if expires is None else iso_ms(expires),
        "session_expires_at_ms": expires,
        "queue_url": queue_url(place.event_id),
        "socket_url": socket_url(place.event_id),
        "room": room_summary(room),
    }


def event_waiting_room_view(
    event_id: int, room: WaitingRoomSettings | None
) -> EventWaitingRoomView | None:
    if room is None:
        return None
    return {
        "enabled": room.enabled,
        "queue_opens_at": iso_ms(room.queue_opens_at_ms),
        "queue_url": queue_url(event_id),
    }


def waiting_room_settings_view(room: WaitingRoomSettings) -> WaitingRoomSettingsView:
    return {
        "enabled": room.enabled,
        "queue_opens_at": iso_ms(room.queue_opens_at_ms),
        "admissions_per_minute": room.admissions_per_minute,
        "max_inside": room.max_inside,
        "session_minutes": room.session_seconds // 60,
        "paused": room.paused,
        "version": room.version,
    }


def waiting_room_stats_view(room: RoomWire) -> WaitingRoomStatsView:
    return {
        "waiting": room["waiting"],
        "admitted_total": room["admitted_total"],
        "inside": room["inside"],
        "admitted_last_minute": room["admitted_last_minute"],
        "rate_per_minute": room["rate_per_minute"],
        # Everyone waiting, at the rate admission runs now; null while paused.
        "estimated_seconds_to_clear": estimated_wait_seconds(
            room["waiting"], room["rate_per_minute"]
        ),
    }


def waiting_room_admin_view(
    event_id: int, settings: WaitingRoomSettings | None, room: RoomWire | None
) -> WaitingRoomAdminView:
    """Settings null: the event has no waiting room. Stats null: the engine runs none yet."""
    return {
        "event_id": event_id,
        "settings": None if settings is None else waiting_room_settings_view(settings),
        "stats": None if room is None else waiting_room_stats_view(room),
    }
