"""One load process of the waiting-room rush: its share of the buyers and of the queue sockets.

A process keeps its queue websockets open from before the sale and reads every broadcast on all
of them (how late each arrives is the push latency). The broadcasts also tell its buyers when
they are admitted, as each buyer's page works it out: admitted once `admitted_through` reaches
its rank. At its time each buyer joins; a buyer who joined in the pre-queue asks for its status
(`GET …/queue`) once the sale has started and the line is ranked, as the page does. Admitted
buyers shop as in the rush (`bench.shoppers`). Everything a buyer saw goes back to the parent
process in one `WorkerResult`.

The parent talks to the process over a pipe: the process answers `("ready", sockets)` once its
sockets are open, waits for `("go", sale_starts_at_s, joins_until_s)`, answers `("joined", n)`
once every join is answered, and on `("stop",)` lets the waiting buyers go, finishes the ones
shopping, and answers `("result", WorkerResult)`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Final

import aiohttp
import orjson
import uvloop
from aiohttp import WSMsgType

from bench.buyers import SeatMap
from bench.shoppers import Shoppers, Tally
from bench.watchers import LiveMap, Watchers
from domain.statuses import Role
from gateway.auth.tokens import TokenCodec

OPEN_AT_ONCE: Final = 200
# A join that timed out is sent again (same Idempotency-Key), but not forever: retries of a
# crowd the gateway cannot serve only add to its backlog.
JOIN_ATTEMPTS: Final = 3
RETRY_PAUSE_S: Final = 0.5
RECONNECTS: Final = 20
HTTP_TIMEOUT_S: Final = 30.0
# After the stop, how long the buyers already shopping may take to finish.
FINISH_WITHIN_S: Final = 15.0
TOKEN_TTL_S: Final = 3600


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    index: int
    base_url: str
    event_id: int
    jwt_secret: str
    user_ids: tuple[int, ...]
    pre_queue_share: float
    sockets: int
    in_flight: int
    seat_ids: tuple[int, ...]
    pay_share: float
    release_share: float


@dataclass(slots=True)
class Visit:
    """One buyer's way through the queue, as the buyer saw it."""

    user_id: int
    pre_queue: bool
    join_status: int = 0  # 0: no answer
    join_latency_s: float | None = None
    place_id: str | None = None
    rank: int | None = None
    # The wait the status promised (the join's answer, or for the pre-queue the first status
    # after the shuffle) and when it was read (epoch ms).
    estimate_s: int | None = None
    estimate_at_ms: int | None = None
    admitted_seen_ms: int | None = None  # when a broadcast told the buyer it was their turn
    shopped: bool = False


@dataclass(slots=True)
class WorkerResult:
    visits: list[Visit]
    tally: Tally
    push_latencies_s: list[float] = field(default_factory=list)
    frames: int = 0
    sockets_open: int = 0
    reconnects: int = 0
    socket_errors: Counter[str] = field(default_factory=Counter)
    join_responses: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Sessions:
    """A connection pool per kind of traffic: each buyer has a connection of its own in real
    life, so the admitted shoppers must not wait for a connection behind the joining crowd."""

    sockets: aiohttp.ClientSession  # one connection per socket, held for good
    queue: aiohttp.ClientSession  # joins and status reads
    shop: aiohttp.ClientSession  # the admitted buyers' holds, checkouts and payments


class Feed:
    """How far admission has come, from the broadcasts, and the buyers waiting for their turn."""

    def __init__(self) -> None:
        self.admitted_through = 0
        self.shuffled = asyncio.Event()
        self.stopped = False
        self._turns: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def update(self, room: dict[str, Any]) -> None:
        if room["shuffled"]:
            self.shuffled.set()
        self.admitted_through = max(self.admitted_through, room["admitted_through"])
        while self._turns and self._turns[0][0] <= self.admitted_through:
            _, _, turn = heapq.heappop(self._turns)
            if not turn.done():
                turn.set_result(None)

    async def turn(self, rank: int) -> bool:
        """Until admission reaches `rank`; False if the run stopped first."""
        if rank > self.admitted_through and not self.stopped:
            turn = asyncio.get_running_loop().create_future()
            heapq.heappush(self._turns, (rank, next(self._order), turn))
            await turn
        return rank <= self.admitted_through

    def stop(self) -> None:
        self.stopped = True
        self.shuffled.set()
        for _, _, turn in self._turns:
            if not turn.done():
                turn.set_result(None)
        self._turns.clear()


