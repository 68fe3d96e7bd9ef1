"""Encoded event layouts, built once per process and kept.

An event's layout never changes once the event exists, and at a sale's start every buyer's
browser asks for it in the same minute; building it (a query over every seat, placing them,
JSON, gzip) costs tens of milliseconds at 20,000 seats. So each gateway builds an event's layout
once, keeps the encoded bytes of the most recently asked-for events, and answers the rest from
memory. Unknown events are not kept, so made-up ids cost a query each and nothing lasting.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import orjson

from gateway.views.catalog import layout_view

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from persistence.catalog import EventLayout

DEFAULT_KEPT: Final = 32
# Encoded once and served many times, so the slowest, smallest level pays for itself.
_GZIP_LEVEL: Final = 9


@dataclass(frozen=True, slots=True)
class EncodedLayout:
    event_id: int
    etag: str  # strong, quoted: the hash of the JSON body
    body: bytes
    gzipped: bytes
    seat_ids: tuple[int, ...]  # layout order, which the live state follows

    @classmethod
    def encode(cls, stored: EventLayout) -> EncodedLayout:
        body = orjson.dumps(layout_view(stored))
        digest = hashlib.sha256(body).hexdigest()[:32]
        gzipped = gzip.compress(body, _GZIP_LEVEL, mtime=0)
        return cls(stored.event_id, f'"{digest}"', body, gzipped, stored.seat_ids)


class LayoutCache:
    """The encoded layouts of the last `kept` events asked for, by event id."""

    __slots__ = ("_building", "_kept", "_layouts")

    def __init__(self, kept: int = DEFAULT_KEPT) -> None:
        self._kept = kept
        self._layouts: OrderedDict[int, EncodedLayout] = OrderedDict()
        # One build at a time: a rush of first requests for one event builds it once, and the
        # others find it kept when their turn comes.
        self._building = asyncio.Lock()

    async def get(
        self, event_id: int, load: Callable[[], Awaitable[EventLayout | None]]
    ) -> EncodedLayout | None:
        """The event's encoded layout, from what `load` reads (None: no such event) if not
        kept."""
        found = self._kept_layout(event_id)
        if found is not None:
            return found
        async with self._building:
            found = self._kept_layout(event_id)
            if found is not None:
                return found
            stored = await load()
            if stored is None:
                return None
            # Placing and encoding 20,000 seats takes a tenth of a second: off the event loop.
            encoded = await asyncio.to_thread(EncodedLayout.encode, stored)
            self._layouts[event_id] = encoded
            if len(self._layouts) > self._kept:
                self._layouts.popitem(last=False)
            return encoded

    def _kept_layout(self, event_id: int) -> EncodedLayout | None:
        found = self._layouts.get(event_id)
        if found is not None:
            self._layouts.move_to_end(event_id)
        return found
