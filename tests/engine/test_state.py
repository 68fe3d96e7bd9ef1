"""The decision rules, in memory: no Redis, no MariaDB."""

from __future__ import annotations

import pytest

from domain.statuses import HoldStatus, SeatStatus
from engine.effects import Effects
from engine.keys import ShardKeys
from engine.protocol import (
    BeginCheckoutRequest,
    CancelCheckoutRequest,
    ConfirmRequest,
    ExpireRequest,
    HoldRequest,
    RejectCode,
    ReleaseRequest,
    Reply,
)
from engine.state import Event, Seat, ShardState

NOW = 1_800_000_000_000
TTL = 60_000
EVENT = 7


@pytest.fixture
def state() -> ShardState:
    shard = ShardState(hold_ttl_ms=TTL)
    event = Event(
        id=EVENT, sale_starts_at_ms=NOW - 1000, sale_ends_at_ms=NOW + 10**9, max_seats_per_buyer=4
    )
    for seat_id in range(1, 11):
        event.seats[seat_id] = Seat(id=seat_id, event_id=EVENT, venue_seat_id=100 + seat_id)
    shard.add_event(event)
    return shard


def effects() -> Effects:
    return Effects(ShardKeys(0), NOW)


def hold(state: ShardState, user: int, *seats: int, now: int = NOW) -> Reply:
    request = HoldRequest(
        id=f"c{user}{seats}", reply_to=None, event_id=EVENT, user_id=user, seat_ids=seats
    )
    return state.hold(request, now, effects())


def statuses(state: ShardState) -> dict[int, SeatStatus]:
    return {seat.id: seat.status for seat in state.events[EVENT].seats.values()}


def test_hold_takes_every_seat_asked_for(state: ShardState) -> None:
    reply = hold(state, 1, 1, 2, 3)
    assert reply.ok
    assert reply.hold is not None
    assert reply.hold.seat_ids == (1, 2, 3)
    assert reply.hold.expires_at_ms == NOW + TTL
    assert [s for s, st in statuses(state).items() if st is SeatStatus.HELD] == [1, 2, 3]


def test_hold_is_all_or_nothing(state: ShardState) -> None:
    assert hold(state, 1, 2).ok
    reply = hold(state, 2, 1, 2, 3)
    assert reply.rejection is not None
    assert reply.rejection.code is RejectCode.SEATS_UNAVAILABLE
    assert reply.rejection.details["seat_ids"] == [2]
    assert statuses(state)[1] is SeatStatus.AVAILABLE
    assert statuses(state)[3] is SeatStatus.AVAILABLE


@pytest.mark.parametrize(
    ("seats", "code"),
    [((), RejectCode.INVALID), ((1, 1), RejectCode.INVALID), ((1, 99), RejectCode.UNKNOWN_SEATS)],
)
def test_bad_seat_lists_are_refused(
    state: ShardState, seats: tuple[int, ...], code: RejectCode
) -> None:
    reply = hold(state, 1, *seats)
    assert reply.rejection is not None
    assert reply.rejection.code is code
    assert SeatStatus.HELD not in statuses(state).values()


def test_sale_window_is_enforced(state: ShardState) -> None:
    reply = hold(state, 1, 1, now=NOW - 2000)
    assert reply.rejection is not None
    assert reply.rejection.code is RejectCode.SALE_NOT_OPEN


def test_per_buyer_cap_counts_every_active_hold(state: ShardState) -> None:
    assert hold(state, 1, 1, 2, 3).ok
    reply = hold(state, 1, 4, 5)
    assert reply.rejection is not None
    assert reply.rejection.code is RejectCode.LIMIT_EXCEEDED
    assert hold(state, 1, 4).ok
    assert hold(state, 2, 5, 6, 7, 8).ok


