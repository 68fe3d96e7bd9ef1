"""The hold-only rush, driven by a C load generator: what the stack decides, and what it costs.

The stack as `make run` ships it (the Procfile under honcho, its settings and logging as they
are, a durable MariaDB), with one change: RATE_LIMITS=off, since the whole crowd comes from one
loopback address. One event of 5,000 seats, 2,000 buyers (bearer tokens minted directly) and a
plan of 20,000 single-seat holds, 80% of the picks on the best 10% of the seats. `wrk` sends them
(bench/wrk/hold_plan.lua), each request the next plan entry with an Idempotency-Key of its own:

- closed loop: 128 connections, each sending its next hold when the last is answered, for a
  fixed time. wrk replays the plan from its start once it is used up (with fresh keys), so its
  later requests are refusals, which the engine decides all the same;
- open loop (the sweep): requests at a fixed rate whatever the answers, one fresh event per
  rate, for the latency-vs-load curve (`bench.curve`) and the capacity.

Decisions are 2xx and 409 answers; anything else, and socket errors, are errors. CPU per
decision is each process's CPU from /proc over the run (gateway, engine, sweeper, flusher, Redis,
MariaDB, honcho) and wrk's own, divided by the decisions.

    python -m bench.holdrush [--seats 5000] [--buyers 2000] [--holds 20000] [--connections 128]
                             [--seconds 8] [--sweep 1000,2000,...] [--sweep-seconds 3]
                             [--supervisor honcho|none] [--quick] [--out bench/results]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import random
import secrets
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson
import uvloop

from bench import wrkrun
from bench.buyers import BEST_DEMAND, BEST_SHARE
from bench.curve import SweepPoint, on_schedule, table
from bench.metrics import EngineScrape, scrape_engines, scrape_gateways
from bench.procstats import UsageMeter, server_pids
from bench.report import machine
from bench.stack import (
    Children,
    SeededEvent,
    Servers,
    interruptible,
    procfile,
    seed_event,
    settings_for,
    wait_for_owners,
    wait_until_ready,
)
from bench.writebehind import wait_drained
from config import Settings, SettingsError
from devstack.run import (
    child_environment,
    honcho_command,
    metrics_ports,
    process_counts,
    procfile_names,
)
from devstack.servers import LOOPBACK, MariaDBServer, RedisServer, free_port
from domain.statuses import Role
from engine.redis_client import RedisClient, connect_redis
from gateway.auth.tokens import TokenCodec
from persistence import Database
from persistence.migrate import migrate

log = logging.getLogger("bench.holdrush")

TOKEN_TTL_S: Final = 3600
# Enough that the event's own per-buyer cap refuses nothing (a buyer makes ~10 of the holds).
MAX_PER_BUYER: Final = 50
DEFAULT_SWEEP: Final = (1000, 2000, 3000, 4000, 5000, 6000)
# Stop the sweep past this p99: higher rates only queue more.
SWEEP_STOP_P99_MS: Final = 1000.0
# Open loop: enough connections for every request to find a free one while answers take up to
# this long (Little's law: connections = rate x latency).
OPEN_WINDOW_S: Final = 0.25
OPEN_CONNECTIONS: Final = (128, 2048)
# A seat no event has: the engine answers a hold of it once it has the event in hand.
NO_SUCH_SEAT: Final = 2**62
SETTLE_S: Final = 0.3
SERVER_PROCESSES: Final = (
    "web",
    "engine",
    "sweeper",
    "flusher",
    "redis-server",
    "mariadbd",
    "honcho",
)


@dataclass(frozen=True, slots=True)
class HoldRushConfig:
    seats: int
    buyers: int
    holds: int
    connections: int
    seconds: float
    threads: int
    sweep: tuple[int, ...]
    sweep_seconds: float
    supervisor: str  # "honcho", as make run ships it, or "none"
    processes: dict[str, int]  # how many of each Procfile process (make run's by default)
    logs: Path | None


@dataclass(frozen=True, slots=True)
class Stack:
    base_url: str
    db: Database
    redis: RedisClient
    settings: Settings
    pids: dict[str, int]
    metrics: dict[str, list[str]]


def plan(
    seat_ids: Sequence[int], tokens: Sequence[str], holds: int, rng: random.Random
) -> Iterator[tuple[str, int]]:
    """`holds` single-seat holds by random buyers; 80% of the picks among the best 10% of the
    seats (seat_ids come best first). Blind picks: a plan cannot learn what was taken."""
    cut = max(1, int(len(seat_ids) * BEST_SHARE))
    best, rest = seat_ids[:cut], seat_ids[cut:] or seat_ids[:cut]
    for _ in range(holds):
        pool = best if rng.random() < BEST_DEMAND else rest
        yield rng.choice(tokens), pool[rng.randrange(len(pool))]


def write_plan(path: Path, entries: Iterator[tuple[str, int]]) -> None:
    path.write_text("".join(f"{token}\t{seat}\n" for token, seat in entries))


def environment(servers: Servers, supervisor: str) -> dict[str, str]:
    """`make run`'s environment for its processes (devstack.run), on a free port, rate limits
    off. Under honcho each process gets its METRICS_PORT from honcho's $PORT, as in make run."""
    env = child_environment(
        os.environ,
        redis_url=servers.redis_url,
        database_url=servers.database_url,
        venv_bin=Path(sys.executable).parent,
    )
    env.update(
        HTTP_PORT=str(free_port()),
        JWT_SECRET=secrets.token_urlsafe(48),
        RATE_LIMITS="off",
    )
    if supervisor == "none":
        # Children write to files here, as bench.rush's do, not through a supervisor's pipes.
        env.pop("PYTHONUNBUFFERED", None)
    return env


