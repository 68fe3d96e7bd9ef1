"""An event's free seats by line, kept up to date so best-available never scans the event.

Built once when the actor loads the event, from the venue's ranking (domain/seat_ranking.py),
then told of every change of a seat's availability by `ShardState._set_seat`. Each line keeps
its free runs (maximal stretches of adjacent free seats) and the longest of them, and the index
keeps the lines that still have a free seat in ranking order. A search walks those lines best
first and stops as soon as no later line can beat what it found: the lines are sorted by their
best seat, so `count` seats of a later line cost at least `count` times its best order.

Here "free" means available: held, booked and not-for-sale seats all count as taken, for
best-available and for the no-orphan rule alike.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.statuses import SeatStatus

if TYPE_CHECKING:
    from domain.seat_ranking import SeatLine, SeatRanking
    from engine.state import Seat


class Shortfall(enum.StrEnum):
    """Why a best-available search found nothing; the wire's `reason`."""

    NOT_TOGETHER = "not_together"
    NOT_ENOUGH = "not_enough"


@dataclass(frozen=True, slots=True)
class Stranded:
    """The seat a choice would leave alone, with its place for the buyer's message."""

    seat_id: int
    section: str
    row: str
    number: int


@dataclass(frozen=True, slots=True)
class SeatFilter:
    """Which lines a best-available request may use: empty means any."""

    categories: frozenset[str] = frozenset()
    sections: frozenset[str] = frozenset()

    def admits(self, line: SeatLine) -> bool:
        return (not self.categories or line.category in self.categories) and (
            not self.sections or line.section in self.sections
        )


class _Line:
    __slots__ = ("dirty", "free", "free_count", "line", "longest", "position", "prefix", "runs")

    def __init__(self, line: SeatLine, position: int, free: list[bool]) -> None:
        self.line = line
        self.position = position  # in the ranking's order of lines
        self.free = free
        # prefix[i] is the sum of the first i seats' orders: a window's cost in O(1).
        self.prefix = [0]
        for order in line.orders:
            self.prefix.append(self.prefix[-1] + order)
        self.runs: list[tuple[int, int]] = []
        self.longest = 0
        self.free_count = sum(free)
        self.dirty = True
        self.recount()

    def recount(self) -> None:
        """Rebuild the free runs if a seat changed since the last time: a line is a row or
        less, tens of seats. Done when a search looks at the line, not on every change, so a
        picked hold pays for the index no more than a counter update."""
        if not self.dirty:
            return
        self.dirty = False
        runs = []
        start = -1
        for position, free in enumerate(self.free):
            if free and start < 0:
                start = position
            elif not free and start >= 0:
                runs.append((start, position))
                start = -1
        if start >= 0:
            runs.append((start, len(self.free)))
        self.runs = runs
        self.longest = max((end - begin for begin, end in runs), default=0)

    def best_window(
        self, begin: int, end: int, count: int, *, no_orphans: bool
    ) -> tuple[int, int] | None:
        """(cost, start) of the best `count` seats together in the free run [begin, end)."""
        best: tuple[int, int] | None = None
        for start in range(begin, end - count + 1):
            if no_orphans and (start - begin == 1 or end - start - count == 1):
                continue
            cost = self.prefix[start + count] - self.prefix[start]
            if best is None or cost < best[0]:
                best = (cost, start)
        return best


