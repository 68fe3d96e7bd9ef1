"""Best-available holds and the no-orphan rule, decided by the real engine over real Redis and
MariaDB: the best seat by the model, adjacency across the demo hall's row shapes, the fallback
order, concurrent buyers against the invariant, `orphan_seat`, idempotent retries, recovery."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from dataclasses import dataclass

import pytest

from domain.catalog import CategorySpec, RowSpec, SectionSpec, VenueLayout
from domain.geometry import plan_venue
from domain.seat_ranking import SeatLine, rank_seats
from domain.statuses import SeatStatus
from engine.client import EngineClient
from engine.protocol import (
    BestAvailableRequest,
    MalformedCommand,
    RejectCode,
    ReleaseRequest,
    Reply,
    decode_command,
    encode_command,
    idempotent_command_id,
    new_command_id,
)
from persistence import Database
from persistence.catalog import event_layout
from tests.helpers.catalog import DEMO_PRICES, create_on_sale_event, demo_layout
from tests.helpers.engine import Buyers, RunningEngine, ask_hold


async def ask_best(
    client: EngineClient,
    event_id: int,
    user_id: int,
    count: int,
    *,
    categories: tuple[str, ...] = (),
    sections: tuple[str, ...] = (),
    together: bool = True,
    command_id: str | None = None,
) -> Reply:
    return await client.submit(
        BestAvailableRequest(
            id=command_id or new_command_id(),
            reply_to=client.reply_to,
            event_id=event_id,
            user_id=user_id,
            count=count,
            categories=categories,
            sections=sections,
            together=together,
        )
    )


async def lines_of(db: Database, event_id: int) -> tuple[SeatLine, ...]:
    async with db.transaction() as conn:
        layout = await event_layout(conn, event_id)
    assert layout is not None
    return rank_seats(layout.layout, layout.seat_ids).lines


def one_row(seats: int) -> VenueLayout:
    return VenueLayout(
        "One Row",
        (CategorySpec("A", "Stalls"),),
        (SectionSpec("Stalls", (RowSpec("1", tuple(range(1, seats + 1)), "A"),)),),
    )


@dataclass(frozen=True, slots=True)
class Seats:
    """Where each event seat is, by event seat id."""

    line_of: dict[int, tuple[SeatLine, int]]

    @classmethod
    def of(cls, lines: tuple[SeatLine, ...]) -> Seats:
        return cls(
            {
                seat_id: (line, offset)
                for line in lines
                for offset, seat_id in enumerate(line.seat_ids)
            }
        )

    def together(self, seat_ids: tuple[int, ...]) -> bool:
        """All in one line, side by side."""
        places = sorted((self.line_of[s][1], id(self.line_of[s][0])) for s in seat_ids)
        return len({line for _, line in places}) == 1 and [p for p, _ in places] == list(
            range(places[0][0], places[0][0] + len(seat_ids))
        )


def lone_seats(lines: tuple[SeatLine, ...], statuses: dict[int, SeatStatus]) -> set[int]:
    """Free seats with no free neighbour in their line, where some neighbour is taken or the
    line ends: what the no-orphan rule forbids holds to create."""
    lone = set()
    for line in lines:
        free = [statuses[seat_id] is SeatStatus.AVAILABLE for seat_id in line.seat_ids]
        if len(free) < 2:
            continue  # a one-seat line strands nothing: nobody made it
        for offset, is_free in enumerate(free):
            left = offset > 0 and free[offset - 1]
            right = offset + 1 < len(free) and free[offset + 1]
            if is_free and not left and not right:
                lone.add(line.seat_ids[offset])
    return lone


def statuses_of(engine: RunningEngine, event_id: int) -> dict[int, SeatStatus]:
    seats = engine.actor_state(event_id).events[event_id].seats
    return {seat_id: seat.status for seat_id, seat in seats.items()}


def test_a_best_available_command_survives_the_queue() -> None:
    command = BestAvailableRequest(
        id="k1",
        reply_to="rq:replies:x",
        event_id=3,
        user_id=9,
        count=4,
        categories=("A", "B"),
        sections=("Balcony",),
        together=False,
        queued_at_ms=5,
    )

    assert decode_command(encode_command(command)) == command
    with pytest.raises(MalformedCommand):
        decode_command(encode_command(command).replace(b'"together":false', b'"together":0'))


async def test_the_best_seat_of_an_empty_event_is_the_one_nearest_the_stage(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    layout = demo_layout()
    event = await create_on_sale_event(db, layout=layout, prices=DEMO_PRICES)
    (buyer,) = await buyers(1)
    placed = plan_venue(layout).seats
    nearest = min(range(len(placed)), key=lambda index: placed[index].distance)

    reply = await ask_best(engine_client, event.event_id, buyer, 1)

    assert reply.hold_or_raise().seat_ids == (event.seat_ids[nearest],)
    # The default arrangement stands Floor and Balcony side by side facing the stage, so the
    # nearest seat is the front row's end closest to the stage's centre.
    assert (placed[nearest].section, placed[nearest].row, placed[nearest].number) == (
        "Balcony",
        "1",
        1,
    )


async def test_an_organizers_rank_beats_distance(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    layout = VenueLayout(
        "Ranked",
        (CategorySpec("A", "Stalls"),),
        (
            SectionSpec(
                "Stalls",
                (
                    RowSpec("1", (1, 2, 3, 4), "A"),
                    RowSpec("2", (1, 2, 3, 4), "A"),
                    RowSpec("3", (1, 2, 3, 4), "A", rank=1, seat_ranks=((4, 2),)),
                ),
            ),
        ),
    )
    event = await create_on_sale_event(db, layout=layout)
    (buyer,) = await buyers(1)

    reply = await ask_best(engine_client, event.event_id, buyer, 3)

    # Row 3 is ranked first, and of its seats 1-3 (rank 1) beat seat 4 (rank 2).
    assert reply.hold_or_raise().seat_ids == event.seat_ids[8:11]


async def test_best_available_keeps_buyers_together_in_every_demo_row_without_orphans(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    """Groups of 3 in each section until none fits: always side by side in one line (never
    across the gap in Floor row 6), and never a seat left alone."""
    event = await create_on_sale_event(
        db,
        layout=demo_layout(),
        prices=DEMO_PRICES,
        max_seats_per_buyer=3,
        no_single_gaps=True,
    )
    lines = await lines_of(db, event.event_id)
    where = Seats.of(lines)
    granted = 0
    for section in ("Floor", "Balcony"):
        while True:
            (buyer,) = await buyers(1)
            reply = await ask_best(engine_client, event.event_id, buyer, 3, sections=(section,))
            if reply.rejection is not None:
                assert reply.rejection.code is RejectCode.SEATS_UNAVAILABLE
                assert reply.rejection.message == f"No 3 seats together left in {section}"
                assert reply.rejection.details["reason"] == "not_together"
                break
            seat_ids = reply.hold_or_raise().seat_ids
            assert where.together(seat_ids), seat_ids
            assert {where.line_of[s][0].section for s in seat_ids} == {section}
            assert lone_seats(lines, statuses_of(engine, event.event_id)) == set()
            granted += 1
    statuses = statuses_of(engine, event.event_id)
    # Every free run is left too short for 3 without stranding one: 2 seats, or 4.
    for line in lines:
        runs = "".join("." if statuses[s] is SeatStatus.AVAILABLE else "x" for s in line.seat_ids)
        assert {len(run) for run in runs.split("x") if run} <= {2, 4}, (line.row, runs)
    # Floor row 6 is numbered 1-6 and 9-14: two lines of 6, each filled by two groups.
    row_six = [line for line in lines if (line.section, line.row) == ("Floor", "6")]
    assert [line.numbers for line in row_six] in (
        [(1, 2, 3, 4, 5, 6), (9, 10, 11, 12, 13, 14)],
        [(9, 10, 11, 12, 13, 14), (1, 2, 3, 4, 5, 6)],
    )
    assert all(statuses[s] is SeatStatus.HELD for line in row_six for s in line.seat_ids)
    assert granted == 62


async def test_the_search_falls_back_in_order(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    """Together leaving no orphan, then together at all (unless the event forbids orphans),
    then apart if the buyer allows it."""
    lenient = await create_on_sale_event(db, layout=one_row(5))
    strict = await create_on_sale_event(db, layout=one_row(6), no_single_gaps=True)
    first, second, third = await buyers(3)
    # Lenient: seat 2 taken leaves runs of 1 and 3, so any pair strands a seat.
    assert (await ask_hold(engine_client, lenient.event_id, first, (lenient.seat_ids[1],))).ok
    allowed = await ask_best(engine_client, lenient.event_id, second, 2)
    assert allowed.hold_or_raise().seat_ids == lenient.seat_ids[2:4]  # the best pair: 3 and 4

    # Strict: seats 3-4 taken leave two pairs.
    s = strict.seat_ids
    assert (await ask_hold(engine_client, strict.event_id, first, (s[2], s[3]))).ok
    refused = await ask_best(engine_client, strict.event_id, second, 3)
    assert refused.rejection is not None
    assert refused.rejection.code is RejectCode.SEATS_UNAVAILABLE
    assert refused.rejection.details == {"reason": "not_together", "count": 3}
    assert refused.rejection.message == "No 3 seats together left in this event"
    # Apart, 3 would take one of a pair and strand the other; 4 take both pairs.
    short = await ask_best(engine_client, strict.event_id, second, 3, together=False)
    assert short.rejection is not None
    assert short.rejection.details["reason"] == "not_enough"
    assert short.rejection.message == "Not 3 seats left in this event"
    apart = await ask_best(engine_client, strict.event_id, third, 4, together=False)
    assert sorted(apart.hold_or_raise().seat_ids) == [s[0], s[1], s[4], s[5]]


async def test_a_picked_hold_that_strands_a_seat_is_refused_naming_it(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    strict = await create_on_sale_event(db, layout=one_row(6), no_single_gaps=True)
    lenient = await create_on_sale_event(db, layout=one_row(6))
    first, second = await buyers(2)
    s = strict.seat_ids

    # Seats 2-3 leave seat 1 alone at the row's end.
    reply = await ask_hold(engine_client, strict.event_id, first, (s[1], s[2]))
    assert reply.rejection is not None
    assert reply.rejection.code is RejectCode.ORPHAN_SEAT
    assert reply.rejection.details == {
        "seat_id": s[0],
        "section": "Stalls",
        "row": "1",
        "number": 1,
    }
    assert "seat 1 in row 1 of Stalls" in reply.rejection.message
    # Seats 1 and 3 strand seat 2 between them.
    reply = await ask_hold(engine_client, strict.event_id, first, (s[0], s[2]))
    assert reply.rejection is not None
    assert reply.rejection.details["seat_id"] == s[1]
    # Shifted by one, it is fine; so is the same choice where the event allows gaps.
    assert (await ask_hold(engine_client, strict.event_id, first, (s[0], s[1]))).ok
    assert (await ask_hold(engine_client, lenient.event_id, first, (lenient.seat_ids[1],))).ok
    # A release may leave a gap; holding next to an existing lone seat is not blocked by it.
    held = await ask_hold(engine_client, strict.event_id, second, (s[2], s[3]))
    hold = held.hold_or_raise()
    release = await engine_client.submit(
        ReleaseRequest(
            id=new_command_id(),
            reply_to=engine_client.reply_to,
            event_id=strict.event_id,
            hold_id=hold.id,
            user_id=second,
        )
    )
    assert release.ok
    assert (await ask_hold(engine_client, strict.event_id, second, (s[4], s[5]))).ok


async def test_a_retry_gets_the_same_seats(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    event = await create_on_sale_event(db, layout=demo_layout(), prices=DEMO_PRICES)
    (buyer,) = await buyers(1)
    command_id = idempotent_command_id(f"{buyer}:{event.event_id}", "best-1")

    first = await ask_best(engine_client, event.event_id, buyer, 4, command_id=command_id)
    again = await ask_best(engine_client, event.event_id, buyer, 4, command_id=command_id)

    assert first.hold_or_raise() == again.hold_or_raise()
    held = [
        s for s, status in statuses_of(engine, event.event_id).items() if status.value == "held"
    ]
    assert sorted(held) == sorted(first.hold_or_raise().seat_ids)


async def test_a_new_owner_rebuilds_the_index_from_stored_seats(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    event = await create_on_sale_event(db, layout=one_row(4), no_single_gaps=True)
    first, second = await buyers(2)
    taken = (await ask_best(engine_client, event.event_id, first, 2)).hold_or_raise().seat_ids

    await engine.stop()
    await engine.start()

    again = (await ask_best(engine_client, event.event_id, second, 2)).hold_or_raise().seat_ids
    assert set(again).isdisjoint(taken)
    assert sorted(taken + again) == sorted(event.seat_ids)


async def test_concurrent_buyers_never_share_a_seat_nor_strand_one(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    """Rounds of 100 concurrent requests (best-available of every shape, and picked holds),
    with releases between rounds, about 3,000 requests from a fixed seed. After every round of
    holds: no seat is in two active holds, and no lone free seat exists that a release did not
    leave."""
    rng = random.Random(20261201)
    event = await create_on_sale_event(
        db,
        layout=demo_layout(),
        prices=DEMO_PRICES,
        max_seats_per_buyer=50,
        no_single_gaps=True,
    )
    lines = await lines_of(db, event.event_id)
    people = await buyers(20)
    active: dict[str, tuple[int, tuple[int, ...]]] = {}
    asked = 0

    def request(user: int) -> Awaitable[Reply]:
        if rng.random() < 0.7:
            return ask_best(
                engine_client,
                event.event_id,
                user,
                rng.randint(1, 6),
                categories=tuple(rng.sample(["A", "B", "C"], rng.randint(0, 2))),
                together=rng.random() < 0.7,
            )
        start = rng.randrange(len(event.seat_ids) - 3)
        picked = tuple(event.seat_ids[start : start + rng.randint(1, 3)])
        return ask_hold(engine_client, event.event_id, user, picked)

    excused: set[int] = set()  # the demo hall has no one-seat lines
    for _ in range(30):
        users = [rng.choice(people) for _ in range(100)]
        replies = await asyncio.gather(*(request(user) for user in users))
        asked += len(replies)
        for user, reply in zip(users, replies, strict=True):
            if reply.ok:
                hold = reply.hold_or_raise()
                active[hold.id] = (user, hold.seat_ids)
            else:
                assert reply.rejection is not None
                assert reply.rejection.code in (
                    RejectCode.SEATS_UNAVAILABLE,
                    RejectCode.ORPHAN_SEAT,
                    RejectCode.LIMIT_EXCEEDED,
                ), reply.rejection
        every_seat = [seat for _, seats in active.values() for seat in seats]
        assert len(every_seat) == len(set(every_seat)), "a seat is in two holds"
        statuses = statuses_of(engine, event.event_id)
        assert {s for s, st in statuses.items() if st is SeatStatus.HELD} == set(every_seat)
        # Holds fill lone seats but never make them.
        assert lone_seats(lines, statuses) <= excused
        # Then some buyers give seats back: whatever gaps that leaves are excused.
        for hold_id in rng.sample(sorted(active), k=len(active) // 3):
            user, _ = active.pop(hold_id)
            release = await engine_client.submit(
                ReleaseRequest(
                    id=new_command_id(),
                    reply_to=engine_client.reply_to,
                    event_id=event.event_id,
                    hold_id=hold_id,
                    user_id=user,
                )
            )
            assert release.ok
        excused = lone_seats(lines, statuses_of(engine, event.event_id))
    assert asked == 3000
