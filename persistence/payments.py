"""Every query on payments, their webhook events, bookings and the provider outbox.

A payment is planned (status `creating`, with the amount, currency and expiry that will be sent to
the provider) before the provider is called, so a retried checkout sends identical parameters.
A webhook's outcome and the event's id are written in one transaction, so an event is handled
once; the unique keys on `bookings` and `booking_seats` make a booking exactly-once even so.

Payments and bookings are stamped by this process in UTC. The outbox is timed by the database's
own clock throughout, because the engine's write-behind inserts its rows with the column default.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import orjson
from asyncmy.constants.ER import DUP_ENTRY
from asyncmy.errors import IntegrityError

from domain.statuses import PaymentStatus

if TYPE_CHECKING:
    from persistence.database import Connection, Row


class OutboxKind(enum.StrEnum):
    EXPIRE_SESSION = "expire_session"
    REFUND = "refund"


_PAYMENT_COLUMNS: Final = (
    "id, hold_id, user_id, event_id, provider, session_id, checkout_url, payment_intent_id,"
    " amount_minor, currency, status, expires_at"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentRow:
    id: int
    hold_id: str
    user_id: int
    event_id: int
    provider: str
    session_id: str | None
    checkout_url: str | None
    payment_intent_id: str | None
    amount_minor: int
    currency: str
    status: PaymentStatus
    expires_at: datetime  # aware, UTC


@dataclass(frozen=True, slots=True, kw_only=True)
class PricedSeat:
    id: int  # the event seat
    section: str
    row: str
    number: int
    category: str
    price: int


@dataclass(frozen=True, slots=True)
class CheckoutSeats:
    """A hold's seats with this event's prices, in seat order."""

    currency: str
    seats: tuple[PricedSeat, ...]

    @property
    def total(self) -> int:
        return sum(seat.price for seat in self.seats)


@dataclass(frozen=True, slots=True, kw_only=True)
class BookedEvent:
    id: int
    name: str
    venue: str
    starts_at: datetime
    time_zone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BookingRow:
    id: int
    event: BookedEvent
    seats: tuple[PricedSeat, ...]
    amount_minor: int
    currency: str
    payment_status: PaymentStatus
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxJob:
    id: int
    kind: OutboxKind
    payload: dict[str, Any]
    attempts: int  # including this one


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


# -- payments -------------------------------------------------------------------------------


async def checkout_seats(conn: Connection, event_id: int, seat_ids: Sequence[int]) -> CheckoutSeats:
    """The seats' prices for this event; `LookupError` if any seat is not the event's."""
    if not seat_ids:
        raise LookupError("a checkout needs at least one seat")
    marks = ", ".join(["%s"] * len(seat_ids))
    rows = await conn.fetch_all(
        "SELECT es.id, s.section, s.row_label, s.number, pc.code, ep.amount_minor, e.currency"  # noqa: S608 - placeholders only
        " FROM event_seats es"
        " JOIN events e ON e.id = es.event_id"
        " JOIN seats s ON s.id = es.seat_id"
        " JOIN price_categories pc ON pc.id = s.category_id"
        " JOIN event_prices ep ON ep.event_id = es.event_id AND ep.category_id = s.category_id"
        f" WHERE es.event_id = %s AND es.id IN ({marks}) ORDER BY es.id",
        (event_id, *seat_ids),
    )
    if len(rows) != len(set(seat_ids)):
        raise LookupError(f"seats {list(seat_ids)} are not all seats of event {event_id}")
    return CheckoutSeats(
        currency=str(rows[0]["currency"]),
        seats=tuple(_priced_seat(row) for row in rows),
    )


async def plan_payment(
    conn: Connection,
    *,
    hold_id: str,
    user_id: int,
    event_id: int,
    provider: str,
    amount_minor: int,
    currency: str,
    expires_at: datetime,
) -> PaymentRow:
    """The hold's payment: planned now, or the one planned before (whose values win)."""
    now = _utc_now()
    await conn.execute(
        "INSERT INTO payments (hold_id, user_id, event_id, provider, amount_minor, currency,"
        " status, expires_at, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'creating', %s, %s, %s)"
        " ON DUPLICATE KEY UPDATE id = id",
        (
            hold_id,
            user_id,
            event_id,
            provider,
            amount_minor,
            currency,
            _naive(expires_at),
            now,
            now,
        ),
    )
    payment = await find_payment_by_hold(conn, hold_id)
    if payment is None:  # pragma: no cover - the row was just written or already there
        raise LookupError(f"no payment for hold {hold_id}")
    return payment


