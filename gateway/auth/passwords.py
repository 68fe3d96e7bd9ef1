"""Argon2id password hashes, computed off the event loop.

An argon2id hash is deliberately slow (tens of milliseconds and 64 MiB with the RFC 9106
low-memory profile), so running it on the loop would stall every other request for that long.
Hashes run on a small dedicated thread pool instead: its size caps how much memory and CPU a
burst of logins can take, and it leaves the loop's default executor free for DNS lookups.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import argon2
from argon2 import profiles
from argon2.exceptions import InvalidHashError, VerificationError

PROFILES: Final[dict[str, argon2.Parameters]] = {
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,
    # Tests only: hashing in microseconds keeps the suite fast; never use it for real passwords.
    "cheapest": profiles.CHEAPEST,
}

# Each production hash holds 64 MiB while it runs, so the pool bounds memory as much as CPU.
DEFAULT_WORKERS: Final = min(4, os.cpu_count() or 1)


class PasswordHasher:
    """Hashes and verifies passwords with one set of argon2id parameters."""

    def __init__(
        self, parameters: argon2.Parameters, *, max_workers: int = DEFAULT_WORKERS
    ) -> None:
        self._hasher = argon2.PasswordHasher.from_parameters(parameters)
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="argon2")
        # A real hash with the same parameters, so verifying against it for an unknown email takes
        # as long as a real verify and the response time does not reveal which emails exist.
        # Made once here, at start-up, rather than on the loop during a request.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_profile(cls, name: str, *, max_workers: int = DEFAULT_WORKERS) -> PasswordHasher:
        try:
            parameters = PROFILES[name]
        except KeyError:
            raise ValueError(
                f"unknown argon2 profile {name!r}; use one of {', '.join(PROFILES)}"
            ) from None
        return cls(parameters, max_workers=max_workers)

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._hasher.hash, password)

    async def verify(self, hash: str, password: str) -> bool:
        """Whether `password` matches `hash`; False for a wrong password or an unusable hash."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._verify, hash, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend as long as `verify` does, for a login whose email matches no user."""
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, hash: str) -> bool:
        """Whether `hash` was made with other parameters and should be replaced at next login."""
        try:
            return self._hasher.check_needs_rehash(hash)
        except InvalidHashError:
            # Not a hash we can read, so certainly not one made with our parameters.
            return True

    def close(self) -> None:
        """Stop the hashing threads once queued work is done."""
        self._executor.shutdown(wait=False)

    def _verify(self, hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(hash, password)
        except (VerificationError, InvalidHashError):
            return False
