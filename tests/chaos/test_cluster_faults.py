"""Faults on a Redis Cluster, each in the middle of a rush and judged by the whole set of
invariants: the Redis master of the busy shard killed (with REDIS_MIN_REPLICAS=1, whose promise
is that nothing answered is lost), a third engine joining while the busy shard's owner leaves by
SIGTERM, and an engine that holds a third of the shards killed.

The Redis fault runs on a cluster of its own (`private_cluster`); the engine faults run on the
session's cluster (the `redis_url` fixture's "cluster"), which they leave whole.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final

import pytest
from redis.crc import key_slot

from devstack.servers import MariaDBServer, RedisClusterServer, ServerError
from domain.errors import EngineUnavailable
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.redis_client import RedisClient, connect_redis
from persistence import Database
from tests.chaos.invariants import Verdict, engine_invariants
from tests.chaos.report import ScenarioResult
from tests.chaos.rush import PROBE_SEAT, Rush, seeded
from tests.chaos.scenario import conclude, rush_with_fault
from tests.chaos.stack import SHARDS, Stack, scale, wait_for_log
from tests.helpers.engine import ask_hold
from tests.helpers.redis_modes import ON_CLUSTER

pytestmark = [pytest.mark.chaos, pytest.mark.long, pytest.mark.timeout(120 * scale())]

# The engine scenarios: three engines, two shards each, so an engine is a third of the shards.
ENGINE_SHARDS: Final = 6
ENGINES: Final = ("engine-0", "engine-1", "engine-2")
# The target for a join: every shard owned and answering within this, default lease.
REBALANCE_TARGET_SECONDS: Final = 5.0
# Not an id of any event: the first one on each shard is that shard's probe.
_MADE_UP_EVENTS: Final = 2**40


def held_by(stack: Stack, names: Iterable[str]) -> dict[str, set[int]]:
    """Engine → the shards it holds, as its log says."""
    return {name: stack.shards_held(name) for name in names}


def spread_evenly(held: dict[str, set[int]], shards: int) -> bool:
    """Every shard held by exactly one engine, and each engine holds ⌊S/N⌋ or ⌈S/N⌉."""
    sizes = [len(mine) for mine in held.values()]
    every = sorted(shard for mine in held.values() for shard in mine)
    return every == list(range(shards)) and max(sizes) - min(sizes) <= 1


async def until_spread(stack: Stack, names: Iterable[str], within: float) -> bool:
    """Until the engines `names` share every shard evenly (no engine announces the whole
    picture to another process, so this reads their logs); False if not within `within`."""
    engines = tuple(names)
    try:
        async with asyncio.timeout(within):
            while True:
                if spread_evenly(held_by(stack, engines), ENGINE_SHARDS):
                    break
                await asyncio.sleep(0.05)
    except TimeoutError:
        return False
    return True


def owner_of(stack: Stack, names: Iterable[str], shard: int) -> str:
    [owner] = [name for name, mine in held_by(stack, names).items() if shard in mine]
    return owner


async def joined_at(stack: Stack, name: str) -> datetime:
    """When the engine first saw itself among the members, by its log's clock (this
    machine's, as `datetime.now()` is): the join, without the interpreter's start-up."""
    match = await wait_for_log(stack, name, r"(?m)^(\S+ \S+) INFO \S+: engine: \d+ members", 5)
    return datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")


def made_up_event_on(shard: int) -> int:
    return next(e for e in itertools.count(_MADE_UP_EVENTS) if shard_of(e, ENGINE_SHARDS) == shard)


async def every_shard_answers(client: EngineClient, user_id: int) -> None:
    """Until every shard's actor decides a probe: an event no one made is refused as unknown
    by whichever engine owns its shard, which takes nothing from the rush."""

    async def answered(shard: int) -> None:
        event_id = made_up_event_on(shard)
        while True:
            try:
                reply = await ask_hold(client, event_id, user_id, (PROBE_SEAT,))
            except EngineUnavailable:
                continue  # the client waited its decision timeout; ask again at once
            if not reply.is_transient:
                return
            await asyncio.sleep(0.05)  # back-off before the retry

    await asyncio.gather(*(answered(shard) for shard in range(ENGINE_SHARDS)))


def engine_stack(
    make_stack: Callable[..., Stack], redis_url: str, db_url: str, **env: str
) -> Stack:
    return make_stack(redis_url, db_url, ENGINE_SHARDS=str(ENGINE_SHARDS), **env)


async def test_the_busy_shards_redis_master_killed_mid_rush(
    private_cluster: RedisClusterServer,
    make_stack: Callable[..., Stack],
    mariadb_server: MariaDBServer,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """cluster: kill -9 of the busy shard's Redis master mid-rush (REDIS_MIN_REPLICAS=1)"""
    stack = make_stack(private_cluster.url, mariadb_server.url, REDIS_MIN_REPLICAS="1")
    event = await seeded(db)
    slot = key_slot(ShardKeys(shard_of(event.event_id, SHARDS)).tag.encode())
    stack.start("engine-0", "engine")
    stack.start("flusher", "flusher")
    await stack.wait_for_owners()
    settings = stack.client_settings()
    redis: RedisClient = connect_redis(settings.redis)
    verdict = Verdict()

    # Looked up before the rush: the kill must follow the fault's start at once, or the
    # recovery probe is answered by the master about to die.
    master = private_cluster.master_of(slot)

    async def kill_master(fault_at: float, rush: Rush) -> None:
        private_cluster.kill(master)
        verdict.check("answers given before the kill", rush.answered > 0, "nothing answered yet")
        try:
            promoted = await asyncio.to_thread(private_cluster.wait_failover, slot, master)
        except ServerError as exc:
            verdict.check("the replica is promoted", False, str(exc))
            return
        verdict.check("the replica is promoted", True)
        # With REDIS_MIN_REPLICAS=1 the promoted master, now without a replica, answers
        # nobody: the dead node comes back (a replaced machine) as its replica.
        await asyncio.to_thread(private_cluster.restart_as_replica, master)
        chaos_result.faults.append(
            f"kill -9 of the busy shard's Redis master; replica promoted in "
            f"{promoted:.1f} s; the dead node restarted as its replica "
            f"{time.monotonic() - fault_at:.1f} s after the kill"
        )

    try:
        async with EngineClient(redis, settings.engine) as client:
            outcomes = await rush_with_fault(
                chaos_result, verdict, client, event, kill_master, spread_seconds=4.0
            )
            # The promise of REDIS_MIN_REPLICAS=1: every answer, those given just before the
            # kill among them, is still the recorded one, its locks held, MariaDB the same.
            await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    finally:
        await redis.aclose()
    conclude(verdict, stack, chaos_result)


