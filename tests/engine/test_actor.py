"""The seat actor's turn against real Redis and MariaDB: what it must never wait for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from config import Settings
from devstack.servers import MariaDBServer
from domain.errors import EngineUnavailable
from engine.client import EngineClient
from engine.protocol import Reply, idempotent_command_id
from engine.redis_client import RedisClient
from persistence import Database
from tests.helpers.catalog import MakeEvent
from tests.helpers.engine import Buyers, RunningEngine, ask_hold


async def test_a_hung_event_load_does_not_hold_up_other_events_of_the_shard(
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    mariadb_server: MariaDBServer,
    make_event: MakeEvent,
    buyers: Buyers,
) -> None:
    # One shard, so both events share one actor and one turn.
    settings = make_settings(ENGINE_SHARDS="1", ENGINE_DECISION_TIMEOUT_SECONDS="2")
    loaded = await make_event(seats=4)
    alice, bob = await buyers(2)
    running = RunningEngine(settings, db)
    await running.start()
    # Created after the actor recovered: its first command makes the actor load it.
    unloaded = await make_event(seats=4)
    command_id = idempotent_command_id("hung-load", "1")
    try:
        async with EngineClient(redis, settings.engine) as client:
            mariadb_server.pause()
            try:
                # Submitted in one tick, so they reach the actor in the same batch, the
                # unloaded event's first.
                waiting = asyncio.create_task(
                    ask_hold(client, unloaded.event_id, bob, unloaded.seat_ids[:1], command_id)
                )
                started = time.monotonic()
                decided = await ask_hold(client, loaded.event_id, alice, loaded.seat_ids[:1])
                took = time.monotonic() - started
                assert decided.hold is not None
                assert took < 1.0, f"a loaded event's hold took {took:.2f} s behind a hung load"
                # While MariaDB hangs, the unloaded event's buyer only ever hears "retry".
                try:
                    first: Reply | None = await waiting
                except EngineUnavailable:
                    first = None
                assert first is None or first.is_transient
            finally:
                mariadb_server.resume()
            reply = await ask_hold(
                client, unloaded.event_id, bob, unloaded.seat_ids[:1], command_id
            )
            assert reply.hold is not None, reply
    finally:
        mariadb_server.resume()
        await running.stop()
