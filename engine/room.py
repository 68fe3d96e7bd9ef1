"""One event's waiting room in its shard actor's memory: the places, their fixed ranks, and the
admission that walks down the ranks at the organizer's rate.

Only the actor changes it, in its turns, so admission has one writer and one order: ranks are
admitted strictly in ascending order (`admitted_through` only grows), and every change reaches
Redis in the same fenced script as the batch's seat changes, before any reply or broadcast says
so. Every change goes through `_put_place` / `_room_changed`, which record it in the batch's
`Effects`.

Pre-queue places (joined before the sale starts) carry a secret 64-bit draw; the first decision at
or after the sale's start sorts them by it into ranks 1..P, a uniform shuffle, so arriving early
in the pre-queue buys no advantage. Later joiners get the next rank in arrival order.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from domain.waiting_room import QueueState, WaitingRoomSettings
from engine.protocol import PlaceView, RoomWire

if TYPE_CHECKING:
    from engine.effects import Effects

# How often a room admits and publishes its progress: the broadcast rate every waiting socket
# pays, and the delay before a freed slot goes to the next in line.
TICK_MS: Final = 1000
_MINUTE_MS: Final = 60_000
# 63 bits: every JSON reader keeps the draw exact.
_DRAW_BITS: Final = 63


@dataclass(slots=True)
class Place:
    id: str
    user_id: int
    state: QueueState
    joined_at_ms: int
    # The pre-queue's secret draw; it decides the rank when the sale starts and is never shown.
    draw: int
    rank: int | None = None
    admitted_at_ms: int | None = None
    session_expires_at_ms: int | None = None

    def view(self, event_id: int) -> PlaceView:
        return PlaceView(
            id=self.id,
            event_id=event_id,
            user_id=self.user_id,
            state=self.state,
            rank=self.rank,
            joined_at_ms=self.joined_at_ms,
            admitted_at_ms=self.admitted_at_ms,
            session_expires_at_ms=self.session_expires_at_ms,
        )

    def record(self, event_id: int) -> bytes:
        """What Redis keeps for the place: its view plus the draw, for a takeover to rebuild."""
        wire: dict[str, Any] = dict(self.view(event_id).to_wire())
        wire["draw"] = self.draw
        return orjson.dumps(wire)

    @classmethod
    def from_record(cls, raw: bytes | str) -> Place:
        wire = orjson.loads(raw)
        return cls(
            id=wire["id"],
            user_id=wire["user_id"],
            state=QueueState(wire["state"]),
            joined_at_ms=wire["joined_at_ms"],
            draw=wire["draw"],
            rank=wire["rank"],
            admitted_at_ms=wire["admitted_at_ms"],
            session_expires_at_ms=wire["session_expires_at_ms"],
        )


class WaitingRoom:
    def __init__(
        self,
        *,
        event_id: int,
        settings: WaitingRoomSettings,
        sale_starts_at_ms: int,
    ) -> None:
        self.event_id = event_id
        self.settings = settings
        self.sale_starts_at_ms = sale_starts_at_ms
        self.places: dict[int, Place] = {}
        # User ids by rank: `_by_rank[r - 1]` holds rank r.
        self._by_rank: list[int] = []
        self.shuffled = False
        self.admitted_through = 0
        self.waiting = 0
        self.inside = 0
        self.admitted_total = 0
        self._credit = 0.0
        self._last_tick_ms: int | None = None
        self._admitting_since_ms: int | None = None
        self._sessions: list[tuple[int, int]] = []
        self._recent: deque[tuple[int, int]] = deque()
        self._published: bytes | None = None
        self.next_tick_ms = 0

    # -- rebuilding after a takeover ------------------------------------------------------

    @classmethod
    def restore(
        cls,
        *,
        event_id: int,
        settings: WaitingRoomSettings,
        sale_starts_at_ms: int,
        room: RoomWire | None,
        places: Iterable[Place],
    ) -> WaitingRoom:
        """The room as the previous owner left it in Redis, under the organizer's settings as
        MariaDB has them (saved before they are sent, so never older than the actor's)."""
        restored = cls(event_id=event_id, settings=settings, sale_starts_at_ms=sale_starts_at_ms)
        for place in places:
            restored.places[place.user_id] = place
            if place.state.is_waiting:
                restored.waiting += 1
            if place.state is QueueState.ADMITTED and place.session_expires_at_ms is not None:
                restored.inside += 1
                heapq.heappush(restored._sessions, (place.session_expires_at_ms, place.user_id))
        ranked = sorted(
            (place for place in restored.places.values() if place.rank is not None),
            key=lambda place: place.rank or 0,
        )
        restored._by_rank = [place.user_id for place in ranked]
        if room is not None:
            restored.shuffled = room["shuffled"]
            restored.admitted_through = room["admitted_through"]
            restored.admitted_total = room["admitted_total"]
        restored.shuffled = restored.shuffled or bool(ranked)
        return restored

    # -- what the actor asks ---------------------------------------------------------------

    def admits(self, user_id: int, now_ms: int) -> bool:
        """Whether the buyer may hold seats now: admitted and inside their session."""
        place = self.places.get(user_id)
        return (
            place is not None
            and place.state is QueueState.ADMITTED
            and place.session_expires_at_ms is not None
            and place.session_expires_at_ms > now_ms
        )

    def join(self, user_id: int, now_ms: int, rng: random.Random, effects: Effects) -> Place:
        """The buyer's place: the one they have, or a new one at the back of the line."""
        place = self.places.get(user_id)
        if place is not None:
            return place
        if now_ms >= self.sale_starts_at_ms:
            self._shuffle(effects)
        place = Place(
            id="q" + uuid.uuid4().hex,
            user_id=user_id,
            state=QueueState.WAITING if self.shuffled else QueueState.PRE_QUEUE,
            joined_at_ms=now_ms,
            draw=rng.getrandbits(_DRAW_BITS) if not self.shuffled else 0,
        )
        if self.shuffled:
            self._by_rank.append(user_id)
            place.rank = len(self._by_rank)
        self.places[user_id] = place
        self.waiting += 1
        self._put_place(place, effects)
        self._room_changed(effects)
        return place

    def leave(self, user_id: int, now_ms: int, effects: Effects) -> Place | None:
        place = self.places.get(user_id)
        if place is None:
            return None
        self._end(place, QueueState.DONE, effects)
        return place

    def finish(self, user_id: int, effects: Effects) -> None:
        """The buyer booked: their session ends and its slot goes to the next in line."""
        place = self.places.get(user_id)
        if place is not None and place.state is QueueState.ADMITTED:
            self._end(place, QueueState.DONE, effects)

    def extend(self, user_id: int, until_ms: int, effects: Effects) -> None:
        """Keep the buyer's session running at least until `until_ms` (their hold's end)."""
        place = self.places.get(user_id)
        if (
            place is None
            or place.state is not QueueState.ADMITTED
            or (place.session_expires_at_ms or 0) >= until_ms
        ):
            return
        place.session_expires_at_ms = until_ms
        heapq.heappush(self._sessions, (until_ms, user_id))
        self._put_place(place, effects)

    def configure(self, settings: WaitingRoomSettings, effects: Effects) -> bool:
        """Apply newer settings; an older version (sent before one already applied) is ignored."""
        if settings.version <= self.settings.version:
            return False
        self.settings = settings
        self.next_tick_ms = 0  # takes effect from this turn's tick
        self._room_changed(effects)
        return True

    # -- the admission tick ----------------------------------------------------------------

    def tick(self, now_ms: int, effects: Effects) -> int:
        """Expire ended sessions, then admit the next ranks the rate and the cap allow, and
        publish the room if its progress changed; return how many were admitted. Run at most
        every `TICK_MS`."""
        self.next_tick_ms = now_ms + TICK_MS
        elapsed = 0 if self._last_tick_ms is None else max(now_ms - self._last_tick_ms, 0)
        self._last_tick_ms = now_ms
        if now_ms >= self.sale_starts_at_ms:
            self._shuffle(effects)
        self._expire_sessions(now_ms, effects)
        while self._recent and self._recent[0][0] <= now_ms - _MINUTE_MS:
            self._recent.popleft()
        settings = self.settings
        admitted = 0
        if not settings.enabled or settings.paused or not self.shuffled:
            self._credit = 0.0
            self._admitting_since_ms = None
        else:
            per_second = settings.admissions_per_minute / 60
            # About one second's worth at most (plus the fraction carried over): after a stall,
            # or while the cap holds admission back, the line does not surge in at once.
            self._credit = min(self._credit + elapsed * per_second / 1000, per_second + 1.0)
            if self._admitting_since_ms is None:
                # Admission (re)starts with one second's worth, as if it had run all along.
                self._admitting_since_ms = now_ms
                self._credit = max(per_second, 1.0)
            admitted = self._admit(now_ms, effects)
            if admitted:
                self._recent.append((now_ms, admitted))
        self._publish(now_ms, effects)
        return admitted

    def _admit(self, now_ms: int, effects: Effects) -> int:
        admitted = 0
        session_ms = self.settings.session_seconds * 1000
        while (
            self._credit >= 1.0
            and self.inside < self.settings.max_inside
            and self.admitted_through < len(self._by_rank)
        ):
            self.admitted_through += 1
            place = self.places[self._by_rank[self.admitted_through - 1]]
            if not place.state.is_waiting:
                continue  # left the line: passed over without using a slot
            place.state = QueueState.ADMITTED
            place.admitted_at_ms = now_ms
            place.session_expires_at_ms = now_ms + session_ms
            heapq.heappush(self._sessions, (place.session_expires_at_ms, place.user_id))
            self.waiting -= 1
            self.inside += 1
            self.admitted_total += 1
            self._credit -= 1.0
            admitted += 1
            self._put_place(place, effects)
        if admitted:
            self._room_changed(effects)
        return admitted

    def _expire_sessions(self, now_ms: int, effects: Effects) -> None:
        while self._sessions and self._sessions[0][0] <= now_ms:
            expires_at_ms, user_id = heapq.heappop(self._sessions)
            place = self.places.get(user_id)
            if (
                place is not None
                and place.state is QueueState.ADMITTED
                and place.session_expires_at_ms == expires_at_ms
            ):
                self._end(place, QueueState.EXPIRED, effects)

    def _shuffle(self, effects: Effects) -> None:
        """Rank the pre-queue by its secret draws, once, when the sale starts."""
        if self.shuffled:
            return
        self.shuffled = True
        pre_queue = sorted(
            (place for place in self.places.values() if place.state is QueueState.PRE_QUEUE),
            key=lambda place: (place.draw, place.user_id),
        )
        for place in pre_queue:
            self._by_rank.append(place.user_id)
            place.rank = len(self._by_rank)
            place.state = QueueState.WAITING
            self._put_place(place, effects)
        self._room_changed(effects)

    def _end(self, place: Place, state: QueueState, effects: Effects) -> None:
        if place.state is QueueState.ADMITTED:
            self.inside -= 1
        elif place.state.is_waiting:
            self.waiting -= 1
        else:
            return  # already ended
        place.state = state
        self._put_place(place, effects)
        self._room_changed(effects)

    # -- what the room looks like from outside ---------------------------------------------

    def rate_per_minute(self, now_ms: int) -> float:
        """The admission rate the waits are estimated with: what the last minute really
        admitted once the room has admitted for a minute with people waiting; before that the
        organizer's rate, or the rate sessions can end at if the cap binds sooner."""
        settings = self.settings
        if not settings.enabled or settings.paused:
            return 0.0
        if (
            self._admitting_since_ms is not None
            and now_ms - self._admitting_since_ms >= _MINUTE_MS
            and self.waiting
        ):
            observed = sum(count for _, count in self._recent)
            if observed:
                return float(observed)
        by_cap = settings.max_inside * 60 / settings.session_seconds
        return float(min(settings.admissions_per_minute, max(by_cap, 1.0)))

    def wire(self, now_ms: int) -> RoomWire:
        settings = self.settings
        return {
            "type": "queue",
            "event_id": self.event_id,
            "at": now_ms,
            "enabled": settings.enabled,
            "paused": settings.paused,
            "queue_opens_at_ms": settings.queue_opens_at_ms,
            "sale_starts_at_ms": self.sale_starts_at_ms,
            "admissions_per_minute": settings.admissions_per_minute,
            "max_inside": settings.max_inside,
            "session_seconds": settings.session_seconds,
            "version": settings.version,
            "shuffled": self.shuffled,
            "last_rank": len(self._by_rank),
            "admitted_through": self.admitted_through,
            "waiting": self.waiting,
            "inside": self.inside,
            "admitted_total": self.admitted_total,
            "admitted_last_minute": sum(count for _, count in self._recent),
            "rate_per_minute": self.rate_per_minute(now_ms),
        }

    def _put_place(self, place: Place, effects: Effects) -> None:
        effects.put_place(self.event_id, place)

    def _room_changed(self, effects: Effects) -> None:
        effects.room_changed(self)

    def _publish(self, now_ms: int, effects: Effects) -> None:
        """Publish the room if anything but its clock changed since the last broadcast."""
        wire = self.wire(now_ms)
        wire["at"] = 0
        fingerprint = orjson.dumps(wire)
        if fingerprint != self._published:
            self._published = fingerprint
            effects.publish_room(self)
