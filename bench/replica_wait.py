"""What `REDIS_MIN_REPLICAS` costs a turn: the shard queue's one round trip (apply, then take,
then `WAIT`) timed with and without the WAIT, on a private local Redis Cluster of three masters
with a replica each, and on one server for comparison.

Each turn applies one command's removal from the in-flight list (a small write, as a turn of
one hold is) and takes the next; the command is pushed just before. The figures are the turn's
round trip as the actor sees it, so they include redis-py's pipeline cost.

    python -m bench.replica_wait [--turns 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.stats import Percentiles, percentiles
from config import RedisSettings
from devstack.servers import RedisClusterServer, RedisServer
from engine.effects import Effects
from engine.keys import ShardKeys
from engine.lease import ShardLease
from engine.queue import ShardQueue
from engine.redis_client import RedisClient, connect_redis
from engine.scripts import Scripts

COMMAND = b'{"type":"noop"}'


async def _turns(redis: RedisClient, *, turns: int, min_replicas: int) -> tuple[Percentiles, float]:
    keys = ShardKeys(0)
    await redis.delete(keys.lease, keys.commands, keys.inflight)
    scripts = Scripts.register(redis)
    lease = ShardLease(redis, scripts, keys, ttl_ms=600_000, owner="bench", shard_count=1)
    assert await lease.try_acquire()
    queue = ShardQueue(
        redis, scripts, keys, batch_size=16, token=lease.token, min_replicas=min_replicas
    )
    await queue.prepare()
    rendered_keys, payload = Effects(keys, 0).render()
    await redis.lpush(keys.commands, COMMAND)
    await queue.take(0.0)
    samples = []
    started = time.perf_counter()
    for _ in range(turns):
        await redis.lpush(keys.commands, COMMAND)
        began = time.perf_counter()
        await queue.apply_and_take(rendered_keys, [lease.token, payload, 1])
        samples.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - started
    await lease.release()
    return percentiles(samples), turns / elapsed


async def _measure(url: str, turns: int, replica_counts: tuple[int, ...]) -> list[str]:
    redis = connect_redis(RedisSettings.from_url(url))
    lines = []
    try:
        for min_replicas in replica_counts:
            figures, rate = await _turns(redis, turns=turns, min_replicas=min_replicas)
            lines.append(
                f"| {min_replicas} | {figures['p50_ms']} | {figures['p99_ms']} | {rate:,.0f} |"
            )
    finally:
        await redis.aclose()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rq-replica-wait-") as folder:
        cluster = RedisClusterServer(Path(folder) / "cluster", replicas=1, durable=False)
        single = RedisServer(Path(folder) / "single", durable=False)
        cluster.start()
        single.start()
        try:
            on_cluster = asyncio.run(_measure(cluster.url, args.turns, (0, 1)))
            on_single = asyncio.run(_measure(single.url, args.turns, (0,)))
        finally:
            single.stop()
            cluster.stop()
    print("| Redis | REDIS_MIN_REPLICAS | turn p50 ms | turn p99 ms | turns/s |")
    print("|---|---|---|---|---|")
    for line in on_single:
        print(f"| one server {line}")
    for line in on_cluster:
        print(f"| cluster, 3 masters + 3 replicas {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
