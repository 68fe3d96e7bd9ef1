"""The engine alone in open loop: hold commands at fixed rates, whatever the answers.

`python -m bench.engine --sweep 2000,4000,...` runs this after its closed-loop table: for each
rate a fresh event on one shard and one engine process, and commands sent through
`EngineClient` (the gateway's own client) on a precomputed schedule, slot k at k / rate. A
command's latency runs from its slot, not from when it was sent, so a load client that falls
behind its schedule shows as latency rather than hiding it; how late it sent (its lag) and the
CPU it used are reported beside, since one Python process can offer only so much (above that
rate the point is marked "generator behind" and is no measure of the engine).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.curve import SweepPoint, on_schedule
from bench.metrics import scrape_engines
from bench.procstats import UsageMeter
from bench.stack import (
    EngineProcesses,
    SeededEvent,
    Servers,
    engine_env,
    seed_event,
    settings_for,
    wait_for_owners,
)
from bench.stats import percentiles
from domain.errors import EngineUnavailable
from engine.client import EngineClient
from engine.protocol import HoldRequest, new_command_id
from engine.redis_client import connect_redis
from persistence import Database

log = logging.getLogger("bench.engine")

# Stop the sweep past this p99: higher rates only queue more.
STOP_P99_MS: Final = 1000.0
MAX_PER_BUYER: Final = 1000
# Sent at the rate but not counted: a fresh engine's first turns (its pools, its event's first
# commands) are not what the curve is about.
WARMUP_S: Final = 0.5
# The longest a fresh engine may take to answer its first command (a lease to lapse, recovery).
READY_TIMEOUT_S: Final = 30.0
# A seat no event has: the engine answers it only once it has the event in hand.
NO_SUCH_SEAT: Final = 2**62


@dataclass(slots=True)
class Offered:
    rate: float
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # slot → decision
    lags: list[float] = field(default_factory=list)  # slot → sent
    timed_out: int = 0


async def offer(
    client: EngineClient, event: SeededEvent, rate: float, seconds: float, seed: int
) -> Offered:
    """Hold attempts of 1-4 random seats at `rate` per second for `seconds`, after a warm-up
    of WARMUP_S at the same rate whose commands are not counted."""
    rng = random.Random(seed)
    result = Offered(rate)
    pending: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    # Asked until answered (within READY_TIMEOUT_S): a fresh engine may still be waiting for the
    # last one's lease to lapse, or recovering, and the schedule must not start before it can.
    ready_by = loop.time() + READY_TIMEOUT_S
    while True:
        try:
            await client.submit(
                HoldRequest(
                    id=new_command_id(),
                    reply_to=client.reply_to,
                    event_id=event.event_id,
                    user_id=event.user_ids[0],
                    seat_ids=(NO_SUCH_SEAT,),
                )
            )
            break
        except EngineUnavailable:
            if loop.time() > ready_by:
                raise
    warmup = int(rate * WARMUP_S)

    async def one(slot: float, seats: tuple[int, ...], user: int, counted: bool) -> None:
        sent = loop.time()
        try:
            await client.submit(
                HoldRequest(
                    id=new_command_id(),
                    reply_to=client.reply_to,
                    event_id=event.event_id,
                    user_id=user,
                    seat_ids=seats,
                )
            )
        except EngineUnavailable:
            if counted:
                result.timed_out += 1
            return
        if counted:
            result.lags.append(sent - slot)
            result.latencies.append(loop.time() - slot)

    begin = loop.time()
    for k in range(warmup + int(rate * seconds)):
        slot = begin + k / rate
        if (wait := slot - loop.time()) > 0:
            await asyncio.sleep(wait)
        seats = tuple(rng.sample(event.seat_ids, rng.randint(1, 4)))
        task = asyncio.create_task(one(slot, seats, rng.choice(event.user_ids), k >= warmup))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    result.seconds = loop.time() - begin - warmup / rate
    return result


async def sweep(
    servers: Servers,
    db: Database,
    rates: Sequence[int],
    *,
    seconds: float,
    seats: int,
    buyers: int,
    metrics: bool,
    reset: Callable[[Servers, Database], Awaitable[None]],
) -> list[dict[str, Any]]:
    """One open-loop run per rate, each on a fresh event and a fresh engine, until one has
    timeouts or a p99 past a second."""
    runs: list[dict[str, Any]] = []
    for rate in rates:
        await reset(servers, db)
        event = await seed_event(db, seats=seats, buyers=buyers, max_per_buyer=MAX_PER_BUYER)
        with tempfile.TemporaryDirectory() as logs:
            engines = EngineProcesses(engine_env(servers, 1), 1, Path(logs), metrics=metrics)
            engines.start()
            try:
                await wait_for_owners(servers.redis_url, 1)
                settings = settings_for(servers, ENGINE_SHARDS="1")
                redis = connect_redis(settings.redis)
                meter = UsageMeter(
                    {
                        **engines.pids,
                        **servers.redis_pids,
                        "load-client": os.getpid(),
                    }
                )
                load = os.getloadavg()[0]
                counted_before = await scrape_engines(engines.metrics_urls)
                async with EngineClient(redis, settings.engine) as client:
                    meter.start()
                    offered = await offer(client, event, rate, seconds, seed=rate)
                    usage = meter.finish()
                counted = await scrape_engines(engines.metrics_urls) - counted_before
                await redis.aclose()
            finally:
                engines.stop()
        cpu = {name: used["cpu_s"] for name, used in usage.items()}
        decided = len(offered.latencies)
        run: dict[str, Any] = {
            "offered_per_s": rate,
            "decided": decided,
            "decided_per_s": round(decided / offered.seconds) if offered.seconds else 0,
            "seconds": round(offered.seconds, 2),
            # The CPU counts the warm-up (WARMUP_S) too.
            "latency": percentiles(offered.latencies),
            "send_lag": percentiles(offered.lags),
            "timed_out": offered.timed_out,
            # The engine's own histogram (enqueue → applied), warm-up included: what it took
            # the engine, whatever the load client's own delays.
            "engine_metrics": counted.summary() if metrics else None,
            "cpu_s": cpu,
            "load_average": round(load, 2),
        }
        log.info("sweep %s", run)
        runs.append(run)
        if offered.timed_out or run["latency"]["p99_ms"] > STOP_P99_MS:
            break
    return runs


def point(run: dict[str, Any]) -> SweepPoint:
    cpu = run["cpu_s"]
    return {
        "offered_per_s": run["offered_per_s"],
        "achieved_per_s": run["decided_per_s"],
        "p50_ms": run["latency"]["p50_ms"],
        "p99_ms": run["latency"]["p99_ms"],
        "errors": run["timed_out"],
        "on_schedule": on_schedule(
            run["offered_per_s"], run["decided_per_s"], run["send_lag"]["p99_ms"]
        ),
        "own_p99_ms": (run["engine_metrics"] or {}).get("decision_p99_ms"),
        "client_cpu_s": cpu["load-client"],
        "server_cpu_s": round(sum(used for name, used in cpu.items() if name != "load-client"), 2),
        "seconds": run["seconds"],
    }


async def sweep_report(
    servers: Servers,
    db: Database,
    args: Any,
    reset: Callable[[Servers, Database], Awaitable[None]],
) -> dict[str, Any]:
    """`bench.engine --sweep`'s part of the report: nothing without the option."""
    if not args.sweep:
        return {}
    runs = await sweep(
        servers,
        db,
        args.sweep,
        seconds=args.sweep_seconds,
        seats=args.seats,
        buyers=args.buyers,
        metrics=args.metrics,
        reset=reset,
    )
    return {"sweep_runs": runs, "sweep": [point(run) for run in runs]}


def rates(text: str) -> tuple[int, ...]:
    """A comma-separated list of positive rates, for argparse."""
    found = tuple(int(part) for part in text.split(",") if part.strip())
    if any(rate < 1 for rate in found):
        raise ValueError("rates must be positive integers")
    return found
