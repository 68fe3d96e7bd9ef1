"""`python -m gateway event-settings EVENT_ID --no-single-gaps | --allow-single-gaps`: the
organizer's switch on a live event, run as a subprocess against the real servers and an
in-process engine."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from engine.protocol import RejectCode
from tests.gateway.test_cli import cli_env, run_cli
from tests.helpers.catalog import DEMO_PRICES, create_on_sale_event, demo_layout
from tests.helpers.engine import ask_hold

if TYPE_CHECKING:
    from config import Settings
    from engine.client import EngineClient
    from persistence import Database
    from tests.helpers.engine import Buyers, RunningEngine

__all__ = ["cli_env"]  # the fixture, shared with test_cli


async def test_the_cli_switches_a_live_event_and_the_engine_obeys_at_once(
    cli_env: dict[str, str],
    settings: Settings,
    engine: RunningEngine,
    engine_client: EngineClient,
    db: Database,
    buyers: Buyers,
) -> None:
    made = await create_on_sale_event(db, layout=demo_layout(), prices=DEMO_PRICES)
    (buyer,) = await buyers(1)
    event = str(made.event_id)
    # The same deployment as the engine's: another shard count would ask the wrong actor.
    cli_env = {**cli_env, "ENGINE_SHARDS": str(settings.engine.shards)}
    # Floor row 1, seats 2 and 3: seat 1 would be left alone at the row's end.
    orphaning = made.seat_ids[1:3]

    on = await run_cli(cli_env, "event-settings", event, "--no-single-gaps")

    assert on.code == 0, on.stderr
    shown = json.loads(on.stdout)["event"]
    assert (shown["id"], shown["no_single_gaps"]) == (made.event_id, True)
    refused = await ask_hold(engine_client, made.event_id, buyer, orphaning)
    assert refused.rejection is not None
    assert refused.rejection.code is RejectCode.ORPHAN_SEAT

    off = await run_cli(cli_env, "event-settings", event, "--allow-single-gaps")

    assert off.code == 0, off.stderr
    assert json.loads(off.stdout)["event"]["no_single_gaps"] is False
    assert (await ask_hold(engine_client, made.event_id, buyer, orphaning)).ok


async def test_the_cli_needs_one_switch_and_a_known_event(
    cli_env: dict[str, str], db: Database
) -> None:
    made = await create_on_sale_event(db, seats=4)
    event = str(made.event_id)

    neither = await run_cli(cli_env, "event-settings", event)
    both = await run_cli(
        cli_env, "event-settings", event, "--no-single-gaps", "--allow-single-gaps"
    )
    unknown = await run_cli(cli_env, "event-settings", "987654", "--no-single-gaps")

    assert (neither.code, both.code) == (2, 2)
    assert "--no-single-gaps" in neither.stderr
    assert unknown.code == 1
    assert unknown.stderr.strip() == "error: No event 987654"
    async with db.transaction() as conn:
        stored = await conn.fetch_value(
            "SELECT no_single_gaps FROM events WHERE id = %s", (made.event_id,)
        )
    assert not stored
