"""What the seat feed holds per event, for tests that check it holds nothing it should not."""

from __future__ import annotations

from gateway.pushwindow import PushWindow
from gateway.seatfeed import SeatFeed


def per_event_state(feed: SeatFeed) -> dict[str, int]:
    """The size of every map and set the feed and its push window keep: all they hold per event
    or channel. Read from the objects themselves, so one added later is counted too."""
    holders: list[object] = [feed, *(v for v in vars(feed).values() if isinstance(v, PushWindow))]
    return {
        f"{type(holder).__name__}.{name}": len(value)
        for holder in holders
        for name, value in vars(holder).items()
        if isinstance(value, dict | set)
    }
