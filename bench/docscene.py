"""What the README's pictures show: a venue and event from devstack/layouts/ on sale now, and a
crowd's holds on about a third of its seats, most of them near the stage (bench.docshots takes
the pictures).

A run of seats along a row is held with a chance that falls with its distance from the stage,
drawn with a fixed seed, so every run holds the same seats and draws the same map.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Final

from domain.catalog import naive_utc, parse_event_spec, parse_venue_layout
from domain.geometry import plan_venue
from persistence import Database
from persistence.catalog import SeatRow, create_event, create_venue, event_seat_map

LAYOUTS: Final = Path(__file__).resolve().parents[1] / "devstack" / "layouts"
HELD_SHARE: Final = 1 / 3
# A seat's chance of being held falls by e for every FALLOFF_M metres from the stage, and is at
# most MOST_LIKELY. On the arena: the floor 90% held, the lower bowl 45%, the upper bowl 9%.
FALLOFF_M: Final = 15.0
MOST_LIKELY: Final = 0.9
SEED: Final = 19


@dataclasses.dataclass(frozen=True, slots=True)
class Scene:
    """The layout files pictured, the section zoomed into, and the photographed buyer's seats:
    in the middle of that section, where its zoom centres."""

    venue_file: str
    event_file: str
    section: str
    own_row: str
    own_seats: tuple[int, ...]


ARENA: Final = Scene("arena-venue.json", "arena-event.json", "105", "13", (17, 18, 19))
# The 196-seat demo hall, for a quick run.
HALL: Final = Scene("demo-venue.json", "demo-event.json", "Floor", "3", (8, 9, 10))


@dataclasses.dataclass(frozen=True, slots=True)
class PicturedEvent:
    event_id: int
    time_zone: str
    max_per_buyer: int
    seats: list[SeatRow]  # layout order: a row's seats one after the other
    distance: dict[int, float]  # seat id -> metres from the stage
    own_seat_ids: list[int]


async def create_pictured_event(db: Database, scene: Scene) -> PicturedEvent:
    """The scene's venue and event, the sale open from five minutes ago (the files' sales open
    in 2030)."""
    layout = parse_venue_layout(json.loads((LAYOUTS / scene.venue_file).read_text()))
    spec = parse_event_spec(json.loads((LAYOUTS / scene.event_file).read_text()))
    opened = naive_utc(datetime.now(UTC)) - timedelta(minutes=5)
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, layout)
        event_id = await create_event(
            conn, dataclasses.replace(spec, venue_id=venue_id, sale_starts_at=opened)
        )
        seats = await event_seat_map(conn, event_id)
    placed = {
        (seat.section, seat.row, seat.number): seat.distance for seat in plan_venue(layout).seats
    }
    own = [
        seat.id
        for seat in seats
        if (seat.section, seat.row) == (scene.section, scene.own_row)
        and seat.number in scene.own_seats
    ]
    if len(own) != len(scene.own_seats):
        raise ValueError(f"{scene.venue_file} lacks some of the buyer's seats: {scene}")
    return PicturedEvent(
        event_id=event_id,
        time_zone=spec.time_zone,
        max_per_buyer=spec.max_seats_per_buyer,
        seats=seats,
        distance={seat.id: placed[seat.section, seat.row, seat.number] for seat in seats},
        own_seat_ids=own,
    )


def crowd_holds(event: PicturedEvent) -> list[list[int]]:
    """The crowd's holds: runs of 1 to the most a buyer may take along each row, about
    HELD_SHARE of the seats in all, none with the photographed buyer's seats."""
    scale = _scale_for(list(event.distance.values()), HELD_SHARE * len(event.seats))
    chooser = random.Random(SEED)
    keep_free = set(event.own_seat_ids)
    holds: list[list[int]] = []
    for _, row in groupby(event.seats, key=lambda seat: (seat.section, seat.row)):
        ids = [seat.id for seat in row]
        at = 0
        while at < len(ids):
            run = ids[at : at + chooser.randint(1, event.max_per_buyer)]
            at += len(run)
            chance = _chance(event.distance[run[0]], scale)
            if chooser.random() < chance and keep_free.isdisjoint(run):
                holds.append(run)
    return holds


def _chance(distance: float, scale: float) -> float:
    return min(MOST_LIKELY, scale * math.exp(-distance / FALLOFF_M))


def _scale_for(distances: list[float], held: float) -> float:
    """The scale at which the chances add up to `held` seats (bisection: the sum only grows
    with the scale)."""
    low, high = 0.0, 1.0
    while sum(_chance(d, high) for d in distances) < held:
        high *= 2
    for _ in range(40):
        middle = (low + high) / 2
        if sum(_chance(d, middle) for d in distances) < held:
            low = middle
        else:
            high = middle
    return high
