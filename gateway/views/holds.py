"""Hold wire shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

from engine.protocol import HoldView


class HoldBody(TypedDict):
    id: str
    event_id: int
    seat_ids: list[int]
    status: str
    expires_at: str
    created_at: str


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def hold_body(hold: HoldView) -> HoldBody:
    return {
        "id": hold.id,
        "event_id": hold.event_id,
        "seat_ids": list(hold.seat_ids),
        "status": hold.status.value,
        "expires_at": iso_ms(hold.expires_at_ms),
        "created_at": iso_ms(hold.created_at_ms),
    }
