"""What must be true after a rush, checked against MariaDB, the engine's live state and what
the buyers saw. Run once every hold has ended or been booked and the journal has drained.

- No seat was held or booked by two holds at once: neither in the grants the client received
  nor in MariaDB's hold history.
- Every 201 really held its seats (MariaDB's `hold_seats` agree), and each hold ended as its
  buyer's actions allow.
- MariaDB's seat statuses equal the engine's live status hash.
- Every paid checkout ended in a booking or a refund; every booking's payment is paid; a seat
  is booked exactly when a booking holds it.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from bench.shoppers import Grant
from config import EngineSettings
from domain.statuses import HoldStatus, PaymentStatus, SeatStatus
from engine.redis_client import RedisClient
from engine.snapshot import read_snapshot
from persistence import Database
from persistence.seat_state import to_ms

SHOWN_PER_CHECK: Final = 5
_ENDED: Final = frozenset({HoldStatus.RELEASED, HoldStatus.EXPIRED, HoldStatus.BOOKED})
_REFUNDS: Final = frozenset({PaymentStatus.REFUND_PENDING, PaymentStatus.REFUNDED})
_UNSETTLED: Final = frozenset({PaymentStatus.CREATING, PaymentStatus.OPEN})
# The statuses a hold may end in, by what its buyer did last (`Grant.done`); a step that
# failed leaves the hold to expire, unless the step went through and only its answer was lost.
_MAY_END_AS: Final = {
    "paid": frozenset({HoldStatus.BOOKED, HoldStatus.EXPIRED, HoldStatus.RELEASED}),
    "released": frozenset({HoldStatus.RELEASED, HoldStatus.EXPIRED}),
    "idle": frozenset({HoldStatus.EXPIRED}),
}


class InvariantBroken(AssertionError):
    pass


@dataclass(frozen=True, slots=True)
class StoredHold:
    id: str
    user_id: int
    status: HoldStatus
    created_ms: int
    updated_ms: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class StoredPayment:
    id: int
    status: PaymentStatus
    created_ms: int


@dataclass(frozen=True, slots=True)
class Stored:
    """The event's rows in MariaDB."""

    holds: dict[str, StoredHold]
    hold_seats: dict[str, frozenset[int]]
    seats: dict[int, tuple[SeatStatus, str | None]]  # event seat → status, hold id
    payments: dict[str, StoredPayment]  # by hold id
    bookings: dict[int, str]  # payment id → hold id
    booked_seats: dict[int, str]  # event seat → the booking's hold id


async def check(
    db: Database,
    redis: RedisClient,
    settings: EngineSettings,
    event_id: int,
    grants: list[Grant],
    *,
    unanswered_holds: int,
) -> dict[str, Any]:
    """Raise `InvariantBroken` listing every broken rule; otherwise return counts for the
    report."""
    stored = await _load(db, event_id)
    snapshot = await read_snapshot(redis, settings, event_id)
    live = {} if snapshot is None else snapshot.statuses
    if problems := find_problems(stored, live, grants, unanswered_holds=unanswered_holds):
        raise InvariantBroken("\n".join(problems))
    unsettled = _open_for_ended_holds(stored)
    return {
        "holds": dict(Counter(hold.status.value for hold in stored.holds.values())),
        "payments": dict(Counter(payment.status.value for payment in stored.payments.values())),
        # Not broken rules (nobody paid), but sessions left payable for seats no longer held:
        # how many, and how many of those were planned only after their hold had ended.
        "payments_open_for_ended_holds": len(unsettled),
        "of_which_planned_after_hold_ended": sum(
            1 for payment, hold in unsettled if payment.created_ms > hold.updated_ms
        ),
        "bookings": len(stored.bookings),
        "seats": dict(Counter(status.value for status, _ in stored.seats.values())),
    }


def find_problems(
    stored: Stored,
    live: dict[int, SeatStatus],
    grants: list[Grant],
    *,
    unanswered_holds: int,
) -> list[str]:
    """Every broken rule, a few of each kind: MariaDB's rows, the engine's live statuses and
    the grants the buyers saw, read after the run."""
    return [
        *_shown("grants overlap", _client_overlaps(grants)),
        *_shown("MariaDB holds overlap", _stored_overlaps(stored)),
        *_shown("grant vs MariaDB", _grants_recorded(grants, stored, unanswered_holds)),
        *_shown("MariaDB vs engine", _matches_engine(stored, live)),
        *_shown("payments", _payments(grants, stored)),
    ]


