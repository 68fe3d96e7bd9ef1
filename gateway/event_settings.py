"""An organizer's event settings, shared by the admin API and `python -m gateway event-settings`.

For now there is one, `no_single_gaps`. A change is saved first (MariaDB is where the engine
loads the event from, after a restart or a takeover), then sent to the event's actor, which
decides every later command of the event with it: it is in force once the answer comes back.
Holds already made stay; the setting judges holds asked for from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from domain.errors import EngineUnavailable, InvalidInput, NotFound
from engine.protocol import ConfigureEventRequest, new_command_id
from gateway.views.catalog import EventDetailView, event_detail_view
from gateway.wire import field
from persistence.catalog import get_event, set_event_settings
from persistence.waiting_rooms import get_waiting_room

if TYPE_CHECKING:
    from engine.client import EngineClient
    from persistence import Database

SETTINGS: Final = ("no_single_gaps",)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSettings:
    # Refuse holds that would leave a single free seat alone (`orphan_seat`).
    no_single_gaps: bool


def parse_event_settings(body: dict[str, Any]) -> EventSettings:
    """The settings in an admin request's body: every one of them, and nothing else."""
    unknown = sorted(set(body) - set(SETTINGS))
    if unknown:
        raise InvalidInput(
            f"'{unknown[0]}' is not an event setting (they are {', '.join(SETTINGS)})",
            field=unknown[0],
        )
    return EventSettings(no_single_gaps=field(body, "no_single_gaps", bool))


async def change_event_settings(
    db: Database, engine: EngineClient, event_id: int, settings: EventSettings
) -> EventDetailView:
    """Save the settings, then have the event's actor put them in force; the event as the
    catalog shows it. `EngineUnavailable` if the actor did not confirm in time: the change is
    saved, and the command still queued is decided when the engine gets to it."""
    async with db.transaction() as conn:
        await set_event_settings(conn, event_id, no_single_gaps=settings.no_single_gaps)
        detail = await get_event(conn, event_id)
        if detail is None:
            raise NotFound(f"No event {event_id}")
        room = await get_waiting_room(conn, event_id)
        # Queued while the event's row is still locked by the update: two organizers changing
        # it at once queue their commands in the order their changes commit, so the engine
        # ends on the value MariaDB keeps. A command queued but not confirmed in time is still
        # decided later, so the change is committed either way.
        try:
            reply = await engine.submit(
                ConfigureEventRequest(
                    id=new_command_id(),
                    reply_to=engine.reply_to,
                    event_id=event_id,
                    no_single_gaps=settings.no_single_gaps,
                )
            )
        except EngineUnavailable as exc:
            unconfirmed: EngineUnavailable | None = exc
        else:
            unconfirmed = None
    if unconfirmed is not None:
        raise unconfirmed
    if reply.rejection is not None:
        raise reply.rejection.to_error()
    return event_detail_view(detail, room)
