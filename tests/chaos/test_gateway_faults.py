"""The gateway is killed mid-request: HTTP clients retry with the same Idempotency-Key against
the restarted gateway and end up with one hold each."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from domain.statuses import Role
from engine.redis_client import RedisClient
from gateway.auth.tokens import TokenCodec
from persistence import Database
from tests.chaos.invariants import Verdict, granted_seats, mariadb_converges, redis_holds_match
from tests.chaos.report import ScenarioResult
from tests.chaos.rush import Ask, plan, seeded
from tests.chaos.scenario import conclude, rush_size
from tests.chaos.stack import JWT_SECRET, Stack, scale, wait_for_readyz

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(90 * scale())]


@dataclass(slots=True)
class HttpOutcome:
    ask: Ask
    status: int | None = None
    body: dict[str, Any] | None = None
    retryable_errors: int = 0


class HttpRush:
    """Each ask is a POST with its command id as Idempotency-Key, retried after a dropped
    connection or a 503 until it gets a final answer or the deadline passes."""

    def __init__(self, base_url: str, event_id: int, asks: list[Ask]) -> None:
        codec = TokenCodec(JWT_SECRET, ttl_seconds=3600)
        self._url = f"{base_url}/api/v1/events/{event_id}/holds"
        self._tokens = {a.user_id: codec.issue(a.user_id, Role.BUYER).token for a in asks}
        self.outcomes = [HttpOutcome(ask) for ask in asks]
        self.answered = 0
        self.quarter = asyncio.Event()

    async def post(self, session: aiohttp.ClientSession, ask: Ask) -> tuple[int, dict[str, Any]]:
        headers = {
            "Authorization": f"Bearer {self._tokens[ask.user_id]}",
            "Idempotency-Key": ask.command_id,
        }
        body = {"seat_ids": list(ask.seat_ids)}
        async with session.post(self._url, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def _settle(self, session: aiohttp.ClientSession, outcome: HttpOutcome) -> None:
        while True:
            try:
                status, body = await self.post(session, outcome.ask)
            except (aiohttp.ClientError, TimeoutError):
                status, body = 0, {}
            if status not in (0, 503):
                outcome.status, outcome.body = status, body
                self.answered += 1
                if self.answered >= len(self.outcomes) // 4:
                    self.quarter.set()
                return
            outcome.retryable_errors += 1
            await asyncio.sleep(0.05)  # back-off before the retry

    async def run(self, spread: float, deadline: float) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            started = time.monotonic()
            tasks = []
            try:
                async with asyncio.timeout(deadline):
                    for index, outcome in enumerate(self.outcomes):
                        due = started + spread * index / len(self.outcomes)
                        if (wait := due - time.monotonic()) > 0:
                            await asyncio.sleep(wait)  # pacing the load
                        tasks.append(asyncio.create_task(self._settle(session, outcome)))
                    await asyncio.gather(*tasks)
            except TimeoutError:
                pass  # unanswered asks keep status None; the invariant reports them
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


async def test_gateway_killed_mid_request(
    stack: Stack,
    redis: RedisClient,
    db: Database,
    chaos_result: ScenarioResult,
) -> None:
    """gateway kill -9 mid-request, clients retry with the same Idempotency-Key"""
    event = await seeded(db)
    stack.start("engine", "engine")
    stack.start("web", "web")
    await stack.wait_for_owners()
    verdict = Verdict()
    verdict.check("gateway ready", await wait_for_readyz(stack.base_url, 200, 30) is not None)
    settings = stack.client_settings()
    rush = HttpRush(stack.base_url, event.event_id, plan(event, rush_size(), seed=5))
    chaos_result.requests = len(rush.outcomes)
    running = asyncio.create_task(rush.run(spread=2.0 * scale(), deadline=60.0 * scale()))
    try:
        async with asyncio.timeout(30):
            await rush.quarter.wait()
        stack.kill("web")
        chaos_result.faults.append("kill -9 gateway, restarted at once")
        stack.start("web", "web")
        chaos_result.recovery_seconds = await wait_for_readyz(stack.base_url, 200, 30)
        verdict.check("restarted gateway ready", chaos_result.recovery_seconds is not None)
        await running
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    outcomes = rush.outcomes
    chaos_result.retryable_errors = sum(o.retryable_errors for o in outcomes)

    missing = [o.ask.command_id for o in outcomes if o.status is None]
    verdict.check("every request answered", not missing, f"{len(missing)} never answered")
    odd = [(o.status, o.body) for o in outcomes if o.status not in (None, 201, 409)]
    verdict.check("answers are 201 or 409", not odd, str(odd[:3]))
    holds = {o.ask.command_id: o.body["hold"] for o in outcomes if o.status == 201 and o.body}
    owner = granted_seats(verdict, [(h["id"], tuple(h["seat_ids"])) for h in holds.values()])
    verdict.check("some holds granted", bool(owner))

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        differ = []
        for outcome in outcomes:
            if outcome.status is None:
                continue
            status, body = await rush.post(session, outcome.ask)
            first = outcome.body or {}
            same = status == outcome.status and (
                status != 201 or body["hold"]["id"] == first["hold"]["id"]
            )
            if not same:
                differ.append((outcome.status, status))
        verdict.check("retry gets recorded answer", not differ, str(differ[:3]))

    await redis_holds_match(verdict, redis, settings, event.event_id, owner)
    await mariadb_converges(verdict, redis, db, settings, event.event_id, owner)
    async with db.transaction() as conn:
        stored = await conn.fetch_value(
            "SELECT COUNT(*) FROM holds WHERE event_id = %s", (event.event_id,)
        )
    verdict.check(
        "one hold per granted key",
        stored == len(holds),
        f"{stored} holds stored for {len(holds)} granted keys",
    )
    conclude(verdict, stack, chaos_result)