@asynccontextmanager
async def durable_servers(folder: Path) -> AsyncIterator[Servers]:
    """Redis and MariaDB as `make run` starts them (MariaDB durable, unlike the tests')."""
    redis = RedisServer(folder / "redis").start()
    try:
        mariadb = MariaDBServer(folder / "mariadb", durable=True).start()
        try:
            yield Servers(redis.url, mariadb.url)
        finally:
            mariadb.stop()
    finally:
        redis.stop()


def _metrics_base(counts: dict[str, int]) -> int:
    """A first port for honcho's `-p` whose every process's port (+100 engine, +200 sweeper,
    +1 for each further web) is free too."""
    for _ in range(50):
        base = free_port()
        ports = [
            port
            for group in metrics_ports(base, procfile_names(), counts).values()
            for port in group
        ]
        if max(ports) < 65536 and all(_free(port) for port in ports):
            return base
    raise RuntimeError("no free run of metrics ports for honcho")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _children_of(pid: int) -> dict[int, str]:
    """Every descendant of `pid` with its command line."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


def supervised_pids(honcho_pid: int) -> dict[str, int]:
    """honcho's processes by Procfile name (the python processes, not the shells between)."""
    kinds = {
        "gateway serve": "web",
        "engine run": "engine",
        "engine sweep": "sweeper",
        "engine flush": "flusher",
    }
    pids: dict[str, int] = {"honcho": honcho_pid}
    shells = 0
    for pid, cmdline in sorted(_children_of(honcho_pid).items()):
        kind = next((name for text, name in kinds.items() if f"-m {text}" in cmdline), None)
        if kind is not None and "python" in cmdline.split(" ", 1)[0]:
            # Several gateways: web, web.2, web.3 ...; their CPU is added up as the web's.
            seen = sum(1 for name in pids if name.partition(".")[0] == kind)
            pids[kind if not seen else f"{kind}.{seen + 1}"] = pid
        else:
            shells += 1
            pids[f"honcho-shell-{shells}"] = pid
    missing = {"web", "engine", "sweeper", "flusher"} - pids.keys()
    if missing:
        raise RuntimeError(f"honcho's {sorted(missing)} not found among its children")
    return pids


@contextmanager
def spawned(
    env: dict[str, str], config: HoldRushConfig, logs: Path
) -> Iterator[tuple[Children, dict[str, list[int]]]]:
    """The Procfile's processes, under honcho as make run starts them or as plain children,
    with each one's metrics port."""
    children = Children(env, logs)
    try:
        if config.supervisor == "honcho":
            base = _metrics_base(config.processes)
            children.spawn("honcho", honcho_command(base, config.processes))
            ports = metrics_ports(base, procfile_names(), config.processes)
        else:
            ports = {}
            for name, argv in procfile().items():
                ports[name] = []
                for index in range(config.processes.get(name, 1)):
                    ports[name].append(free_port())
                    child = name if not index else f"{name}.{index + 1}"
                    children.spawn(child, argv, {"METRICS_PORT": str(ports[name][-1])})
        yield children, ports
    finally:
        exits = children.stop()
        for name, (code, _) in exits.items():
            if code not in (0, -signal.SIGTERM):
                log.warning("%s exited with %s:\n%s", name, code, children.log_tail(name))


