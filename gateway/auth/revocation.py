"""Revoked users: a deleted user's tokens stop working although they have not expired.

A token stays valid until it expires, so deleting a user (`python -m gateway delete-user`) also
revokes them: a Redis key per deleted user that outlives every token issued before the deletion,
and a message on a Redis channel that every gateway listens to.

In a rush every buyer sends request after request, and asking Redis about each one was a tenth
of a gateway's CPU. So each gateway remembers its answers, for at most
`AUTH_REVOCATION_CACHE_MS`, and forgets a user's answer the moment a revocation for them is
published. Answers are remembered only while the subscription is live: after a lost connection
everything is forgotten and Redis is asked again until the gateway listens once more. If Redis
cannot answer, the check is skipped with a warning rather than refusing every buyer: users are
deleted rarely and by hand, and the routes that matter most (holds) need Redis anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

from redis.exceptions import RedisError

from engine.keys import PREFIX
from engine.redis_client import RedisClient, read_slot_map
from engine.waiting import cancel_and_wait, wait_until_set
from gateway.auth.tokens import CLOCK_SKEW_SECONDS

log = logging.getLogger(__name__)

# An ordinary (not sharded) channel, unlike the engine's notices (gateway.shardchannels): a
# revocation concerns every gateway whichever node it listens on, and on a cluster a PUBLISH
# reaches every node over the cluster bus, which a sharded one would not. Revocations are rare
# (an account deleted by hand), so that broadcast costs nothing worth saving.
CHANNEL: Final = f"{PREFIX}:revocations"
# Answers remembered at most; past this the memory starts afresh.
_MAX_ANSWERS: Final = 100_000
_SUBSCRIBE_WITHIN_SECONDS: Final = 5.0
_POLL_SECONDS: Final = 1.0


def revoked_user_key(user_id: int) -> str:
    """Present while tokens issued to a deleted user may still be unexpired."""
    return f"{PREFIX}:revoked:{{user:{user_id}}}"


async def revoke_user(redis: RedisClient, user_id: int, *, token_ttl_seconds: int) -> None:
    """Refuse every token already issued to `user_id`, for as long as one could be unexpired."""
    await redis.set(revoked_user_key(user_id), 1, ex=token_ttl_seconds + CLOCK_SKEW_SECONDS)
    await redis.publish(CHANNEL, str(user_id))


async def unrevoke_user(redis: RedisClient, user_id: int) -> None:
    """Undo `revoke_user`, for a deletion that was refused after all."""
    await redis.delete(revoked_user_key(user_id))
    await redis.publish(CHANNEL, str(user_id))


class Revocations:
    """Whether a user is revoked; use as an async context manager, which listens for
    revocations (when `remember_seconds` is above zero) until it exits."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        remember_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._remember_seconds = remember_seconds
        self._clock = clock
        self._answers: dict[int, tuple[bool, float]] = {}
        self._listening = asyncio.Event()
        # Bumped by every notice: an answer read from Redis before a notice arrived is stale
        # and must not be remembered after it.
        self._generation = 0
        self._listener: asyncio.Task[None] | None = None
        self._next_notice = asyncio.Event()

    async def __aenter__(self) -> Self:
        if self._remember_seconds > 0:
            self._listener = asyncio.create_task(self._listen(), name="revocations")
            # Start-up waits briefly for the subscription; without it nothing is remembered.
            await wait_until_set(self._listening, _SUBSCRIBE_WITHIN_SECONDS)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._listener is not None:
            await cancel_and_wait(self._listener)

    def next_notice(self) -> asyncio.Event:
        """Set once the next revocation notice from now has been taken into account."""
        return self._next_notice

    async def is_revoked(self, user_id: int) -> bool:
        now = self._clock()
        if self._listening.is_set():
            remembered = self._answers.get(user_id)
            if remembered is not None and now - remembered[1] < self._remember_seconds:
                return remembered[0]
        generation = self._generation
        try:
            revoked = bool(await self._redis.exists(revoked_user_key(user_id)))
        except RedisError as exc:
            log.warning("token revocation not checked, Redis is unavailable: %s", exc)
            return False
        if self._listening.is_set() and generation == self._generation:
            if len(self._answers) >= _MAX_ANSWERS:
                self._answers.clear()
            self._answers[user_id] = (revoked, now)
        return revoked

    async def _listen(self) -> None:
        backoff = 0.05
        while True:
            pubsub = self._redis.pubsub()
            try:
                # On a cluster the subscription goes to the node the client's slot map names
                # for the channel; after a lost node that map must be read again.
                await read_slot_map(self._redis)
                await pubsub.subscribe(CHANNEL)
                while True:
                    message = await pubsub.get_message(timeout=_POLL_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._listening.set()
                        backoff = 0.05
                    elif message["type"] == "message":
                        self._forget(message["data"])
            except (RedisError, OSError) as exc:
                log.warning("revocation notices lost (%s); asking Redis every time", exc)
            finally:
                self._listening.clear()
                self._generation += 1
                self._answers.clear()
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    def _forget(self, data: bytes | str) -> None:
        self._generation += 1
        try:
            self._answers.pop(int(data), None)
        except ValueError:
            self._answers.clear()
        self._next_notice.set()
        self._next_notice = asyncio.Event()
