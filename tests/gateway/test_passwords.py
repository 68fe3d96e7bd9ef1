from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

import argon2
import pytest
from argon2 import profiles

from gateway.auth.passwords import PasswordHasher

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    hasher = PasswordHasher.from_profile("cheapest")
    yield hasher
    hasher.close()


async def test_a_hash_verifies_its_own_password_only(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash("s3cret-password")

    assert hashed.startswith("$argon2id$")
    assert await hasher.verify(hashed, "s3cret-password") is True
    assert await hasher.verify(hashed, "s3cret-passwort") is False


async def test_the_same_password_hashes_differently_each_time(hasher: PasswordHasher) -> None:
    first = await hasher.hash("s3cret-password")
    second = await hasher.hash("s3cret-password")

    assert first != second


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$argon2id$v=19$m=8,t=1,p=1$garbage"])
async def test_an_unusable_hash_verifies_nothing_and_does_not_raise(
    hasher: PasswordHasher, stored: str
) -> None:
    assert await hasher.verify(stored, "s3cret-password") is False


async def test_hashing_and_verifying_run_off_the_event_loop_thread(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real_hash = argon2.PasswordHasher.hash
    real_verify = argon2.PasswordHasher.verify

    def spy_hash(self: argon2.PasswordHasher, password: str) -> str:
        threads.append(threading.get_ident())
        return real_hash(self, password)

    def spy_verify(self: argon2.PasswordHasher, hash: str, password: str) -> Literal[True]:
        threads.append(threading.get_ident())
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "hash", spy_hash)
    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy_verify)
    hashed = await hasher.hash("s3cret-password")
    await hasher.verify(hashed, "s3cret-password")

    assert len(threads) == 2
    assert threading.get_ident() not in threads


async def test_dummy_verify_runs_a_real_argon2_verify_with_the_same_parameters(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real_verify = argon2.PasswordHasher.verify

    def spy_verify(self: argon2.PasswordHasher, hash: str, password: str) -> Literal[True]:
        verified.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy_verify)
    await hasher.verify_dummy("a guess at someone's password")

    assert len(verified) == 1
    # Same parameters as a stored hash, so it costs exactly what a real verify costs.
    assert argon2.extract_parameters(verified[0]) == profiles.CHEAPEST


async def test_a_hash_from_other_parameters_needs_rehash_but_still_verifies(
    hasher: PasswordHasher,
) -> None:
    older = argon2.PasswordHasher.from_parameters(
        argon2.Parameters(
            type=argon2.Type.ID,
            version=19,
            salt_len=8,
            hash_len=8,
            time_cost=2,
            memory_cost=16,
            parallelism=1,
        )
    ).hash("s3cret-password")

    assert hasher.needs_rehash(older) is True
    assert await hasher.verify(older, "s3cret-password") is True
    assert hasher.needs_rehash(await hasher.hash("s3cret-password")) is False


def test_an_unreadable_hash_needs_rehash(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash("not-a-hash") is True


@pytest.mark.parametrize(
    ("name", "parameters"),
    [("rfc9106-low-memory", profiles.RFC_9106_LOW_MEMORY), ("cheapest", profiles.CHEAPEST)],
)
async def test_a_profile_hashes_with_its_argon2_parameters(
    name: str, parameters: argon2.Parameters
) -> None:
    hasher = PasswordHasher.from_profile(name)
    try:
        hashed = await hasher.hash("s3cret-password")
    finally:
        hasher.close()

    assert argon2.extract_parameters(hashed) == parameters


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown argon2 profile 'fastest'"):
        PasswordHasher.from_profile("fastest")
