"""The engine's Lua scripts, registered once per Redis client."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from redis.commands.core import AsyncScript

from engine.redis_client import RedisClient


def _source(name: str) -> str:
    return (resources.files("engine.scripts") / f"{name}.lua").read_text("utf-8")


@dataclass(frozen=True, slots=True)
class Scripts:
    apply: AsyncScript
    take: AsyncScript
    restore: AsyncScript
    lease_acquire: AsyncScript
    lease_renew: AsyncScript
    lease_release: AsyncScript
    shard_count_change: AsyncScript
    members_heartbeat: AsyncScript
    members_leave: AsyncScript

    @classmethod
    def register(cls, redis: RedisClient) -> Scripts:
        return cls(
            **{
                name: redis.register_script(_source(name))
                for name in (
                    "apply",
                    "take",
                    "restore",
                    "lease_acquire",
                    "lease_renew",
                    "lease_release",
                    "shard_count_change",
                    "members_heartbeat",
                    "members_leave",
                )
            }
        )
