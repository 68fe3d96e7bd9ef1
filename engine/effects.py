"""Everything one batch of decisions changes, gathered so it can be applied in one round trip.

The state module reports each seat and hold change here; `render` turns the lot into the
arguments of the apply script: seat locks as compare-and-set pairs (the value each lock had before
the batch and the value it must have after), hold records, stored results, expiry reminders, the
write-behind journal entry and the per-event seat-change publications.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypedDict

import orjson

from domain.statuses import SeatStatus
from engine.keys import ShardKeys

if TYPE_CHECKING:
    from engine.room import Place, WaitingRoom
    from engine.state import Hold, Seat

RESULT_TTL_MS: Final = 24 * 3600 * 1000
ENDED_HOLD_TTL_MS: Final = 24 * 3600 * 1000
# A held seat's lock outlives its hold by this much, so a lock never lapses before the actor (or
# the sweeper) has released it, yet a fully stopped system does not lock seats forever.
LOCK_GRACE_MS: Final = 5 * 60 * 1000


class JournalEntry(TypedDict):
    """One batch's rows for MariaDB: holds and event seats (latest state of each), and the
    holds whose payment-provider checkout sessions must be expired."""

    holds: list[list[Any]]
    seats: list[list[Any]]
    expire_sessions: list[str]


def lock_value(seat: Seat) -> str | None:
    """The value a seat's lock key holds in this state: its hold id while held. A booked seat
    needs no lock: it never changes again."""
    return seat.hold_id if seat.status is SeatStatus.HELD else None


@dataclass(slots=True)
class _LockChange:
    expected: str | None
    new: str | None
    px: int


class Effects:
    def __init__(self, keys: ShardKeys, now_ms: int) -> None:
        self._keys = keys
        self._now_ms = now_ms
        self._locks: dict[int, _LockChange] = {}
        self._seats: dict[int, Seat] = {}
        self._holds: dict[str, Hold] = {}
        self._changes: dict[int, dict[int, SeatStatus]] = {}
        self._expire_sessions: list[str] = []
        self._places: dict[tuple[int, int], Place] = {}
        self._rooms: dict[int, WaitingRoom] = {}
        self._published_rooms: set[int] = set()
        self.results: dict[str, bytes] = {}
        self.replies: list[tuple[str, bytes]] = []

    @property
    def changes_state(self) -> bool:
        """Whether seats or holds change: what MariaDB is written behind for."""
        return bool(self._seats or self._holds)

    @property
    def writes_anything(self) -> bool:
        """Whether the batch must be applied even if it took no command (a timer fired)."""
        return self.changes_state or bool(self._places or self._rooms)

    def seat_changing(self, seat: Seat) -> None:
        if seat.id not in self._locks:
            self._locks[seat.id] = _LockChange(expected=lock_value(seat), new=None, px=0)

    def seat_changed(self, seat: Seat) -> None:
        change = self._locks[seat.id]
        change.new = lock_value(seat)
        change.px = 0
        if seat.status is SeatStatus.HELD and seat.hold_expires_at_ms is not None:
            change.px = max(seat.hold_expires_at_ms - self._now_ms, 0) + LOCK_GRACE_MS
        self._seats[seat.id] = seat
        self._changes.setdefault(seat.event_id, {})[seat.id] = seat.status

    def put_hold(self, hold: Hold) -> None:
        self._holds[hold.id] = hold

    def put_place(self, event_id: int, place: Place) -> None:
        self._places[(event_id, place.user_id)] = place

    def room_changed(self, room: WaitingRoom) -> None:
        self._rooms[room.event_id] = room

    def publish_room(self, room: WaitingRoom) -> None:
        self._rooms[room.event_id] = room
        self._published_rooms.add(room.event_id)

    def expire_session(self, hold_id: str) -> None:
        self._expire_sessions.append(hold_id)

    def store_result(self, command_id: str, reply: bytes) -> None:
        self.results[command_id] = reply

    def reply(self, reply_to: str | None, reply: bytes) -> None:
        if reply_to is not None:
            self.replies.append((reply_to, reply))

    def journal_entry(self) -> JournalEntry:
        return {
            "holds": [
                [
                    h.id,
                    h.event_id,
                    h.user_id,
                    h.status.value,
                    h.expires_at_ms,
                    h.created_at_ms,
                    h.updated_at_ms,
                    list(h.seat_ids),
                ]
                for h in self._holds.values()
            ],
            "seats": [
                [
                    s.id,
                    s.event_id,
                    s.venue_seat_id,
                    s.status.value,
                    s.hold_id,
                    s.holder_id,
                    s.hold_expires_at_ms,
                    s.version,
                ]
                for s in self._seats.values()
            ],
            "expire_sessions": self._expire_sessions,
        }

    def render(self) -> tuple[list[str], bytes]:
        """The apply script's KEYS (fixed four first) and its JSON payload."""
        keys = self._keys
        key_list = [keys.fence, keys.inflight, keys.journal, keys.expiries]

        def index(key: str) -> int:
            key_list.append(key)
            return len(key_list)  # Lua indexes from 1

        seats = [
            [index(keys.lock(seat_id)), change.expected or False, change.new or False, change.px]
            for seat_id, change in self._locks.items()
            if change.expected != change.new or change.new is not None
        ]
        holds = []
        expiry_add: list[list[Any]] = []
        expiry_remove: list[str] = []
        for hold in self._holds.values():
            active = hold.status.is_active
            record = orjson.dumps(hold.view().to_wire()).decode()
            holds.append([index(keys.hold(hold.id)), record, 0 if active else ENDED_HOLD_TTL_MS])
            if active:
                expiry_add.append([str(hold.expires_at_ms), hold.id])
            else:
                expiry_remove.append(hold.id)
        results = [
            [index(keys.result(command_id)), reply.decode(), RESULT_TTL_MS]
            for command_id, reply in self.results.items()
        ]
        events = []
        for event_id, statuses in self._changes.items():
            flat: list[str] = []
            for seat_id, status in statuses.items():
                flat += (str(seat_id), status.value)
            changes = [{"seat_id": s, "status": st.value} for s, st in statuses.items()]
            events.append(
                [
                    index(keys.seat_status(event_id)),
                    index(keys.seat_seq(event_id)),
                    keys.seat_channel(event_id),
                    f'{{"type":"seats","event_id":{event_id},"at":{self._now_ms},"seq":',
                    flat,
                    orjson.dumps(changes).decode(),
                ]
            )
        places: dict[int, list[Any]] = {}
        for (event_id, user_id), place in self._places.items():
            if event_id not in places:
                places[event_id] = [index(keys.queue_places(event_id)), []]
            places[event_id][1] += (str(user_id), place.record(event_id).decode())
        rooms = [
            [
                index(keys.queue_room(event_id)),
                orjson.dumps(room.wire(self._now_ms)).decode(),
                keys.queue_channel(event_id) if event_id in self._published_rooms else False,
            ]
            for event_id, room in self._rooms.items()
        ]
        payload = {
            "places": list(places.values()),
            "rooms": rooms,
            "seats": seats,
            "holds": holds,
            "results": results,
            "exp_add": expiry_add,
            "exp_rem": expiry_remove,
            "journal": orjson.dumps(self.journal_entry()).decode() if self.changes_state else False,
            "events": events,
        }
        return key_list, orjson.dumps(payload)
