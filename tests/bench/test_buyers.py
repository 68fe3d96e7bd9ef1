"""The bench buyers' seat map: taken seats leave it, freed seats come back to their own pool."""

from __future__ import annotations

import random

from bench.buyers import SeatMap


def test_taken_seats_are_never_picked_and_freed_ones_are_offered_again() -> None:
    seats = list(range(1, 101))  # 1-10 are the best tenth
    seat_map = SeatMap(seats)
    seat_map.taken(range(1, 100))
    assert seat_map.free == 1
    assert seat_map.pick(4, random.Random(1)) == (100,)

    seat_map.freed([5, 100, 100, 7])
    assert seat_map.free == 3
    picked = {seat for n in range(50) for seat in seat_map.pick(3, random.Random(n))}
    assert picked == {5, 7, 100}


def test_seats_it_never_had_are_not_freed() -> None:
    seat_map = SeatMap([1, 2, 3])
    seat_map.taken([1, 2, 3])
    seat_map.freed([4, 99])
    assert seat_map.free == 0