async def run(config: HoldRushConfig) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rushqueue-holdrush-") as scratch:
        folder = Path(scratch)
        async with durable_servers(folder / "servers") as servers:
            env = environment(servers, config.supervisor)
            settings = settings_for(servers, **env)
            db = await Database.connect(settings.database)
            redis = connect_redis(settings.redis)
            try:
                await migrate(db)
                # Every event before the stack starts: seeding costs MariaDB CPU of its own.
                events = [
                    await seed_event(
                        db,
                        seats=config.seats,
                        buyers=config.buyers if index == 0 else 0,
                        max_per_buyer=MAX_PER_BUYER,
                    )
                    for index in range(1 + len(config.sweep))
                ]
                users = events[0].user_ids
                codec = TokenCodec(settings.jwt_secret, ttl_seconds=TOKEN_TTL_S)
                tokens = [codec.issue(user, Role.BUYER).token for user in users]
                plans = []
                for index, event in enumerate(events):
                    path = folder / f"plan-{event.event_id}.tsv"
                    write_plan(
                        path, plan(event.seat_ids, tokens, config.holds, random.Random(index))
                    )
                    plans.append(path)
                logs = config.logs or folder / "logs"
                logs.mkdir(parents=True, exist_ok=True)
                with spawned(env, config, logs) as (children, ports):
                    await wait_until_ready(settings.http.public_url, children)
                    await wait_for_owners(servers.redis_url, settings.engine.shards)
                    if "honcho" in children.processes:
                        pids = supervised_pids(children.processes["honcho"].pid)
                    else:
                        pids = dict(children.pids)
                    stack = Stack(
                        settings.http.public_url,
                        db,
                        redis,
                        settings,
                        {**pids, **await server_pids(redis, db)},
                        {
                            kind: [f"http://{LOOPBACK}:{port}/metrics" for port in ports[kind]]
                            for kind in ("web", "engine")
                        },
                    )
                    await warm_up(stack.base_url, tokens[0], events)
                    closed = await measure(stack, config, events[0], plans[0], rate=0)
                    sweep: list[dict[str, Any]] = []
                    for rate, event, path in zip(config.sweep, events[1:], plans[1:], strict=True):
                        point = await measure(stack, config, event, path, rate=rate)
                        sweep.append(point)
                        latency = point["wrk"]["latency_ms"]
                        if point["wrk"]["errors"] or latency["p99"] > SWEEP_STOP_P99_MS:
                            log.info("sweep stops at %d/s: errors or p99 over 1 s", rate)
                            break
                    if exited := children.exited():
                        raise RuntimeError(f"children exited during the run: {exited}")
                complaints = children.complaints()
            finally:
                await redis.aclose()
                await db.close()
    return {
        "config": {**asdict(config), "logs": None if config.logs is None else str(config.logs)},
        "shards": settings.engine.shards,
        "closed_loop": closed,
        "sweep_runs": sweep,
        "sweep": [_point(run) for run in sweep],
        "child_logs": complaints,
    }


