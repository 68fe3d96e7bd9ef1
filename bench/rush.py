"""The whole stack over HTTP and websockets, as an on-sale rush really looks.

Private Redis and MariaDB, then the Procfile's processes (web, engine, sweeper, flusher) as
children on a free loopback port, with the local checkout (no Stripe key) and short holds, so
that expiry happens within the run. One event of S seats, K buyers (bearer tokens minted
directly, so argon2 plays no part) and W seat-map websockets. At the start signal every buyer
tries to hold 1-4 seats with the rush's demand shape; holders pay through the local checkout,
release, or walk away. Afterwards, once every hold has ended and the journal has drained, the
invariants are checked (`bench.invariants`); a broken one fails the run.

    python -m bench.rush [--seats 20000] [--buyers 5000] [--watchers 500] [--pay-share 0.3]
                         [--release-share 0.1] [--hold-ttl 30] [--in-flight 1000] [--quick]
                         [--engines 1] [--cluster [--replicas 0|1]]
                         [--out bench/results] [--logs DIR]

`--engines N` runs N engine processes, which share the shards. `--cluster` puts the stack on a
private Redis Cluster of three masters, by default with a replica each and REDIS_MIN_REPLICAS=1
(production's shape), or with `--replicas 0` on the masters alone. The report gives the hold
decisions per engine CPU-second and per Redis CPU-second (every node's, replicas included).

With `--waiting-room` the crowd (50,000 buyers by default) queues in front of the sale first:
see `bench.waiting_room`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import uvloop

from bench.buyers import SeatMap
from bench.invariants import InvariantBroken, check
from bench.metrics import scrape_engines, scrape_gateways
from bench.procstats import UsageMeter, mariadb_pid
from bench.report import write_report
from bench.screenshot import capture_seat_map
from bench.shoppers import MAX_SEATS, Shoppers
from bench.stack import (
    Children,
    RedisShape,
    SeededEvent,
    Servers,
    add_redis_options,
    interruptible,
    private_servers,
    procfile,
    seed_event,
    settings_for,
    stack_environment,
    wait_for_owners,
    wait_until_ready,
)
from bench.summary import Measured, summarise
from bench.waiting_room import (
    DEFAULT_ADMISSIONS_PER_MINUTE,
    DEFAULT_MAX_INSIDE,
    RoomConfig,
)
from bench.waiting_room import run as run_waiting_room
from bench.watchers import LiveMap, Watchers
from bench.writebehind import LagSampler, wait_drained
from config import Settings, SettingsError
from config.settings import LimitSettings
from devstack.run import process_counts
from devstack.servers import LOOPBACK, free_port
from domain.statuses import Role, SeatStatus
from engine.redis_client import RedisClient, connect_redis
from gateway.auth.tokens import TokenCodec
from persistence import Database
from persistence.migrate import migrate

log = logging.getLogger("bench.rush")

LAG_SAMPLES: Final = 500
RUSH_WITHIN_S: Final = 240.0
HTTP_TIMEOUT_S: Final = 30.0
TOKEN_TTL_S: Final = 3600


@dataclass(frozen=True, slots=True)
class RushConfig:
    seats: int
    buyers: int
    watchers: int
    pay_share: float
    release_share: float
    hold_ttl_s: float
    in_flight: int
    web_processes: int
    engines: int  # engine processes, sharing the shards
    redis: RedisShape
    push_window_ms: int | None  # None: the gateway's default
    screenshot: Path | None  # where to save a picture of the seat map mid-rush
    logs: Path | None  # where the children's logs are kept; None: thrown away


@dataclass(frozen=True, slots=True)
class Stack:
    """The running system as the load client reaches it."""

    base_url: str
    settings: Settings
    db: Database
    redis: RedisClient
    event: SeededEvent


def environment(servers: Servers, config: RushConfig) -> dict[str, str]:
    """The settings every child gets (and the load client reads back with `settings_for`)."""
    browser = LimitSettings().seat_map_per_ip
    seat_maps = f"{browser.count * (config.watchers + 1)}/{browser.seconds}"
    return stack_environment(
        servers,
        HOLD_TTL_SECONDS=str(config.hold_ttl_s),
        # Rate limits stay on, as in production, but every watcher shares one loopback address,
        # so the per-client websocket cap must admit them all, and each watcher gets a
        # browser's own budget of seat-map connects (reconnects after gaps included).
        # (one more for the screenshot's browser)
        WS_MAX_PER_IP=str(config.watchers + 1),
        RATE_LIMIT_SEAT_MAP_PER_IP=seat_maps,
        **(
            {"SEAT_PUSH_WINDOW_MS": str(config.push_window_ms)}
            if config.push_window_ms is not None
            else {}
        ),
    )


async def run(config: RushConfig) -> dict[str, Any]:
    async with private_servers(config.redis) as servers:
        env = environment(servers, config)
        settings = settings_for(servers, **env)
        db = await Database.connect(settings.database)
        redis = connect_redis(settings.redis)
        try:
            await migrate(db)
            event = await seed_event(
                db, seats=config.seats, buyers=config.buyers, max_per_buyer=MAX_SEATS
            )
            codec = TokenCodec(settings.jwt_secret, ttl_seconds=TOKEN_TTL_S)
            buyers = [(user, codec.issue(user, Role.BUYER).token) for user in event.user_ids]
            stack = Stack(settings.http.public_url, settings, db, redis, event)
            with tempfile.TemporaryDirectory(prefix="rushqueue-rush-") as scratch:
                logs = config.logs or Path(scratch)
                logs.mkdir(parents=True, exist_ok=True)
                children = Children(env, logs)
                commands = procfile()
                # Each process serves its /metrics on a port of its own: the engine's and the
                # gateways' own counts are read beside what the load client measured.
                metrics: dict[str, list[str]] = {"engine": [], "web": []}

                def spawn(name: str, kind: str) -> None:
                    port = free_port()
                    metrics.setdefault(kind, []).append(f"http://{LOOPBACK}:{port}/metrics")
                    children.spawn(name, commands[kind], {"METRICS_PORT": str(port)})

                # The gateway last, so that it is stopped first: its shutdown still talks to
                # the engine (the outbox worker's jobs in hand). Several gateways share the
                # port (SO_REUSEPORT) and the kernel spreads connections between them; several
                # engines share the shards.
                counts = {"web": config.web_processes, "engine": config.engines}
                for name in sorted(commands, key=lambda name: name == "web"):
                    if counts.get(name, 1) > 1:
                        for index in range(counts[name]):
                            spawn(f"{name}-{index}", name)
                    else:
                        spawn(name, name)
                try:
                    await wait_until_ready(stack.base_url, children)
                    await wait_for_owners(servers.redis_url, settings.engine.shards)
                    pids = {
                        **children.pids,
                        **servers.redis_pids,
                        "mariadbd": await mariadb_pid(db),
                        "load-client": os.getpid(),
                    }
                    engine_before = await scrape_engines(metrics["engine"])
                    web_before = await scrape_gateways(metrics["web"])
                    measured = await rush(config, stack, buyers, UsageMeter(pids))
                    if exited := children.exited():
                        raise RuntimeError(f"children exited during the run: {exited}")
                    counted = {
                        "engine": (
                            await scrape_engines(metrics["engine"]) - engine_before
                        ).summary(),
                        "web": (await scrape_gateways(metrics["web"]) - web_before).summary(),
                    }
                finally:
                    exits = children.stop(in_turn=True)
                complaints = children.complaints()
                problems = [
                    f"{name} exited with {code} when stopped:\n{children.log_tail(name)}"
                    for name, (code, _) in exits.items()
                    if code != 0
                ]
            try:
                stored = await check(
                    db,
                    redis,
                    settings.engine,
                    event.event_id,
                    measured.tally.grants,
                    unanswered_holds=measured.tally.unanswered_holds,
                )
            except InvariantBroken as exc:
                problems += str(exc).splitlines()
                stored = {}
        finally:
            await redis.aclose()
            await db.close()
    setup = {
        **asdict(config),
        "logs": None if config.logs is None else str(config.logs),
        "redis": config.redis.describe(),
        "shards": settings.engine.shards,
        "event_id": event.event_id,
    }
    return {
        **summarise(measured, setup),
        "metrics": counted,
        "stored": stored,
        "exits": {name: ended._asdict() for name, ended in exits.items()},
        "child_logs": complaints,
        "invariants": problems or "ok",
    }


async def rush(
    config: RushConfig, stack: Stack, buyers: list[tuple[int, str]], meter: UsageMeter
) -> Measured:
    seat_map = SeatMap(stack.event.seat_ids)
    live = LiveMap(seat_map)
    lag = LagSampler(stack.db, every=len(buyers) // LAG_SAMPLES)
    shards = stack.settings.engine.shards
    ws_url = f"{stack.base_url}/api/v1/events/{stack.event.event_id}/seats/ws"
    http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=config.in_flight),
        timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S),
    )
    # Websockets keep their connection for good: a pool of their own, one each.
    sockets = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=config.watchers))
    async with http, sockets:
        watchers = Watchers(sockets, ws_url, config.watchers, live)
        try:
            await watchers.open()
            shoppers = Shoppers(
                http,
                stack.base_url,
                stack.event.event_id,
                seat_map,
                pay_share=config.pay_share,
                release_share=config.release_share,
                in_flight=config.in_flight,
                seed=stack.event.event_id,
                on_grant=lag.offer,
            )

            async def shop() -> float:
                try:
                    async with asyncio.timeout(RUSH_WITHIN_S):
                        await shoppers.run(buyers)
                finally:
                    lag.rush_over()
                return time.perf_counter()

            log.info(
                "%d seat maps open after %.1f s; %d buyers go",
                config.watchers,
                watchers.stats.open_s,
                len(buyers),
            )
            meter.start()
            async with asyncio.TaskGroup() as group:
                group.create_task(lag.run())
                shopping = group.create_task(shop())
                if config.screenshot is not None:
                    group.create_task(_photograph(stack, live, config.screenshot))
            log.info("every buyer is done; waiting for the journal, then for expiries")
            drained_s = await wait_drained(stack.redis, shards)
            settled_s = await _settled(live, config, stack.settings, shopping.result())
            await wait_drained(stack.redis, shards)
            usage = meter.finish()
        finally:
            await watchers.close()
    return Measured(
        tally=shoppers.tally,
        feed=watchers.stats,
        lag=lag,
        sold_out_at=live.sold_out_at,
        done=shopping.result(),
        drained_s=drained_s,
        settled_s=settled_s,
        usage=usage,
    )


async def _photograph(stack: Stack, live: LiveMap, path: Path) -> None:
    """A browser's view of the seat map once a third of the seats are taken (the browser costs
    the machine CPU, so a run with a screenshot is not one to quote figures from)."""
    seats = len(stack.event.seat_ids)
    try:
        await live.wait_until(
            lambda seen: seen.count(SeatStatus.AVAILABLE) <= seats * 2 // 3, RUSH_WITHIN_S
        )
    except TimeoutError:
        log.warning("no screenshot: a third of the seats were never taken")
        return
    await capture_seat_map(stack.base_url, stack.event.event_id, path)
    log.info("seat map photographed to %s", path)


async def _settled(
    live: LiveMap, config: RushConfig, settings: Settings, rush_done: float
) -> float | None:
    """Seconds from the end of the rush until no seat is held (the holds nobody paid for or
    released have expired), or None if that did not happen in time."""
    engine = settings.engine
    within = config.hold_ttl_s + engine.sweep_interval_seconds + engine.sweep_grace_seconds + 30
    try:
        await live.wait_until(lambda seats: seats.count(SeatStatus.HELD) == 0, within)
    except TimeoutError:
        log.warning("seats are still held %.0fs after the rush", within)
        return None
    return round(time.perf_counter() - rush_done, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rush")
    parser.add_argument("--seats", type=int, default=20_000)
    parser.add_argument(
        "--buyers", type=int, help="5,000 (50,000 with --waiting-room); --quick: a few hundred"
    )
    parser.add_argument("--watchers", type=int, default=500)
    parser.add_argument("--pay-share", type=float, default=0.3)
    parser.add_argument("--release-share", type=float, default=0.1)
    parser.add_argument("--hold-ttl", type=float, default=30.0, help="HOLD_TTL_SECONDS")
    parser.add_argument("--in-flight", type=int, default=1000, help="buyers shopping at once")
    parser.add_argument(
        "--web-processes",
        type=int,
        help="gateway processes sharing the port (default: make run's count)",
    )
    parser.add_argument(
        "--engines", type=int, default=1, help="engine processes sharing the shards (default: 1)"
    )
    add_redis_options(parser)
    parser.add_argument("--push-window-ms", type=int, help="SEAT_PUSH_WINDOW_MS for the gateway")
    parser.add_argument(
        "--screenshot", type=Path, help="save a PNG of the seat map in a browser mid-rush"
    )
    room = parser.add_argument_group("waiting room (bench.waiting_room)")
    room.add_argument(
        "--waiting-room", action="store_true", help="the crowd queues in a waiting room first"
    )
    room.add_argument("--sockets", type=int, default=10_000, help="queue websockets kept open")
    room.add_argument("--pre-queue-share", type=float, default=0.2)
    room.add_argument(
        "--pre-queue-seconds", type=float, default=10.0, help="from the go to the sale's start"
    )
    room.add_argument("--admissions-per-minute", type=int, default=DEFAULT_ADMISSIONS_PER_MINUTE)
    room.add_argument("--max-inside", type=int, default=DEFAULT_MAX_INSIDE)
    room.add_argument("--session-seconds", type=int, default=60)
    room.add_argument(
        "--load-processes", type=int, default=2, help="load processes sharing the buyers"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--logs", type=Path, help="keep the children's logs in this folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.web_processes is None:
        try:
            args.web_processes = process_counts(os.environ)["web"]
        except SettingsError as exc:
            parser.error(str(exc))
    if args.waiting_room:
        if args.cluster or args.engines != 1:
            parser.error("--waiting-room runs on one server with one engine")
        return _waiting_room(parser, args, argv)
    if args.buyers is None:
        args.buyers = 5_000
    if args.quick:
        args.seats, args.buyers = min(args.seats, 300), min(args.buyers, 150)
        args.watchers, args.hold_ttl = min(args.watchers, 10), min(args.hold_ttl, 10.0)
    if min(args.seats, args.buyers, args.watchers, args.in_flight, args.web_processes) < 1:
        parser.error(
            "--seats, --buyers, --watchers, --in-flight and --web-processes must be at least 1"
        )
    if args.engines < 1:
        parser.error("--engines must be at least 1")
    if not 0 <= args.pay_share + args.release_share <= 1:
        parser.error("--pay-share plus --release-share must lie between 0 and 1")
    config = RushConfig(
        seats=args.seats,
        buyers=args.buyers,
        watchers=args.watchers,
        pay_share=args.pay_share,
        release_share=args.release_share,
        hold_ttl_s=args.hold_ttl,
        in_flight=args.in_flight,
        web_processes=args.web_processes,
        engines=args.engines,
        redis=RedisShape.from_args(args),
        push_window_ms=args.push_window_ms,
        screenshot=args.screenshot,
        logs=args.logs,
    )
    result = uvloop.run(interruptible(run(config)))
    command = " ".join(["python -m bench.rush", *(sys.argv[1:] if argv is None else argv)])
    print(write_report("rush", {"command": command, **result}, args.out))
    if result["invariants"] != "ok":
        print("INVARIANT BROKEN:\n" + "\n".join(result["invariants"]), file=sys.stderr)
        return 1
    return 0


def _waiting_room(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None
) -> int:
    buyers = args.buyers or (300 if args.quick else 50_000)
    if args.quick:
        args.seats, args.sockets = min(args.seats, 1000), min(args.sockets, 60)
        args.hold_ttl = min(args.hold_ttl, 10.0)
    if min(args.seats, buyers, args.sockets, args.load_processes, args.in_flight) < 1:
        parser.error("--seats, --buyers, --sockets, --load-processes and --in-flight must be >= 1")
    if not 0 <= args.pre_queue_share <= 1:
        parser.error("--pre-queue-share must lie between 0 and 1")
    if args.pre_queue_seconds < 1:
        parser.error("--pre-queue-seconds must be at least 1")
    config = RoomConfig(
        seats=args.seats,
        buyers=buyers,
        sockets=min(args.sockets, buyers),
        pre_queue_share=args.pre_queue_share,
        pre_queue_s=min(args.pre_queue_seconds, 2.0) if args.quick else args.pre_queue_seconds,
        join_window_s=3.0 if args.quick else 10.0,
        admissions_per_minute=args.admissions_per_minute,
        max_inside=args.max_inside,
        session_seconds=args.session_seconds,
        processes=args.load_processes,
        web_processes=args.web_processes,
        in_flight=args.in_flight,
        pay_share=args.pay_share,
        release_share=args.release_share,
        hold_ttl_s=args.hold_ttl,
        logs=args.logs,
    )
    result = uvloop.run(interruptible(run_waiting_room(config)))
    command = " ".join(["python -m bench.rush", *(sys.argv[1:] if argv is None else argv)])
    print(write_report("waiting-room", {"command": command, **result}, args.out))
    if result["invariants"] != "ok":
        print("INVARIANT BROKEN:\n" + "\n".join(result["invariants"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
