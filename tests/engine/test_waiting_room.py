"""The waiting room's rules, in memory: places, the pre-queue shuffle, admission by rank at the
organizer's rate and cap, sessions, and the gate on holds and checkouts. No Redis, no MariaDB."""

from __future__ import annotations

import random
import statistics

import pytest

from domain.waiting_room import QueueState, WaitingRoomSettings
from engine.effects import Effects
from engine.keys import ShardKeys
from engine.protocol import (
    BeginCheckoutRequest,
    ConfigureQueueRequest,
    ConfirmRequest,
    HoldRequest,
    JoinQueueRequest,
    LeaveQueueRequest,
    PlaceView,
    RejectCode,
    Reply,
)
from engine.room import TICK_MS
from engine.state import Event, Seat, ShardState

SALE = 1_800_000_000_000
OPENS = SALE - 3600_000
EVENT = 9
TTL = 60_000


def room_settings(**changes: object) -> WaitingRoomSettings:
    values: dict[str, object] = {
        "enabled": True,
        "queue_opens_at_ms": OPENS,
        "admissions_per_minute": 120,
        "max_inside": 5,
        "session_seconds": 600,
        "version": 1,
    }
    values.update(changes)
    return WaitingRoomSettings(**values)  # type: ignore[arg-type]


class Sale:
    """One event with a waiting room in a shard's state, and a clock the test moves."""

    def __init__(self, *, seed: int = 7, **room: object) -> None:
        self.state = ShardState(hold_ttl_ms=TTL, rng=random.Random(seed))
        event = Event(
            id=EVENT, sale_starts_at_ms=SALE, sale_ends_at_ms=SALE + 10**9, max_seats_per_buyer=4
        )
        for seat_id in range(1, 41):
            event.seats[seat_id] = Seat(id=seat_id, event_id=EVENT, venue_seat_id=seat_id)
        self.state.add_event(event)
        self.now = OPENS
        self.version = 0
        self.configure(**room)

    def effects(self) -> Effects:
        return Effects(ShardKeys(0), self.now)

    def configure(self, **changes: object) -> Reply:
        self.version += 1
        request = ConfigureQueueRequest(
            id=f"cfg{self.version}",
            reply_to=None,
            event_id=EVENT,
            room=room_settings(version=self.version, **changes),
        )
        return self.state.configure_queue(request, self.now, self.effects())

    def join(self, user: int) -> PlaceView:
        reply = self.state.join_queue(
            JoinQueueRequest(id=f"j{user}", reply_to=None, event_id=EVENT, user_id=user),
            self.now,
            self.effects(),
        )
        return reply.place_or_raise()

    def leave(self, user: int) -> Reply:
        return self.state.leave_queue(
            LeaveQueueRequest(id=f"l{user}", reply_to=None, event_id=EVENT, user_id=user),
            self.now,
            self.effects(),
        )

    def hold(self, user: int, *seats: int) -> Reply:
        request = HoldRequest(
            id=f"h{user}{seats}", reply_to=None, event_id=EVENT, user_id=user, seat_ids=seats
        )
        return self.state.hold(request, self.now, self.effects())

    def tick(self, ms: int = TICK_MS) -> None:
        """Move the clock on and run the room's tick, as the actor does each turn."""
        self.now += ms
        self.state.tick_rooms(self.now, self.effects())

    def place(self, user: int) -> QueueState:
        room = self.state.events[EVENT].room
        assert room is not None
        return room.places[user].state

    def admitted_ranks(self) -> list[int]:
        room = self.state.events[EVENT].room
        assert room is not None
        return sorted(p.rank or 0 for p in room.places.values() if p.admitted_at_ms is not None)

    def wire(self) -> dict[str, object]:
        room = self.state.events[EVENT].room
        assert room is not None
        return dict(room.wire(self.now))


def test_joining_again_returns_the_same_place() -> None:
    sale = Sale()
    first = sale.join(1)
    sale.now += 5000
    again = sale.join(1)
    assert again == first
    assert first.state is QueueState.PRE_QUEUE
    assert first.rank is None
    assert sale.wire()["waiting"] == 1