def _open_for_ended_holds(stored: Stored) -> list[tuple[StoredPayment, StoredHold]]:
    found = []
    for hold_id, payment in stored.payments.items():
        hold = stored.holds.get(hold_id)
        if payment.status in _UNSETTLED and hold is not None and not hold.status.is_active:
            found.append((payment, hold))
    return found


def _shown(title: str, problems: Iterable[str]) -> list[str]:
    found = list(problems)
    shown = [f"{title}: {problem}" for problem in found[:SHOWN_PER_CHECK]]
    if len(found) > SHOWN_PER_CHECK:
        shown.append(f"{title}: ... and {len(found) - SHOWN_PER_CHECK} more")
    return shown


async def _load(db: Database, event_id: int) -> Stored:
    async with db.transaction() as conn:
        holds = await conn.fetch_all(
            "SELECT id, user_id, status, created_at, updated_at, expires_at"
            " FROM holds WHERE event_id = %s",
            (event_id,),
        )
        hold_seats = await conn.fetch_all(
            "SELECT hs.hold_id, hs.event_seat_id FROM hold_seats hs"
            " JOIN holds h ON h.id = hs.hold_id WHERE h.event_id = %s",
            (event_id,),
        )
        seats = await conn.fetch_all(
            "SELECT id, status, hold_id FROM event_seats WHERE event_id = %s", (event_id,)
        )
        payments = await conn.fetch_all(
            "SELECT id, hold_id, status, created_at FROM payments WHERE event_id = %s",
            (event_id,),
        )
        bookings = await conn.fetch_all(
            "SELECT payment_id, hold_id FROM bookings WHERE event_id = %s", (event_id,)
        )
        booked = await conn.fetch_all(
            "SELECT bs.event_seat_id, b.hold_id FROM booking_seats bs"
            " JOIN bookings b ON b.id = bs.booking_id WHERE b.event_id = %s",
            (event_id,),
        )
    seats_of: dict[str, set[int]] = defaultdict(set)
    for row in hold_seats:
        seats_of[row["hold_id"]].add(row["event_seat_id"])
    return Stored(
        holds={
            row["id"]: StoredHold(
                id=row["id"],
                user_id=row["user_id"],
                status=HoldStatus(row["status"]),
                created_ms=_ms(row["created_at"]),
                updated_ms=_ms(row["updated_at"]),
                expires_ms=_ms(row["expires_at"]),
            )
            for row in holds
        },
        hold_seats={hold: frozenset(seats) for hold, seats in seats_of.items()},
        seats={row["id"]: (SeatStatus(row["status"]), row["hold_id"]) for row in seats},
        payments={
            row["hold_id"]: StoredPayment(
                id=row["id"], status=PaymentStatus(row["status"]), created_ms=_ms(row["created_at"])
            )
            for row in payments
        },
        bookings={row["payment_id"]: row["hold_id"] for row in bookings},
        booked_seats={row["event_seat_id"]: row["hold_id"] for row in booked},
    )


def _ms(value: Any) -> int:
    ms = to_ms(value)
    assert ms is not None  # NOT NULL columns
    return ms


def _client_overlaps(grants: list[Grant]) -> Iterable[str]:
    """A seat granted again before its earlier grant can have ended, which is neither before
    the earlier buyer's DELETE left nor before the earlier hold's expiry."""
    by_seat: dict[int, list[Grant]] = defaultdict(list)
    for grant in grants:
        for seat in grant.seat_ids:
            by_seat[seat].append(grant)
    for seat, seat_grants in by_seat.items():
        seat_grants.sort(key=lambda grant: grant.created_ms)
        for earlier, later in itertools.pairwise(seat_grants):
            ends_at_earliest = earlier.expires_ms
            if earlier.release_sent_ms is not None:
                ends_at_earliest = min(ends_at_earliest, math.floor(earlier.release_sent_ms))
            if later.created_ms < ends_at_earliest:
                yield f"seat {seat}: {later.hold_id} granted while {earlier.hold_id} held it"


