"""The shape every EngineClient scenario shares: a rush, a fault a quarter of the way in, the
rush's end, and how long the system took to answer again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bench.stack import SeededEvent
from engine.client import EngineClient
from tests.chaos.invariants import Verdict
from tests.chaos.report import ScenarioResult
from tests.chaos.rush import Outcome, Rush, plan, time_to_answer
from tests.chaos.stack import Stack, scale

# Injects the fault (and repairs it, if the scenario repairs anything): (fault_at, the rush).
Fault = Callable[[float, Rush], Awaitable[None]]


def rush_size(base: int = 200) -> int:
    return base * scale()


async def rush_with_fault(
    result: ScenarioResult,
    verdict: Verdict,
    client: EngineClient,
    event: SeededEvent,
    fault: Fault,
    *,
    count: int | None = None,
    spread_seconds: float = 2.0,
    recovery_within: float = 30.0,
    seed: int = 1,
) -> list[Outcome]:
    """Run the rush; once a quarter of it is answered, `fault(fault_at, rush)` injects the
    fault. Recovery time is from `fault_at` until a command submitted after the fault is
    decided."""
    asks = plan(event, count or rush_size(), seed=seed)
    rush = Rush(
        client,
        event.event_id,
        asks,
        spread_seconds=spread_seconds * scale(),
        deadline_seconds=spread_seconds * scale() + recovery_within + 30,
    )
    result.requests = len(asks)
    running = asyncio.create_task(rush.run())
    recovery: asyncio.Task[float] | None = None
    try:
        await rush.answered_at_least(len(asks) // 4, within=30)
        fault_at = time.monotonic()
        recovery = asyncio.create_task(
            time_to_answer(client, event.event_id, event.user_ids[0], fault_at, recovery_within)
        )
        await fault(fault_at, rush)
        outcomes = await running
        try:
            result.recovery_seconds = await recovery
        except TimeoutError:
            verdict.check("answers resume", False, f"nothing decided {recovery_within:.0f} s on")
    finally:
        for task in (running, recovery):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    result.retryable_errors = rush.retryable_errors
    return outcomes


def stops_cleanly(verdict: Verdict, stack: Stack, within: float = 10.0) -> None:
    """SIGTERM to every child still running: each exits 0 within `within` seconds."""
    for name, (code, took) in stack.terminate_all(within).items():
        verdict.check(
            "SIGTERM: exit 0 within 10 s",
            code == 0 and took <= within,
            f"{name} exited {code} after {took:.1f} s:\n{stack.log(name)[-2000:]}",
        )


def conclude(verdict: Verdict, stack: Stack, result: ScenarioResult) -> None:
    """End a scenario: every child must stop cleanly on SIGTERM, the checks go into the table,
    and the scenario fails if any of them did."""
    stops_cleanly(verdict, stack)
    result.checks = verdict.checks
    verdict.assert_all()
