"""Statuses as stored in MariaDB and sent on the wire."""

from __future__ import annotations

import enum


class SeatStatus(enum.StrEnum):
    AVAILABLE = "available"
    HELD = "held"
    BOOKED = "booked"


class HoldStatus(enum.StrEnum):
    HELD = "held"
    CHECKOUT = "checkout"
    RELEASED = "released"
    EXPIRED = "expired"
    BOOKED = "booked"

    @property
    def is_active(self) -> bool:
        """An active hold still keeps its seats from everyone else."""
        return self in (HoldStatus.HELD, HoldStatus.CHECKOUT)


class PaymentStatus(enum.StrEnum):
    CREATING = "creating"
    OPEN = "open"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"


class Role(enum.StrEnum):
    BUYER = "buyer"
    ADMIN = "admin"
