"""An organizer switching `no_single_gaps` on a live event: saved in MariaDB, then put in force by
the event's actor (`configure_event`), over the real engine, Redis and MariaDB."""

from __future__ import annotations

from domain.catalog import CategorySpec, RowSpec, SectionSpec, VenueLayout
from engine.client import EngineClient
from engine.protocol import ConfigureEventRequest, RejectCode, Reply, new_command_id
from persistence import Database
from persistence.catalog import get_event, set_event_settings
from tests.helpers.catalog import create_on_sale_event
from tests.helpers.engine import Buyers, RunningEngine, ask_hold


def one_row(seats: int) -> VenueLayout:
    return VenueLayout(
        "One Row",
        (CategorySpec("A", "Stalls"),),
        (SectionSpec("Stalls", (RowSpec("1", tuple(range(1, seats + 1)), "A"),)),),
    )


async def switch(db: Database, client: EngineClient, event_id: int, *, on: bool) -> Reply:
    """What the admin API and the CLI do: save first, then tell the actor."""
    async with db.transaction() as conn:
        await set_event_settings(conn, event_id, no_single_gaps=on)
    return await client.submit(
        ConfigureEventRequest(
            id=new_command_id(), reply_to=client.reply_to, event_id=event_id, no_single_gaps=on
        )
    )


async def test_switched_on_a_live_event_refuses_an_orphaning_pick_at_once_and_off_allows_it(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    event = await create_on_sale_event(db, layout=one_row(6))
    first, second = await buyers(2)
    s = event.seat_ids
    # Loaded and deciding before the switch: seats 5-6 leave no gap.
    assert (await ask_hold(engine_client, event.event_id, first, (s[4], s[5]))).ok

    assert (await switch(db, engine_client, event.event_id, on=True)).ok
    # Seats 2-3 would leave seat 1 alone at the row's end.
    refused = await ask_hold(engine_client, event.event_id, second, (s[1], s[2]))
    assert refused.rejection is not None
    assert refused.rejection.code is RejectCode.ORPHAN_SEAT
    assert refused.rejection.details["seat_id"] == s[0]

    assert (await switch(db, engine_client, event.event_id, on=False)).ok
    assert (await ask_hold(engine_client, event.event_id, second, (s[1], s[2]))).ok
    assert engine.actor_state(event.event_id).events[event.event_id].no_single_gaps is False


async def test_the_setting_survives_an_engine_restart(
    engine: RunningEngine, engine_client: EngineClient, db: Database, buyers: Buyers
) -> None:
    event = await create_on_sale_event(db, layout=one_row(6))
    (buyer,) = await buyers(1)
    s = event.seat_ids
    assert (await switch(db, engine_client, event.event_id, on=True)).ok

    await engine.stop()
    await engine.start()

    # The new actor loaded the event from its row, with the setting on.
    refused = await ask_hold(engine_client, event.event_id, buyer, (s[0], s[2]))
    assert refused.rejection is not None
    assert refused.rejection.code is RejectCode.ORPHAN_SEAT
    assert refused.rejection.details["seat_id"] == s[1]
    assert (await ask_hold(engine_client, event.event_id, buyer, (s[0], s[1]))).ok
    async with db.transaction() as conn:
        stored = await get_event(conn, event.event_id)
    assert stored is not None
    assert stored.event.no_single_gaps is True


async def test_an_unknown_event_is_answered_as_such(
    engine: RunningEngine, engine_client: EngineClient
) -> None:
    reply = await engine_client.submit(
        ConfigureEventRequest(
            id=new_command_id(),
            reply_to=engine_client.reply_to,
            event_id=987654,
            no_single_gaps=True,
        )
    )

    assert reply.rejection is not None
    assert reply.rejection.code is RejectCode.UNKNOWN_EVENT
