"""Each gateway remembers whether a user is revoked, forgets it when a revocation is published,
and never remembers longer than its bound."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from gateway.auth.revocation import Revocations, revoke_user, unrevoke_user

if TYPE_CHECKING:
    from engine.redis_client import RedisClient


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def noticed(notice: asyncio.Event) -> None:
    """Until the gateway has taken a notice into account: it travels through Redis."""
    async with asyncio.timeout(5):
        await notice.wait()


async def test_a_published_revocation_is_seen_at_once_despite_a_remembered_answer(
    redis: RedisClient,
) -> None:
    async with Revocations(redis, remember_seconds=3600, clock=Clock()) as revocations:
        assert not await revocations.is_revoked(7)
        notice = revocations.next_notice()
        await revoke_user(redis, 7, token_ttl_seconds=60)
        await noticed(notice)
        assert await revocations.is_revoked(7)

        notice = revocations.next_notice()
        await unrevoke_user(redis, 7)
        await noticed(notice)
        assert not await revocations.is_revoked(7)


async def test_an_answer_is_remembered_within_the_bound_and_asked_again_after(
    redis: RedisClient,
) -> None:
    clock = Clock()
    async with Revocations(redis, remember_seconds=1.0, clock=clock) as revocations:
        assert not await revocations.is_revoked(7)
        # Written without a notice, as by a gateway that could not publish: only the bound helps.
        await redis.set("rq:revoked:{user:7}", 1)
        clock.now += 0.5
        assert not await revocations.is_revoked(7), "within the bound the last answer stands"
        clock.now += 0.5
        assert await revocations.is_revoked(7)


async def test_nothing_is_remembered_without_a_live_subscription(redis: RedisClient) -> None:
    revocations = Revocations(redis, remember_seconds=3600, clock=Clock())  # not listening
    assert not await revocations.is_revoked(7)
    await redis.set("rq:revoked:{user:7}", 1)
    assert await revocations.is_revoked(7)


async def test_a_zero_bound_asks_redis_every_time(redis: RedisClient) -> None:
    async with Revocations(redis, remember_seconds=0.0, clock=Clock()) as revocations:
        assert not await revocations.is_revoked(7)
        await redis.set("rq:revoked:{user:7}", 1)
        assert await revocations.is_revoked(7)


async def test_users_are_remembered_separately(redis: RedisClient) -> None:
    async with Revocations(redis, remember_seconds=3600, clock=Clock()) as revocations:
        assert not await revocations.is_revoked(8)
        notice = revocations.next_notice()
        await revoke_user(redis, 7, token_ttl_seconds=60)
        await noticed(notice)
        assert await revocations.is_revoked(7)
        assert not await revocations.is_revoked(8)
