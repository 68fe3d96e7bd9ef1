"""Session-expiry requests in the outbox: written once, and re-armed on demand."""

from __future__ import annotations

from persistence import Database
from persistence.seat_state import enqueue_session_expiries

HOLD = "h1_" + "0" * 32


async def outbox_rows(db: Database) -> list[tuple[str, bool]]:
    async with db.transaction() as conn:
        rows = await conn.fetch_all("SELECT dedupe_key, done_at FROM outbox ORDER BY id")
    return [(row["dedupe_key"], row["done_at"] is not None) for row in rows]


async def test_a_request_is_written_once_and_rearmed_only_when_asked(db: Database) -> None:
    async with db.transaction() as conn:
        await enqueue_session_expiries(conn, [HOLD, HOLD])
        await conn.execute("UPDATE outbox SET done_at = CURRENT_TIMESTAMP(6)")
    assert await outbox_rows(db) == [(f"expire_session:{HOLD}", True)]

    async with db.transaction() as conn:
        await enqueue_session_expiries(conn, [HOLD])
    assert await outbox_rows(db) == [(f"expire_session:{HOLD}", True)], "done stays done"

    async with db.transaction() as conn:
        await enqueue_session_expiries(conn, [HOLD], rearm=True)
    assert await outbox_rows(db) == [(f"expire_session:{HOLD}", False)]