@ON_CLUSTER
async def test_a_third_engine_joins_mid_rush_then_the_busy_shards_owner_leaves(
    make_stack: Callable[..., Stack],
    redis_url: str,
    mariadb_server: MariaDBServer,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """cluster: a third engine joins mid-rush, then the busy shard's owner leaves (SIGTERM)"""
    # The default lease, as the rebalance target asks.
    stack = engine_stack(make_stack, redis_url, mariadb_server.url, ENGINE_LEASE_TTL_MS="3000")
    event = await seeded(db)
    busy = shard_of(event.event_id, ENGINE_SHARDS)
    for name in ENGINES[:2]:
        stack.start(name, "engine")
    stack.start("flusher", "flusher")
    verdict = Verdict()
    verdict.check("two engines share the shards", await until_spread(stack, ENGINES[:2], 30))
    settings = stack.client_settings()
    rebalance: list[float] = []
    leaver: list[str] = []
    exit_code: list[int] = []
    unanswered_at_sigterm: list[int] = []

    async with EngineClient(redis, settings.engine) as client:

        async def join_then_leave(fault_at: float, rush: Rush) -> None:
            spawned = time.monotonic()
            stack.start(ENGINES[2], "engine")
            spread = await until_spread(stack, ENGINES, within=20)
            verdict.check(
                "three engines share the shards 2/2/2", spread, str(held_by(stack, ENGINES))
            )
            await asyncio.wait_for(every_shard_answers(client, event.user_ids[0]), 20)
            answering = datetime.now()
            started = time.monotonic() - spawned
            rebalance.append((answering - await joined_at(stack, ENGINES[2])).total_seconds())
            owner = owner_of(stack, ENGINES, busy)
            leaver.append(owner)
            chaos_result.faults.append(
                f"a third engine joins mid-rush (every shard owned and answering "
                f"{rebalance[0]:.2f} s after it joined, {started:.2f} s after its process "
                "started); SIGTERM to the busy shard's owner"
            )
            unanswered_at_sigterm.append(len(rush.outcomes) - rush.answered)
            stack.send(owner, signal.SIGTERM)
            exit_code.append(await asyncio.to_thread(stack.process(owner).wait, 15))

        outcomes = await rush_with_fault(
            chaos_result, verdict, client, event, join_then_leave, spread_seconds=10.0
        )
        await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    [gone] = leaver
    stayed = [name for name in ENGINES if name != gone]
    verdict.check(
        f"rebalance under {REBALANCE_TARGET_SECONDS:.0f} s",
        rebalance[0] < REBALANCE_TARGET_SECONDS,
        f"{rebalance[0]:.2f} s",
    )
    verdict.check(
        "rush still arriving at SIGTERM", unanswered_at_sigterm[0] > 0, "the rush had ended"
    )
    verdict.check("the leaver exited 0 on SIGTERM", exit_code == [0], f"{exit_code}")
    verdict.check(
        "the join moved shards by handover",
        any("handed over (assigned elsewhere)" in stack.log(name) for name in ENGINES[:2]),
        stack.log(ENGINES[0])[-3000:],
    )
    verdict.check(
        "the leaver let every shard go before it exited",
        not stack.shards_held(gone),
        stack.log(gone)[-3000:],
    )
    verdict.check(
        "the two left share every shard 3/3, the busy one moved",
        await until_spread(stack, stayed, within=20) and owner_of(stack, stayed, busy) != gone,
        str(held_by(stack, ENGINES)),
    )
    conclude(verdict, stack, chaos_result)


@ON_CLUSTER
async def test_an_engine_holding_a_third_of_the_shards_killed_mid_rush(
    make_stack: Callable[..., Stack],
    redis_url: str,
    mariadb_server: MariaDBServer,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """cluster: kill -9 of an engine holding a third of the shards, the busy one among them"""
    stack = engine_stack(make_stack, redis_url, mariadb_server.url)
    event = await seeded(db)
    busy = shard_of(event.event_id, ENGINE_SHARDS)
    for name in ENGINES:
        stack.start(name, "engine")
    stack.start("flusher", "flusher")
    verdict = Verdict()
    verdict.check("three engines share the shards 2/2/2", await until_spread(stack, ENGINES, 30))
    settings = stack.client_settings()
    killed: list[str] = []
    killed_held: set[int] = set()
    killed_tokens: dict[int, int] = {}

    async def kill(fault_at: float, rush: Rush) -> None:
        victim = owner_of(stack, ENGINES, busy)
        killed.append(victim)
        killed_held.update(stack.shards_held(victim))
        killed_tokens.update(stack.tokens_taken(victim))
        stack.kill(victim)
        chaos_result.faults.append(
            f"kill -9 of the engine holding shards {sorted(killed_held)} of {ENGINE_SHARDS} "
            "(never restarted)"
        )

    async with EngineClient(redis, settings.engine) as client:
        outcomes = await rush_with_fault(chaos_result, verdict, client, event, kill)
        await engine_invariants(verdict, client, redis, db, settings, event.event_id, outcomes)
    [victim] = killed
    survivors = [name for name in ENGINES if name != victim]
    verdict.check(
        "the killed engine held a third of the shards",
        len(killed_held) == ENGINE_SHARDS // len(ENGINES),
        str(killed_held),
    )
    verdict.check(
        "the survivors share every shard 3/3",
        await until_spread(stack, survivors, within=20),
        str(held_by(stack, survivors)),
    )
    taken: dict[int, int] = {}
    for name in survivors:
        for shard, token in stack.tokens_taken(name).items():
            taken[shard] = max(token, taken.get(shard, 0))
    verdict.check(
        "the takeover raised the killed engine's tokens",
        all(taken.get(shard, 0) > killed_tokens[shard] for shard in killed_held),
        f"killed {killed_tokens}, survivors {taken}",
    )
    conclude(verdict, stack, chaos_result)
