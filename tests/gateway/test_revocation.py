"""Each gateway remembers whether a user is revoked for a bounded moment, and no longer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.auth.revocation import Revocations, revoke_user, unrevoke_user

if TYPE_CHECKING:
    from redis.asyncio import Redis


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_revocation_is_seen_once_the_remembered_answer_is_older_than_the_bound(
    redis: Redis,
) -> None:
    clock = Clock()
    revocations = Revocations(redis, remember_seconds=1.0, clock=clock)
    assert not await revocations.is_revoked(7)

    await revoke_user(redis, 7, token_ttl_seconds=60)
    clock.now += 0.5
    assert not await revocations.is_revoked(7), "within the bound the last answer stands"
    clock.now += 0.5
    assert await revocations.is_revoked(7)


async def test_a_revoked_answer_is_remembered_too(redis: Redis) -> None:
    clock = Clock()
    revocations = Revocations(redis, remember_seconds=1.0, clock=clock)
    await revoke_user(redis, 7, token_ttl_seconds=60)
    assert await revocations.is_revoked(7)

    await unrevoke_user(redis, 7)
    assert await revocations.is_revoked(7)
    clock.now += 1.0
    assert not await revocations.is_revoked(7)


async def test_a_zero_bound_asks_redis_every_time(redis: Redis) -> None:
    revocations = Revocations(redis, remember_seconds=0.0, clock=Clock())
    assert not await revocations.is_revoked(7)
    await revoke_user(redis, 7, token_ttl_seconds=60)
    assert await revocations.is_revoked(7)


async def test_users_are_remembered_separately(redis: Redis) -> None:
    revocations = Revocations(redis, remember_seconds=60.0, clock=Clock())
    await revoke_user(redis, 7, token_ttl_seconds=60)
    assert await revocations.is_revoked(7)
    assert not await revocations.is_revoked(8)