def test_release_frees_seats_and_the_cap_and_is_idempotent(state: ShardState) -> None:
    granted = hold(state, 1, 1, 2, 3, 4).hold
    assert granted is not None
    release = ReleaseRequest(id="r", reply_to=None, event_id=EVENT, hold_id=granted.id, user_id=1)
    first = state.release(release, NOW, effects())
    again = state.release(release, NOW, effects())
    assert first.hold is not None
    assert first.hold.status is HoldStatus.RELEASED
    assert again.ok
    assert again.hold is not None
    assert again.hold.status is HoldStatus.RELEASED
    assert SeatStatus.HELD not in statuses(state).values()
    assert hold(state, 1, 5, 6, 7, 8).ok


def test_only_the_holder_may_release(state: ShardState) -> None:
    granted = hold(state, 1, 1).hold
    assert granted is not None
    reply = state.release(
        ReleaseRequest(id="r", reply_to=None, event_id=EVENT, hold_id=granted.id, user_id=2),
        NOW,
        effects(),
    )
    assert reply.rejection is not None
    assert reply.rejection.code is RejectCode.UNKNOWN_HOLD
    assert statuses(state)[1] is SeatStatus.HELD


def test_expire_is_ignored_before_the_hold_is_due(state: ShardState) -> None:
    granted = hold(state, 1, 1).hold
    assert granted is not None
    expire = ExpireRequest(id="e", reply_to=None, event_id=EVENT, hold_id=granted.id)
    early = state.expire(expire, NOW + TTL - 1, effects())
    assert early.hold is not None
    assert early.hold.status is HoldStatus.HELD
    due = state.expire(expire, NOW + TTL, effects())
    assert due.hold is not None
    assert due.hold.status is HoldStatus.EXPIRED
    assert statuses(state)[1] is SeatStatus.AVAILABLE


def test_timers_yield_due_holds_in_expiry_order_and_skip_ended_ones(state: ShardState) -> None:
    first = hold(state, 1, 1, now=NOW).hold
    released = hold(state, 2, 2, now=NOW + 1).hold
    last = hold(state, 3, 3, now=NOW + 2).hold
    assert first
    assert released
    assert last
    state.release(
        ReleaseRequest(id="r", reply_to=None, event_id=EVENT, hold_id=released.id, user_id=2),
        NOW + 3,
        effects(),
    )
    assert state.next_expiry_ms() == NOW + TTL
    assert list(state.due_expiries(NOW + TTL + 5)) == [first.id, last.id]
    assert state.next_expiry_ms() is None


def test_a_seat_released_and_taken_in_one_batch_keeps_one_lock_change(state: ShardState) -> None:
    batch = effects()
    first = state.hold(
        HoldRequest(id="a", reply_to=None, event_id=EVENT, user_id=1, seat_ids=(1,)), NOW, batch
    )
    assert first.hold is not None
    state.release(
        ReleaseRequest(id="b", reply_to=None, event_id=EVENT, hold_id=first.hold.id, user_id=1),
        NOW,
        batch,
    )
    second = state.hold(
        HoldRequest(id="c", reply_to=None, event_id=EVENT, user_id=2, seat_ids=(1,)), NOW, batch
    )
    assert second.hold is not None
    keys, _ = batch.render()
    # Fixed keys, then one lock key for seat 1 (expected: none, new: the second hold).
    assert keys.count(ShardKeys(0).lock(1)) == 1
    assert batch.journal_entry()["seats"][0][4] == second.hold.id


def begin_checkout(state: ShardState, hold_id: str, user: int, batch: Effects) -> Reply:
    request = BeginCheckoutRequest(
        id="bc", reply_to=None, event_id=EVENT, hold_id=hold_id, user_id=user
    )
    return state.begin_checkout(request, NOW, batch)


def confirm(state: ShardState, hold_id: str, user: int, seats: tuple[int, ...]) -> Reply:
    request = ConfirmRequest(
        id="cf", reply_to=None, event_id=EVENT, hold_id=hold_id, user_id=user, seat_ids=seats
    )
    return state.confirm(request, NOW + 1, effects())


