"""The engine that owns a waiting room is killed mid-admission: a standby takes over and
admission carries on where it stood, in rank order, with every place kept."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import aiohttp
import pytest

from bench.stack import seed_event
from devstack.servers import MariaDBServer, RedisServer
from domain.waiting_room import QueueState
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.protocol import RoomWire
from engine.queue_view import read_room
from engine.redis_client import RedisClient
from persistence import Database
from tests.chaos.invariants import Verdict
from tests.chaos.queue_rush import Joiner, QueueCrowd, RoomWatch, read_places
from tests.chaos.report import ScenarioResult
from tests.chaos.scenario import conclude
from tests.chaos.stack import SHARDS, Stack, scale, wait_for_log, wait_for_readyz
from tests.helpers.waiting_room import configure_room, room

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120 * scale())]

BUYERS: Final = 300
PRE_QUEUE_SHARE: Final = 0.4
EARLY_LEAVERS: Final = 0.05
# 50 a second, held to about 30 by the cap: a few hundred buyers take several seconds to admit,
# and the kill (a fifth of the way in) lands while buyers are still joining.
RATE_PER_MINUTE: Final = 3000
# Below what the rate would admit in a tick: the cap binds, and admission runs at about the cap
# a second (each buyer shops for less than a tick, `SHOPPING_S`).
MAX_INSIDE: Final = 30
KILL_AT_SHARE: Final = 0.2


@pytest.mark.long
async def test_engine_kill_9_mid_admission(
    make_stack: Callable[..., Stack],
    redis_server: RedisServer,
    mariadb_server: MariaDBServer,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """engine kill -9 mid-admission of a waiting room, standby takes over"""
    stack = make_stack(redis_server.url, mariadb_server.url, ENGINE_DECISION_TIMEOUT_SECONDS="2")
    buyers = BUYERS * scale()
    # Joins after the start go on past the kill: some are answered only by the new owner.
    pre_spread, post_spread = 1.5 * scale(), 4.0 * scale()
    stack.start("engine-0", "engine")
    await stack.wait_for_owners()
    stack.start("engine-1", "engine")
    stack.start("web", "web")
    await wait_for_log(stack, "engine-1", r"engine: \d+ shards", within=20)
    verdict = Verdict()
    verdict.check("gateway ready", await wait_for_readyz(stack.base_url, 200, 30) is not None)
    settings = stack.client_settings()

    # Created after the engines started, so the first command loads it with its sale start
    # just ahead: the pre-queue fills, then the sale starts and admission begins.
    event = await seed_event(db, seats=100, buyers=buyers, max_per_buyer=4)
    starts_at = datetime.now(UTC) + timedelta(seconds=pre_spread + 1.0)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE events SET sale_starts_at = %s WHERE id = %s",
            (starts_at.replace(tzinfo=None), event.event_id),
        )
    watch = RoomWatch.of(redis, settings.engine, event.event_id)
    await watch.subscribe()
    places_key = ShardKeys(shard_of(event.event_id, SHARDS)).queue_places(event.event_id)
    crowd = QueueCrowd(stack.base_url, event.event_id, event.user_ids, early_leavers=EARLY_LEAVERS)
    chaos_result.requests = buyers
    pre = crowd.joiners[: int(buyers * PRE_QUEUE_SHARE)]
    post = crowd.joiners[len(pre) :]
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        EngineClient(redis, settings.engine) as client,
        aiohttp.ClientSession(timeout=timeout) as session,
        asyncio.TaskGroup() as group,
    ):
        watching = group.create_task(watch.run())
        await configure_room(db, client, event.event_id, room(rate=RATE_PER_MINUTE, cap=MAX_INSIDE))
        shopping = group.create_task(_shop_when_admitted(watch, crowd, session, redis, places_key))

        async def join_all() -> None:
            await crowd.join(session, pre, pre_spread)
            if (wait := starts_at.timestamp() - time.time()) > 0:
                await asyncio.sleep(wait)  # the sale's start, a time on the clock
            await crowd.join(session, post, post_spread)

        joining = group.create_task(join_all())
        try:
            kill_from = int(buyers * KILL_AT_SHARE)
            await watch.until(lambda r: r["admitted_through"] >= kill_from, within=60 * scale())
            stack.kill("engine-0")
            killed_at = time.monotonic()
            chaos_result.faults.append(
                f"kill -9 engine owning the room at admitted_through >= {kill_from} of {buyers}"
            )
            # The engine is dead and the standby has not taken over yet: what Redis holds now
            # is exactly what the new owner has to carry on from.
            at_kill = await read_room(redis, settings.engine, event.event_id)
            before = await read_places(redis, places_key)
            through_at_kill = at_kill["admitted_through"] if at_kill else 0
            resumed = await watch.until(
                lambda r: r["admitted_through"] > through_at_kill, within=30
            )
            chaos_result.recovery_seconds = (
                watch.received_at[watch.rooms.index(resumed)] - killed_at
            )
            await joining
            # Every join is answered: the line is as long as it will get.
            last = await read_room(redis, settings.engine, event.event_id)
            last_rank = last["last_rank"] if last else buyers
            await watch.until(lambda r: r["admitted_through"] >= last_rank, within=60 * scale())
        finally:
            shopping.cancel()
            watching.cancel()
            joining.cancel()
            await crowd.close()
            await watch.close()
    chaos_result.retryable_errors = crowd.retryable_errors
    after = await read_places(redis, places_key)

    verdict.check(
        "joins still arriving at the kill",
        any(j.answered_at is not None and j.answered_at > killed_at for j in crowd.joiners),
        "every join was answered before the kill",
    )
    _every_join_answered(verdict, crowd.joiners, after)
    _no_place_lost(verdict, before, after)
    _ranks_and_order(verdict, crowd.joiners, after)
    _broadcasts(verdict, watch.rooms)
    verdict.check(
        "standby owns every shard",
        set(stack.tokens_taken("engine-1")) == set(range(SHARDS)),
        stack.log("engine-1")[-2000:],
    )
    conclude(verdict, stack, chaos_result)


async def _shop_when_admitted(
    watch: RoomWatch,
    crowd: QueueCrowd,
    session: aiohttp.ClientSession,
    redis: RedisClient,
    places_key: str,
) -> None:
    """After each broadcast, the buyers it admitted go shopping (a test's shortcut for each
    buyer's own socket and GET: one read of the places hash)."""
    seen = 0
    while True:
        seen = await watch.beyond(seen)
        crowd.admitted(session, await read_places(redis, places_key))


def _every_join_answered(
    verdict: Verdict, joiners: list[Joiner], after: dict[int, dict[str, Any]]
) -> None:
    unanswered = [j.user_id for j in joiners if j.status is None]
    verdict.check("every join answered", not unanswered, f"{len(unanswered)} never answered")
    odd = [(j.status, j.answer) for j in joiners if j.status not in (None, 200)]
    verdict.check("joins answer 200", not odd, str(odd[:3]))
    differ = [
        j.user_id
        for j in joiners
        if j.answer is not None
        and j.status == 200
        and (
            after.get(j.user_id, {}).get("id") != j.answer["place_id"]
            or (
                j.answer["position"] is not None
                and after[j.user_id]["rank"] != j.answer["position"]
            )
        )
    ]
    verdict.check(
        "every answered place kept (same id, same rank)",
        not differ,
        f"{len(differ)} differ, e.g. users {differ[:5]}",
    )
    pre_queue = [j for j in joiners if j.answer and j.answer["state"] == QueueState.PRE_QUEUE]
    verdict.check("some joined in the pre-queue", bool(pre_queue), "nobody joined before the sale")
    # A place left before the sale started is never ranked; everyone else in the pre-queue is
    # ranked ahead of every later joiner.
    pre_ranks = sorted(
        after[j.user_id]["rank"] for j in pre_queue if after[j.user_id]["rank"] is not None
    )
    verdict.check(
        "the pre-queue ranked first (1..P)",
        pre_ranks == list(range(1, len(pre_ranks) + 1)),
        f"pre-queue ranks {pre_ranks[:10]}…",
    )


def _no_place_lost(
    verdict: Verdict, before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]]
) -> None:
    """Every place Redis held at the kill is still there after the takeover, same id, same rank."""
    lost = [
        user
        for user, place in before.items()
        if (after.get(user, {}).get("id"), after.get(user, {}).get("rank"))
        != (place["id"], place["rank"])
    ]
    verdict.check("no place lost at the kill", not lost, f"{len(lost)} changed: {lost[:5]}")
    unadmitted = [
        user
        for user, place in before.items()
        if place["admitted_at_ms"] is not None
        and after[user]["admitted_at_ms"] != place["admitted_at_ms"]
    ]
    verdict.check(
        "no admission undone at the kill", not unadmitted, f"{len(unadmitted)}: {unadmitted[:5]}"
    )