async def warm_up(base_url: str, token: str, events: Sequence[SeededEvent]) -> None:
    """One refused hold per event, so no run starts while the engine still loads its event."""
    async with aiohttp.ClientSession() as session:
        for event in events:
            async with session.post(
                f"{base_url}/api/v1/events/{event.event_id}/holds",
                json={"seat_ids": [NO_SUCH_SEAT]},
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                await response.read()


async def measure(
    stack: Stack, config: HoldRushConfig, event: SeededEvent, plan_path: Path, *, rate: int
) -> dict[str, Any]:
    """One wrk run over `event`: rate 0 closed loop at `connections`, else open loop."""
    await wait_drained(stack.redis, stack.settings.engine.shards)
    if rate:
        low, high = OPEN_CONNECTIONS
        connections = min(high, max(low, math.ceil(rate * OPEN_WINDOW_S)))
        seconds = config.sweep_seconds
    else:
        connections, seconds = config.connections, config.seconds
    argv = wrkrun.command(
        stack.base_url,
        plan_path,
        event.event_id,
        connections=connections,
        seconds=seconds,
        threads=config.threads,
        rate=rate,
    )
    engine_before = await scrape_engines(stack.metrics["engine"])
    web_before = await scrape_gateways(stack.metrics["web"])
    load_before = os.getloadavg()
    meter = UsageMeter(stack.pids)
    meter.start()
    result = await asyncio.to_thread(wrkrun.run, argv, seconds)
    usage = meter.finish()
    load_after = os.getloadavg()
    drained_s = await wait_drained(stack.redis, stack.settings.engine.shards)
    # Holds still in flight when wrk stopped are decided after it: count once the count rests.
    counted = await _settled_count(stack.metrics["engine"])
    counted_engine = (counted - engine_before).summary()
    counted_web = (await scrape_gateways(stack.metrics["web"]) - web_before).summary()
    await wait_drained(stack.redis, stack.settings.engine.shards)
    async with stack.db.transaction() as conn:
        held = await conn.fetch_value(
            "SELECT COUNT(*) FROM event_seats WHERE event_id = %s AND status = 'held'",
            (event.event_id,),
        )
    cpu = _cpu_by_process(usage, result.cpu_s)
    decisions = result.decisions
    summary = result.summary()
    log.info(
        "%s: %d decisions/s, p50 %.1f ms, p99 %.1f ms, %d errors, load %.2f",
        f"{rate}/s offered" if rate else f"closed loop, {connections} connections",
        summary["decisions_per_s"],
        result.latency_ms["p50"],
        result.latency_ms["p99"],
        result.errors,
        load_before[0],
    )
    return {
        "event_id": event.event_id,
        "offered_per_s": rate or None,
        "connections": connections,
        "wrk": summary,
        "cpu_s": cpu,
        "cpu_ms_per_decision": {
            name: round(used * 1000 / decisions, 3) if decisions else None
            for name, used in cpu.items()
        },
        "metrics": {"engine": counted_engine, "web": counted_web},
        # Every grant of the run is one held seat once the journal has drained.
        "held_seats_in_mariadb": held,
        "journal_drained_after_s": round(drained_s, 2),
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in load_after],
        },
    }


async def _settled_count(urls: list[str], within: float = 10.0) -> EngineScrape:
    """The engines' metrics once two scrapes SETTLE_S apart count the same decisions."""
    last = await scrape_engines(urls)
    async with asyncio.timeout(within):
        while True:
            await asyncio.sleep(SETTLE_S)
            now = await scrape_engines(urls)
            if now.decisions == last.decisions:
                return now
            last = now


def _cpu_by_process(usage: dict[str, Any], wrk_cpu_s: float) -> dict[str, float]:
    cpu: dict[str, float] = {}
    for name, used in usage.items():
        # honcho's shells (sh -c for each Procfile line) count as honcho's, every gateway
        # (web, web.2, ...) as the web's.
        key = "honcho" if name.startswith("honcho") else name.partition(".")[0]
        cpu[key] = round(cpu.get(key, 0.0) + used["cpu_s"], 2)
    cpu["server"] = round(sum(cpu[name] for name in cpu if name in SERVER_PROCESSES), 2)
    cpu["wrk"] = round(wrk_cpu_s, 2)
    return cpu


def _point(run: dict[str, Any]) -> SweepPoint:
    done = run["wrk"]
    lag = done["send_lag"] or {}
    return {
        "offered_per_s": run["offered_per_s"],
        "achieved_per_s": done["decisions_per_s"],
        "p50_ms": done["latency_ms"]["p50"],
        "p99_ms": done["latency_ms"]["p99"],
        "errors": done["errors"],
        "on_schedule": on_schedule(
            run["offered_per_s"], done["decisions_per_s"], lag.get("p99_ms")
        ),
        "own_p99_ms": run["metrics"]["engine"]["decision_p99_ms"],
        "client_cpu_s": run["cpu_s"]["wrk"],
        "server_cpu_s": run["cpu_s"]["server"],
        "seconds": done["seconds"],
    }


