"""What an organizer's waiting-room save reads first: when the event's sale ends, with its row
locked so that saves of one event take turns.

A partial change (pause, a new rate) is a read of the stored settings, a merge and a write; two
organizers doing it at once must not both read the same version and lose one change. Plain reads
of the event are consistent snapshots and never wait for this lock, and only organizers' saves
write event rows (this one and `set_event_settings`), so it holds up no one but another save
of the same event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persistence.seat_state import to_ms

if TYPE_CHECKING:
    from persistence.database import Connection


async def lock_sale_end(conn: Connection, event_id: int) -> int | None:
    """When the event's sale ends (epoch ms), its row locked until the transaction ends; None:
    no such event."""
    ends = await conn.fetch_value(
        "SELECT sale_ends_at FROM events WHERE id = %s FOR UPDATE", (event_id,)
    )
    return to_ms(ends)
