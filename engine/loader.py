"""Loading the events a shard has not seen, beside the actor's turns instead of inside them.

An event created after the actor took over (or one whose sale ended long ago) is read from
MariaDB the first time a command names it. That read runs as a task of its own (one per event,
at most `_MAX_RUNNING` per shard, each bounded by `_LOAD_TIMEOUT_SECONDS`) while the actor
answers that event's commands "unavailable, retry" and decides every other command at once: a
hung or down MariaDB costs the shard that one event, never its turn, its lease or its timers.

Outcomes are remembered: an event that does not exist for `_MISSING_TTL_MS` (its commands are
then decided, as "unknown event"), a load that failed or timed out for `_RETRY_AFTER_MS`. A
made-up id or a hung server therefore costs one bounded attempt per period, not one per batch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from engine.recovery import LoadedEvent, ShardRecovery
from persistence import DatabaseUnavailable

log = logging.getLogger(__name__)

# A healthy load takes milliseconds (an event of 20,000 seats about 100 ms); this bounds the
# pool wait and the connect as well as the reads.
_LOAD_TIMEOUT_SECONDS: Final = 5.0
_RETRY_AFTER_MS: Final = 2_000
_MISSING_TTL_MS: Final = 5_000
# Loads borrow the pool the write-behind needs too; a burst of made-up ids must not drain it.
_MAX_RUNNING: Final = 4


class EventLoader:
    """Owned by one actor, which alone calls it, from its turns; `close` when the actor ends."""

    def __init__(self, recovery: ShardRecovery, *, shard: int) -> None:
        self._recovery = recovery
        self._shard = shard
        self._running: dict[int, asyncio.Task[LoadedEvent | None]] = {}
        self._missing_until: dict[int, int] = {}
        self._failed_until: dict[int, int] = {}

    def must_wait(self, event_id: int, now_ms: int) -> bool:
        """Whether commands for this event, which the actor has not got, must be answered
        "retry": yes while it loads or after a failed load; no once it is known not to exist.
        Starts a load unless one runs, one failed recently, or enough run already."""
        if self._missing_until.get(event_id, 0) > now_ms:
            return False
        if (
            event_id not in self._running
            and self._failed_until.get(event_id, 0) <= now_ms
            and len(self._running) < _MAX_RUNNING
        ):
            self._running[event_id] = asyncio.create_task(
                self._load(event_id, now_ms), name=f"load-event-{self._shard}-{event_id}"
            )
        return True

    def finished(self, now_ms: int) -> list[LoadedEvent]:
        """The events loaded since the last call, for the actor to adopt. A failed load is
        remembered; any other error (a lost lease, Redis gone) is raised, to end the actor."""
        loaded: list[LoadedEvent] = []
        for event_id, task in list(self._running.items()):
            if not task.done():
                continue
            del self._running[event_id]
            try:
                result = task.result()
            except (DatabaseUnavailable, TimeoutError) as exc:
                log.warning(
                    "shard %d: cannot load event %d (%s); its commands are refused for %d ms",
                    self._shard,
                    event_id,
                    str(exc) or "timed out",
                    _RETRY_AFTER_MS,
                )
                self._failed_until[event_id] = now_ms + _RETRY_AFTER_MS
                continue
            if result is None:
                self._missing_until[event_id] = now_ms + _MISSING_TTL_MS
            else:
                self._failed_until.pop(event_id, None)
                loaded.append(result)
        return loaded

    def prune(self, now_ms: int) -> None:
        """Forget outcomes that no longer count (the actor calls this now and then)."""
        for remembered in (self._missing_until, self._failed_until):
            for event_id in [e for e, until in remembered.items() if until <= now_ms]:
                del remembered[event_id]

    async def close(self) -> None:
        """Cancel the loads still running and wait for them to end."""
        tasks = list(self._running.values())
        self._running.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _load(self, event_id: int, now_ms: int) -> LoadedEvent | None:
        async with asyncio.timeout(_LOAD_TIMEOUT_SECONDS):
            return await self._recovery.load_event(event_id, now_ms)