def closed_table(document: dict[str, Any]) -> str:
    run = document["closed_loop"]
    done, cpu, per = run["wrk"], run["cpu_s"], run["cpu_ms_per_decision"]
    config, host = document["config"], document["machine"]
    lat, lag = done["latency_ms"], run["load_average"]
    engine = run["metrics"]["engine"]
    lines = [
        f"Hold-only rush at {document['at']} on {host['cores']} cores "
        f"(load average before {lag['before'][0]}, after {lag['after'][0]}): "
        f"`{document['command']}`",
        "",
        "| measure | value |",
        "|---|---|",
        f"| stack | the Procfile under {config['supervisor']}, make run's settings, "
        f"RATE_LIMITS=off, {document['shards']} shards |",
        f"| load | wrk, closed loop, {run['connections']} connections, {done['seconds']} s; "
        f"plan of {config['holds']} single-seat holds by {config['buyers']} buyers over "
        f"{config['seats']} seats |",
        f"| requests / decisions | {done['requests']} / {done['decisions']} "
        f"({_statuses(done['statuses'])}) |",
        f"| decisions/s | {done['decisions_per_s']} |",
        f"| latency (wrk) | p50 {lat['p50']} · p90 {lat['p90']} · p99 {lat['p99']} · "
        f"p99.9 {lat['p999']} · max {lat['max']} ms |",
        f"| errors | {done['errors']} (socket: {_statuses(done['socket_errors'])}) |",
        f"| plan replays | {_replays(done)} |",
        f"| engine's own count (its /metrics) | {engine['hold_decisions']} "
        f"({_statuses(engine['by_outcome'])}); decision p50 {engine['decision_p50_ms']} · "
        f"p99 {engine['decision_p99_ms']} ms |",
        f"| held seats in MariaDB after the drain | {run['held_seats_in_mariadb']} "
        f"(journal drained {run['journal_drained_after_s']} s after wrk stopped) |",
        "",
        "| process | CPU s | CPU ms per decision |",
        "|---|---:|---:|",
    ]
    for name, used in cpu.items():
        lines.append(f"| {name} | {used} | {per[name]} |")
    return "\n".join(lines)


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in counts.items() if value) or "none"


def _replays(done: dict[str, Any]) -> str:
    if not done["replays"]:
        return "none: the plan was not used up"
    beyond = max(0, done["requests"] - done["plan_entries"])
    return (
        f"the plan of {done['plan_entries']} was used up and replayed from its start "
        f"({done['replays']}x in some thread): about {beyond} later requests, with fresh "
        "Idempotency-Keys, were new holds on seats already held, i.e. refusals"
    )


def write(document: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"holdrush-{document['at']}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return path


def _rates(text: str) -> tuple[int, ...]:
    rates = tuple(int(part) for part in text.split(",") if part.strip())
    if any(rate < 1 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be positive integers")
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.holdrush")
    parser.add_argument("--seats", type=int, default=5_000)
    parser.add_argument("--buyers", type=int, default=2_000)
    parser.add_argument("--holds", type=int, default=20_000, help="entries in the plan")
    parser.add_argument("--connections", type=int, default=128, help="closed loop")
    parser.add_argument("--seconds", type=float, default=8.0, help="closed loop")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--sweep",
        type=_rates,
        default=DEFAULT_SWEEP,
        help="offered rates, comma-separated (open loop, one fresh event each); '' for none",
    )
    parser.add_argument("--sweep-seconds", type=float, default=3.0)
    parser.add_argument(
        "--supervisor",
        choices=("honcho", "none"),
        default="honcho",
        help="honcho relays the processes' output, as make run does; none: straight to files",
    )
    parser.add_argument(
        "--web",
        type=int,
        help="gateway processes (default: make run's, WEB_PROCESSES or one per two cores)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.seats, args.buyers, args.holds = min(args.seats, 500), min(args.buyers, 100), 2_000
        args.seconds, args.sweep_seconds = min(args.seconds, 2.0), min(args.sweep_seconds, 1.0)
        args.sweep = args.sweep[:2] if args.sweep != DEFAULT_SWEEP else (200, 400)
    if min(args.seats, args.buyers, args.holds, args.connections, args.threads) < 1:
        parser.error("--seats, --buyers, --holds, --connections and --threads must be >= 1")
    try:
        processes = process_counts(
            os.environ if args.web is None else {"WEB_PROCESSES": str(args.web)}
        )
    except SettingsError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        wrkrun.wrk_binary()
    except wrkrun.LoadToolMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    config = HoldRushConfig(
        seats=args.seats,
        buyers=args.buyers,
        holds=args.holds,
        connections=args.connections,
        seconds=args.seconds,
        threads=args.threads,
        sweep=tuple(args.sweep),
        sweep_seconds=args.sweep_seconds,
        supervisor=args.supervisor,
        processes=processes,
        logs=args.logs,
    )
    result = uvloop.run(interruptible(run(config)))
    command = " ".join(["python -m bench.holdrush", *(sys.argv[1:] if argv is None else argv)])
    document = {
        "benchmark": "holdrush",
        "at": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "machine": machine(),
        "load_average": result["closed_loop"]["load_average"]["before"][0],
        "command": command,
        **result,
    }
    path = write(document, args.out)
    print(closed_table(document))
    if document["sweep"]:
        print()
        print("Open loop, one fresh event per rate (wrk with a fixed schedule):")
        print()
        print(table(document["sweep"], client="wrk"))
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
