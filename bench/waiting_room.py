"""The waiting-room rush (`python -m bench.rush --waiting-room`): a crowd much larger than the
event queues in front of the sale, is admitted at the organizer's rate, and the admitted shop.

Private Redis and MariaDB and the Procfile's processes, as `bench.rush` runs them, with the rate
limits off (every buyer comes from one loopback address). Then one event of S seats with a
waiting room, and B buyers spread over load processes (`bench.queue_buyers`), which between
them keep Q queue websockets open from before the sale. The sale starts a few seconds after the
buyers are told to go: a share of them join during the pre-queue, the rest within the join window
after the start. The run ends when every buyer has been admitted or the event sold out (no seat
left available, the moment the live seat map shows it), or at the deadline; the waiting then
give up, the shopping finish, every hold ends, and the rush's invariants are checked.

Measured: join latency; time from the sale's start to the last admission or the sell-out;
fairness from the engine's own records (the places hash): admissions out of rank order, and for
the pre-queue the Spearman correlation between arrival and rank; the wait each buyer was
promised against the wait it had; hold latency of the admitted while others wait; push latency
of the queue broadcasts; and every process's peak RSS and CPU with the sockets open.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import multiprocessing
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson

from bench.buyers import SeatMap
from bench.invariants import InvariantBroken, check
from bench.procstats import UsageMeter, server_pids
from bench.queue_buyers import Visit, WorkerConfig, WorkerResult, work
from bench.shoppers import MAX_SEATS, Tally
from bench.stack import (
    Children,
    Servers,
    private_servers,
    procfile,
    seed_event,
    settings_for,
    stack_environment,
    wait_for_owners,
    wait_until_ready,
)
from bench.stats import percentiles
from bench.watchers import LiveMap, Watchers
from bench.writebehind import wait_drained
from config import Settings
from domain.statuses import SeatStatus
from domain.waiting_room import WaitingRoomSettings
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.protocol import ConfigureQueueRequest, new_command_id
from engine.queue_view import read_room
from engine.redis_client import RedisClient, connect_redis
from persistence import Database
from persistence.migrate import migrate
from persistence.waiting_rooms import save_waiting_room

log = logging.getLogger("bench.waiting_room")

RUN_WITHIN_S: Final = 30.0  # from the end of the join window to the end of admission, at most
# What this machine serves with the hold p99 at about 100 ms while the crowd waits (found by
# trying, docs/benchmarks.md): the rate, and a cap the rate stays under for a session's length.
DEFAULT_ADMISSIONS_PER_MINUTE: Final = 12_000
DEFAULT_MAX_INSIDE: Final = 10_000
ROOM_POLL_S: Final = 0.25
REDIS_CONNECTIONS: Final = 1024
# "While others wait": holds decided while at least this many were still in line.
CROWD_WAITING: Final = 1000
WORKER_WITHIN_S: Final = 120.0


@dataclass(frozen=True, slots=True)
class RoomConfig:
    seats: int
    buyers: int
    sockets: int
    pre_queue_share: float
    pre_queue_s: float  # from the go to the sale's start
    join_window_s: float  # after the start, within which the others join
    admissions_per_minute: int
    max_inside: int
    session_seconds: int
    processes: int
    web_processes: int
    in_flight: int
    pay_share: float
    release_share: float
    hold_ttl_s: float
    logs: Path | None


@dataclass(frozen=True, slots=True)
class RoomSample:
    at_s: float  # epoch
    waiting: int
    admitted_through: int
    last_rank: int
    inside: int


def environment(servers: Servers, config: RoomConfig) -> dict[str, str]:
    return stack_environment(
        servers,
        HOLD_TTL_SECONDS=str(config.hold_ttl_s),
        # Every buyer and socket comes from 127.0.0.1: per-IP limits would test the limiter.
        RATE_LIMITS="off",
        # Thousands of requests in flight at once: at the default 64 connections the gateway's
        # pool runs dry and requests fail ("No connection available") instead of waiting.
        REDIS_MAX_CONNECTIONS=str(REDIS_CONNECTIONS),
    )


async def run(config: RoomConfig) -> dict[str, Any]:
    async with private_servers() as servers:
        env = environment(servers, config)
        settings = settings_for(servers, **env)
        db = await Database.connect(settings.database)
        redis = connect_redis(settings.redis)
        try:
            await migrate(db)
            with tempfile.TemporaryDirectory(prefix="rushqueue-room-") as scratch:
                logs = config.logs or Path(scratch)
                logs.mkdir(parents=True, exist_ok=True)
                children = Children(env, logs)
                commands = procfile()
                # The gateway last, so that it stops first; several share the port.
                for name in sorted(commands, key=lambda name: name == "web"):
                    if name == "web" and config.web_processes > 1:
                        for index in range(config.web_processes):
                            children.spawn(f"web-{index}", commands[name])
                    else:
                        children.spawn(name, commands[name])
                try:
                    await wait_until_ready(settings.http.public_url, children)
                    await wait_for_owners(servers.redis_url, settings.engine.shards)
                    started = time.perf_counter()
                    # After the engines started: the event is loaded at its first command, with
                    # the sale start set just before it.
                    event = await seed_event(
                        db, seats=config.seats, buyers=config.buyers, max_per_buyer=MAX_SEATS
                    )
                    log.info(
                        "%d buyers made in %.1f s", config.buyers, time.perf_counter() - started
                    )
                    pids = {**children.pids, **await server_pids(redis, db), "load": os.getpid()}
                    measured = await _rush(
                        config,
                        settings,
                        db,
                        redis,
                        event.event_id,
                        event.seat_ids,
                        event.user_ids,
                        pids,
                    )
                    if exited := children.exited():
                        raise RuntimeError(f"children exited during the run: {exited}")
                finally:
                    exits = children.stop(in_turn=True)
                complaints = children.complaints()
            problems = [
                f"{name} exited with {code} when stopped:\n{children.log_tail(name)}"
                for name, (code, _) in exits.items()
                if code != 0
            ]
            tally: Tally = measured.pop("tally")
            try:
                stored = await check(
                    db,
                    redis,
                    settings.engine,
                    event.event_id,
                    tally.grants,
                    unanswered_holds=tally.unanswered_holds,
                )
            except InvariantBroken as exc:
                problems += str(exc).splitlines()
                stored = {}
            if measured["fairness"]["out_of_rank_order"]:
                problems.append(
                    f"{measured['fairness']['out_of_rank_order']} admissions out of rank order"
                )
        finally:
            await redis.aclose()
            await db.close()
    return {
        "config": {**asdict(config), "logs": None if config.logs is None else str(config.logs)},
        **measured,
        "stored": stored,
        "exits": {name: ended._asdict() for name, ended in exits.items()},
        "child_logs": complaints,
        "invariants": problems or "ok",
    }


async def _rush(
    config: RoomConfig,
    settings: Settings,
    db: Database,
    redis: RedisClient,
    event_id: int,
    seat_ids: tuple[int, ...],
    user_ids: tuple[int, ...],
    pids: dict[str, int],
) -> dict[str, Any]:
    base_url = settings.http.public_url
    room = WaitingRoomSettings(
        enabled=True,
        queue_opens_at_ms=0,
        admissions_per_minute=config.admissions_per_minute,
        max_inside=config.max_inside,
        session_seconds=config.session_seconds,
    )
    # Saved first, so that the queue sockets may open before the engine runs the room.
    async with db.transaction() as conn:
        saved = await save_waiting_room(conn, event_id, room)
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    processes: list[BaseProcess] = []
    for index in range(config.processes):
        ours, theirs = context.Pipe()
        worker = WorkerConfig(
            index=index,
            base_url=base_url,
            event_id=event_id,
            jwt_secret=settings.jwt_secret,
            user_ids=user_ids[index :: config.processes],
            pre_queue_share=config.pre_queue_share,
            sockets=len(range(index, config.sockets, config.processes)),
            in_flight=max(1, config.in_flight // config.processes),
            seat_ids=seat_ids,
            pay_share=config.pay_share,
            release_share=config.release_share,
        )
        process = context.Process(target=work, args=(worker, theirs), name=f"load-{index}")
        process.start()
        pipes.append(ours)
        processes.append(process)
    try:
        opening = time.perf_counter()
        ready = [await _receive(pipe, "ready") for pipe in pipes]
        sockets_open_s = round(time.perf_counter() - opening, 2)
        log.info("%d queue sockets open in %.1f s", sum(ready), sockets_open_s)
        for index, child in enumerate(processes):
            pids[f"load-{index}"] = child.pid or 0
        go_at = time.time()
        sale_starts_at_s = go_at + config.pre_queue_s
        joins_until_s = sale_starts_at_s + config.join_window_s
        async with db.transaction() as conn:
            await conn.execute(
                "UPDATE events SET sale_starts_at = %s WHERE id = %s",
                (datetime.fromtimestamp(sale_starts_at_s, UTC).replace(tzinfo=None), event_id),
            )
        async with EngineClient(redis, settings.engine) as client:
            reply = await client.submit(
                ConfigureQueueRequest(
                    id=new_command_id(), reply_to=client.reply_to, event_id=event_id, room=saved
                )
            )
            reply.room_or_raise()
        meter = UsageMeter(pids)
        meter.start()
        for pipe in pipes:
            pipe.send(("go", sale_starts_at_s, joins_until_s))
        live = LiveMap(SeatMap(seat_ids))
        async with aiohttp.ClientSession() as session:
            watcher = Watchers(session, f"{base_url}/api/v1/events/{event_id}/seats/ws", 1, live)
            await watcher.open()
            try:
                samples, ended, joined_at = await _until_done(
                    settings, redis, event_id, pipes, live, joins_until_s
                )
                usage = meter.finish()  # with every socket still open
                for pipe in pipes:
                    pipe.send(("stop",))
                results: list[WorkerResult] = [await _receive(pipe, "result") for pipe in pipes]
                log.info("every load process is done; waiting for every hold to end")
                settled = await _settled(live, settings, config)
                await wait_drained(redis, settings.engine.shards)
            finally:
                await watcher.close()
    finally:
        for child in processes:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
    places = await _places(redis, settings, event_id)
    return _summarise(
        config,
        results,
        places,
        samples,
        (ended, joined_at),
        usage,
        sale_starts_at_s,
        live,
        settled,
        sockets_open_s,
    )


async def _receive(pipe: Connection, kind: str) -> Any:
    """The next message of `kind` from a load process (a "joined" on the way is skipped)."""
    async with asyncio.timeout(WORKER_WITHIN_S):
        while True:
            message = await asyncio.to_thread(pipe.recv)
            if message[0] == kind:
                return message[1]


async def _until_done(
    settings: Settings,
    redis: RedisClient,
    event_id: int,
    pipes: Sequence[Connection],
    live: LiveMap,
    joins_until_s: float,
) -> tuple[list[RoomSample], str, float | None]:
    """Sample the room until every buyer is admitted, the event sold out, or the deadline; the
    samples, why it ended, and when every join had been answered (None: not by then)."""
    samples: list[RoomSample] = []
    joined = 0
    joined_at: float | None = None
    deadline = joins_until_s + RUN_WITHIN_S
    while True:
        for pipe in pipes:
            while pipe.poll():
                if pipe.recv()[0] == "joined":
                    joined += 1
                    if joined == len(pipes):
                        joined_at = time.time()
        room = await read_room(redis, settings.engine, event_id)
        if room is not None:
            samples.append(
                RoomSample(
                    time.time(),
                    room["waiting"],
                    room["admitted_through"],
                    room["last_rank"],
                    room["inside"],
                )
            )
            if joined == len(pipes) and room["admitted_through"] >= room["last_rank"]:
                return samples, "everyone admitted", joined_at
        if live.sold_out_at is not None:
            return samples, "sold out", joined_at
        if time.time() > deadline:
            return samples, "deadline", joined_at
        await asyncio.sleep(ROOM_POLL_S)  # sampling the room's progress


async def _settled(live: LiveMap, settings: Settings, config: RoomConfig) -> bool:
    engine = settings.engine
    within = config.hold_ttl_s + engine.sweep_interval_seconds + engine.sweep_grace_seconds + 30
    try:
        await live.wait_until(lambda seats: seats.count(SeatStatus.HELD) == 0, within)
    except TimeoutError:
        return False
    return True


async def _places(
    redis: RedisClient, settings: Settings, event_id: int
) -> dict[int, dict[str, Any]]:
    key = ShardKeys(shard_of(event_id, settings.engine.shards)).queue_places(event_id)
    raw: dict[bytes | str, bytes | str] = await redis.hgetall(key)
    return {int(user): orjson.loads(record) for user, record in raw.items()}


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties get their average rank); None below 3 pairs."""
    if len(xs) < 3:
        return None

    def ranks(values: Sequence[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        ranked = [0.0] * len(values)
        start = 0
        while start < len(order):
            end = start
            while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
                end += 1
            for position in range(start, end + 1):
                ranked[order[position]] = (start + end) / 2
            start = end + 1
        return ranked

    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    var = (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    return round(cov / var, 4) if var else None


def _fairness(places: dict[int, dict[str, Any]], sale_starts_at_ms: int) -> dict[str, Any]:
    ranked = sorted((p for p in places.values() if p["rank"] is not None), key=lambda p: p["rank"])
    out_of_order, latest = 0, 0
    for place in ranked:
        admitted = place["admitted_at_ms"]
        if admitted is None:
            continue
        if admitted < latest:
            out_of_order += 1
        latest = max(latest, admitted)
    ranks = [p["rank"] for p in ranked]
    pre = [p for p in ranked if p["joined_at_ms"] < sale_starts_at_ms]
    return {
        "places": len(places),
        "ranks_are_1_to_n": ranks == list(range(1, len(ranks) + 1)),
        "admitted": sum(1 for p in ranked if p["admitted_at_ms"] is not None),
        "out_of_rank_order": out_of_order,
        "pre_queue_places": len(pre),
        "pre_queue_spearman_arrival_vs_rank": spearman(
            [p["joined_at_ms"] for p in pre], [p["rank"] for p in pre]
        ),
    }


def _estimates(visits: list[Visit], places: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Promised wait minus the real one (seconds; positive: admitted sooner than promised), for
    every admitted buyer who was given an estimate."""
    errors = []
    for visit in visits:
        place = places.get(visit.user_id)
        if visit.estimate_s is None or visit.estimate_at_ms is None or place is None:
            continue
        if place["admitted_at_ms"] is None:
            continue
        real = max(0.0, (place["admitted_at_ms"] - visit.estimate_at_ms) / 1000)
        errors.append(visit.estimate_s - real)
    if not errors:
        return {"count": 0}
    absolute = sorted(abs(error) for error in errors)
    return {
        "count": len(errors),
        "median_error_s": round(statistics.median(errors), 2),
        "median_abs_error_s": round(statistics.median(absolute), 2),
        "p90_abs_error_s": round(absolute[int(0.9 * (len(absolute) - 1))], 2),
    }


def _summarise(
    config: RoomConfig,
    results: list[WorkerResult],
    places: dict[int, dict[str, Any]],
    samples: list[RoomSample],
    ending: tuple[str, float | None],
    usage: dict[str, Any],
    sale_starts_at_s: float,
    live: LiveMap,
    settled: bool,
    sockets_open_s: float,
) -> dict[str, Any]:
    visits = [visit for result in results for visit in result.visits]
    tally = Tally()
    for result in results:
        part = result.tally
        tally.hold_latencies_s += part.hold_latencies_s
        tally.hold_decided_epoch_s += part.hold_decided_epoch_s
        tally.checkout_latencies_s += part.checkout_latencies_s
        tally.grants += part.grants
        tally.responses.update(part.responses)
        tally.server_errors.update(part.server_errors)
        tally.unserved += part.unserved
        tally.unanswered_holds += part.unanswered_holds
    sale_starts_at_ms = round(sale_starts_at_s * 1000)
    admissions = [p["admitted_at_ms"] for p in places.values() if p["admitted_at_ms"] is not None]
    last_admission_s = (
        round((max(admissions) - sale_starts_at_ms) / 1000, 2) if admissions else None
    )
    # The live map times the sell-out on the monotonic clock; the sale's start is on the wall's.
    sold_out_s = (
        None
        if live.sold_out_at is None
        else round(time.time() - (time.perf_counter() - live.sold_out_at) - sale_starts_at_s, 2)
    )
    # Each hold against the room as last sampled before its decision: was a crowd still waiting?
    sampled_at = [sample.at_s for sample in samples]
    ended, joined_at = ending
    while_waiting, after_joins = [], []
    for latency, at in zip(tally.hold_latencies_s, tally.hold_decided_epoch_s, strict=True):
        before = bisect.bisect_right(sampled_at, at) - 1
        if before >= 0 and samples[before].waiting >= CROWD_WAITING:
            while_waiting.append(latency)
            if joined_at is not None and at > joined_at:
                after_joins.append(latency)
    join_responses: Counter[str] = Counter()
    for result in results:
        join_responses.update(result.join_responses)
    push = [latency for result in results for latency in result.push_latencies_s]
    return {
        "ended": ended,
        "joins": {
            "buyers": len(visits),
            "all_answered_after_start_s": (
                None if joined_at is None else round(joined_at - sale_starts_at_s, 2)
            ),
            "answered": sum(1 for v in visits if v.join_status == 200),
            "latency": percentiles([v.join_latency_s for v in visits if v.join_latency_s]),
            "responses": dict(sorted(join_responses.items())),
        },
        "admission": {
            "last_admission_after_start_s": last_admission_s,
            "sold_out_after_start_s": sold_out_s,
            "peak_inside": max((s.inside for s in samples), default=0),
            "most_waiting": max((s.waiting for s in samples), default=0),
            "shopped": sum(1 for v in visits if v.shopped),
        },
        "fairness": _fairness(places, sale_starts_at_ms),
        "estimated_wait": _estimates(visits, places),
        "holds": {
            "granted": len(tally.grants),
            "buyers_without_hold": tally.unserved,
            "unanswered": tally.unanswered_holds,
            "latency": percentiles(tally.hold_latencies_s),
            "crowd": CROWD_WAITING,
            "while_crowd_waits": percentiles(while_waiting),
            "after_joins_while_crowd_waits": percentiles(after_joins),
        },
        "checkout": {
            "outcomes": dict(sorted(Counter(g.done for g in tally.grants).items())),
            "latency": percentiles(tally.checkout_latencies_s),
        },
        "queue_sockets": {
            "open": sum(r.sockets_open for r in results),
            "open_after_s": sockets_open_s,
            "frames": sum(r.frames for r in results),
            "push_latency": percentiles(push),
            "reconnects": sum(r.reconnects for r in results),
            "errors": dict(sum((r.socket_errors for r in results), Counter())),
        },
        "every_hold_ended": settled,
        "responses": dict(sorted(tally.responses.items())),
        "server_errors": [
            {"status": status, "code": code, "message": message, "count": count}
            for (status, code, message), count in tally.server_errors.most_common()
        ],
        "processes": usage,
        "tally": tally,
    }