def test_checkout_then_confirm_books_the_seats(state: ShardState) -> None:
    granted = hold(state, 1, 1, 2).hold
    assert granted is not None
    checkout = begin_checkout(state, granted.id, 1, effects())
    assert checkout.hold is not None
    assert checkout.hold.status is HoldStatus.CHECKOUT
    booked = confirm(state, granted.id, 1, (1, 2))
    assert booked.hold is not None
    assert booked.hold.status is HoldStatus.BOOKED
    assert statuses(state)[1] is SeatStatus.BOOKED
    assert confirm(state, granted.id, 1, (1, 2)).hold == booked.hold, "confirm is idempotent"
    assert state.next_expiry_ms() is None, "a booked hold never expires"


def test_only_the_holder_can_start_a_checkout_and_only_while_active(state: ShardState) -> None:
    granted = hold(state, 1, 1).hold
    assert granted is not None
    stranger = begin_checkout(state, granted.id, 2, effects())
    assert stranger.rejection is not None
    assert stranger.rejection.code is RejectCode.UNKNOWN_HOLD
    state.expire(
        ExpireRequest(id="e", reply_to=None, event_id=EVENT, hold_id=granted.id),
        NOW + TTL,
        effects(),
    )
    ended = begin_checkout(state, granted.id, 1, effects())
    assert ended.rejection is not None
    assert ended.rejection.code is RejectCode.HOLD_NOT_ACTIVE


def test_expiring_a_hold_in_checkout_asks_for_its_session_to_be_expired(
    state: ShardState,
) -> None:
    granted = hold(state, 1, 1).hold
    assert granted is not None
    begin_checkout(state, granted.id, 1, effects())
    batch = effects()
    state.expire(
        ExpireRequest(id="e", reply_to=None, event_id=EVENT, hold_id=granted.id), NOW + TTL, batch
    )
    assert batch.journal_entry()["expire_sessions"] == [granted.id]
    unpaid = effects()
    again = hold(state, 2, 2).hold
    assert again is not None
    begin_checkout(state, again.id, 2, unpaid)
    state.cancel_checkout(
        CancelCheckoutRequest(id="cc", reply_to=None, event_id=EVENT, hold_id=again.id),
        NOW,
        unpaid,
    )
    assert unpaid.journal_entry()["expire_sessions"] == [], "an ended session needs no expiry"
    assert statuses(state)[2] is SeatStatus.AVAILABLE


def test_paying_after_expiry_books_seats_that_are_still_free(state: ShardState) -> None:
    granted = hold(state, 1, 1, 2).hold
    assert granted is not None
    state.expire(
        ExpireRequest(id="e", reply_to=None, event_id=EVENT, hold_id=granted.id),
        NOW + TTL,
        effects(),
    )
    booked = confirm(state, granted.id, 1, (1, 2))
    assert booked.hold is not None
    assert booked.hold.status is HoldStatus.BOOKED
    assert state.events[EVENT].seats_by_buyer[1] == 2


def test_paying_after_expiry_for_seats_sold_again_is_refused(state: ShardState) -> None:
    granted = hold(state, 1, 1, 2).hold
    assert granted is not None
    state.expire(
        ExpireRequest(id="e", reply_to=None, event_id=EVENT, hold_id=granted.id),
        NOW + TTL,
        effects(),
    )
    assert hold(state, 2, 2).ok
    refused = confirm(state, granted.id, 1, (1, 2))
    assert refused.rejection is not None
    assert refused.rejection.code is RejectCode.SEATS_UNAVAILABLE
    assert refused.rejection.details["seat_ids"] == [2]
    assert statuses(state)[1] is SeatStatus.AVAILABLE


def test_a_confirm_for_a_hold_this_owner_never_saw_books_free_seats(state: ShardState) -> None:
    booked = confirm(state, "h7_" + "0" * 32, 3, (4, 5))
    assert booked.hold is not None
    assert booked.hold.status is HoldStatus.BOOKED
    again = ShardState(hold_ttl_ms=TTL)
    again.add_event(state.events[EVENT])
    assert confirm(again, "h7_" + "0" * 32, 3, (4, 5)).ok, "recognised from the seats"