def test_the_pre_queue_is_shuffled_uniformly_when_the_sale_starts() -> None:
    sale = Sale(seed=20261201)
    arrivals = list(range(1, 3001))
    for user in arrivals:
        sale.join(user)
        sale.now += 1000  # one a second through the pre-queue's hour
    sale.now = SALE
    sale.tick(0)
    room = sale.state.events[EVENT].room
    assert room is not None
    ranks = [room.places[user].rank for user in arrivals]
    assert sorted(ranks) == list(range(1, 3001))  # type: ignore[type-var]
    # Arrival order says nothing about rank: Spearman's rho of a uniform shuffle of 3,000 has a
    # standard deviation of about 0.018.
    rho = statistics.correlation(arrivals, [float(r or 0) for r in ranks])
    assert abs(rho) < 0.06
    # The earliest tenth of arrivals spreads evenly over the line's tenths (about 30 each).
    tenths = [0] * 10
    for rank in ranks[:300]:
        tenths[((rank or 1) - 1) * 10 // 3000] += 1
    assert min(tenths) >= 12
    assert max(tenths) <= 50


def test_after_the_sale_starts_places_follow_arrival_behind_the_pre_queue() -> None:
    sale = Sale()
    for user in (1, 2, 3):
        sale.join(user)
    sale.now = SALE + 10
    late = [sale.join(user) for user in (10, 11, 12)]
    assert [p.rank for p in late] == [4, 5, 6]
    assert all(p.state is QueueState.WAITING for p in late)
    assert sorted(sale.state.events[EVENT].room.places[u].rank or 0 for u in (1, 2, 3)) == [  # type: ignore[union-attr]
        1,
        2,
        3,
    ]


def test_admission_follows_rank_at_the_rate_and_stops_at_the_cap() -> None:
    sale = Sale(admissions_per_minute=120, max_inside=5)
    sale.now = SALE
    for user in range(1, 21):
        sale.join(user)
    sale.tick(0)  # the first tick admits what one second allows: two
    assert sale.wire()["admitted_through"] == 2
    sale.tick()
    sale.tick()
    assert sale.wire()["inside"] == 5  # the cap, reached in the third second
    sale.tick()
    sale.tick()
    assert sale.wire()["admitted_through"] == 5
    assert sale.admitted_ranks() == [1, 2, 3, 4, 5]


def test_an_ended_session_gives_its_slot_to_the_next_in_line() -> None:
    sale = Sale(admissions_per_minute=6000, max_inside=2, session_seconds=60)
    sale.now = SALE
    for user in (1, 2, 3):
        sale.join(user)
    sale.tick(0)
    room = sale.state.events[EVENT].room
    assert room is not None
    first = room.places[room._by_rank[0]].user_id
    assert sale.wire()["inside"] == 2
    assert room.places[room._by_rank[2]].state is QueueState.WAITING
    sale.tick(60_000)  # both sessions run out; the third buyer comes in
    assert sale.place(first) is QueueState.EXPIRED
    assert room.places[room._by_rank[2]].state is QueueState.ADMITTED
    assert sale.wire()["inside"] == 1


def test_booking_or_leaving_ends_the_session_and_frees_the_slot() -> None:
    sale = Sale(admissions_per_minute=6000, max_inside=1)
    sale.now = SALE
    sale.join(1)
    sale.join(2)
    sale.tick(0)
    assert sale.place(1) is QueueState.ADMITTED
    held = sale.hold(1, 1, 2).hold_or_raise()
    paid = ConfirmRequest(
        id="pay", reply_to=None, event_id=EVENT, hold_id=held.id, user_id=1, seat_ids=(1, 2)
    )
    assert sale.state.confirm(paid, sale.now, sale.effects()).ok
    assert sale.place(1) is QueueState.DONE
    sale.tick()
    assert sale.place(2) is QueueState.ADMITTED
    assert sale.leave(2).place_or_raise().state is QueueState.DONE
    assert sale.wire()["inside"] == 0


def test_a_place_that_left_is_passed_over_without_using_a_slot() -> None:
    sale = Sale(admissions_per_minute=60, max_inside=10)
    sale.now = SALE
    for user in (1, 2):
        sale.join(user)
    sale.leave(1)
    sale.tick(0)  # one admission's worth: it goes to rank 2, rank 1 having left
    assert sale.place(2) is QueueState.ADMITTED
    assert sale.wire()["admitted_through"] == 2


def test_pause_stops_admission_and_resume_carries_on_in_order() -> None:
    sale = Sale(admissions_per_minute=6000, max_inside=100)
    sale.now = SALE
    sale.configure(admissions_per_minute=60, max_inside=100, paused=True)
    for user in range(1, 6):
        sale.join(user)
    sale.tick(0)
    sale.tick()
    assert sale.wire()["admitted_through"] == 0
    assert sale.wire()["rate_per_minute"] == 0
    sale.configure(admissions_per_minute=60, max_inside=100, paused=False)
    sale.tick()
    sale.tick()
    assert sale.wire()["admitted_through"] == 2


def test_a_stale_configuration_is_ignored() -> None:
    sale = Sale(admissions_per_minute=60)
    room = sale.state.events[EVENT].room
    assert room is not None
    stale = ConfigureQueueRequest(
        id="old", reply_to=None, event_id=EVENT, room=room_settings(version=0, paused=True)
    )
    reply = sale.state.configure_queue(stale, sale.now, sale.effects())
    assert reply.room_or_raise()["paused"] is False


def test_holds_and_checkouts_need_an_admission() -> None:
    sale = Sale(admissions_per_minute=60, max_inside=1)
    sale.now = SALE
    sale.join(1)
    sale.join(2)
    refused = sale.hold(1, 1)  # joined, not admitted yet
    assert refused.rejection is not None
    assert refused.rejection.code is RejectCode.NOT_ADMITTED
    assert refused.rejection.details["queue_url"] == f"/api/v1/events/{EVENT}/queue"
    sale.tick(0)
    held = sale.hold(1, 1).hold_or_raise()
    stranger = sale.hold(3, 2)  # never joined
    assert stranger.rejection is not None
    assert stranger.rejection.code is RejectCode.NOT_ADMITTED
    checkout = BeginCheckoutRequest(
        id="co", reply_to=None, event_id=EVENT, hold_id=held.id, user_id=1
    )
    assert sale.state.begin_checkout(checkout, sale.now, sale.effects()).ok
    second = sale.hold(1, 3).hold_or_raise()
    sale.leave(1)  # the session ends: the hold stays until it expires, but cannot be paid
    late = BeginCheckoutRequest(
        id="co2", reply_to=None, event_id=EVENT, hold_id=second.id, user_id=1
    )
    refused_checkout = sale.state.begin_checkout(late, sale.now, sale.effects())
    assert refused_checkout.rejection is not None
    assert refused_checkout.rejection.code is RejectCode.NOT_ADMITTED


def test_a_hold_keeps_the_session_running_until_it_ends() -> None:
    sale = Sale(admissions_per_minute=60, max_inside=1, session_seconds=60)
    sale.now = SALE
    sale.join(1)
    sale.tick(0)
    sale.now += 50_000
    held = sale.hold(1, 1).hold_or_raise()  # ends 60 s from now, after the session would
    sale.tick(20_000)
    assert sale.place(1) is QueueState.ADMITTED
    assert sale.hold(1, 2).ok  # still shopping
    sale.tick(held.expires_at_ms + TTL - sale.now)
    assert sale.place(1) is QueueState.EXPIRED


def test_joins_are_refused_outside_the_queue_window_and_without_a_room() -> None:
    sale = Sale()
    sale.now = OPENS - 1
    early = sale.state.join_queue(
        JoinQueueRequest(id="e", reply_to=None, event_id=EVENT, user_id=1), sale.now, sale.effects()
    )
    assert early.rejection is not None
    assert early.rejection.code is RejectCode.QUEUE_NOT_OPEN
    sale.now = OPENS
    sale.configure(enabled=False)
    off = sale.state.join_queue(
        JoinQueueRequest(id="o", reply_to=None, event_id=EVENT, user_id=1), sale.now, sale.effects()
    )
    assert off.rejection is not None
    assert off.rejection.code is RejectCode.NO_WAITING_ROOM
    sale.now = SALE
    assert sale.hold(1, 1).ok  # a room switched off lets everyone shop


@pytest.mark.parametrize("rate", [30, 90, 600])
def test_the_rate_carries_fractions_between_ticks(rate: int) -> None:
    sale = Sale(admissions_per_minute=rate, max_inside=10_000)
    sale.now = SALE
    for user in range(1, 1001):
        sale.join(user)
    sale.tick(0)
    for _ in range(59):
        sale.tick()
    # A minute of ticks admits the minute's rate, give or take the first tick's one.
    assert abs(int(sale.wire()["admitted_through"]) - rate) <= 1  # type: ignore[call-overload]
