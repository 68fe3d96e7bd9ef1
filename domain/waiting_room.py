"""The waiting room's vocabulary: a place's states, the organizer's settings, and the arithmetic
of "how many are ahead of me and how long will it take" that the engine, the gateway and the
page all use the same way.

Every place has a fixed rank (1 is first in line); the engine admits ranks in order and says how
far it has come (`admitted_through`). A buyer's position is therefore a subtraction anyone can do,
which is what lets one broadcast tell every waiting buyer where they stand.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final

from domain.errors import InvalidInput

ADMISSIONS_PER_MINUTE_RANGE: Final = (1, 1_000_000)
MAX_INSIDE_RANGE: Final = (1, 1_000_000)
SESSION_SECONDS_RANGE: Final = (60, 86_400)
DEFAULT_SESSION_SECONDS: Final = 600


class QueueState(enum.StrEnum):
    PRE_QUEUE = "pre_queue"
    WAITING = "waiting"
    ADMITTED = "admitted"
    EXPIRED = "expired"
    DONE = "done"

    @property
    def is_waiting(self) -> bool:
        """Still in line: the place counts towards the queue and may be admitted."""
        return self in (QueueState.PRE_QUEUE, QueueState.WAITING)


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitingRoomSettings:
    """What an organizer sets for one event's waiting room. `version` rises by one with every
    save, so the engine can ignore a stale configuration that arrives after a newer one."""

    enabled: bool
    queue_opens_at_ms: int
    admissions_per_minute: int
    max_inside: int
    session_seconds: int = DEFAULT_SESSION_SECONDS
    paused: bool = False
    version: int = 0

    def check(self) -> None:
        """Raise `InvalidInput` naming the first setting out of its range."""
        for name, value, (low, high) in (
            ("admissions_per_minute", self.admissions_per_minute, ADMISSIONS_PER_MINUTE_RANGE),
            ("max_inside", self.max_inside, MAX_INSIDE_RANGE),
            ("session_seconds", self.session_seconds, SESSION_SECONDS_RANGE),
        ):
            if not low <= value <= high:
                raise InvalidInput(
                    f"{name.replace('_', ' ').capitalize()} must be between {low:,} and {high:,}",
                    field=name,
                )


def people_ahead(rank: int, admitted_through: int) -> int:
    """Places between a buyer and the front of the line (those who left ahead included: they
    are passed over in a moment)."""
    return max(rank - admitted_through - 1, 0)


def estimated_wait_seconds(ahead: int, rate_per_minute: float) -> int | None:
    """Seconds until a buyer with `ahead` places in front is admitted at this rate; None when
    nothing is being admitted (paused) and no estimate can be honest."""
    if ahead <= 0:
        return 0
    if rate_per_minute <= 0:
        return None
    return math.ceil(ahead * 60 / rate_per_minute)
