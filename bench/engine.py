"""The engine alone: decisions per second and decision latency per shard count.

Commands go straight into the shard queues through `EngineClient`, the gateway's own client,
from buyers with the rush's demand shape. For each configuration (shard count, engine process
count) a fresh set of events is sold out; then, on one shard, a paced run at half the measured
rate gives the latency under moderate load. After every run the invariants are checked, and a
broken one fails the benchmark.

The engine's own figures come from its /metrics, scraped before and after each run
(bench.metrics): the hold decisions it counted, which must equal the answers the load client
got, and its decision latency (enqueue → applied decision, the dashboard's histogram) beside the
client's round trip. `--no-metrics` runs the engines with METRICS_PORT=0 instead, to measure
what the metrics cost.

    python -m bench.engine [--seats 20000] [--buyers 5000] [--quick] [--no-metrics]
                           [--configs 1x1,8x2,...] [--cluster [--replicas 0|1]]
                           [--sweep 1000,2000,... [--sweep-seconds 3]]

`--cluster` runs it all on a private Redis Cluster of three masters, by default with a replica
each and REDIS_MIN_REPLICAS=1 (production's shape: every turn waits for a replica), or with
`--replicas 0` on the masters alone. Every table gives the decisions per engine CPU-second and
per Redis CPU-second, the Redis CPU summed over every node (masters and replicas).

`--sweep` then offers holds to one shard at each rate, open loop (bench.engine_sweep), for the
latency-vs-load curve (bench.curve).

`--best-available` runs bench.best_available instead: best-available decisions against picked
holds on one shard.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.buyers import SeatMap
from bench.curve import table as sweep_table
from bench.engine_sweep import rates, sweep_report
from bench.metrics import EngineScrape, scrape_engines, wait_for_even_spread
from bench.procstats import UsageMeter, cpu_of, per_cpu_second
from bench.report import write_report
from bench.stack import (
    EngineProcesses,
    RedisShape,
    SeededEvent,
    Servers,
    add_redis_options,
    engine_env,
    private_servers,
    seed_event,
    settings_for,
    wait_for_owners,
)
from bench.stats import percentiles
from domain.errors import EngineUnavailable
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.protocol import HoldRequest, RejectCode, new_command_id
from engine.redis_client import connect_redis
from persistence import Database
from persistence.migrate import migrate

log = logging.getLogger("bench.engine")

EVENTS = 8
IN_FLIGHT = 1000
CLOSED_LOOP_TIMEOUT_SECONDS = 60


class InvariantBroken(AssertionError):
    pass


@dataclass(slots=True)
class Outcome:
    decisions: int
    seconds: float
    latencies: list[float]
    granted: dict[int, dict[str, tuple[int, ...]]]  # event → hold id → seats

    @property
    def per_second(self) -> float:
        return self.decisions / self.seconds if self.seconds else 0.0


async def sell_out(
    client: EngineClient, events: list[SeededEvent], buyers: int, seed: int
) -> Outcome:
    rng = random.Random(seed)
    maps = {event.event_id: SeatMap(event.seat_ids) for event in events}
    granted: dict[int, dict[str, tuple[int, ...]]] = {event.event_id: {} for event in events}
    latencies: list[float] = []
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def buyer(index: int) -> None:
        event = events[index % len(events)]
        seats_view = maps[event.event_id]
        user = event.user_ids[index % len(event.user_ids)]
        want = rng.randint(1, 4)
        async with gate:
            while seats_view.free:
                seats = seats_view.pick(want, rng)
                if not seats:
                    return
                started = time.perf_counter()
                reply = await client.submit(
                    HoldRequest(
                        id=new_command_id(),
                        reply_to=client.reply_to,
                        event_id=event.event_id,
                        user_id=user,
                        seat_ids=seats,
                    )
                )
                latencies.append(time.perf_counter() - started)
                if reply.hold is not None:
                    granted[event.event_id][reply.hold.id] = reply.hold.seat_ids
                    seats_view.taken(seats)
                    return
                assert reply.rejection is not None
                if reply.rejection.code is not RejectCode.SEATS_UNAVAILABLE:
                    return
                seats_view.taken(reply.rejection.details["seat_ids"])

    started = time.perf_counter()
    await asyncio.gather(*(buyer(index) for index in range(buyers)))
    return Outcome(len(latencies), time.perf_counter() - started, latencies, granted)


async def paced(
    client: EngineClient, event: SeededEvent, rate: float, seconds: float, seed: int
) -> tuple[list[float], int]:
    """Single hold attempts at a fixed rate (open loop), whatever their outcome: the latencies
    of those decided, and how many were not decided within the decision timeout (an offered
    rate the engine cannot keep up with shows as those, not as a crash of the benchmark)."""
    rng = random.Random(seed)
    latencies: list[float] = []
    timed_out = 0
    pending: set[asyncio.Task[None]] = set()

    async def one() -> None:
        nonlocal timed_out
        seats = tuple(rng.sample(event.seat_ids, rng.randint(1, 4)))
        started = time.perf_counter()
        try:
            await client.submit(
                HoldRequest(
                    id=new_command_id(),
                    reply_to=client.reply_to,
                    event_id=event.event_id,
                    user_id=rng.choice(event.user_ids),
                    seat_ids=seats,
                )
            )
        except EngineUnavailable:
            timed_out += 1
            return
        latencies.append(time.perf_counter() - started)

    begin = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - begin) < seconds:
        due = int(elapsed * rate)
        for _ in range(due - sent):
            task = asyncio.create_task(one())
            pending.add(task)
            task.add_done_callback(pending.discard)
        sent = max(sent, due)
        await asyncio.sleep(0.001)
    await asyncio.gather(*pending)
    return latencies, timed_out


async def check_invariants(servers: Servers, shards: int, outcome: Outcome, db: Database) -> None:
    """No seat granted twice; every grant holds its locks; MariaDB agrees after the drain."""
    redis = connect_redis(settings_for(servers).redis)
    try:
        for event_id, holds in outcome.granted.items():
            owner: dict[int, str] = {}
            for hold_id, seats in holds.items():
                for seat in seats:
                    if seat in owner:
                        raise InvariantBroken(f"seat {seat} granted to two holds")
                    owner[seat] = hold_id
            keys = ShardKeys(shard_of(event_id, shards))
            locks = await redis.mget([keys.lock(seat) for seat in owner]) if owner else []
            for (seat, hold_id), lock in zip(owner.items(), locks, strict=True):
                if lock != hold_id.encode():
                    raise InvariantBroken(f"seat {seat}: lock {lock!r}, granted to {hold_id}")
        # The flushers run in other processes and announce nothing: poll, with a deadline.
        async with asyncio.timeout(30):
            while True:
                if not any([await redis.xlen(ShardKeys(s).journal) for s in range(shards)]):
                    break
                await asyncio.sleep(0.05)
        async with db.transaction() as conn:
            for event_id, holds in outcome.granted.items():
                rows = await conn.fetch_all(
                    "SELECT id, hold_id FROM event_seats WHERE event_id = %s AND status = 'held'",
                    (event_id,),
                )
                stored = {row["id"]: row["hold_id"] for row in rows}
                expected = {seat: hold for hold, seats in holds.items() for seat in seats}
                if stored != expected:
                    raise InvariantBroken(f"event {event_id}: MariaDB differs from the grants")
    finally:
        await redis.aclose()


async def reset(servers: Servers, db: Database) -> None:
    redis = connect_redis(settings_for(servers).redis)
    try:
        await redis.flushall()
    finally:
        await redis.aclose()
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM shard_fences")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    configs = args.configs if not args.quick else [(1, 1), (2, 2)]
    rows: list[dict[str, Any]] = []
    async with private_servers(args.redis_shape) as servers:
        settings = settings_for(servers)
        db = await Database.connect(settings.database)
        try:
            await migrate(db)
            for shards, processes in configs:
                await reset(servers, db)
                events = [
                    await seed_event(
                        db,
                        seats=args.seats // EVENTS,
                        buyers=max(1, args.buyers // EVENTS),
                        max_per_buyer=6,
                    )
                    for _ in range(EVENTS)
                ]
                env = engine_env(servers, shards)
                with tempfile.TemporaryDirectory() as logs:
                    engines = EngineProcesses(env, processes, Path(logs), metrics=args.metrics)
                    engines.start()
                    try:
                        await wait_for_owners(servers.redis_url, shards)
                        if engines.metrics_urls:
                            await wait_for_even_spread(engines.metrics_urls, shards)
                        counted_before = await scrape_engines(engines.metrics_urls)
                        # A closed loop of IN_FLIGHT buyers queues by design (Little's law):
                        # a slow machine must lengthen the waits, not crash the run.
                        client_settings = settings_for(
                            servers,
                            ENGINE_SHARDS=str(shards),
                            ENGINE_DECISION_TIMEOUT_SECONDS=str(CLOSED_LOOP_TIMEOUT_SECONDS),
                        )
                        redis = connect_redis(client_settings.redis)
                        meter = UsageMeter(
                            {**engines.pids, **servers.redis_pids, "load-client": os.getpid()}
                        )
                        async with EngineClient(redis, client_settings.engine) as client:
                            meter.start()
                            outcome = await sell_out(client, events, args.buyers, seed=shards)
                        counted = await scrape_engines(engines.metrics_urls) - counted_before
                        await redis.aclose()
                        await check_invariants(servers, shards, outcome, db)
                        # After the journal has drained, so the write-behind counts in full.
                        usage = meter.finish()
                    finally:
                        engines.stop()
                row = {
                    "shards": shards,
                    "engine_processes": processes,
                    "decisions": outcome.decisions,
                    "decisions_per_s": round(outcome.per_second),
                    "seconds": round(outcome.seconds, 2),
                    "latency": percentiles(outcome.latencies),
                    "cpu_s": {name: used["cpu_s"] for name, used in usage.items()},
                    # What the engine could decide on a core of its own (its write-behind
                    # included): the load client and Redis share the machine's cores with it.
                    "decisions_per_engine_cpu_s": per_cpu_second(
                        outcome.decisions, cpu_of(usage, "engine")
                    ),
                    # The write-behind counted too, wherever it runs.
                    "decisions_per_engine_and_flusher_cpu_s": per_cpu_second(
                        outcome.decisions, cpu_of(usage, "engine") + cpu_of(usage, "flusher")
                    ),
                    # Every redis-server: on a cluster, masters and replicas alike.
                    "decisions_per_redis_cpu_s": per_cpu_second(
                        outcome.decisions, cpu_of(usage, "redis")
                    ),
                    "engine_metrics": _engine_counted(outcome, counted, args.metrics),
                    "invariants": "ok",
                }
                log.info("%s", row)
                rows.append(row)
            paced_row = await run_paced(servers, db, rows[0]["decisions_per_s"] / 2, args)
            swept = await sweep_report(servers, db, args, reset)
        finally:
            await db.close()
    return {
        "redis": args.redis_shape.describe(),
        "configurations": rows,
        "paced": paced_row,
        **swept,
    }


def _engine_counted(
    outcome: Outcome, counted: EngineScrape, metrics: bool
) -> dict[str, Any] | None:
    """The engine's own count and timing of the run; its count must be the client's."""
    if not metrics:
        return None
    summary = counted.summary()
    if summary["hold_decisions"] != outcome.decisions:
        raise InvariantBroken(
            f"the engine counted {summary['hold_decisions']} hold decisions, "
            f"the load client got {outcome.decisions} answers"
        )
    return summary


async def run_paced(
    servers: Servers, db: Database, rate: float, args: argparse.Namespace
) -> dict[str, Any]:
    await reset(servers, db)
    event = await seed_event(db, seats=args.seats, buyers=args.buyers, max_per_buyer=10**6 // 1000)
    env = engine_env(servers, 1)
    with tempfile.TemporaryDirectory() as logs:
        engines = EngineProcesses(env, 1, Path(logs), metrics=args.metrics)
        engines.start()
        try:
            await wait_for_owners(servers.redis_url, 1)
            settings = settings_for(servers, ENGINE_SHARDS="1")
            redis = connect_redis(settings.redis)
            async with EngineClient(redis, settings.engine) as client:
                latencies, timed_out = await paced(
                    client, event, rate, 3.0 if args.quick else 5.0, seed=1
                )
            await redis.aclose()
        finally:
            engines.stop()
    return {
        "shards": 1,
        "rate_per_s": round(rate),
        "latency": percentiles(latencies),
        "timed_out": timed_out,
    }


def configurations(text: str) -> list[tuple[int, int]]:
    """`1x1,4x1,1x2` as (shards, engine processes) pairs."""
    try:
        pairs = [tuple(int(n) for n in item.split("x")) for item in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(pair) != 2 or min(pair) < 1 for pair in pairs):
        raise argparse.ArgumentTypeError(f"expected SHARDSxPROCESSES,… such as 1x1,4x1: {text!r}")
    return [(pair[0], pair[1]) for pair in pairs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine")
    parser.add_argument("--seats", type=int, default=20_000)
    parser.add_argument("--buyers", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="small sizes, two configurations")
    parser.add_argument(
        "--no-metrics",
        dest="metrics",
        action="store_false",
        help="engines without metrics (METRICS_PORT=0), to measure what they cost",
    )
    parser.add_argument(
        "--best-available",
        action="store_true",
        help="best-available against picked holds on a 20,000-seat arena (bench.best_available)",
    )
    parser.add_argument(
        "--configs",
        type=configurations,
        default=[(shards, processes) for processes in (1, 2) for shards in (1, 2, 4, 8)],
        help="shards x engine processes to sell out, e.g. 1x1,4x1,1x2 (default: 1-8 x 1-2)",
    )
    add_redis_options(parser)
    parser.add_argument(
        "--sweep", type=rates, default=(), help="open-loop rates on one shard, e.g. 1000,2000"
    )
    parser.add_argument("--sweep-seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    if args.cluster and args.best_available:
        parser.error("--best-available runs on one server only")
    args.redis_shape = RedisShape.from_args(args)
    if args.quick:
        args.seats, args.buyers = min(args.seats, 800), min(args.buyers, 300)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # Imported here: bench.best_available builds on this module.
    from bench.best_available import run_best_available

    name, runner = (
        ("best-available", run_best_available) if args.best_available else ("engine", run)
    )
    try:
        result = asyncio.run(runner(args))
    except InvariantBroken as exc:
        print(f"INVARIANT BROKEN: {exc}", file=sys.stderr)
        return 1
    print(write_report(name, result, args.out))
    if result.get("sweep"):
        print("\nOne shard, open loop (bench.engine_sweep):\n")
        print(sweep_table(result["sweep"], client="load client"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
