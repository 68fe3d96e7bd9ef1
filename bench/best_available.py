"""Best-available decisions against picked holds, on one shard of one engine process.

A 20,000-seat arena (devstack/layouts/arena-venue.json) is sold into by `--buyers` buyers, at
most `IN_FLIGHT` at once, three times on fresh events:

- `picked`: every buyer picks 1-4 seats from what still looks free (bench.buyers.SeatMap, the
  engine benchmark's demand) on an event that allows gaps: today's hold, the baseline;
- `best`: every buyer asks for the best 1-4 seats (a third name a category, a fifth let the
  seats be apart) on an event with `no_single_gaps`, the dearer search;
- `mixed`: half of each, on the `no_single_gaps` event (picks that would strand a seat are
  refused and picked again, up to ten times).

For each: decisions, decisions/s, the client's round trip (p50, p99) per kind, the engine's
CPU seconds and its CPU microseconds per decision, which is the per-decision cost compared
(target: best-available at most twice a picked hold). After each run no seat may be in two
holds, and the grants must match the seat locks and, once drained, MariaDB.

    python -m bench.engine --best-available [--buyers 5000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import json
import logging
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from bench.buyers import SeatMap
from bench.engine import IN_FLIGHT, Outcome, check_invariants, reset
from bench.procstats import ProcessUsage, UsageMeter, server_pids
from bench.stack import (
    EngineProcesses,
    SeededEvent,
    engine_env,
    private_servers,
    settings_for,
    wait_for_owners,
)
from bench.stats import percentiles
from domain.catalog import EventSpec, parse_venue_layout
from engine.client import EngineClient
from engine.protocol import BestAvailableRequest, HoldRequest, RejectCode, Reply, new_command_id
from engine.redis_client import connect_redis
from persistence import Database
from persistence.catalog import create_event, create_venue, event_seat_map
from persistence.migrate import migrate

log = logging.getLogger("bench.best_available")

ARENA: Final = Path(__file__).parents[1] / "devstack" / "layouts" / "arena-venue.json"
PICK_ATTEMPTS: Final = 10


class Mix(enum.StrEnum):
    PICKED = "picked"
    BEST = "best"
    MIXED = "mixed"


@dataclass(slots=True)
class Tally:
    outcome: Outcome
    by_kind: dict[str, list[float]] = field(default_factory=lambda: {"picked": [], "best": []})


async def seed_arena(db: Database, *, buyers: int, no_single_gaps: bool) -> SeededEvent:
    layout = parse_venue_layout(json.loads(ARENA.read_text()))
    now = datetime.now(UTC).replace(tzinfo=None)
    async with db.transaction() as conn:
        venue_id = await create_venue(conn, layout)
        event_id = await create_event(
            conn,
            EventSpec(
                venue_id=venue_id,
                name="Best Available Night",
                starts_at=now + timedelta(days=2),
                sale_starts_at=now - timedelta(minutes=5),
                sale_ends_at=now + timedelta(days=1),
                currency="EUR",
                max_seats_per_buyer=6,
                prices={"A": 12000, "B": 8500, "C": 5500},
                no_single_gaps=no_single_gaps,
            ),
        )
        seat_ids = tuple(seat.id for seat in await event_seat_map(conn, event_id))
        first = await conn.fetch_value("SELECT COALESCE(MAX(id), 0) FROM users")
        await conn.execute_many(
            "INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s)",
            [(f"best{first + n}@example.com", "Bench", "-") for n in range(buyers)],
        )
        users = await conn.fetch_all("SELECT id FROM users WHERE id > %s ORDER BY id", (first,))
    return SeededEvent(event_id, seat_ids, tuple(row["id"] for row in users))


async def rush(client: EngineClient, event: SeededEvent, mix: Mix, seed: int) -> Tally:
    rng = random.Random(seed)
    seats_view = SeatMap(event.seat_ids)
    tally = Tally(Outcome(0, 0.0, [], {event.event_id: {}}))
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def ask(kind: str, user: int) -> Reply:
        want = rng.randint(1, 4)
        command: HoldRequest | BestAvailableRequest
        if kind == "best":
            command = BestAvailableRequest(
                id=new_command_id(),
                reply_to=client.reply_to,
                event_id=event.event_id,
                user_id=user,
                count=want,
                categories=(rng.choice("ABC"),) if rng.random() < 1 / 3 else (),
                together=rng.random() >= 0.2,
            )
        else:
            command = HoldRequest(
                id=new_command_id(),
                reply_to=client.reply_to,
                event_id=event.event_id,
                user_id=user,
                seat_ids=seats_view.pick(want, rng),
            )
        started = time.perf_counter()
        reply = await client.submit(command)
        took = time.perf_counter() - started
        tally.outcome.latencies.append(took)
        tally.by_kind[kind].append(took)
        if reply.hold is not None:
            tally.outcome.granted[event.event_id][reply.hold.id] = reply.hold.seat_ids
            seats_view.taken(reply.hold.seat_ids)
        return reply

    async def buyer(index: int) -> None:
        user = event.user_ids[index % len(event.user_ids)]
        kind = "best" if mix is Mix.BEST or (mix is Mix.MIXED and index % 2) else "picked"
        async with gate:
            for _ in range(PICK_ATTEMPTS if kind == "picked" else 1):
                if not seats_view.free:
                    return
                reply = await ask(kind, user)
                if reply.rejection is None:
                    return
                if reply.rejection.code is RejectCode.SEATS_UNAVAILABLE and kind == "picked":
                    seats_view.taken(reply.rejection.details["seat_ids"])
                elif reply.rejection.code is not RejectCode.ORPHAN_SEAT:
                    return

    started = time.perf_counter()
    await asyncio.gather(*(buyer(index) for index in range(len(event.user_ids))))
    tally.outcome.seconds = time.perf_counter() - started
    tally.outcome.decisions = len(tally.outcome.latencies)
    return tally


async def run_best_available(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    async with private_servers() as servers:
        settings = settings_for(servers)
        db = await Database.connect(settings.database)
        try:
            await migrate(db)
            for mix in Mix:
                await reset(servers, db)
                event = await seed_arena(
                    db, buyers=args.buyers, no_single_gaps=mix is not Mix.PICKED
                )
                with tempfile.TemporaryDirectory() as logs:
                    engines = EngineProcesses(
                        engine_env(servers, 1), 1, Path(logs), metrics=args.metrics
                    )
                    engines.start()
                    try:
                        await wait_for_owners(servers.redis_url, 1)
                        client_settings = settings_for(servers, ENGINE_SHARDS="1")
                        redis = connect_redis(client_settings.redis)
                        meter = UsageMeter(
                            {
                                **engines.pids,
                                "redis-server": (await server_pids(redis, db))["redis-server"],
                                "load-client": os.getpid(),
                            }
                        )
                        async with EngineClient(redis, client_settings.engine) as client:
                            # The event loads (and is ranked) on its first command, not in
                            # the measured rush.
                            await client.submit(
                                BestAvailableRequest(
                                    id=new_command_id(),
                                    reply_to=client.reply_to,
                                    event_id=event.event_id,
                                    user_id=event.user_ids[0],
                                    count=0,
                                )
                            )
                            meter.start()
                            tally = await rush(client, event, mix, seed=7)
                        await redis.aclose()
                        await check_invariants(servers, 1, tally.outcome, db)
                        usage = meter.finish()
                    finally:
                        engines.stop()
                rows.append(_row(mix, event, tally, usage))
                log.info("%s", rows[-1])
        finally:
            await db.close()
    return {"seats": len(event.seat_ids), "buyers": args.buyers, "runs": rows}


def _row(
    mix: Mix, event: SeededEvent, tally: Tally, usage: dict[str, ProcessUsage]
) -> dict[str, Any]:
    outcome = tally.outcome
    engine_cpu = sum(used["cpu_s"] for name, used in usage.items() if name.startswith("engine"))
    held = sum(len(seats) for seats in outcome.granted[event.event_id].values())
    return {
        "mix": mix.value,
        "decisions": outcome.decisions,
        "decisions_per_s": round(outcome.per_second),
        "seconds": round(outcome.seconds, 2),
        "seats_held": held,
        "latency": {
            kind: percentiles(samples) for kind, samples in tally.by_kind.items() if samples
        },
        "engine_cpu_s": round(engine_cpu, 2),
        # The engine's whole cost of a decision, its Redis apply and write-behind included.
        "engine_cpu_us_per_decision": round(engine_cpu / outcome.decisions * 1e6)
        if outcome.decisions
        else None,
        "invariants": "ok",
    }
