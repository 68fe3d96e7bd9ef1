"""The rush's invariant checks catch what they are for, and pass a consistent history."""

from __future__ import annotations

from dataclasses import replace

from bench.invariants import Stored, StoredHold, StoredPayment, find_problems
from bench.shoppers import Action, Grant
from domain.statuses import HoldStatus, PaymentStatus, SeatStatus

TTL_MS = 30_000


def grant(hold_id: str, seats: tuple[int, ...], created_ms: int, done: str) -> Grant:
    action = {"paid": Action.PAY, "released": Action.RELEASE}.get(done, Action.IDLE)
    return Grant(
        hold_id=hold_id,
        user_id=int(hold_id[1:]),
        seat_ids=seats,
        answered_seat_ids=seats,
        created_ms=created_ms,
        expires_ms=created_ms + TTL_MS,
        received=0.0,
        action=action,
        done=done,
    )


def hold(hold_id: str, status: HoldStatus, created_ms: int, updated_ms: int) -> StoredHold:
    return StoredHold(
        id=hold_id,
        user_id=int(hold_id[1:]),
        status=status,
        created_ms=created_ms,
        updated_ms=updated_ms,
        expires_ms=created_ms + TTL_MS,
    )


def history() -> tuple[Stored, dict[int, SeatStatus], list[Grant]]:
    """h1 (seats 1, 2) was left to expire; h2 (seat 3) was paid for and booked."""
    stored = Stored(
        holds={
            "h1": hold("h1", HoldStatus.EXPIRED, 1_000, 31_000),
            "h2": hold("h2", HoldStatus.BOOKED, 1_000, 5_000),
        },
        hold_seats={"h1": frozenset({1, 2}), "h2": frozenset({3})},
        seats={
            1: (SeatStatus.AVAILABLE, None),
            2: (SeatStatus.AVAILABLE, None),
            3: (SeatStatus.BOOKED, "h2"),
        },
        payments={"h2": StoredPayment(id=7, status=PaymentStatus.PAID, created_ms=2_000)},
        bookings={7: "h2"},
        booked_seats={3: "h2"},
    )
    live = {1: SeatStatus.AVAILABLE, 2: SeatStatus.AVAILABLE, 3: SeatStatus.BOOKED}
    grants = [grant("h1", (1, 2), 1_000, "idle"), grant("h2", (3,), 1_000, "paid")]
    return stored, live, grants


def problems(stored: Stored, live: dict[int, SeatStatus], grants: list[Grant]) -> list[str]:
    return find_problems(stored, live, grants, unanswered_holds=0)


def test_a_consistent_history_passes() -> None:
    assert problems(*history()) == []


def test_a_seat_granted_again_while_still_held() -> None:
    stored, live, grants = history()
    stored = replace(
        stored,
        holds={**stored.holds, "h3": hold("h3", HoldStatus.EXPIRED, 20_000, 50_000)},
        hold_seats={**stored.hold_seats, "h3": frozenset({1})},
    )
    grants.append(grant("h3", (1,), 20_000, "idle"))

    found = problems(stored, live, grants)

    assert any(p.startswith("grants overlap: seat 1") for p in found)
    assert any(p.startswith("MariaDB holds overlap: seat 1") for p in found)


def test_a_seat_granted_again_after_its_release_is_fine() -> None:
    stored, live, grants = history()
    stored = replace(
        stored,
        holds={
            **stored.holds,
            "h1": hold("h1", HoldStatus.RELEASED, 1_000, 10_000),
            "h3": hold("h3", HoldStatus.EXPIRED, 10_000, 40_000),
        },
        hold_seats={**stored.hold_seats, "h3": frozenset({1})},
    )
    grants[0] = replace(grants[0], done="released", release_sent_ms=9_500.0)
    grants.append(grant("h3", (1,), 10_000, "idle"))

    assert problems(stored, live, grants) == []


def test_a_hold_booked_after_it_expired_may_have_lent_its_seats_meanwhile() -> None:
    stored, live, _ = history()
    stored = replace(
        stored,
        holds={
            **stored.holds,
            "h2": hold("h2", HoldStatus.BOOKED, 1_000, 60_000),
            "h4": hold("h4", HoldStatus.EXPIRED, 35_000, 45_000),
        },
        hold_seats={**stored.hold_seats, "h4": frozenset({3})},
    )

    assert [p for p in problems(stored, live, []) if "overlap" in p] == []


def test_an_abandoned_hold_must_have_expired() -> None:
    stored, live, grants = history()
    stored = replace(
        stored, holds={**stored.holds, "h1": hold("h1", HoldStatus.HELD, 1_000, 1_000)}
    )

    assert "grant vs MariaDB: h1 (idle) ended as held" in problems(stored, live, grants)


def test_a_grant_missing_from_mariadb() -> None:
    stored, live, grants = history()
    grants.append(grant("h9", (2,), 40_000, "idle"))

    assert "grant vs MariaDB: h9 was granted but has no row" in problems(stored, live, grants)


def test_mariadb_must_match_the_engine() -> None:
    stored, live, grants = history()
    live[2] = SeatStatus.HELD

    assert "MariaDB vs engine: seat 2 is available in MariaDB, held in the engine" in problems(
        stored, live, grants
    )


def test_a_paid_payment_needs_its_booking() -> None:
    stored, live, grants = history()
    stored = replace(stored, bookings={}, booked_seats={})

    found = problems(stored, live, grants)

    assert "payments: payment 7 is paid, booked: False" in found
    assert "MariaDB vs engine: seat 3 is booked, booking: None" in found