def _ranks_and_order(
    verdict: Verdict, joiners: list[Joiner], after: dict[int, dict[str, Any]]
) -> None:
    verdict.check("a place for every buyer", len(after) == len(joiners), f"{len(after)} places")
    ranked = sorted(
        (place for place in after.values() if place["rank"] is not None),
        key=lambda place: int(place["rank"]),
    )
    ranks = [place["rank"] for place in ranked]
    verdict.check(
        "ranks are 1..N, no gap or duplicate",
        ranks == list(range(1, len(ranks) + 1)),
        f"{len(ranks)} ranked places, first ranks {ranks[:5]}, last {ranks[-5:]}",
    )
    admitted = [place["admitted_at_ms"] for place in ranked if place["admitted_at_ms"]]
    verdict.check(
        "admitted in rank order",
        admitted == sorted(admitted),
        "admitted_at_ms goes down along the ranks",
    )
    early = {j.user_id for j in joiners if j.leaves_early and j.left}
    # Unranked: left during the pre-queue. Ranked but never admitted: left before their turn.
    skipped = [p["user_id"] for p in after.values() if p["admitted_at_ms"] is None]
    verdict.check(
        "passed over only places that left",
        set(skipped) <= early and all(after[u]["state"] == QueueState.DONE for u in skipped),
        f"{len(set(skipped) - early)} never admitted without leaving",
    )
    verdict.check(
        "everyone admitted or left",
        len(admitted) + len(skipped) == len(joiners),
        f"{len(admitted)} admitted, {len(skipped)} left, {len(joiners)} joined",
    )


def _broadcasts(verdict: Verdict, rooms: list[RoomWire]) -> None:
    through = [r["admitted_through"] for r in rooms]
    verdict.check("broadcasts seen", len(rooms) > 1, f"{len(rooms)} broadcasts")
    verdict.check(
        "admitted_through never went back",
        through == sorted(through),
        f"went back in {sum(b < a for a, b in itertools.pairwise(through))} places",
    )
    over = [r["inside"] for r in rooms if r["inside"] > r["max_inside"]]
    verdict.check("inside never above the cap", not over, f"inside reached {max(over, default=0)}")
    verdict.check(
        "the cap held admission back",
        any(r["inside"] == r["max_inside"] for r in rooms),
        "inside never reached the cap: the cap was not tested",
    )
