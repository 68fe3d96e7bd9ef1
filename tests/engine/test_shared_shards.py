"""Engine processes sharing the shards: membership, even spread, clean handover, takeover.

Several engines run in this test's loop (each with its own Redis client, as separate processes
would have), one as a real child process where it must die by SIGKILL.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Callable, Sequence

import pytest
from prometheus_client import CollectorRegistry

from config import Settings
from devstack.servers import MariaDBServer
from domain.errors import EngineUnavailable
from engine.client import EngineClient
from engine.keys import MembershipKeys, ShardKeys, shard_of
from engine.membership import Members, Membership
from engine.metrics import EngineMetrics
from engine.protocol import Reply, idempotent_command_id
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from engine.supervisor import Engine
from engine.waiting import cancel_and_wait
from persistence import Database
from tests.helpers.catalog import MadeEvent, MakeEvent
from tests.helpers.engine import (
    Buyers,
    EngineProcess,
    RunningEngine,
    ask_hold,
    journals_drained,
)

SHARDS = 8
EVERY_SHARD = frozenset(range(SHARDS))
# The target for a join: every shard owned and answering within this, default lease.
REBALANCE_TARGET_SECONDS = 5.0


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    assert value is not None, name
    return value


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    """Until `condition` holds. Ownership lives in several engines and none announces the
    whole picture, so this polls, with a deadline."""
    try:
        async with asyncio.timeout(within):
            while True:
                if condition():
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"not within {within}s: {what}")


def shared_evenly(engines: Sequence[RunningEngine]) -> bool:
    """Every shard owned by exactly the engine it is assigned to, in shares that differ by at
    most one, and every engine sees all of them."""
    owned = [engine_of(running).owned_shards() for running in engines]
    assigned = [engine_of(running).assigned_shards() for running in engines]
    low = SHARDS // len(engines)
    return (
        owned == assigned
        and sum(len(shards) for shards in owned) == SHARDS
        and frozenset().union(*owned) == EVERY_SHARD
        and all(len(shards) in (low, -(-SHARDS // len(engines))) for shards in owned)
        and all(len(engine_of(r).membership.members) == len(engines) for r in engines)
    )


def engine_of(running: RunningEngine) -> Engine:
    assert running.engine is not None
    return running.engine


async def events_on_every_shard(make_event: MakeEvent) -> dict[int, MadeEvent]:
    """One event per shard (ids are sequential, so a few more than SHARDS cover them all)."""
    by_shard: dict[int, MadeEvent] = {}
    while len(by_shard) < SHARDS:
        event = await make_event(seats=30, max_seats_per_buyer=30)
        by_shard.setdefault(shard_of(event.event_id, SHARDS), event)
    return by_shard


async def settle(
    client: EngineClient, event_id: int, user: int, seats: tuple[int, ...], command_id: str
) -> Reply:
    """Ask until answered, always with the same command id (a client retrying with the same
    Idempotency-Key)."""
    while True:
        try:
            return await ask_hold(client, event_id, user, seats, command_id)
        except EngineUnavailable:
            continue


async def beat(membership: Membership) -> tuple[bool, Members]:
    """One heartbeat: whether the member list changed, and the list."""
    return await membership.heartbeat(), membership.members


async def test_membership_sees_joins_leaves_and_lapses(redis: RedisClient) -> None:
    scripts = Scripts.register(redis)
    first = Membership(redis, scripts, member="a", ttl_ms=500)
    second = Membership(redis, scripts, member="b", ttl_ms=500)

    assert await beat(first) == (True, ("a",))
    assert await beat(second) == (True, ("a", "b"))
    assert await beat(first) == (True, ("a", "b"))
    assert await beat(first) == (False, ("a", "b")), "a renewal alone changes nothing"

    await second.leave()
    assert await beat(first) == (True, ("a",))

    await second.heartbeat()
    assert await beat(first) == (True, ("a", "b"))
    version = int(await redis.get(MembershipKeys().version) or 0)
    # `b` stops renewing (a process killed): the first heartbeat after its TTL drops it.
    await asyncio.sleep(0.6)
    assert await beat(first) == (True, ("a",))
    assert int(await redis.get(MembershipKeys().version) or 0) > version


async def test_a_member_that_was_paused_past_its_ttl_waits_before_it_rejoins(
    redis: RedisClient,
) -> None:
    scripts = Scripts.register(redis)
    paused = Membership(redis, scripts, member="a", ttl_ms=300)
    other = Membership(redis, scripts, member="b", ttl_ms=10_000)
    views: list[Members] = []
    following = asyncio.create_task(paused.follow(views.append))
    try:
        await until(lambda: views == [("a",)], 5, "the first view")
        # The whole process stops (a GC pause, SIGSTOP), past its TTL.
        time.sleep(0.4)  # noqa: ASYNC251 - blocking the loop is the fault under test
        assert await beat(other) == (True, ("b",)), "the paused member lapsed"
        await asyncio.sleep(0.3)
        assert await beat(other) == (False, ("b",)), "not back within a TTL of waking"
        await until(lambda: views[-1] == ("a", "b"), 5, "the rejoin")
    finally:
        await cancel_and_wait(following)


async def test_two_then_three_engines_share_the_shards_evenly_and_quickly(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    # The default lease, as the rebalance target asks.
    settings = make_settings(ENGINE_SHARDS=str(SHARDS), ENGINE_LEASE_TTL_MS="3000")
    events = await events_on_every_shard(make_event)
    [user] = await buyers(1)
    registry = CollectorRegistry()
    first = RunningEngine(settings, db, metrics=EngineMetrics.create(registry))
    engines = [first]
    await first.start()
    assert engine_of(first).owned_shards() == EVERY_SHARD, "a lone engine owns every shard"
    rebalances = []
    try:
        async with EngineClient(redis, settings.engine) as client:
            for seat in range(2):
                joined = time.perf_counter()
                newcomer = RunningEngine(settings, db)
                engines.append(newcomer)
                await newcomer.start()
                await until(lambda: shared_evenly(engines), 10, "an even spread")
                # Answering: a hold decided on every shard, moved or not.
                replies = await asyncio.gather(
                    *(
                        ask_hold(client, event.event_id, user, (event.seat_ids[seat],))
                        for event in events.values()
                    )
                )
                rebalances.append(time.perf_counter() - joined)
                assert all(reply.hold is not None for reply in replies), replies

        sizes = sorted(len(engine_of(running).owned_shards()) for running in engines)
        assert sizes == [2, 3, 3]
        assert max(rebalances) < REBALANCE_TARGET_SECONDS, rebalances
        assert sample(registry, "rushqueue_engine_members") == 3
        assert sample(registry, "rushqueue_engine_shards_assigned") == sizes_of(first)
        assert sample(registry, "rushqueue_engine_shards_owned") == sizes_of(first)
        handovers = sum(
            sample(registry, "rushqueue_engine_handovers_total", shard=str(shard))
            for shard in range(SHARDS)
        )
        # At least every shard it gave up; more if a join moved a shard to it and away again.
        assert handovers >= SHARDS - sizes_of(first)
    finally:
        for running in reversed(engines):
            await running.stop()


def sizes_of(running: RunningEngine) -> int:
    return len(engine_of(running).owned_shards())


@pytest.mark.timeout(90)
async def test_an_engine_joining_mid_stream_loses_and_doubles_no_command(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    settings = make_settings(ENGINE_SHARDS=str(SHARDS), ENGINE_LEASE_TTL_MS="3000")
    events = list((await events_on_every_shard(make_event)).values())
    users = await buyers(40)
    rng = random.Random(13)
    requests = [
        (event.event_id, rng.choice(users), (rng.choice(event.seat_ids),), f"join-{number}")
        for number, event in enumerate(rng.choice(events) for _ in range(600))
    ]
    first = RunningEngine(settings, db)
    engines = [first]
    await first.start()
    answered = 0
    answered_at_join: list[int] = []
    milestones = {150: asyncio.Event(), 300: asyncio.Event()}
    try:
        async with EngineClient(redis, settings.engine) as client:
            pending = asyncio.Queue[tuple[int, int, tuple[int, ...], str]]()
            for request in requests:
                pending.put_nowait(request)
            replies: dict[str, Reply] = {}

            async def worker() -> None:
                nonlocal answered
                while not pending.empty():
                    event_id, user, seats, name = pending.get_nowait()
                    command_id = idempotent_command_id(name, str(user))
                    replies[name] = await settle(client, event_id, user, seats, command_id)
                    answered += 1
                    if answered in milestones:
                        milestones[answered].set()

            async def join_at(milestone: asyncio.Event) -> None:
                await milestone.wait()
                newcomer = RunningEngine(settings, db)
                engines.append(newcomer)
                await newcomer.start()
                answered_at_join.append(answered)

            async with asyncio.timeout(60):
                await asyncio.gather(
                    *(worker() for _ in range(16)),
                    join_at(milestones[150]),
                    join_at(milestones[300]),
                )
            await until(lambda: shared_evenly(engines), 10, "an even spread")

            # Both joins were over (their shards taken and recovered) with commands still to go.
            assert len(answered_at_join) == 2
            assert max(answered_at_join) < len(requests), answered_at_join
            assert len(replies) == len(requests), "every command was answered"
            granted = {name: reply.hold for name, reply in replies.items() if reply.hold}
            assert granted, "some holds were granted"
            holder: dict[int, str] = {}
            for hold in granted.values():
                for seat in hold.seat_ids:
                    assert seat not in holder, f"seat {seat} granted twice"
                    holder[seat] = hold.id
            # A retry, wherever its shard lives now, gets the recorded decision.
            for event_id, user, seats, name in requests[::10]:
                again = await ask_hold(
                    client, event_id, user, seats, idempotent_command_id(name, str(user))
                )
                assert again == replies[name]

        await journals_drained(redis, settings)
        async with db.transaction() as conn:
            rows = await conn.fetch_all(
                "SELECT h.id, hs.event_seat_id FROM holds h JOIN hold_seats hs ON hs.hold_id = h.id"
            )
        stored: dict[int, str] = {row["event_seat_id"]: row["id"] for row in rows}
        assert stored == holder, "MariaDB has exactly the granted holds, each once"
    finally:
        for running in reversed(engines):
            await running.stop()


async def test_a_stopping_engine_leaves_first_and_hands_its_shards_over(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    # A lease far longer than the wait below: only a clean handover can explain the takeover.
    settings = make_settings(ENGINE_SHARDS=str(SHARDS), ENGINE_LEASE_TTL_MS="20000")
    events = await events_on_every_shard(make_event)
    [user] = await buyers(1)
    first, second = RunningEngine(settings, db), RunningEngine(settings, db)
    await first.start()
    try:
        await second.start()
        await until(lambda: shared_evenly([first, second]), 10, "an even spread")
        leaving = engine_of(second).owner
        handed = engine_of(second).owned_shards()

        stopped = time.perf_counter()
        await second.stop()

        assert await redis.zscore(MembershipKeys().members, leaving) is None, "it left"
        await until(lambda: engine_of(first).owned_shards() == EVERY_SHARD, 5, "a takeover")
        assert time.perf_counter() - stopped < 5.0
        async with EngineClient(redis, settings.engine) as client:
            for shard in handed:
                reply = await ask_hold(
                    client, events[shard].event_id, user, (events[shard].seat_ids[0],)
                )
                assert reply.hold is not None, reply
    finally:
        await second.stop()
        await first.stop()


@pytest.mark.timeout(60)
async def test_a_killed_engines_shards_are_taken_when_its_leases_lapse(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    engine_process: Callable[[dict[str, str]], EngineProcess],
    mariadb_server: MariaDBServer,
) -> None:
    ttl_ms = 1500
    settings = make_settings(ENGINE_SHARDS=str(SHARDS), ENGINE_LEASE_TTL_MS=str(ttl_ms))
    first = RunningEngine(settings, db)
    await first.start()
    child = engine_process(
        {
            "REDIS_URL": settings.redis.url,
            "DATABASE_URL": mariadb_server.url,
            "ENGINE_SHARDS": str(SHARDS),
            "ENGINE_LEASE_TTL_MS": str(ttl_ms),
            "LOG_LEVEL": "INFO",
        }
    )
    try:
        child.start()
        await until(
            lambda: (
                len(engine_of(first).membership.members) == 2
                and engine_of(first).owned_shards() == engine_of(first).assigned_shards()
            ),
            20,
            "the child's join",
        )
        theirs = EVERY_SHARD - engine_of(first).owned_shards()
        await until_leases_held(redis, theirs, not_by=engine_of(first).owner, within=10)

        child.signal(signal.SIGKILL)
        killed = time.perf_counter()
        child.wait(5)
        # Nobody else may write while the dead engine's leases still run.
        assert await redis.exists(*(ShardKeys(shard).lease for shard in theirs)) == len(theirs)

        await until(lambda: engine_of(first).owned_shards() == EVERY_SHARD, 10, "a takeover")
        took = time.perf_counter() - killed
        assert took < ttl_ms / 1000 + 3.0, took
    finally:
        child.kill()
        await first.stop()


async def until_leases_held(
    redis: RedisClient, shards: frozenset[int], *, not_by: str, within: float
) -> None:
    """Until another owner than `not_by` holds every one of `shards` (a child process)."""
    async with asyncio.timeout(within):
        while True:
            owners: list[bytes | None] = await redis.mget(  # type: ignore[assignment]
                [ShardKeys(shard).lease for shard in shards]
            )
            if all(owner is not None and owner != not_by.encode() for owner in owners):
                return
            await asyncio.sleep(0.05)
