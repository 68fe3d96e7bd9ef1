"""The engine's MariaDB side: loading a shard's seats and holds, and the write-behind.

Write-behind transactions are fenced: each locks the shard's row in `shard_fences`, commits only
if the writer's token is still the newest, and records the last journal entry applied, so a
replayed entry is skipped rather than applied twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import orjson

from domain.statuses import HoldStatus, SeatStatus
from persistence.database import Connection, Row


class Fenced(RuntimeError):
    """A newer owner has claimed this shard; the write was refused."""


def to_datetime(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def to_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    return round(value.replace(tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class HoldRow:
    id: str
    event_id: int
    user_id: int
    status: HoldStatus
    expires_at_ms: int
    created_at_ms: int
    updated_at_ms: int
    seat_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SeatRow:
    id: int
    event_id: int
    venue_seat_id: int
    status: SeatStatus
    hold_id: str | None
    holder_id: int | None
    hold_expires_at_ms: int | None
    version: int


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    sale_starts_at_ms: int
    sale_ends_at_ms: int
    max_seats_per_buyer: int
    no_single_gaps: bool


@dataclass(frozen=True, slots=True)
class JournalBatch:
    """One journal entry: the rows one batch of decisions changed, and the holds whose
    payment-provider sessions must now be expired."""

    entry_id: str
    holds: Sequence[HoldRow]
    seats: Sequence[SeatRow]
    expire_sessions: Sequence[str]


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


# A frozen owner (paused, partitioned) may be inside a flush holding the fence row. The server
# ends such a transaction after this many idle seconds, and a new owner waits no longer than this
# for the row, so a takeover never stalls behind a process that cannot move.
FENCE_WAIT_SECONDS: Final = 2


async def _bound_fence_waits(conn: Connection) -> None:
    await conn.execute(
        "SET SESSION innodb_lock_wait_timeout = %s, idle_transaction_timeout = %s",
        (FENCE_WAIT_SECONDS, FENCE_WAIT_SECONDS),
    )


async def claim_fence(conn: Connection, shard: int, token: int) -> None:
    """Make `token` the shard's newest; older owners' flushes fail from now on."""
    await _bound_fence_waits(conn)
    await conn.execute(
        "INSERT INTO shard_fences (shard, token) VALUES (%s, %s)"
        " ON DUPLICATE KEY UPDATE token = GREATEST(token, VALUES(token)),"
        " updated_at = CURRENT_TIMESTAMP(6)",
        (shard, token),
    )
    current = await conn.fetch_value("SELECT token FROM shard_fences WHERE shard = %s", (shard,))
    if current != token:
        raise Fenced(f"shard {shard}: token {token} is older than {current}")


async def apply_journal(
    conn: Connection,
    shard: int,
    token: int,
    entries: Sequence[JournalBatch],
) -> int:
    """Apply journal entries in order; return how many were new."""
    await _bound_fence_waits(conn)
    fence = await conn.fetch_one(
        "SELECT token, last_journal_id FROM shard_fences WHERE shard = %s FOR UPDATE", (shard,)
    )
    if fence is None or int(fence["token"]) != token:
        raise Fenced(f"shard {shard}: token {token} is not the newest")
    last = _stream_id(str(fence["last_journal_id"]))
    fresh = [entry for entry in entries if _stream_id(entry.entry_id) > last]
    if not fresh:
        return 0
    holds: dict[str, HoldRow] = {}
    seats: dict[int, SeatRow] = {}
    expire_sessions: list[str] = []
    for entry in fresh:
        for hold in entry.holds:
            holds[hold.id] = hold
        for seat in entry.seats:
            seats[seat.id] = seat
        expire_sessions.extend(entry.expire_sessions)
    if holds:
        await conn.execute_many(
            "INSERT INTO holds (id, event_id, user_id, status, expires_at, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON DUPLICATE KEY UPDATE status = VALUES(status), expires_at = VALUES(expires_at),"
            " updated_at = VALUES(updated_at)",
            [
                (
                    h.id,
                    h.event_id,
                    h.user_id,
                    h.status.value,
                    to_datetime(h.expires_at_ms),
                    to_datetime(h.created_at_ms),
                    to_datetime(h.updated_at_ms),
                )
                for h in holds.values()
            ],
        )
        await conn.execute_many(
            # A hold's seats never change; re-sent rows are no-ops (and raise no warnings, unlike
            # INSERT IGNORE).
            "INSERT INTO hold_seats (hold_id, event_seat_id) VALUES (%s, %s)"
            " ON DUPLICATE KEY UPDATE hold_id = hold_id",
            [(h.id, seat_id) for h in holds.values() for seat_id in h.seat_ids],
        )
    if seats:
        await conn.execute_many(
            "INSERT INTO event_seats"
            " (id, event_id, seat_id, status, hold_id, holder_id, hold_expires_at, version)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON DUPLICATE KEY UPDATE status = VALUES(status), hold_id = VALUES(hold_id),"
            " holder_id = VALUES(holder_id), hold_expires_at = VALUES(hold_expires_at),"
            " version = VALUES(version)",
            [
                (
                    s.id,
                    s.event_id,
                    s.venue_seat_id,
                    s.status.value,
                    s.hold_id,
                    s.holder_id,
                    to_datetime(s.hold_expires_at_ms),
                    s.version,
                )
                for s in seats.values()
            ],
        )
    await enqueue_session_expiries(conn, expire_sessions)
    await conn.execute(
        "UPDATE shard_fences SET last_journal_id = %s, updated_at = CURRENT_TIMESTAMP(6)"
        " WHERE shard = %s",
        (fresh[-1].entry_id, shard),
    )
    return len(fresh)


_ENQUEUE_SESSION_EXPIRY: Final = (
    "INSERT INTO outbox (kind, dedupe_key, payload) VALUES ('expire_session', %s, %s)"
    " ON DUPLICATE KEY UPDATE id = id"
)
_REARM_SESSION_EXPIRY: Final = (
    "INSERT INTO outbox (kind, dedupe_key, payload) VALUES ('expire_session', %s, %s)"
    " ON DUPLICATE KEY UPDATE done_at = NULL, attempts = 0,"
    " next_attempt_at = CURRENT_TIMESTAMP(6)"
)


async def enqueue_session_expiries(
    conn: Connection, hold_ids: Sequence[str], *, rearm: bool = False
) -> None:
    """Ask the outbox worker to expire these holds' checkout sessions: once each, or, with
    `rearm`, again even if an earlier request is done."""
    await conn.execute_many(
        _REARM_SESSION_EXPIRY if rearm else _ENQUEUE_SESSION_EXPIRY,
        [
            (f"expire_session:{hold_id}", orjson.dumps({"hold_id": hold_id}).decode())
            for hold_id in hold_ids
        ],
    )


async def load_events(conn: Connection, *, ending_after_ms: int) -> list[EventRow]:
    rows = await conn.fetch_all(
        "SELECT id, sale_starts_at, sale_ends_at, max_seats_per_buyer, no_single_gaps"
        " FROM events WHERE sale_ends_at > %s",
        (to_datetime(ending_after_ms),),
    )
    return [_event(row) for row in rows]


async def load_event(conn: Connection, event_id: int) -> EventRow | None:
    row = await conn.fetch_one(
        "SELECT id, sale_starts_at, sale_ends_at, max_seats_per_buyer, no_single_gaps"
        " FROM events WHERE id = %s",
        (event_id,),
    )
    return None if row is None else _event(row)


def _event(row: Row) -> EventRow:
    return EventRow(
        id=int(row["id"]),
        sale_starts_at_ms=to_ms(row["sale_starts_at"]) or 0,
        sale_ends_at_ms=to_ms(row["sale_ends_at"]) or 0,
        max_seats_per_buyer=int(row["max_seats_per_buyer"]),
        no_single_gaps=bool(row["no_single_gaps"]),
    )


async def load_seats(conn: Connection, event_ids: Sequence[int]) -> list[SeatRow]:
    if not event_ids:
        return []
    marks = ", ".join(["%s"] * len(event_ids))
    sql = (
        "SELECT id, event_id, seat_id, status, hold_id, holder_id, hold_expires_at, version"  # noqa: S608
        f" FROM event_seats WHERE event_id IN ({marks})"
    )
    rows = await conn.fetch_all(sql, tuple(event_ids))
    return [
        SeatRow(
            id=int(row["id"]),
            event_id=int(row["event_id"]),
            venue_seat_id=int(row["seat_id"]),
            status=SeatStatus(row["status"]),
            hold_id=row["hold_id"],
            holder_id=None if row["holder_id"] is None else int(row["holder_id"]),
            hold_expires_at_ms=to_ms(row["hold_expires_at"]),
            version=int(row["version"]),
        )
        for row in rows
    ]


async def load_active_holds(conn: Connection, event_ids: Sequence[int]) -> list[HoldRow]:
    if not event_ids:
        return []
    marks = ", ".join(["%s"] * len(event_ids))
    sql = (
        "SELECT h.id, h.event_id, h.user_id, h.status, h.expires_at, h.created_at, h.updated_at,"  # noqa: S608
        " GROUP_CONCAT(hs.event_seat_id ORDER BY hs.event_seat_id) AS seat_ids"
        " FROM holds h JOIN hold_seats hs ON hs.hold_id = h.id"
        f" WHERE h.event_id IN ({marks}) AND h.status IN ('held', 'checkout')"
        " GROUP BY h.id"
    )
    rows = await conn.fetch_all(sql, tuple(event_ids))
    return [_hold(row) for row in rows]


async def get_hold(conn: Connection, hold_id: str) -> HoldRow | None:
    row = await conn.fetch_one(
        "SELECT h.id, h.event_id, h.user_id, h.status, h.expires_at, h.created_at, h.updated_at,"
        " GROUP_CONCAT(hs.event_seat_id ORDER BY hs.event_seat_id) AS seat_ids"
        " FROM holds h JOIN hold_seats hs ON hs.hold_id = h.id WHERE h.id = %s GROUP BY h.id",
        (hold_id,),
    )
    return None if row is None else _hold(row)


async def overdue_holds(conn: Connection, *, expired_before_ms: int, limit: int) -> list[HoldRow]:
    """Holds MariaDB still sees as active past their expiry: the sweeper's second source."""
    rows = await conn.fetch_all(
        "SELECT h.id, h.event_id, h.user_id, h.status, h.expires_at, h.created_at, h.updated_at,"
        " GROUP_CONCAT(hs.event_seat_id ORDER BY hs.event_seat_id) AS seat_ids"
        " FROM holds h JOIN hold_seats hs ON hs.hold_id = h.id"
        " WHERE h.status IN ('held', 'checkout') AND h.expires_at < %s"
        " GROUP BY h.id ORDER BY h.expires_at LIMIT %s",
        (to_datetime(expired_before_ms), limit),
    )
    return [_hold(row) for row in rows]


def _hold(row: Row) -> HoldRow:
    seat_ids = str(row["seat_ids"] or "")
    return HoldRow(
        id=str(row["id"]),
        event_id=int(row["event_id"]),
        user_id=int(row["user_id"]),
        status=HoldStatus(str(row["status"])),
        expires_at_ms=to_ms(row["expires_at"]) or 0,
        created_at_ms=to_ms(row["created_at"]) or 0,
        updated_at_ms=to_ms(row["updated_at"]) or 0,
        seat_ids=tuple(int(part) for part in seat_ids.split(",") if part),
    )