async def open_payment(
    conn: Connection, payment_id: int, *, session_id: str, checkout_url: str
) -> PaymentRow:
    """Record the provider's session and return the payment as recorded: a concurrent request
    that recorded its session first wins, and every caller then hands out that one."""
    await conn.execute(
        "UPDATE payments SET session_id = %s, checkout_url = %s, status = 'open', updated_at = %s"
        " WHERE id = %s AND status = 'creating'",
        (session_id, checkout_url, _utc_now(), payment_id),
    )
    return await lock_payment(conn, payment_id)


async def find_payment_by_hold(conn: Connection, hold_id: str) -> PaymentRow | None:
    return await _payment(conn, "hold_id", hold_id, False)


async def find_payment_by_session(conn: Connection, session_id: str) -> PaymentRow | None:
    return await _payment(conn, "session_id", session_id, False)


async def get_payment(conn: Connection, payment_id: int) -> PaymentRow | None:
    return await _payment(conn, "id", payment_id, False)


async def lock_payment(conn: Connection, payment_id: int) -> PaymentRow:
    """A payment known to exist, locked until the transaction ends."""
    payment = await _payment(conn, "id", payment_id, True)
    if payment is None:
        raise LookupError(f"no payment {payment_id}")
    return payment


async def _payment(conn: Connection, column: str, value: object, lock: bool) -> PaymentRow | None:
    row = await conn.fetch_one(
        f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE {column} = %s"  # noqa: S608 - fixed names
        + (" FOR UPDATE" if lock else ""),
        (value,),
    )
    if row is None:
        return None
    return PaymentRow(
        id=int(row["id"]),
        hold_id=str(row["hold_id"]),
        user_id=int(row["user_id"]),
        event_id=int(row["event_id"]),
        provider=str(row["provider"]),
        session_id=row["session_id"],
        checkout_url=row["checkout_url"],
        payment_intent_id=row["payment_intent_id"],
        amount_minor=int(row["amount_minor"]),
        currency=str(row["currency"]),
        status=PaymentStatus(row["status"]),
        expires_at=row["expires_at"].replace(tzinfo=UTC),
    )


async def end_checkout(conn: Connection, payment_id: int, status: PaymentStatus) -> None:
    """Mark a checkout that ended unpaid (`failed` or `expired`); a payment that got further
    (paid, refunding) keeps its status."""
    await conn.execute(
        "UPDATE payments SET status = %s, updated_at = %s"
        " WHERE id = %s AND status IN ('creating', 'open')",
        (status.value, _utc_now(), payment_id),
    )


class SeatConflict(RuntimeError):
    """A seat of the booking is booked already (or otherwise cannot take it): the engine sold it
    twice, which only shard actors that disagreed on the shard count can do. The booking's
    transaction must be rolled back whole."""


async def book_payment(
    conn: Connection,
    payment: PaymentRow,
    *,
    payment_intent_id: str | None,
    seats: Sequence[PricedSeat],
) -> int:
    """The payment is paid and its seats are the buyer's: mark it, write the booking and one row
    per seat; return the booking id. Call with the payment row locked. `SeatConflict` if a seat
    is in another booking; the payment and booking rows written before it are then still in the
    transaction, so the caller must roll it back."""
    now = _utc_now()
    await conn.execute(
        "UPDATE payments SET status = 'paid', payment_intent_id = %s, updated_at = %s"
        " WHERE id = %s",
        (payment_intent_id, now, payment.id),
    )
    booking_id = await conn.insert(
        "INSERT INTO bookings (event_id, user_id, hold_id, payment_id, amount_minor, currency,"
        " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            payment.event_id,
            payment.user_id,
            payment.hold_id,
            payment.id,
            payment.amount_minor,
            payment.currency,
            now,
        ),
    )
    try:
        await conn.execute_many(
            "INSERT INTO booking_seats (booking_id, event_seat_id, amount_minor)"
            " VALUES (%s, %s, %s)",
            [(booking_id, seat.id, seat.price) for seat in seats],
        )
    except IntegrityError as exc:
        raise SeatConflict(f"seats {[seat.id for seat in seats]}: {exc.args[-1]}") from exc
    return booking_id