class SeatIndex:
    def __init__(self, ranking: SeatRanking, seats: Mapping[int, Seat]) -> None:
        self._lines: list[_Line] = []
        self._where: dict[int, tuple[_Line, int]] = {}
        for position, line in enumerate(ranking.lines):
            free = [seats[seat_id].status is SeatStatus.AVAILABLE for seat_id in line.seat_ids]
            entry = _Line(line, position, free)
            self._lines.append(entry)
            for offset, seat_id in enumerate(line.seat_ids):
                self._where[seat_id] = (entry, offset)
        # Positions of the lines with at least one free seat, ascending (best first).
        self._live = [entry.position for entry in self._lines if entry.free_count]
        self.categories = frozenset(line.category for line in ranking.lines)
        self.sections = frozenset(line.section for line in ranking.lines)

    def seat_changed(self, seat_id: int, free: bool) -> None:
        """Note that a seat became free or taken."""
        found = self._where.get(seat_id)
        if found is None:
            return
        entry, offset = found
        if entry.free[offset] is free:
            return
        entry.free[offset] = free
        entry.dirty = True
        entry.free_count += 1 if free else -1
        if not entry.free_count:
            del self._live[bisect.bisect_left(self._live, entry.position)]
        elif free and entry.free_count == 1:
            bisect.insort(self._live, entry.position)

    def stranded_by(self, seat_ids: Iterable[int]) -> Stranded | None:
        """The first free seat that taking `seat_ids` (all free now) would leave alone between
        taken seats or a taken seat and its line's end; None if there is none. The seats are
        looked at in the order given, left side first, so the seat named does not depend on
        how a set happens to order the ids."""
        ordered = list(dict.fromkeys(seat_ids))
        chosen = set(ordered)
        for seat_id in ordered:
            found = self._where.get(seat_id)
            if found is None:
                continue
            entry, offset = found
            size = len(entry.free)
            for step in (-1, 1):
                beside = offset + step
                if not 0 <= beside < size or not entry.free[beside]:
                    continue
                if entry.line.seat_ids[beside] in chosen:
                    continue
                beyond = beside + step
                if (
                    not 0 <= beyond < size
                    or not entry.free[beyond]
                    or entry.line.seat_ids[beyond] in chosen
                ):
                    line = entry.line
                    return Stranded(
                        line.seat_ids[beside], line.section, line.row, line.numbers[beside]
                    )
        return None

    def best(
        self, count: int, where: SeatFilter, *, together: bool, no_single_gaps: bool
    ) -> tuple[int, ...] | Shortfall:
        """The best `count` free seats, searched in order: together leaving no orphan;
        together (unless the event forbids orphans); then, if `together` is false, the best
        lines' seats wherever they are (still leaving no orphan if the event forbids them)."""
        found = self._together(count, where, no_orphans=True)
        if found is None and not no_single_gaps:
            found = self._together(count, where, no_orphans=False)
        if found is not None:
            return found
        if together:
            return Shortfall.NOT_TOGETHER
        return self._apart(count, where, no_orphans=no_single_gaps) or Shortfall.NOT_ENOUGH

    def _together(
        self, count: int, where: SeatFilter, *, no_orphans: bool
    ) -> tuple[int, ...] | None:
        best: tuple[int, _Line, int] | None = None
        # Any `count` distinct orders from a line sum to at least this above its best one.
        spread = count * (count - 1) // 2
        for position in self._live:
            entry = self._lines[position]
            if best is not None and count * entry.line.best_order + spread >= best[0]:
                break
            if entry.free_count < count or not where.admits(entry.line):
                continue
            entry.recount()
            if entry.longest < count:
                continue
            for begin, end in entry.runs:
                if end - begin < count:
                    continue
                window = entry.best_window(begin, end, count, no_orphans=no_orphans)
                if window is not None and (best is None or window[0] < best[0]):
                    best = (window[0], entry, window[1])
        if best is None:
            return None
        _, entry, start = best
        return entry.line.seat_ids[start : start + count]

    def _apart(self, count: int, where: SeatFilter, *, no_orphans: bool) -> tuple[int, ...] | None:
        """Fill from the best lines down, each free run from its best window."""
        chosen: list[int] = []
        for position in self._live:
            entry = self._lines[position]
            if not where.admits(entry.line):
                continue
            entry.recount()
            for begin, end in entry.runs:
                take = min(count - len(chosen), end - begin)
                if no_orphans and end - begin - take == 1:
                    take -= 1  # leave two rather than one
                if take <= 0:
                    continue
                window = entry.best_window(begin, end, take, no_orphans=no_orphans)
                if window is None:
                    continue
                chosen.extend(entry.line.seat_ids[window[1] : window[1] + take])
                if len(chosen) == count:
                    return tuple(chosen)
        return None
