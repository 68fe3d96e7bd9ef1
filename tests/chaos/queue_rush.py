"""A crowd joining an event's waiting room over HTTP, and a subscriber keeping every broadcast.

Buyers join with an Idempotency-Key and retry after a dropped connection or a 503 (the engine
is gone) with the same key, as the buyer's page does, until they have a place or the deadline
passes. A few leave again before their turn; every admitted buyer shops for a moment and then
leaves, so that its slot goes to the next in line and the cap on shoppers inside really binds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import aiohttp
import orjson
from redis.asyncio.client import PubSub

from config import EngineSettings
from domain.statuses import Role
from domain.waiting_room import QueueState
from engine.keys import ShardKeys, shard_of
from engine.protocol import RoomWire
from engine.redis_client import RedisClient
from gateway.auth.tokens import TokenCodec
from tests.chaos.stack import JWT_SECRET

_RETRY_PAUSE: Final = 0.05
# How long an admitted buyer shops before leaving: long enough that the cap holds admission back.
SHOPPING_S: Final = (0.2, 0.8)


@dataclass(slots=True)
class Joiner:
    user_id: int
    token: str
    leaves_early: bool
    status: int | None = None  # the join's final answer
    answer: dict[str, Any] | None = None  # the queue status it answered
    answered_at: float | None = None  # monotonic
    retryable_errors: int = 0
    left: bool = False  # a leave was answered


async def read_places(redis: RedisClient, key: str) -> dict[int, dict[str, Any]]:
    """The places hash as user id → record (the engine's own record, draw included)."""
    raw: dict[bytes | str, bytes | str] = await redis.hgetall(key)
    return {int(user): orjson.loads(record) for user, record in raw.items()}


class QueueCrowd:
    def __init__(
        self, base_url: str, event_id: int, user_ids: Sequence[int], *, early_leavers: float
    ) -> None:
        codec = TokenCodec(JWT_SECRET, ttl_seconds=3600)
        rng = random.Random(event_id)
        self._url = f"{base_url}/api/v1/events/{event_id}/queue"
        self.joiners = [
            Joiner(user, codec.issue(user, Role.BUYER).token, rng.random() < early_leavers)
            for user in user_ids
        ]
        self._rng = rng
        self._leaving: dict[int, asyncio.Task[None]] = {}
        self.retryable_errors = 0

    def _headers(self, joiner: Joiner) -> dict[str, str]:
        return {"Authorization": f"Bearer {joiner.token}"}

    async def _ask(
        self, session: aiohttp.ClientSession, method: str, joiner: Joiner, key: str | None
    ) -> tuple[int, dict[str, Any]]:
        """One request, repeated (with the same Idempotency-Key) until it has a final answer."""
        headers = self._headers(joiner)
        if key is not None:
            headers["Idempotency-Key"] = key
        while True:
            try:
                async with session.request(method, self._url, headers=headers) as response:
                    status, body = response.status, await response.json()
            except (aiohttp.ClientError, TimeoutError):
                status, body = 0, {}
            if status not in (0, 503):
                return status, cast(dict[str, Any], body)
            joiner.retryable_errors += 1
            self.retryable_errors += 1
            await asyncio.sleep(_RETRY_PAUSE)  # back-off before the retry

    async def join(
        self, session: aiohttp.ClientSession, joiners: Sequence[Joiner], spread: float
    ) -> None:
        """Each of `joiners` joins, paced evenly over `spread` seconds; returns once all have an
        answer. Early leavers leave as soon as they have a place."""
        started = time.monotonic()
        tasks = []
        try:
            for index, joiner in enumerate(joiners):
                due = started + spread * index / len(joiners)
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)  # pacing the load, not synchronisation
                tasks.append(asyncio.create_task(self._join_one(session, joiner)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _join_one(self, session: aiohttp.ClientSession, joiner: Joiner) -> None:
        joiner.status, joiner.answer = await self._ask(
            session, "POST", joiner, f"join-{joiner.user_id}"
        )
        joiner.answered_at = time.monotonic()
        if joiner.leaves_early and joiner.status == 200:
            await self._leave(session, joiner)

    async def _leave(
        self, session: aiohttp.ClientSession, joiner: Joiner, after: float = 0
    ) -> None:
        if after:
            await asyncio.sleep(after)  # the buyer shopping
        status, _ = await self._ask(session, "DELETE", joiner, None)
        joiner.left = status == 200

    def admitted(self, session: aiohttp.ClientSession, places: dict[int, dict[str, Any]]) -> None:
        """Every newly admitted buyer shops for a moment, then leaves (as if they had booked)."""
        by_user = {joiner.user_id: joiner for joiner in self.joiners}
        for user, place in places.items():
            if place["state"] == QueueState.ADMITTED and user not in self._leaving:
                self._leaving[user] = asyncio.create_task(
                    self._leave(session, by_user[user], self._rng.uniform(*SHOPPING_S))
                )

    async def close(self) -> None:
        """Reap the leaving buyers, surfacing what any of them raised."""
        tasks = list(self._leaving.values())
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                raise result


@dataclass(slots=True)
class RoomWatch:
    """Every room broadcast on the event's queue channel, in the order a subscriber got them."""

    redis: RedisClient
    channel: str
    rooms: list[RoomWire] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)  # monotonic, one per room
    _news: asyncio.Event = field(default_factory=asyncio.Event)
    _pubsub: PubSub | None = None

    @classmethod
    def of(cls, redis: RedisClient, settings: EngineSettings, event_id: int) -> RoomWatch:
        keys = ShardKeys(shard_of(event_id, settings.shards))
        return cls(redis, keys.queue_channel(event_id))

    async def subscribe(self) -> None:
        # The engine publishes rooms with SPUBLISH (sharded pub/sub), as every shard notice.
        self._pubsub = self.redis.pubsub()
        await self._pubsub.ssubscribe(self.channel)

    async def run(self) -> None:
        assert self._pubsub is not None, "subscribe first"
        async for message in self._pubsub.listen():
            if message["type"] == "smessage":
                self.rooms.append(cast(RoomWire, orjson.loads(message["data"])))
                self.received_at.append(time.monotonic())
                self._news.set()

    async def beyond(self, count: int) -> int:
        """Until more than `count` broadcasts have arrived; how many have."""
        while len(self.rooms) <= count:
            self._news.clear()
            await self._news.wait()
        return len(self.rooms)

    async def until(self, predicate: Callable[[RoomWire], bool], within: float) -> RoomWire:
        """The first broadcast, from now on or already seen, for which `predicate` holds."""
        seen = 0
        async with asyncio.timeout(within):
            while True:
                for room in self.rooms[seen:]:
                    if predicate(room):
                        return room
                seen = len(self.rooms)
                self._news.clear()
                await self._news.wait()

    async def close(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