async def start_refund(
    conn: Connection, payment: PaymentRow, *, payment_intent_id: str | None
) -> None:
    """The buyer paid but gets no seats: mark the payment and ask the outbox for the refund.
    Call with the payment row locked."""
    await conn.execute(
        "UPDATE payments SET status = 'refund_pending', payment_intent_id = %s, updated_at = %s"
        " WHERE id = %s",
        (payment_intent_id, _utc_now(), payment.id),
    )
    await conn.execute(
        "INSERT INTO outbox (kind, dedupe_key, payload) VALUES ('refund', %s, %s)"
        " ON DUPLICATE KEY UPDATE id = id",
        (f"refund:{payment.id}", orjson.dumps({"payment_id": payment.id}).decode()),
    )


async def finish_refund(conn: Connection, payment_id: int) -> None:
    await conn.execute(
        "UPDATE payments SET status = 'refunded', updated_at = %s"
        " WHERE id = %s AND status = 'refund_pending'",
        (_utc_now(), payment_id),
    )


async def booking_id_of(conn: Connection, payment_id: int) -> int | None:
    found = await conn.fetch_value("SELECT id FROM bookings WHERE payment_id = %s", (payment_id,))
    return None if found is None else int(found)


async def event_name(conn: Connection, event_id: int) -> str | None:
    found = await conn.fetch_value("SELECT name FROM events WHERE id = %s", (event_id,))
    return None if found is None else str(found)


# -- webhook events -------------------------------------------------------------------------


async def event_seen(conn: Connection, event_id: str) -> bool:
    found = await conn.fetch_value("SELECT 1 FROM payment_events WHERE id = %s", (event_id,))
    return found is not None


async def record_event(
    conn: Connection, *, event_id: str, event_type: str, session_id: str | None
) -> bool:
    """Remember a handled event; False if it was handled already. A concurrent delivery of the
    same event waits here on the row lock, then finds it taken, so only one outcome commits."""
    try:
        await conn.execute(
            "INSERT INTO payment_events (id, type, session_id, received_at)"
            " VALUES (%s, %s, %s, %s)",
            (event_id, event_type, session_id, _utc_now()),
        )
    except IntegrityError as exc:
        if exc.args[0] == DUP_ENTRY:
            return False
        raise
    return True


# -- bookings -------------------------------------------------------------------------------


async def list_bookings(conn: Connection, user_id: int) -> list[BookingRow]:
    """The user's bookings, newest first, each with its seats in seat order."""
    rows = await conn.fetch_all(
        "SELECT b.id, b.event_id, e.name, v.name AS venue, e.starts_at, e.time_zone,"
        " b.amount_minor, b.currency, p.status AS payment_status, b.created_at"
        " FROM bookings b"
        " JOIN events e ON e.id = b.event_id"
        " JOIN venues v ON v.id = e.venue_id"
        " JOIN payments p ON p.id = b.payment_id"
        " WHERE b.user_id = %s ORDER BY b.created_at DESC, b.id DESC",
        (user_id,),
    )
    seat_rows = await conn.fetch_all(
        "SELECT bs.booking_id, es.id, s.section, s.row_label, s.number, pc.code,"
        " bs.amount_minor"
        " FROM bookings b"
        " JOIN booking_seats bs ON bs.booking_id = b.id"
        " JOIN event_seats es ON es.id = bs.event_seat_id"
        " JOIN seats s ON s.id = es.seat_id"
        " JOIN price_categories pc ON pc.id = s.category_id"
        " WHERE b.user_id = %s ORDER BY es.id",
        (user_id,),
    )
    seats: dict[int, list[PricedSeat]] = {}
    for row in seat_rows:
        seats.setdefault(int(row["booking_id"]), []).append(_priced_seat(row))
    return [
        BookingRow(
            id=int(row["id"]),
            event=BookedEvent(
                id=int(row["event_id"]),
                name=str(row["name"]),
                venue=str(row["venue"]),
                starts_at=row["starts_at"].replace(tzinfo=UTC),
                time_zone=str(row["time_zone"]),
            ),
            seats=tuple(seats.get(int(row["id"]), ())),
            amount_minor=int(row["amount_minor"]),
            currency=str(row["currency"]),
            payment_status=PaymentStatus(row["payment_status"]),
            created_at=row["created_at"].replace(tzinfo=UTC),
        )
        for row in rows
    ]


