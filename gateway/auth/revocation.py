"""Revoked users: a deleted user's tokens stop working although they have not expired.

A token stays valid until it expires, so deleting a user (`python -m gateway delete-user`) also
revokes them: a Redis key per deleted user that outlives every token issued before the deletion,
seen by every gateway at once. Each gateway remembers each user's answer for a moment
(`AUTH_REVOCATION_CACHE_MS`, one second by default): in a rush every buyer sends request after
request, and asking Redis each time was a tenth of the gateway's CPU. A deletion therefore takes
effect within that moment. If Redis cannot answer, the check is skipped with a warning rather
than refusing every buyer: users are deleted rarely and by hand, and the routes that matter most
(holds) need Redis anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from engine.keys import PREFIX
from gateway.auth.tokens import CLOCK_SKEW_SECONDS

log = logging.getLogger(__name__)

# Answers remembered at most; past this the memory starts afresh (a second's worth of users).
_MAX_ANSWERS: Final = 100_000


def revoked_user_key(user_id: int) -> str:
    """Present while tokens issued to a deleted user may still be unexpired."""
    return f"{PREFIX}:revoked:{{user:{user_id}}}"


async def revoke_user(redis: Redis, user_id: int, *, token_ttl_seconds: int) -> None:
    """Refuse every token already issued to `user_id`, for as long as one could be unexpired."""
    await redis.set(revoked_user_key(user_id), 1, ex=token_ttl_seconds + CLOCK_SKEW_SECONDS)


async def unrevoke_user(redis: Redis, user_id: int) -> None:
    """Undo `revoke_user`, for a deletion that was refused after all."""
    await redis.delete(revoked_user_key(user_id))


class Revocations:
    """Whether a user is revoked, each answer remembered for `remember_seconds`."""

    def __init__(
        self,
        redis: Redis,
        *,
        remember_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._remember_seconds = remember_seconds
        self._clock = clock
        self._answers: dict[int, tuple[bool, float]] = {}

    async def is_revoked(self, user_id: int) -> bool:
        now = self._clock()
        remembered = self._answers.get(user_id)
        if remembered is not None and now - remembered[1] < self._remember_seconds:
            return remembered[0]
        try:
            revoked = bool(await self._redis.exists(revoked_user_key(user_id)))
        except RedisError as exc:
            log.warning("token revocation not checked, Redis is unavailable: %s", exc)
            return False
        if len(self._answers) >= _MAX_ANSWERS:
            self._answers.clear()
        self._answers[user_id] = (revoked, now)
        return revoked
