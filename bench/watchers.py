"""Seat-map websocket watchers: how late each change reaches a browser, and a live map for the
buyers.

Every watcher records, for each change batch (alone in a `seats` frame or one of a `batches`
frame's), its receive time minus the batch's `at` (the engine's decision time). Watcher 0 also
keeps the full seat statuses: it feeds the buyers' shared `SeatMap` (as a seat-map UI shows
taken seats) and tells the run when the event sold out and when no seat is held any more.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import WSMsgType

from bench.buyers import SeatMap
from domain.statuses import SeatStatus

# A socket the gateway drops (1013, "try again later", when it falls behind) comes back, within
# reason and with a growing, jittered delay, as a browser's seat map would.
MAX_CONNECTS: Final = 50
RECONNECT_DELAY_S: Final = 0.5
RECONNECT_DELAY_MAX_S: Final = 8.0
STABLE_AFTER_S: Final = 5.0  # a connection that lasted this long starts the delays afresh
CLOSE_WITHIN_S: Final = 10.0
OPEN_AT_ONCE: Final = 8
_BULK_KEYS: Final = (',"changes":', ',"seats":', ',"messages":')
_AT_AND_SEQ: Final = re.compile(r'"at":(\d+),"seq":(\d+)')


class LiveMap:
    """One watcher's view of every seat's status, feeding the buyers' `SeatMap`: seats taken
    leave it, seats released or expired come back."""

    def __init__(self, seat_map: SeatMap) -> None:
        self._seat_map = seat_map
        self._statuses: dict[int, str] = {}
        self._counts: Counter[str] = Counter()
        self._news = asyncio.Event()
        self.sold_out_at: float | None = None  # perf_counter

    def count(self, status: SeatStatus) -> int:
        return self._counts[status.value]

    def load(self, seats: list[dict[str, Any]]) -> None:
        self._statuses = {seat["seat_id"]: seat["status"] for seat in seats}
        self._counts = Counter(self._statuses.values())
        self._seat_map.taken(
            seat for seat, status in self._statuses.items() if status != SeatStatus.AVAILABLE
        )
        self._seat_map.freed(
            seat for seat, status in self._statuses.items() if status == SeatStatus.AVAILABLE
        )
        self._changed()

    def apply(self, changes: list[dict[str, Any]]) -> None:
        for change in changes:
            seat, status = change["seat_id"], change["status"]
            self._counts[self._statuses.get(seat, "")] -= 1
            self._counts[status] += 1
            self._statuses[seat] = status
        self._seat_map.taken(
            change["seat_id"] for change in changes if change["status"] != SeatStatus.AVAILABLE
        )
        self._seat_map.freed(
            change["seat_id"] for change in changes if change["status"] == SeatStatus.AVAILABLE
        )
        self._changed()

    def _changed(self) -> None:
        if self.sold_out_at is None and self._statuses and not self.count(SeatStatus.AVAILABLE):
            self.sold_out_at = time.perf_counter()
        self._news.set()

    async def wait_until(self, predicate: Callable[[LiveMap], bool], within: float) -> None:
        """Until `predicate` holds for this map (one waiter at a time); TimeoutError after
        `within` seconds."""
        async with asyncio.timeout(within):
            while not predicate(self):
                self._news.clear()
                await self._news.wait()


@dataclass(slots=True)
class FeedStats:
    push_latencies_s: list[float] = field(default_factory=list)
    messages: int = 0  # change batches
    frames: int = 0  # `seats` and `batches` frames: several batches may share one
    snapshots: int = 0
    reconnects: int = 0
    gaps: int = 0  # a `seats` message whose seq is not the previous one plus one
    closes: Counter[str] = field(default_factory=Counter)  # close codes sent by the gateway
    errors: Counter[str] = field(default_factory=Counter)
    open_s: float = 0.0  # until every watcher had its first snapshot


class Watchers:
    """`count` open seat maps of one event, kept open until `close`."""

    def __init__(self, session: aiohttp.ClientSession, url: str, count: int, live: LiveMap) -> None:
        self._session = session
        self._url = url
        self._count = count
        self._live = live
        self._sockets: set[aiohttp.ClientWebSocketResponse] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._snapshotted: set[int] = set()
        self._all_snapshotted = asyncio.Event()
        self._stopping = asyncio.Event()
        self._opening = asyncio.Semaphore(OPEN_AT_ONCE)
        self.stats = FeedStats()

    async def open(self, within: float = 240.0) -> None:
        """Connect every watcher and wait until each has its first snapshot."""
        started = time.perf_counter()
        self._tasks = [
            asyncio.create_task(self._watch(index), name=f"watcher-{index}")
            for index in range(self._count)
        ]
        async with asyncio.timeout(within):
            await self._all_snapshotted.wait()
        self.stats.open_s = round(time.perf_counter() - started, 2)

    async def close(self) -> None:
        """Close every socket, then reap the watcher tasks and raise what any of them raised."""
        self._stopping.set()
        await asyncio.gather(*(ws.close() for ws in list(self._sockets)))
        _, late = await asyncio.wait(self._tasks, timeout=CLOSE_WITHIN_S)
        for task in late:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def _watch(self, index: int) -> None:
        jitter = random.Random(index)
        failures = 0  # connections in a row that did not last
        for attempt in range(MAX_CONNECTS):
            if attempt:
                delay = min(RECONNECT_DELAY_S * 2**failures, RECONNECT_DELAY_MAX_S)
                await asyncio.sleep(delay * jitter.uniform(0.5, 1.5))
            if self._stopping.is_set():
                return
            if attempt:
                self.stats.reconnects += 1
            try:
                # The gateway reads the snapshot before it completes the handshake, so this
                # bounds how many snapshots it builds at once.
                async with self._opening:
                    ws = await self._session.ws_connect(self._url)
            except (aiohttp.ClientError, OSError) as exc:
                self.stats.errors[type(exc).__name__] += 1
                failures += 1
                continue
            try:
                if self._stopping.is_set():  # connected while `close` was closing the others
                    return
                self._sockets.add(ws)
                opened = time.perf_counter()
                await self._read(ws, index)
                lasted = time.perf_counter() - opened >= STABLE_AFTER_S
                failures = 0 if lasted else failures + 1
                if not self._stopping.is_set():
                    self.stats.closes[str(ws.close_code)] += 1
            except (aiohttp.ClientError, OSError) as exc:
                self.stats.errors[type(exc).__name__] += 1
            finally:
                self._sockets.discard(ws)
                await ws.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, index: int) -> None:
        """Handle messages until the socket closes."""
        seq = -1
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break
            received_ms = time.time() * 1000
            text: str = message.data
            body = orjson.loads(text) if index == 0 else _header(text)
            if body["type"] == "snapshot":
                seq = body["seq"]
                self.stats.snapshots += 1
                if index == 0:
                    self._live.load(body["seats"])
                self._snapshotted.add(index)
                if len(self._snapshotted) == self._count:
                    self._all_snapshotted.set()
                continue
            if body["type"] not in ("seats", "batches"):
                continue
            self.stats.frames += 1
            for at_ms, batch_seq in _batches(text):
                if batch_seq <= seq:  # already in the snapshot this socket resynced to
                    continue
                self.stats.messages += 1
                self.stats.push_latencies_s.append((received_ms - at_ms) / 1000)
                if batch_seq != seq + 1:
                    self.stats.gaps += 1
                seq = batch_seq
            if index == 0:
                inner = body["messages"] if body["type"] == "batches" else [body]
                for batch in inner:
                    self._live.apply(batch["changes"])


def _batches(text: str) -> list[tuple[int, int]]:
    """Each batch's decision time and seq, in order, without parsing the seat lists: the engine
    writes `"at":…,"seq":…` in that order at the head of every batch."""
    return [(int(at), int(seq)) for at, seq in _AT_AND_SEQ.findall(text)]


def _header(text: str) -> dict[str, Any]:
    """A message without its seat list. Hundreds of watchers share this process, and parsing
    every list each time would make the load client the bottleneck; the gateway and the engine
    write the header fields (type, event_id, at, seq) before the list."""
    cuts = [cut for cut in (text.find(key) for key in _BULK_KEYS) if cut > 0]
    if cuts:
        header: dict[str, Any] = orjson.loads(text[: min(cuts)] + "}")
        return header
    whole: dict[str, Any] = orjson.loads(text)
    return whole