def _priced_seat(row: Row) -> PricedSeat:
    return PricedSeat(
        id=int(row["id"]),
        section=str(row["section"]),
        row=str(row["row_label"]),
        number=int(row["number"]),
        category=str(row["code"]),
        price=int(row["amount_minor"]),
    )


async def booked_seat_ids(conn: Connection, event_id: int, user_id: int) -> list[int] | None:
    """The event's seats the user has booked, in seat order; None if there is no such event.
    One query for all of them: the event's row comes back once with no seat when the user has
    booked none, and not at all when there is no event."""
    rows = await conn.fetch_all(
        "SELECT bs.event_seat_id FROM events e"
        " LEFT JOIN bookings b ON b.event_id = e.id AND b.user_id = %s"
        " LEFT JOIN booking_seats bs ON bs.booking_id = b.id"
        " WHERE e.id = %s ORDER BY bs.event_seat_id",
        (user_id, event_id),
    )
    if not rows:
        return None
    return [int(row["event_seat_id"]) for row in rows if row["event_seat_id"] is not None]


# -- outbox ---------------------------------------------------------------------------------


async def claim_outbox(conn: Connection, *, limit: int, lease_seconds: float) -> list[OutboxJob]:
    """Take up to `limit` due jobs for this worker. `SKIP LOCKED` lets workers in other
    processes claim other rows at the same moment; pushing `next_attempt_at` out by the lease
    keeps the claim after this transaction ends, and hands the job to another worker if this
    one dies before it reports."""
    rows = await conn.fetch_all(
        "SELECT id, kind, payload, attempts FROM outbox"
        " WHERE done_at IS NULL AND next_attempt_at <= CURRENT_TIMESTAMP(6)"
        " ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    )
    if not rows:
        return []
    ids = [int(row["id"]) for row in rows]
    marks = ", ".join(["%s"] * len(ids))
    await conn.execute(
        "UPDATE outbox SET attempts = attempts + 1,"  # noqa: S608 - placeholders only
        " next_attempt_at = CURRENT_TIMESTAMP(6) + INTERVAL %s MICROSECOND"
        f" WHERE id IN ({marks})",
        (round(lease_seconds * 1_000_000), *ids),
    )
    return [
        OutboxJob(
            id=int(row["id"]),
            kind=OutboxKind(row["kind"]),
            payload=orjson.loads(row["payload"]),
            attempts=int(row["attempts"]) + 1,
        )
        for row in rows
    ]


async def count_outbox_backlog(conn: Connection) -> int:
    """Jobs not done yet, due or backing off (read through the `done_at` index)."""
    count: int = await conn.fetch_value("SELECT COUNT(*) FROM outbox WHERE done_at IS NULL")
    return count


async def outbox_done(conn: Connection, job_id: int) -> None:
    await conn.execute(
        "UPDATE outbox SET done_at = CURRENT_TIMESTAMP(6), last_error = NULL WHERE id = %s",
        (job_id,),
    )


async def outbox_retry(conn: Connection, job_id: int, *, delay_seconds: float, error: str) -> None:
    await conn.execute(
        "UPDATE outbox SET next_attempt_at = CURRENT_TIMESTAMP(6) + INTERVAL %s MICROSECOND,"
        " last_error = %s WHERE id = %s AND done_at IS NULL",
        (round(delay_seconds * 1_000_000), error[:2000], job_id),
    )


async def prune_finished(
    conn: Connection, *, jobs_kept: timedelta, events_kept: timedelta, limit: int
) -> int:
    """Delete up to `limit` outbox jobs finished longer than `jobs_kept` ago and as many webhook
    events handled longer than `events_kept` ago; return how many rows went."""
    jobs = await conn.execute(
        "DELETE FROM outbox WHERE done_at IS NOT NULL"
        " AND done_at < CURRENT_TIMESTAMP(6) - INTERVAL %s SECOND LIMIT %s",
        (int(jobs_kept.total_seconds()), limit),
    )
    events = await conn.execute(
        "DELETE FROM payment_events"
        " WHERE received_at < CURRENT_TIMESTAMP(6) - INTERVAL %s SECOND LIMIT %s",
        (int(events_kept.total_seconds()), limit),
    )
    return jobs + events
