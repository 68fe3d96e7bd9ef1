"""The deployment's shard count: the first process stores it, the others must agree, and only
a quiet deployment has it changed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config import EngineSettings, Settings
from engine.client import EngineClient
from engine.keys import ShardKeys
from engine.redis_client import RedisClient
from engine.shard_count import (
    ShardCountChangeRefused,
    ShardCountMismatch,
    change_shard_count,
    claim_shard_count,
)
from persistence import Database
from tests.helpers.catalog import MakeEvent
from tests.helpers.engine import Buyers, RunningEngine, ask_hold, journals_drained


async def stored_counts(redis: RedisClient, shards: int) -> list[object]:
    return [await redis.get(ShardKeys(shard).shard_count) for shard in range(shards)]


async def test_the_first_process_stores_its_count_and_every_other_must_agree(
    redis: RedisClient,
) -> None:
    await claim_shard_count(redis, 2)
    await claim_shard_count(redis, 2)

    with pytest.raises(ShardCountMismatch) as more:
        await claim_shard_count(redis, 4)
    with pytest.raises(ShardCountMismatch) as fewer:
        await claim_shard_count(redis, 1)

    assert (more.value.configured, more.value.stored) == (4, 2)
    assert (fewer.value.configured, fewer.value.stored) == (1, 2)
    assert await stored_counts(redis, 4) == [b"2", b"2", None, None]


@pytest.mark.parametrize("busy", ["lease", "commands", "inflight", "journal"])
async def test_the_count_is_not_changed_while_a_shard_is_owned_or_has_work(
    redis: RedisClient, busy: str
) -> None:
    await claim_shard_count(redis, 2)
    keys = ShardKeys(1)
    if busy == "lease":
        await redis.set(keys.lease, "an engine", px=60_000)
    elif busy == "journal":
        await redis.xadd(keys.journal, {"batch": "{}"})
    else:
        await redis.lpush(getattr(keys, busy), "a command")

    with pytest.raises(ShardCountChangeRefused, match=f"shard 1.*{busy}"):
        await change_shard_count(redis, 4)

    assert await stored_counts(redis, 4) == [b"2", b"2", None, None]


async def test_a_quiet_deployment_changes_its_count_and_old_processes_are_refused(
    redis: RedisClient,
) -> None:
    await claim_shard_count(redis, 4)

    assert await change_shard_count(redis, 2) == 4

    # Every shard the old count had says so, so an engine still on four shards takes none.
    assert await stored_counts(redis, 4) == [b"2"] * 4
    await claim_shard_count(redis, 2)
    with pytest.raises(ShardCountMismatch):
        await claim_shard_count(redis, 4)
    assert await change_shard_count(redis, 8) == 2
    assert await stored_counts(redis, 8) == [b"8"] * 8
    assert await change_shard_count(redis, 8) == 8


async def test_a_stack_from_the_four_shard_days_moves_to_the_default_and_keeps_its_holds(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    """What `make run` does on a `.data/` left by a 4-shard run: `devstack.run` calls
    `change_shard_count` with the new default, and the new owners rebuild from MariaDB."""
    old = make_settings(ENGINE_SHARDS="4")
    new = make_settings(ENGINE_SHARDS=str(EngineSettings().shards))
    event = await make_event(seats=4)
    alice, bob = await buyers(2)
    before = RunningEngine(old, db)
    await before.start()
    async with EngineClient(redis, old.engine) as client:
        held = (await ask_hold(client, event.event_id, alice, event.seat_ids[:2])).hold
    assert held is not None
    await journals_drained(redis, old)
    await before.stop()

    assert await change_shard_count(redis, new.engine.shards) == 4

    after = RunningEngine(new, db)
    await after.start()
    try:
        assert held.id in after.actor_state(event.event_id).holds
        async with EngineClient(redis, new.engine) as client:
            taken = await ask_hold(client, event.event_id, bob, event.seat_ids[1:3])
            free = await ask_hold(client, event.event_id, bob, event.seat_ids[2:])
        assert taken.rejection is not None, "a seat of the recovered hold stays taken"
        assert free.hold is not None
    finally:
        await after.stop()
