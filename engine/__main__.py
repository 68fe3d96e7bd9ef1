"""`python -m engine run` (the shard actors) and `python -m engine sweep` (the sweeper).

Both stop cleanly on SIGTERM or SIGINT: intake stops, the batch in hand is applied, the
journal is flushed while the lease is still held, and the leases are released.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import uvloop

from config import Settings, SettingsError
from engine.clock import SystemClock
from engine.redis_client import connect_redis
from engine.supervisor import Engine
from engine.sweeper import Sweeper
from persistence import Database

log = logging.getLogger("engine")


async def _serve(settings: Settings, role: str) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    # Each actor's blocking read holds a connection for up to a second.
    redis = connect_redis(settings.redis, extra_connections=settings.engine.shards)
    db = await Database.connect(settings.database)
    try:
        if role == "run":
            engine = Engine(redis=redis, db=db, settings=settings.engine, clock=SystemClock())
            log.info(
                "engine: %d shards, batch %d", settings.engine.shards, settings.engine.batch_size
            )
            await engine.run(stopping)
        else:
            sweeper = Sweeper(redis=redis, db=db, settings=settings.engine, clock=SystemClock())
            log.info("sweeper: every %.1fs", settings.engine.sweep_interval_seconds)
            await sweeper.run(stopping)
    finally:
        await db.close()
        await redis.aclose()
    log.info("%s: stopped", role)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine")
    parser.add_argument(
        "role", choices=["run", "sweep"], help="run the shard actors or the sweeper"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvloop.run(_serve(settings, args.role))
    return 0


if __name__ == "__main__":
    sys.exit(main())