def _possession(hold: StoredHold) -> list[tuple[float, float]]:
    """When a hold kept its seats, as far as its row tells: an ended hold from creation to its
    last update; a booked one for good, except that one booked after its expiry (a good-faith
    payment for seats still free) may have let them go in between."""
    if hold.status in (HoldStatus.RELEASED, HoldStatus.EXPIRED):
        return [(hold.created_ms, hold.updated_ms)]
    if hold.status is HoldStatus.BOOKED and hold.updated_ms > hold.expires_ms:
        return [(hold.created_ms, hold.expires_ms), (hold.updated_ms, math.inf)]
    return [(hold.created_ms, math.inf)]


def _stored_overlaps(stored: Stored) -> Iterable[str]:
    spans: dict[int, list[tuple[float, float, str]]] = defaultdict(list)
    for hold_id, seats in stored.hold_seats.items():
        hold = stored.holds.get(hold_id)
        if hold is None:
            yield f"hold_seats names hold {hold_id}, which has no row"
            continue
        for start, end in _possession(hold):
            for seat in seats:
                spans[seat].append((start, end, hold_id))
    for seat, seat_spans in spans.items():
        seat_spans.sort()
        latest_end, latest_hold = -math.inf, ""
        for start, end, hold_id in seat_spans:
            if start < latest_end and hold_id != latest_hold:
                yield f"seat {seat}: held by {latest_hold} and {hold_id} at once"
            if end > latest_end:
                latest_end, latest_hold = end, hold_id


def _grants_recorded(grants: list[Grant], stored: Stored, unanswered_holds: int) -> Iterable[str]:
    for grant in grants:
        hold = stored.holds.get(grant.hold_id)
        if hold is None:
            yield f"{grant.hold_id} was granted but has no row"
            continue
        if hold.user_id != grant.user_id:
            yield f"{grant.hold_id} belongs to user {hold.user_id}, granted to {grant.user_id}"
        if set(grant.answered_seat_ids) != set(grant.seat_ids):
            yield f"{grant.hold_id}: asked for {grant.seat_ids}, got {grant.answered_seat_ids}"
        if stored.hold_seats.get(grant.hold_id) != frozenset(grant.seat_ids):
            yield f"{grant.hold_id}: hold_seats differ from the seats asked for"
        allowed = _MAY_END_AS.get(grant.done, _ENDED)
        if hold.status not in allowed:
            yield f"{grant.hold_id} ({grant.done}) ended as {hold.status.value}"
    if not unanswered_holds:
        granted = {grant.hold_id for grant in grants}
        for hold_id in stored.holds.keys() - granted:
            yield f"{hold_id} is in MariaDB, but every hold request was answered and none was it"


def _matches_engine(stored: Stored, live: dict[int, SeatStatus]) -> Iterable[str]:
    if live.keys() != stored.seats.keys():
        yield f"the engine has {len(live)} seats, MariaDB {len(stored.seats)}"
    for seat, (status, hold_id) in stored.seats.items():
        if seat in live and live[seat] is not status:
            yield f"seat {seat} is {status.value} in MariaDB, {live[seat].value} in the engine"
        booked_by = stored.booked_seats.get(seat)
        if (status is SeatStatus.BOOKED) != (booked_by is not None):
            yield f"seat {seat} is {status.value}, booking: {booked_by}"
        elif booked_by is not None and booked_by != hold_id:
            yield f"seat {seat} is booked by {booked_by}, its row names {hold_id}"


def _payments(grants: list[Grant], stored: Stored) -> Iterable[str]:
    for payment in stored.payments.values():
        booked = payment.id in stored.bookings
        if (payment.status is PaymentStatus.PAID) != booked:
            yield f"payment {payment.id} is {payment.status.value}, booked: {booked}"
    for payment_id, hold_id in stored.bookings.items():
        hold = stored.holds.get(hold_id)
        if hold is None or hold.status is not HoldStatus.BOOKED:
            yield f"booking of payment {payment_id}: hold {hold_id} is not booked"
    for grant in grants:
        if grant.done != "paid":
            continue
        paid = stored.payments.get(grant.hold_id)
        if paid is None:
            yield f"{grant.hold_id} was paid but has no payment"
            continue
        status = paid.status
        hold = stored.holds.get(grant.hold_id)
        booked = hold is not None and hold.status is HoldStatus.BOOKED
        if status is not PaymentStatus.PAID and status not in _REFUNDS:
            yield f"{grant.hold_id} was paid; its payment ended {status.value}"
        elif status in _REFUNDS and booked:
            yield f"{grant.hold_id} is booked, yet its payment is {status.value}"
