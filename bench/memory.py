"""Engine memory with many seats loaded: `python -m bench.memory [--seats 100000]`.

Seeds events of 20,000 seats each into private servers, starts `python -m engine run`, lets
every shard recover them all, and prints the engine process's peak resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bench.procstats import peak_rss_mib
from bench.stack import EngineProcesses, engine_env, private_servers, seed_event, settings_for
from config import RedisSettings
from engine.keys import ShardKeys
from engine.redis_client import connect_redis
from persistence import Database
from persistence.migrate import migrate

SEATS_PER_EVENT = 20_000
SHARDS = 4


async def measure(seats: int) -> float:
    async with private_servers() as servers:
        settings = settings_for(servers)
        db = await Database.connect(settings.database)
        try:
            await migrate(db)
            for _ in range(max(1, seats // SEATS_PER_EVENT)):
                await seed_event(db, seats=SEATS_PER_EVENT, buyers=1, max_per_buyer=6)
        finally:
            await db.close()
        env = engine_env(servers, SHARDS)
        with tempfile.TemporaryDirectory() as logs:
            engines = EngineProcesses(env, 1, Path(logs))
            engines.start()
            try:
                await _recovered(servers.redis_url, seats)
                return peak_rss_mib(engines.processes["engine-0"].pid)
            finally:
                engines.stop()


async def _recovered(redis_url: str, seats: int) -> None:
    """Until the live status maps hold every seat: recovery has loaded them all."""
    redis = connect_redis(RedisSettings.from_url(redis_url))
    try:
        async with asyncio.timeout(120):
            while True:
                loaded = 0
                for shard in range(SHARDS):
                    pattern = f"{ShardKeys(shard).tag}:event:*:status"
                    async for key in redis.scan_iter(match=pattern):
                        loaded += await redis.hlen(key)
                if loaded >= seats:
                    return
                await asyncio.sleep(0.2)
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--seats", type=int, default=100_000)
    args = parser.parse_args(argv)
    peak = asyncio.run(measure(args.seats))
    print(f"engine peak RSS with {args.seats} seats loaded: {peak:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