class QueueLoad:
    def __init__(self, config: WorkerConfig, sessions: Sessions) -> None:
        self._config = config
        self._sessions = sessions
        codec = TokenCodec(config.jwt_secret, ttl_seconds=TOKEN_TTL_S)
        self._tokens = {user: codec.issue(user, Role.BUYER).token for user in config.user_ids}
        rng = random.Random(config.index)
        self.visits = [
            Visit(user, rng.random() < config.pre_queue_share) for user in config.user_ids
        ]
        self._url = f"{config.base_url}/api/v1/events/{config.event_id}/queue"
        self.feed = Feed()
        self.result = WorkerResult(self.visits, Tally())
        self._open = asyncio.Semaphore(OPEN_AT_ONCE)
        self._opened = 0
        self._all_open = asyncio.Event()
        self._closing = asyncio.Event()
        self._sockets: set[aiohttp.ClientWebSocketResponse] = set()
        self._visiting: dict[asyncio.Task[None], Visit] = {}

    # -- queue sockets -------------------------------------------------------------------------

    async def follow(self) -> None:
        """Every socket, until `close`."""
        async with asyncio.TaskGroup() as group:
            for _ in range(self._config.sockets):
                group.create_task(self._socket())

    async def sockets_open(self) -> int:
        await self._all_open.wait()
        return self.result.sockets_open

    async def _socket(self) -> None:
        url = f"{self._url}/ws"
        first = True
        for attempt in range(RECONNECTS):
            if self._closing.is_set():
                return
            if attempt:
                self.result.reconnects += 1
                await asyncio.sleep(min(0.5 * 2**attempt, 8.0) * random.uniform(0.5, 1.5))
            try:
                async with self._open:
                    ws = await self._sessions.sockets.ws_connect(url, autoping=True)
            except (aiohttp.ClientError, OSError) as exc:
                self.result.socket_errors[type(exc).__name__] += 1
                continue
            if first:
                first = False
                self.result.sockets_open += 1
                self._opened += 1
                if self._opened == self._config.sockets:
                    self._all_open.set()
            self._sockets.add(ws)
            try:
                async for message in ws:
                    if message.type is not WSMsgType.TEXT:
                        break
                    received_ms = time.time() * 1000
                    room = orjson.loads(message.data)
                    self.result.frames += 1
                    self.result.push_latencies_s.append((received_ms - room["at"]) / 1000)
                    self.feed.update(room)
            except (aiohttp.ClientError, OSError) as exc:
                self.result.socket_errors[type(exc).__name__] += 1
            finally:
                self._sockets.discard(ws)
                await ws.close()
        if first:  # never opened: count it, so that nobody waits for it
            self._opened += 1
            if self._opened == self._config.sockets:
                self._all_open.set()

    async def close(self) -> None:
        self._closing.set()
        await asyncio.gather(*(ws.close() for ws in list(self._sockets)))

    # -- buyers --------------------------------------------------------------------------------

    async def run(
        self, sale_starts_at_s: float, joins_until_s: float, joined: asyncio.Event
    ) -> None:
        """Every buyer: joins at its time (the pre-queue's before the sale starts, the others
        within the join window after it), waits for its turn, shops."""
        config = self._config
        seat_map = SeatMap(config.seat_ids)
        seat_ws = f"{config.base_url}/api/v1/events/{config.event_id}/seats/ws"
        watchers = Watchers(self._sessions.sockets, seat_ws, 1, LiveMap(seat_map))
        await watchers.open()
        shoppers = Shoppers(
            self._sessions.shop,
            config.base_url,
            config.event_id,
            seat_map,
            pay_share=config.pay_share,
            release_share=config.release_share,
            in_flight=config.in_flight,
            seed=config.index,
            on_grant=lambda grant: None,
        )
        shoppers.tally = self.result.tally
        rng = random.Random(config.index + 1)
        now = time.time()
        answered = 0

        async def visit(visit: Visit) -> None:
            nonlocal answered
            if visit.pre_queue:
                at = rng.uniform(now, sale_starts_at_s - 0.5)
            else:
                at = rng.uniform(sale_starts_at_s, joins_until_s)
            await asyncio.sleep(max(0.0, at - time.time()))  # the buyer's arrival time
            try:
                await self._join(visit)
            finally:
                answered += 1
                if answered == len(self.visits):
                    joined.set()
            if visit.rank is None and visit.place_id is not None:
                await self.feed.shuffled.wait()
                await self._status(visit)
            if visit.rank is None or not await self.feed.turn(visit.rank):
                return
            visit.admitted_seen_ms = round(time.time() * 1000)
            await shoppers.shop(visit.user_id, self._tokens[visit.user_id])
            visit.shopped = True

        try:
            async with asyncio.TaskGroup() as group:
                self._visiting = {group.create_task(visit(one)): one for one in self.visits}
        finally:
            await watchers.close()

    def stop(self) -> None:
        """The run is over: buyers still joining or waiting give up; the shopping finish."""
        self.feed.stop()
        for task, visit in self._visiting.items():
            if visit.admitted_seen_ms is None:
                task.cancel()

    async def _join(self, visit: Visit) -> None:
        headers = {
            "Authorization": f"Bearer {self._tokens[visit.user_id]}",
            "Idempotency-Key": f"join-{visit.user_id}",
        }
        started = time.perf_counter()
        for _ in range(JOIN_ATTEMPTS):
            status, body = await self._call("join", "POST", headers)
            if status not in (0, 429, 503):
                break
            await asyncio.sleep(RETRY_PAUSE_S)  # back-off before the retry
        visit.join_status = status
        if status != 200:
            return
        visit.join_latency_s = time.perf_counter() - started
        self._read_status(visit, body)

    async def _status(self, visit: Visit) -> None:
        headers = {"Authorization": f"Bearer {self._tokens[visit.user_id]}"}
        for _ in range(JOIN_ATTEMPTS):
            status, body = await self._call("status", "GET", headers)
            if status == 200 and body["position"] is not None:
                self._read_status(visit, body)
                return
            await asyncio.sleep(RETRY_PAUSE_S)  # not ranked yet, or busy: ask again

    def _read_status(self, visit: Visit, body: dict[str, Any]) -> None:
        visit.place_id = body["place_id"]
        visit.rank = body["position"]
        if visit.rank is not None:
            visit.estimate_s = body["estimated_wait_seconds"]
            visit.estimate_at_ms = round(time.time() * 1000)

    async def _call(
        self, name: str, method: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        try:
            async with self._sessions.queue.request(method, self._url, headers=headers) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.result.join_responses[f"{name} {type(exc).__name__}"] += 1
            return 0, {}
        body: dict[str, Any] = orjson.loads(raw) if raw else {}
        code = body.get("error", {}).get("code", "") if isinstance(body.get("error"), dict) else ""
        self.result.join_responses[f"{name} {status} {code}".rstrip()] += 1
        return status, body


async def _serve(config: WorkerConfig, pipe: Connection) -> None:
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)

    def session(limit: int) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit), timeout=timeout)

    async with (
        session(config.sockets + 1) as sockets,
        session(2 * config.in_flight) as queue,
        session(config.in_flight) as shop,
    ):
        load = QueueLoad(config, Sessions(sockets, queue, shop))
        following = asyncio.create_task(load.follow())
        try:
            pipe.send(("ready", await load.sockets_open()))
            go = await asyncio.to_thread(pipe.recv)
            joined = asyncio.Event()
            buying = asyncio.create_task(load.run(go[1], go[2], joined))
            stop = asyncio.create_task(asyncio.to_thread(pipe.recv))
            all_joined = asyncio.create_task(joined.wait())
            await asyncio.wait({all_joined, stop}, return_when=asyncio.FIRST_COMPLETED)
            if all_joined.done():
                pipe.send(("joined", len(load.visits)))
            all_joined.cancel()
            await stop
            load.stop()
            try:
                async with asyncio.timeout(FINISH_WITHIN_S):
                    await asyncio.shield(buying)
            except TimeoutError:
                buying.cancel()  # the shoppers' steps still unanswered are left behind
                await asyncio.gather(buying, return_exceptions=True)
        finally:
            await load.close()
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
    pipe.send(("result", load.result))


def work(config: WorkerConfig, pipe: Connection) -> None:
    """The process's entry point (`multiprocessing`, spawned)."""
    uvloop.run(_serve(config, pipe))
