"""Taking over a shard: rebuild its state before deciding anything.

The new owner first claims the MariaDB fence (older owners' flushes now fail), flushes whatever
the journal still holds, loads the shard's events, seats and active holds from MariaDB, and then
rewrites the shard's Redis state to match: seat locks, hold records, expiry reminders and the
live seat-status maps (with a `resync` notice so open seat maps fetch a fresh snapshot).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import orjson

from domain.seat_ranking import rank_seats
from domain.statuses import SeatStatus
from domain.waiting_room import WaitingRoomSettings
from engine.effects import LOCK_GRACE_MS, lock_value
from engine.keys import ShardKeys, shard_of
from engine.lease import LeaseLost
from engine.redis_client import RedisClient
from engine.room import Place, WaitingRoom
from engine.scripts import Scripts
from engine.seat_index import SeatIndex
from engine.state import Event, Hold, Seat, ShardState
from engine.writebehind import JournalFlusher
from persistence import Database, DatabaseUnavailable
from persistence.catalog import EventLayout, event_layout
from persistence.seat_state import (
    EventRow,
    HoldRow,
    SeatRow,
    claim_fence,
    load_active_holds,
    load_event,
    load_events,
    load_seats,
)
from persistence.waiting_rooms import get_waiting_room, load_waiting_rooms

log = logging.getLogger(__name__)

T = TypeVar("T")

_CHUNK: Final = 2000
# Events whose sale ended longer ago than this are not loaded; a late command loads them lazily.
_ENDED_EVENTS_KEPT_MS: Final = 24 * 3600 * 1000


def _event(row: EventRow, seats: Iterable[SeatRow], layout: EventLayout | None) -> Event:
    event = Event(
        id=row.id,
        sale_starts_at_ms=row.sale_starts_at_ms,
        sale_ends_at_ms=row.sale_ends_at_ms,
        max_seats_per_buyer=row.max_seats_per_buyer,
        no_single_gaps=row.no_single_gaps,
    )
    for seat in seats:
        event.seats[seat.id] = Seat(
            id=seat.id,
            event_id=seat.event_id,
            venue_seat_id=seat.venue_seat_id,
            status=seat.status,
            hold_id=seat.hold_id,
            holder_id=seat.holder_id,
            hold_expires_at_ms=seat.hold_expires_at_ms,
            version=seat.version,
        )
        if seat.status is not SeatStatus.AVAILABLE and seat.holder_id is not None:
            event.count_for(seat.holder_id, 1)
    if layout is not None:
        # Ranked once per load, so no decision ever sorts or scans the event's seats.
        event.seating = SeatIndex(rank_seats(layout.layout, layout.seat_ids), event.seats)
    return event


@dataclass(frozen=True, slots=True)
class LoadedEvent:
    """An event read from MariaDB with its active holds, for the actor to adopt."""

    event: Event
    holds: tuple[Hold, ...]


def _hold(row: HoldRow) -> Hold:
    return Hold(
        id=row.id,
        event_id=row.event_id,
        user_id=row.user_id,
        seat_ids=row.seat_ids,
        status=row.status,
        expires_at_ms=row.expires_at_ms,
        created_at_ms=row.created_at_ms,
        updated_at_ms=row.updated_at_ms,
    )


class ShardRecovery:
    def __init__(
        self,
        redis: RedisClient,
        db: Database,
        scripts: Scripts,
        keys: ShardKeys,
        *,
        shard_count: int,
        token: int,
    ) -> None:
        self._redis = redis
        self._db = db
        self._scripts = scripts
        self._keys = keys
        self._shard_count = shard_count
        self._token = token

    async def recover(self, state: ShardState, flusher: JournalFlusher, now_ms: int) -> None:
        await self._claim_fence()
        await flusher.drain()
        async with self._db.transaction() as conn:
            events = [
                row
                for row in await load_events(conn, ending_after_ms=now_ms - _ENDED_EVENTS_KEPT_MS)
                if shard_of(row.id, self._shard_count) == self._keys.shard
            ]
            event_ids = [row.id for row in events]
            seats = await load_seats(conn, event_ids)
            holds = await load_active_holds(conn, event_ids)
            rooms = await load_waiting_rooms(conn, event_ids)
            layouts = {event_id: await event_layout(conn, event_id) for event_id in event_ids}
        by_event: dict[int, list[SeatRow]] = {}
        for seat in seats:
            by_event.setdefault(seat.event_id, []).append(seat)
        for row in events:
            event = _event(row, by_event.get(row.id, ()), layouts.get(row.id))
            settings = rooms.get(row.id)
            if settings is not None:
                event.room = await self._restore_room(event, settings)
            state.add_event(event)
        for hold in holds:
            state.add_hold(_hold(hold))
        await self._restore_redis(state, now_ms)
        log.info(
            "shard %d recovered: %d events, %d seats, %d active holds (token %d)",
            self._keys.shard,
            len(events),
            len(seats),
            len(holds),
            self._token,
        )

    async def _claim_fence(self) -> None:
        # The row may be locked by a frozen former owner until the server ends its transaction
        # (FENCE_WAIT_SECONDS); keep trying while the lease is ours (the supervisor cancels
        # recovery the moment it is not).
        backoff = 0.1
        while True:
            try:
                async with self._db.transaction() as conn:
                    await claim_fence(conn, self._keys.shard, self._token)
                return
            except DatabaseUnavailable as exc:
                log.warning("shard %d: fence not claimed yet (%s)", self._keys.shard, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def load_event(self, event_id: int, now_ms: int) -> LoadedEvent | None:
        """Read an event the shard has not seen since it took over and restore its seat locks
        and seat map in Redis; None if there is no such event. The shard's state is left alone:
        this runs beside the actor's turns (engine.loader), and the actor adopts the result."""
        async with self._db.transaction() as conn:
            row = await load_event(conn, event_id)
            if row is None:
                return None
            seats = await load_seats(conn, [event_id])
            holds = await load_active_holds(conn, [event_id])
            room = await get_waiting_room(conn, event_id)
            layout = await event_layout(conn, event_id)
        event = _event(row, seats, layout)
        if room is not None:
            event.room = await self._restore_room(event, room)
        # No command of this event is decided until the actor adopts it, so nothing else
        # writes these keys meanwhile.
        await self._restore_locks(event.seats.values(), now_ms, existing=set())
        await self._restore_event_maps([event])
        return LoadedEvent(event, tuple(_hold(hold) for hold in holds))

    async def _restore_room(self, event: Event, settings: WaitingRoomSettings) -> WaitingRoom:
        """The event's queue as the last owner left it: places, ranks and admissions live in
        Redis only (written by the fenced apply script before any reply), the settings in
        MariaDB."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self._keys.queue_room(event.id))
            pipe.hvals(self._keys.queue_places(event.id))
            room, places = await pipe.execute()
        return WaitingRoom.restore(
            event_id=event.id,
            settings=settings,
            sale_starts_at_ms=event.sale_starts_at_ms,
            room=None if room is None else orjson.loads(room),
            places=(Place.from_record(raw) for raw in places),
        )

    async def _restore_redis(self, state: ShardState, now_ms: int) -> None:
        existing: set[str] = set()
        async for key in self._redis.scan_iter(match=self._keys.lock_pattern, count=1000):
            existing.add(key.decode())
        seats = [seat for event in state.events.values() for seat in event.seats.values()]
        await self._restore_locks(seats, now_ms, existing)
        active = [hold for hold in state.holds.values() if hold.status.is_active]
        first = True
        for chunk in _chunks(active):
            payload = _Payload(self._keys)
            if first:
                payload.clear(self._keys.expiries)
                first = False
            for hold in chunk:
                payload.hold(hold)
            await self._run(payload)
        if first:
            payload = _Payload(self._keys)
            payload.clear(self._keys.expiries)
            await self._run(payload)
        await self._restore_event_maps(list(state.events.values()))

    async def _restore_locks(self, seats: Iterable[Seat], now_ms: int, existing: set[str]) -> None:
        wanted: list[tuple[str, str | None, int]] = []
        for seat in seats:
            key = self._keys.lock(seat.id)
            value = lock_value(seat)
            existing.discard(key)
            if value is None:
                wanted.append((key, None, 0))
                continue
            px = 0
            if seat.status is SeatStatus.HELD and seat.hold_expires_at_ms is not None:
                px = max(seat.hold_expires_at_ms - now_ms, 0) + LOCK_GRACE_MS
            wanted.append((key, value, px))
        # Locks no loaded seat accounts for belong to nothing any more.
        wanted.extend((key, None, 0) for key in existing)
        for chunk in _chunks(wanted):
            payload = _Payload(self._keys)
            for key, value, px in chunk:
                payload.lock(key, value, px)
            await self._run(payload)

    async def _restore_event_maps(self, events: list[Event]) -> None:
        for event in events:
            payload = _Payload(self._keys)
            payload.statuses(event)
            await self._run(payload)

    async def _run(self, payload: _Payload) -> None:
        keys, argv = payload.render()
        outcome = await self._scripts.restore(
            keys=keys, args=[self._token, argv], client=self._redis
        )
        if outcome == b"fenced":
            raise LeaseLost(f"shard {self._keys.shard}: fenced during recovery")


class _Payload:
    """Arguments of the restore script, with keys passed in KEYS as Redis Cluster requires."""

    def __init__(self, keys: ShardKeys) -> None:
        self._shard_keys = keys
        self._keys: list[str] = [keys.fence]
        self._body: dict[str, list[Any]] = {
            "clear": [],
            "locks": [],
            "holds": [],
            "expiries": [],
            "statuses": [],
            "resync": [],
        }

    def _index(self, key: str) -> int:
        self._keys.append(key)
        return len(self._keys)

    def clear(self, key: str) -> None:
        self._body["clear"].append(self._index(key))

    def lock(self, key: str, value: str | None, px: int) -> None:
        self._body["locks"].append([self._index(key), value or False, px])

    def hold(self, hold: Hold) -> None:
        record = orjson.dumps(hold.view().to_wire()).decode()
        self._body["holds"].append([self._index(self._shard_keys.hold(hold.id)), record])
        self._body["expiries"].append(
            [self._index(self._shard_keys.expiries), str(hold.expires_at_ms), hold.id]
        )

    def statuses(self, event: Event) -> None:
        flat: list[str] = []
        for seat in event.seats.values():
            flat += (str(seat.id), seat.status.value)
        if flat:
            status_key = self._index(self._shard_keys.seat_status(event.id))
            self._body["statuses"].append([status_key, flat])
        self._body["resync"].append(
            [
                self._index(self._shard_keys.seat_seq(event.id)),
                self._shard_keys.seat_channel(event.id),
                event.id,
            ]
        )

    def render(self) -> tuple[list[str], bytes]:
        return self._keys, orjson.dumps(self._body)


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
