"""What a shard count costs one engine process before it decides anything.

For each shard count: fresh servers, `--events` on-sale events (recovery loads every one
of them), then one `python -m engine run`. It reports the time from the spawn to every shard
owned with its actor recovered (read from the engine's own `rushqueue_engine_shards_owned`),
then the CPU the engine and Redis spend over `--idle-seconds` with nothing to decide (blocking
reads timing out, lease renewals, the membership heartbeat, the flushers' and the gauges'
rounds). Then the engine is killed and a second one started: the time to take every shard over
once the dead one's leases lapse.

    python -m bench.engine_shards [--shards 4,64] [--events 64] [--idle-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.metrics import SHARDS_OWNED
from bench.procstats import UsageMeter, server_pids
from bench.stack import (
    EngineProcesses,
    Servers,
    engine_env,
    private_servers,
    seed_event,
    settings_for,
)
from engine.redis_client import connect_redis
from persistence import Database
from persistence.migrate import migrate


async def shards_owned(session: aiohttp.ClientSession, url: str) -> float:
    try:
        async with session.get(url) as response:
            text = await response.text()
    except aiohttp.ClientError:
        return 0.0
    for family in text_string_to_metric_families(text):
        if family.name == SHARDS_OWNED:
            return family.samples[0].value
    return 0.0


async def until_owned(url: str, shards: int, within: float = 120.0) -> float:
    """Seconds until the engine behind `url` says it owns every shard (polled: a separate
    process announces nothing else)."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session, asyncio.timeout(within):
        while True:
            if await shards_owned(session, url) >= shards:
                return time.perf_counter() - started
            # Not faster: each scrape renders every series, and the engine pays for it.
            await asyncio.sleep(0.2)


async def one_count(
    servers: Servers, db: Database, shards: int, args: argparse.Namespace
) -> dict[str, Any]:
    for _ in range(args.events):
        await seed_event(db, seats=args.seats, buyers=1, max_per_buyer=6)
    env = {**engine_env(servers, shards), "ENGINE_LEASE_TTL_MS": "3000"}
    redis = connect_redis(settings_for(servers).redis)
    redis_pid = (await server_pids(redis, db))["redis-server"]
    await redis.aclose()
    with tempfile.TemporaryDirectory() as first_logs, tempfile.TemporaryDirectory() as logs:
        first = EngineProcesses(env, 1, Path(first_logs))
        first.start()
        started = await until_owned(first.metrics_urls[0], shards)
        meter = UsageMeter({"engine": first.pids["engine-0"], "redis-server": redis_pid})
        meter.start()
        await asyncio.sleep(args.idle_seconds)
        idle = meter.finish()
        for process in first.processes.values():
            process.send_signal(signal.SIGKILL)
        first.stop()
        second = EngineProcesses(env, 1, Path(logs))
        second.start()
        try:
            takeover = await until_owned(second.metrics_urls[0], shards)
        finally:
            second.stop()
    return {
        "shards": shards,
        "start_to_all_owned_s": round(started, 2),
        "idle_cpu_pct": {
            name: round(100 * used["cpu_s"] / args.idle_seconds, 1) for name, used in idle.items()
        },
        "kill_9_to_all_owned_s": round(takeover, 2),
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for shards in args.shards:
        # Servers of its own, so every count recovers the same events and nothing else.
        async with private_servers() as servers:
            db = await Database.connect(settings_for(servers).database)
            try:
                await migrate(db)
                rows.append(await one_count(servers, db, shards, args))
            finally:
                await db.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_shards")
    parser.add_argument(
        "--shards", type=lambda text: [int(n) for n in text.split(",")], default=[4, 64]
    )
    parser.add_argument("--events", type=int, default=64)
    parser.add_argument("--seats", type=int, default=500)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    print(
        "| shards | start to every shard owned, s | idle CPU %: engine · Redis "
        "| kill -9 to every shard owned again, s |"
    )
    print("|---:|---:|---|---:|")
    for row in asyncio.run(run(args)):
        cpu = row["idle_cpu_pct"]
        print(
            f"| {row['shards']} | {row['start_to_all_owned_s']} "
            f"| {cpu['engine']} · {cpu['redis-server']} | {row['kill_9_to_all_owned_s']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
