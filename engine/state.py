"""A shard's seats and holds in memory, and the rules that change them.

Only the shard's actor touches this, one batch at a time, so no locking is needed: the actor
decides here, then makes the batch's effects durable in one Redis round trip. Every change goes
through `_set_seat` / `_put_hold`, which record it in the batch's `Effects`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field

from domain.statuses import HoldStatus, SeatStatus
from engine.effects import Effects
from engine.protocol import (
    BeginCheckoutRequest,
    CancelCheckoutRequest,
    ConfirmRequest,
    ExpireRequest,
    HoldRequest,
    HoldView,
    RejectCode,
    ReleaseRequest,
    Reply,
    new_hold_id,
)


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
    def __init__(self, *, hold_ttl_ms: int) -> None:
        self.hold_ttl_ms = hold_ttl_ms
        self.events: dict[int, Event] = {}
        self.holds: dict[str, Hold] = {}
        self._expiries: list[tuple[int, str]] = []

    def add_event(self, event: Event) -> None:
        self.events[event.id] = event

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
        if not event.sale_starts_at_ms <= now_ms < event.sale_ends_at_ms:
            return Reply.reject(
                request.id, RejectCode.SALE_NOT_OPEN, "Tickets for this event are not on sale now"
            )
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
        already = event.seats_by_buyer.get(request.user_id, 0)
        if already + len(seat_ids) > event.max_seats_per_buyer:
            return Reply.reject(
                request.id,
                RejectCode.LIMIT_EXCEEDED,
                f"At most {event.max_seats_per_buyer} seats per buyer for this event",
                limit=event.max_seats_per_buyer,
                held_or_booked=already,
            )
        hold = Hold(
            id=new_hold_id(event.id),
            event_id=event.id,
            user_id=request.user_id,
            seat_ids=seat_ids,
            status=HoldStatus.HELD,
            expires_at_ms=now_ms + self.hold_ttl_ms,
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
        )
        for seat_id in seat_ids:
            seat = event.seats[seat_id]
            self._set_seat(
                seat, SeatStatus.HELD, hold.id, request.user_id, hold.expires_at_ms, effects
            )
        event.count_for(request.user_id, len(seat_ids))
        self.holds[hold.id] = hold
        heapq.heappush(self._expiries, (hold.expires_at_ms, hold.id))
        effects.put_hold(hold)
        return Reply(command_id=request.id, hold=hold.view())

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

    @staticmethod
    def _set_seat(
        seat: Seat,
        status: SeatStatus,
        hold_id: str | None,
        holder_id: int | None,
        expires_at_ms: int | None,
        effects: Effects,
    ) -> None:
        effects.seat_changing(seat)
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
