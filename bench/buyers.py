"""The rush's demand shape, shared by both benchmarks.

Most buyers want the same seats: 80% of picks come from the best 10% while any are left. A buyer
who is refused learns which seats were taken (as a live seat map would show) and tries others,
until it holds or the event is sold out. Seats that come free again (released, expired) are
offered again, as a live seat map shows them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Final

BEST_SHARE: Final = 0.10
BEST_DEMAND: Final = 0.80


class SeatMap:
    """A buyer-side view of which seats still look free, cheap to sample and update."""

    def __init__(self, seat_ids: Sequence[int]) -> None:
        cut = max(1, int(len(seat_ids) * BEST_SHARE))
        self._best = frozenset(seat_ids[:cut])
        self._all = frozenset(seat_ids)
        self._pools: list[list[int]] = [list(seat_ids[:cut]), list(seat_ids[cut:])]
        self._where: dict[int, tuple[int, int]] = {}
        for pool_index, pool in enumerate(self._pools):
            for position, seat in enumerate(pool):
                self._where[seat] = (pool_index, position)

    @property
    def free(self) -> int:
        return len(self._where)

    def pick(self, count: int, rng: random.Random) -> tuple[int, ...]:
        best, rest = self._pools
        chosen: set[int] = set()
        for _ in range(count * 4):
            if len(chosen) == count or not self._where:
                break
            pool = best if best and (not rest or rng.random() < BEST_DEMAND) else rest
            chosen.add(pool[rng.randrange(len(pool))])
        return tuple(chosen)

    def taken(self, seats: Iterable[int]) -> None:
        for seat in seats:
            where = self._where.pop(seat, None)
            if where is None:
                continue
            pool = self._pools[where[0]]
            last = pool.pop()
            if last != seat:
                pool[where[1]] = last
                self._where[last] = where

    def freed(self, seats: Iterable[int]) -> None:
        """Offer seats again; seats this map never had are ignored."""
        for seat in seats:
            if seat in self._where or seat not in self._all:
                continue
            pool_index = 0 if seat in self._best else 1
            pool = self._pools[pool_index]
            self._where[seat] = (pool_index, len(pool))
            pool.append(seat)
