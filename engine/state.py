"""A shard's seats and holds in memory, and the rules that change them.

Only the shard's actor touches this, one batch at a time, so no locking is needed: the actor
decides here, then makes the batch's effects durable in one Redis round trip. Every change goes
through `_set_seat` / `_put_hold`, which record it in the batch's `Effects`.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from domain.statuses import HoldStatus, SeatStatus
from engine.effects import Effects
from engine.protocol import (
    BeginCheckoutRequest,
    BestAvailableRequest,
    CancelCheckoutRequest,
    ConfigureEventRequest,
    ConfigureQueueRequest,
    ConfirmRequest,
    ExpireRequest,
    HoldRequest,
    HoldView,
    JoinQueueRequest,
    LeaveQueueRequest,
    RejectCode,
    ReleaseRequest,
    Reply,
    new_hold_id,
)
from engine.room import WaitingRoom
from engine.seat_index import SeatFilter, SeatIndex, Shortfall


@dataclass(slots=True)
class Seat:
    id: int
    event_id: int
    venue_seat_id: int
    status: SeatStatus = SeatStatus.AVAILABLE
    hold_id: str | None = None
    holder_id: int | None = None
    hold_expires_at_ms: int | None = None
    version: int = 0


@dataclass(slots=True)
class Event:
    id: int
    sale_starts_at_ms: int
    sale_ends_at_ms: int
    max_seats_per_buyer: int
    seats: dict[int, Seat] = field(default_factory=dict)
    # Held plus booked seats per buyer, for the per-buyer cap.
    seats_by_buyer: dict[int, int] = field(default_factory=dict)
    room: WaitingRoom | None = None
    # Refuse holds that strand a single free seat (the organizer's `no_single_gaps`).
    no_single_gaps: bool = False
    # Free seats by line, for best-available and the no-orphan rule; None only for events
    # built without a layout (tests of the other rules).
    seating: SeatIndex | None = None

    @property
    def gated(self) -> bool:
        """Whether holds and checkouts need an admission from the waiting room."""
        return self.room is not None and self.room.settings.enabled

    def count_for(self, user_id: int, delta: int) -> None:
        count = self.seats_by_buyer.get(user_id, 0) + delta
        if count:
            self.seats_by_buyer[user_id] = count
        else:
            self.seats_by_buyer.pop(user_id, None)


@dataclass(slots=True)
class Hold:
    id: str
    event_id: int
    user_id: int
    seat_ids: tuple[int, ...]
    status: HoldStatus
    expires_at_ms: int
    created_at_ms: int
    updated_at_ms: int

    def view(self) -> HoldView:
        return HoldView(
            id=self.id,
            event_id=self.event_id,
            user_id=self.user_id,
            seat_ids=self.seat_ids,
            status=self.status,
            expires_at_ms=self.expires_at_ms,
            created_at_ms=self.created_at_ms,
        )


class ShardState:
    def __init__(self, *, hold_ttl_ms: int, rng: random.Random | None = None) -> None:
        self.hold_ttl_ms = hold_ttl_ms
        self.events: dict[int, Event] = {}
        self.holds: dict[str, Hold] = {}
        self._expiries: list[tuple[int, str]] = []
        # The pre-queue's draws: secret and uniform in production; tests inject a seeded one.
        self._rng = rng if rng is not None else random.SystemRandom()
        self._rooms: dict[int, WaitingRoom] = {}

    def add_event(self, event: Event) -> None:
        self.events[event.id] = event
        if event.room is not None:
            self._rooms[event.id] = event.room

    def add_hold(self, hold: Hold) -> None:
        """Adopt a hold loaded from storage (recovery)."""
        self.holds[hold.id] = hold
        if hold.status.is_active:
            heapq.heappush(self._expiries, (hold.expires_at_ms, hold.id))

    # -- expiry timers -------------------------------------------------------------------

    def next_expiry_ms(self) -> int | None:
        while self._expiries:
            expires_at_ms, hold_id = self._expiries[0]
            hold = self.holds.get(hold_id)
            if hold is not None and hold.status.is_active and hold.expires_at_ms == expires_at_ms:
                return expires_at_ms
            heapq.heappop(self._expiries)  # stale: the hold ended or moved
        return None

    def due_expiries(self, now_ms: int) -> Iterator[str]:
        while (next_ms := self.next_expiry_ms()) is not None and next_ms <= now_ms:
            yield heapq.heappop(self._expiries)[1]

    # -- decisions -----------------------------------------------------------------------

    def hold(self, request: HoldRequest, now_ms: int, effects: Effects) -> Reply:
        event = self.events.get(request.event_id)
        if event is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_EVENT, "No such event")
        seat_ids = request.seat_ids
        if not seat_ids:
            return Reply.reject(request.id, RejectCode.INVALID, "Name at least one seat")
        if len(set(seat_ids)) != len(seat_ids):
            return Reply.reject(request.id, RejectCode.INVALID, "A seat is named twice")
        closed = self._closed(event, request.id, request.user_id, now_ms)
        if closed is not None:
            return closed
        unknown = [seat_id for seat_id in seat_ids if seat_id not in event.seats]
        if unknown:
            return Reply.reject(
                request.id,
                RejectCode.UNKNOWN_SEATS,
                "These seats are not part of this event",
                seat_ids=unknown,
            )
        taken = [sid for sid in seat_ids if event.seats[sid].status is not SeatStatus.AVAILABLE]
        if taken:
            return Reply.reject(
                request.id,
                RejectCode.SEATS_UNAVAILABLE,
                "Some of these seats were just taken",
                seat_ids=taken,
            )
        over = _over_limit(event, request.id, request.user_id, len(seat_ids))
        if over is not None:
            return over
        if event.no_single_gaps and event.seating is not None:
            stranded = event.seating.stranded_by(seat_ids)
            if stranded is not None:
                return Reply.reject(
                    request.id,
                    RejectCode.ORPHAN_SEAT,
                    f"These seats would leave seat {stranded.number} in row {stranded.row} of "
                    f"{stranded.section} on its own, and a single seat is never sold: move your "
                    "choice by one seat so it takes that seat too or leaves it a neighbour",
                    seat_id=stranded.seat_id,
                    section=stranded.section,
                    row=stranded.row,
                    number=stranded.number,
                )
        return self._grant(event, request.id, request.user_id, seat_ids, now_ms, effects)

    def hold_best(self, request: BestAvailableRequest, now_ms: int, effects: Effects) -> Reply:
        """Choose and hold the best free seats in one decision, so nobody can take them between
        the choice and the hold."""
        event = self.events.get(request.event_id)
        if event is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_EVENT, "No such event")
        if request.count < 1:
            return Reply.reject(request.id, RejectCode.INVALID, "Ask for at least one seat")
        seating = event.seating
        if seating is None:
            # Only an event loaded without its layout (tests of the rules alone) lacks one.
            return Reply.reject(
                request.id, RejectCode.INVALID, "This event does not offer best available seats"
            )
        for name, asked, known in (
            ("categories", request.categories, seating.categories),
            ("sections", request.sections, seating.sections),
        ):
            unknown_names = sorted(set(asked) - known)
            if unknown_names:
                return Reply.reject(
                    request.id,
                    RejectCode.INVALID,
                    f"This event has no {name} {', '.join(unknown_names)}",
                    field=f"best_available.{name}",
                )
        closed = self._closed(event, request.id, request.user_id, now_ms)
        if closed is not None:
            return closed
        over = _over_limit(event, request.id, request.user_id, request.count)
        if over is not None:
            return over
        found = seating.best(
            request.count,
            SeatFilter(frozenset(request.categories), frozenset(request.sections)),
            together=request.together,
            no_single_gaps=event.no_single_gaps,
        )
        if isinstance(found, Shortfall):
            return Reply.reject(
                request.id,
                RejectCode.SEATS_UNAVAILABLE,
                _shortfall_message(found, request),
                reason=found.value,
                count=request.count,
            )
        return self._grant(event, request.id, request.user_id, found, now_ms, effects)

    def _closed(self, event: Event, command_id: str, user_id: int, now_ms: int) -> Reply | None:
        """Why this buyer may not hold seats of `event` now, if they may not."""
        if not event.sale_starts_at_ms <= now_ms < event.sale_ends_at_ms:
            return Reply.reject(
                command_id, RejectCode.SALE_NOT_OPEN, "Tickets for this event are not on sale now"
            )
        if event.gated and not (event.room and event.room.admits(user_id, now_ms)):
            return _not_admitted(command_id, event.id)
        return None

    def _grant(
        self,
        event: Event,
        command_id: str,
        user_id: int,
        seat_ids: tuple[int, ...],
        now_ms: int,
        effects: Effects,
    ) -> Reply:
        """Hold free `seat_ids` for `user_id`: every check has passed."""
        hold = Hold(
            id=new_hold_id(event.id),
            event_id=event.id,
            user_id=user_id,
            seat_ids=seat_ids,
            status=HoldStatus.HELD,
            expires_at_ms=now_ms + self.hold_ttl_ms,
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
        )
        for seat_id in seat_ids:
            seat = event.seats[seat_id]
            self._set_seat(seat, SeatStatus.HELD, hold.id, user_id, hold.expires_at_ms, effects)
        event.count_for(user_id, len(seat_ids))
        self.holds[hold.id] = hold
        heapq.heappush(self._expiries, (hold.expires_at_ms, hold.id))
        effects.put_hold(hold)
        if event.room is not None:
            # A session runs at least as long as the holds made in it.
            event.room.extend(user_id, hold.expires_at_ms, effects)
        return Reply(command_id=command_id, hold=hold.view())

    def release(self, request: ReleaseRequest, now_ms: int, effects: Effects) -> Reply:
        hold = self.holds.get(request.hold_id)
        # Someone else's hold answers exactly like a missing one: ids are not an oracle.
        if hold is None or hold.user_id != request.user_id:
            return Reply.reject(request.id, RejectCode.UNKNOWN_HOLD, "No such hold")
        if hold.status.is_active:
            self._end_hold(hold, HoldStatus.RELEASED, now_ms, effects)
        return Reply(command_id=request.id, hold=hold.view())

    def begin_checkout(self, request: BeginCheckoutRequest, now_ms: int, effects: Effects) -> Reply:
        hold = self.holds.get(request.hold_id)
        if hold is None or hold.user_id != request.user_id:
            return Reply.reject(request.id, RejectCode.UNKNOWN_HOLD, "No such hold")
        event = self.events.get(hold.event_id)
        if (
            event is not None
            and event.gated
            and event.room is not None
            and not event.room.admits(request.user_id, now_ms)
        ):
            # A session runs at least as long as the holds made in it, so this refuses only a
            # buyer who left or booked since, or a hold made before the room was switched on.
            return _not_admitted(request.id, hold.event_id)
        if hold.status is HoldStatus.HELD:
            hold.status = HoldStatus.CHECKOUT
            hold.updated_at_ms = now_ms
            effects.put_hold(hold)
        elif hold.status is not HoldStatus.CHECKOUT:
            return Reply.reject(
                request.id,
                RejectCode.HOLD_NOT_ACTIVE,
                f"This hold has ended ({hold.status.value}); hold the seats again",
                hold_status=hold.status.value,
            )
        return Reply(command_id=request.id, hold=hold.view())

    def confirm(self, request: ConfirmRequest, now_ms: int, effects: Effects) -> Reply:
        """Book a paid hold's seats: always while the hold is active; after it ended only if
        every seat is still free (the buyer paid in good faith). Otherwise the payment is to be
        refunded, which the rejection tells the caller."""
        event = self.events.get(request.event_id)
        if event is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_EVENT, "No such event")
        hold = self.holds.get(request.hold_id)
        if hold is not None and hold.status is HoldStatus.BOOKED:
            return Reply(command_id=request.id, hold=hold.view())
        seat_ids = hold.seat_ids if hold is not None else request.seat_ids
        seats = [event.seats.get(seat_id) for seat_id in seat_ids]
        known = [seat for seat in seats if seat is not None]
        if not known or len(known) != len(seats):
            return Reply.reject(
                request.id, RejectCode.UNKNOWN_SEATS, "These seats are not part of this event"
            )
        if hold is None and all(
            seat.status is SeatStatus.BOOKED and seat.hold_id == request.hold_id for seat in known
        ):
            # Booked before this owner took over; the hold itself was not reloaded.
            hold = self._booked_hold(request, seat_ids, now_ms)
            return Reply(command_id=request.id, hold=hold.view())
        active = hold is not None and hold.status.is_active
        if not active:
            taken = [seat.id for seat in known if seat.status is not SeatStatus.AVAILABLE]
            if taken:
                return Reply.reject(
                    request.id,
                    RejectCode.SEATS_UNAVAILABLE,
                    "The hold expired and its seats were sold to someone else",
                    seat_ids=taken,
                )
            event.count_for(request.user_id, len(known))
        if hold is None:
            hold = self._booked_hold(request, seat_ids, now_ms)
        for seat in known:
            self._set_seat(seat, SeatStatus.BOOKED, hold.id, hold.user_id, None, effects)
        hold.status = HoldStatus.BOOKED
        hold.updated_at_ms = now_ms
        effects.put_hold(hold)
        if event.room is not None:
            event.room.finish(hold.user_id, effects)
        return Reply(command_id=request.id, hold=hold.view())

    def _booked_hold(self, request: ConfirmRequest, seat_ids: tuple[int, ...], now_ms: int) -> Hold:
        hold = Hold(
            id=request.hold_id,
            event_id=request.event_id,
            user_id=request.user_id,
            seat_ids=seat_ids,
            status=HoldStatus.BOOKED,
            expires_at_ms=now_ms,
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
        )
        self.holds[hold.id] = hold
        return hold

    def cancel_checkout(
        self, request: CancelCheckoutRequest, now_ms: int, effects: Effects
    ) -> Reply:
        hold = self.holds.get(request.hold_id)
        if hold is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_HOLD, "No such hold")
        if hold.status is HoldStatus.CHECKOUT:
            # The provider's session has ended by itself: nothing to expire there.
            self._end_hold(hold, HoldStatus.RELEASED, now_ms, effects, expire_session=False)
        return Reply(command_id=request.id, hold=hold.view())

    def expire(self, request: ExpireRequest, now_ms: int, effects: Effects) -> Reply:
        hold = self.holds.get(request.hold_id)
        if hold is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_HOLD, "No such hold")
        if hold.status.is_active and hold.expires_at_ms <= now_ms:
            self._end_hold(hold, HoldStatus.EXPIRED, now_ms, effects)
        return Reply(command_id=request.id, hold=hold.view())

    # -- the waiting room ----------------------------------------------------------------

    def join_queue(self, request: JoinQueueRequest, now_ms: int, effects: Effects) -> Reply:
        event = self.events.get(request.event_id)
        if event is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_EVENT, "No such event")
        room = event.room
        if room is None or not room.settings.enabled:
            return Reply.reject(
                request.id, RejectCode.NO_WAITING_ROOM, "This event has no waiting room"
            )
        if request.user_id not in room.places:
            if now_ms < room.settings.queue_opens_at_ms:
                return Reply.reject(
                    request.id,
                    RejectCode.QUEUE_NOT_OPEN,
                    "The queue for this event has not opened yet",
                    queue_opens_at_ms=room.settings.queue_opens_at_ms,
                )
            if now_ms >= event.sale_ends_at_ms:
                return Reply.reject(
                    request.id, RejectCode.SALE_NOT_OPEN, "The sale for this event has ended"
                )
        place = room.join(request.user_id, now_ms, self._rng, effects)
        return Reply(command_id=request.id, place=place.view(event.id), room=room.wire(now_ms))

    def leave_queue(self, request: LeaveQueueRequest, now_ms: int, effects: Effects) -> Reply:
        event = self.events.get(request.event_id)
        if event is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_EVENT, "No such event")
        place = None if event.room is None else event.room.leave(request.user_id, now_ms, effects)
        if event.room is None or place is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_PLACE, "No place in this queue")
        return Reply(
            command_id=request.id, place=place.view(event.id), room=event.room.wire(now_ms)
        )

    def configure_queue(
        self, request: ConfigureQueueRequest, now_ms: int, effects: Effects
    ) -> Reply:
        event = self.events.get(request.event_id)
        if event is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_EVENT, "No such event")
        if event.room is None:
            event.room = WaitingRoom(
                event_id=event.id,
                settings=request.room,
                sale_starts_at_ms=event.sale_starts_at_ms,
            )
            self._rooms[event.id] = event.room
            effects.room_changed(event.room)
        else:
            event.room.configure(request.room, effects)
        return Reply(command_id=request.id, room=event.room.wire(now_ms))

    # -- the organizer's event settings ---------------------------------------------------

    def configure_event(self, request: ConfigureEventRequest) -> Reply:
        """Put saved settings in force from this decision on. Seats already held stay held:
        `no_single_gaps` judges holds asked for from now, and a release may still leave a gap."""
        event = self.events.get(request.event_id)
        if event is None:
            return Reply.reject(request.id, RejectCode.UNKNOWN_EVENT, "No such event")
        event.no_single_gaps = request.no_single_gaps
        return Reply(command_id=request.id)

    def next_room_tick_ms(self) -> int | None:
        return min((room.next_tick_ms for room in self._rooms.values()), default=None)

    def tick_rooms(self, now_ms: int, effects: Effects) -> int:
        """Admit, expire sessions and publish progress in every room whose tick is due; return
        how many buyers were admitted."""
        admitted = 0
        for room in self._rooms.values():
            if room.next_tick_ms <= now_ms:
                admitted += room.tick(now_ms, effects)
        return admitted

    @property
    def has_rooms(self) -> bool:
        return bool(self._rooms)

    def queue_totals(self) -> tuple[int, int]:
        """Buyers waiting and sessions running, over every room of the shard."""
        rooms = self._rooms.values()
        return sum(room.waiting for room in rooms), sum(room.inside for room in rooms)

    def _end_hold(
        self,
        hold: Hold,
        status: HoldStatus,
        now_ms: int,
        effects: Effects,
        *,
        expire_session: bool = True,
    ) -> None:
        if expire_session and hold.status is HoldStatus.CHECKOUT:
            # The buyer must not be able to pay for seats that are no longer theirs.
            effects.expire_session(hold.id)
        event = self.events[hold.event_id]
        for seat_id in hold.seat_ids:
            seat = event.seats[seat_id]
            if seat.hold_id == hold.id:
                self._set_seat(seat, SeatStatus.AVAILABLE, None, None, None, effects)
        event.count_for(hold.user_id, -len(hold.seat_ids))
        hold.status = status
        hold.updated_at_ms = now_ms
        effects.put_hold(hold)

    def _set_seat(
        self,
        seat: Seat,
        status: SeatStatus,
        hold_id: str | None,
        holder_id: int | None,
        expires_at_ms: int | None,
        effects: Effects,
    ) -> None:
        effects.seat_changing(seat)
        free = status is SeatStatus.AVAILABLE
        if free is not (seat.status is SeatStatus.AVAILABLE):
            # The one place seats change, so the best-available index never drifts from them.
            seating = self.events[seat.event_id].seating
            if seating is not None:
                seating.seat_changed(seat.id, free)
        seat.status = status
        seat.hold_id = hold_id
        seat.holder_id = holder_id
        seat.hold_expires_at_ms = expires_at_ms
        seat.version += 1
        effects.seat_changed(seat)

    def forget_ended_holds(self, older_than_ms: int) -> None:
        """Drop ended holds from memory; their records stay in Redis and MariaDB."""
        stale = [
            hold_id
            for hold_id, hold in self.holds.items()
            if not hold.status.is_active and hold.updated_at_ms < older_than_ms
        ]
        for hold_id in stale:
            del self.holds[hold_id]


def _over_limit(event: Event, command_id: str, user_id: int, count: int) -> Reply | None:
    already = event.seats_by_buyer.get(user_id, 0)
    if already + count <= event.max_seats_per_buyer:
        return None
    return Reply.reject(
        command_id,
        RejectCode.LIMIT_EXCEEDED,
        f"At most {event.max_seats_per_buyer} seats per buyer for this event",
        limit=event.max_seats_per_buyer,
        held_or_booked=already,
    )


def _shortfall_message(shortfall: Shortfall, request: BestAvailableRequest) -> str:
    """What a buyer reads when best-available finds nothing: "No 4 seats together left in
    Balcony"."""
    where = "this event"
    if request.sections:
        where = " or ".join(request.sections)
    if request.categories:
        categories = " or ".join(request.categories)
        where = f"category {categories}" + (f" of {where}" if request.sections else "")
    if shortfall is Shortfall.NOT_TOGETHER:
        return f"No {request.count} seats together left in {where}"
    return f"Not {request.count} seats left in {where}"


def _not_admitted(command_id: str, event_id: int) -> Reply:
    return Reply.reject(
        command_id,
        RejectCode.NOT_ADMITTED,
        "This sale has a waiting room: join the queue and shop once you are admitted",
        event_id=event_id,
        queue_url=f"/api/v1/events/{event_id}/queue",
    )
