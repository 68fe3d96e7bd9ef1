"""`python -m engine run` (the shard actors), `python -m engine sweep` (the sweeper),
`python -m engine flush` (the write-behind flusher, engine.flusher), and
`python -m engine set-shard-count N` (change the deployment's shard count).

`run`, `sweep` and `flush` stop cleanly on SIGTERM or SIGINT: intake stops, the batch in hand is
applied, the journal is flushed while the lease is still held, and the leases are released (the
flusher finishes the flush in hand). All three refuse to start (exit 2, one line) when
ENGINE_SHARDS is not the count the deployment runs with.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import uvloop
from prometheus_client import CollectorRegistry
from redis.exceptions import RedisError

from config import Settings, SettingsError
from engine.clock import SystemClock
from engine.flusher import Flusher
from engine.metrics import EngineMetrics, FlusherMetrics, SweeperMetrics
from engine.redis_client import connect_redis
from engine.shard_count import (
    ShardCountChangeRefused,
    ShardCountMismatch,
    change_shard_count,
    claim_when_reachable,
)
from engine.supervisor import Engine
from engine.sweeper import Sweeper
from persistence import Database
from telemetry.exposition import new_registry, serving_metrics
from telemetry.logs import configure_logging

log = logging.getLogger("engine")


async def _serve(settings: Settings, role: str) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    registry = new_registry()
    async with serving_metrics(registry, settings.telemetry.metrics_port) as url:
        # Nothing serves the metrics without a port, so nothing counts them either: the turn
        # then runs without a single metrics call.
        await _serve_with(settings, role, stopping, registry if url is not None else None)


async def _serve_with(
    settings: Settings, role: str, stopping: asyncio.Event, registry: CollectorRegistry | None
) -> None:
    # Each actor's blocking read, or the flusher's per shard, holds a connection for up to a
    # second.
    redis = connect_redis(settings.redis, extra_connections=settings.engine.shards)
    try:
        if not await claim_when_reachable(redis, settings.engine.shards, stopping):
            return
        db = await Database.connect(settings.database)
        try:
            if role == "run":
                engine = Engine(
                    redis=redis,
                    db=db,
                    settings=settings.engine,
                    clock=SystemClock(),
                    metrics=None if registry is None else EngineMetrics.create(registry),
                )
                log.info(
                    "engine: %d shards, batch %d",
                    settings.engine.shards,
                    settings.engine.batch_size,
                )
                await engine.run(stopping)
            elif role == "flush":
                flusher = Flusher(
                    redis=redis,
                    db=db,
                    settings=settings.engine,
                    metrics=None if registry is None else FlusherMetrics.create(registry),
                )
                log.info(
                    "flusher: %d shards, batch %d",
                    settings.engine.shards,
                    settings.engine.flush_batch,
                )
                await flusher.run(stopping)
            else:
                sweeper = Sweeper(
                    redis=redis,
                    db=db,
                    settings=settings.engine,
                    clock=SystemClock(),
                    metrics=None if registry is None else SweeperMetrics.create(registry),
                )
                log.info("sweeper: every %.1fs", settings.engine.sweep_interval_seconds)
                await sweeper.run(stopping)
        finally:
            await db.close()
    finally:
        await redis.aclose()
    log.info("%s: stopped", role)


async def _set_shard_count(settings: Settings, shards: int) -> None:
    redis = connect_redis(settings.redis)
    try:
        old = await change_shard_count(redis, shards)
    finally:
        await redis.aclose()
    if old == shards:
        print(f"the shard count is {shards} already")
    else:
        print(
            f"shard count changed from {old if old is not None else 'unset'} to {shards}; "
            f"start every process with ENGINE_SHARDS={shards}"
        )


def _shard_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="run the shard actors")
    commands.add_parser("sweep", help="run the sweeper")
    commands.add_parser("flush", help="write every owned shard's journal through to MariaDB")
    change = commands.add_parser(
        "set-shard-count",
        help="change the shard count every process must run with",
        description="Refused while any shard's lease is held or any shard has queued, "
        "in-flight or journalled work: stop every engine, sweeper, flusher and gateway first, "
        "then start them all with ENGINE_SHARDS=N. Reads REDIS_URL.",
    )
    change.add_argument("shards", type=_shard_count, metavar="N")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.telemetry.log_format)
    if args.command == "set-shard-count":
        try:
            asyncio.run(_set_shard_count(settings, args.shards))
        except (ShardCountChangeRefused, RedisError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        uvloop.run(_serve(settings, args.command))
    except ShardCountMismatch as exc:
        log.error("configuration error: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
