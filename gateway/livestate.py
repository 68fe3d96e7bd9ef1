"""Every seat's status as one letter per seat in layout order, read once per sequence number.

When a sale opens, every buyer's map asks for the same statuses within seconds. Reading them is
a whole status hash (20,000 fields for a big venue), so each gateway reads an event's statuses
once per change of its `seq` and serves the same encoded bytes, for the HTTP live state and for
a compact websocket snapshot, to everyone who asks until the next change. The `seq` check is a
single GET, as for the seat feed's own snapshots.
"""

from __future__ import annotations

import asyncio
import gzip
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import orjson

from domain.statuses import SeatStatus
from engine.keys import ShardKeys, shard_of
from engine.snapshot import read_snapshot
from gateway.views.catalog import live_state_view

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from config import EngineSettings
    from engine.redis_client import RedisClient
    from gateway.layouts import EncodedLayout

DEFAULT_KEPT: Final = 32
# Encoded once per change and sent to many; a fast level keeps a busy sale's rebuilds cheap.
_GZIP_LEVEL: Final = 6


@dataclass(frozen=True, slots=True)
class LiveState:
    seq: int
    body: bytes  # the HTTP answer's JSON
    gzipped: bytes
    frame: str  # the same statuses as a websocket snapshot message


class LiveStates:
    """The live state of the last `kept` events asked for, by event id."""

    __slots__ = ("_kept", "_reading", "_states")

    def __init__(self, kept: int = DEFAULT_KEPT) -> None:
        self._kept = kept
        self._states: OrderedDict[int, LiveState] = OrderedDict()
        # One read at a time: a crowd arriving together waits for one read, not one each.
        self._reading = asyncio.Lock()

    async def get(
        self,
        redis: RedisClient,
        settings: EngineSettings,
        layout: EncodedLayout,
        stored: Callable[[], Awaitable[list[tuple[int, SeatStatus]]]],
    ) -> LiveState:
        """The statuses of `layout`'s event now: from the engine's Redis hash once it has
        loaded the event, else from `stored` (MariaDB's statuses, current until it loads)."""
        event_id = layout.event_id
        seq_key = ShardKeys(shard_of(event_id, settings.shards)).seat_seq(event_id)
        found = await self._current(event_id, redis, seq_key)
        if found is not None:
            return found
        async with self._reading:
            found = await self._current(event_id, redis, seq_key)
            if found is not None:
                return found
            snapshot = await read_snapshot(redis, settings, event_id)
            if snapshot is None:
                view = live_state_view(event_id, 0, await stored(), {})
            else:
                # The loaded event's hash holds every seat, so the default never shows.
                every = [(seat_id, SeatStatus.AVAILABLE) for seat_id in layout.seat_ids]
                view = live_state_view(event_id, snapshot.seq, every, snapshot.statuses)
            body = orjson.dumps(view)
            frame = orjson.dumps({"type": "snapshot", **view}).decode()
            state = LiveState(view["seq"], body, gzip.compress(body, _GZIP_LEVEL, mtime=0), frame)
            self._states[event_id] = state
            self._states.move_to_end(event_id)
            if len(self._states) > self._kept:
                self._states.popitem(last=False)
            return state

    async def _current(self, event_id: int, redis: RedisClient, seq_key: str) -> LiveState | None:
        cached = self._states.get(event_id)
        if cached is None or cached.seq != int(await redis.get(seq_key) or 0):
            return None
        self._states.move_to_end(event_id)
        return cached
