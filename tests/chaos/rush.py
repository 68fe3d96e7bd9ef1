"""A bounded rush of hold commands through the gateway's own client, and a recovery probe.

Every ask retries with the same command id after a retryable error (`EngineUnavailable`, or a
transient "unavailable" refusal), as a well-behaved gateway client does, until it has an answer
or the rush's deadline passes. Asks are launched at a steady pace over the rush's duration, so a
fault injected after the first quarter of answers lands in the middle of the rush.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Final

from bench.stack import SeededEvent, seed_event
from domain.errors import EngineUnavailable
from engine.client import EngineClient
from engine.protocol import Reply, idempotent_command_id
from persistence import Database
from tests.helpers.engine import ask_hold

# Not a seat of any event: a probe is refused ("unknown seats"), which proves a live actor
# decided it, and it takes nothing from the rush.
PROBE_SEAT: Final = 2**40
_RETRY_PAUSE: Final = 0.05
SEATS: Final = 120  # contended: a rush of a few hundred asks runs out of seats
BUYERS: Final = 150


@dataclass(frozen=True, slots=True)
class Ask:
    user_id: int
    seat_ids: tuple[int, ...]
    command_id: str


@dataclass(slots=True)
class Outcome:
    ask: Ask
    reply: Reply | None = None
    retryable_errors: int = 0
    answered_at: float | None = None


async def seeded(db: Database) -> SeededEvent:
    return await seed_event(db, seats=SEATS, buyers=BUYERS, max_per_buyer=50)


def plan(event: SeededEvent, count: int, *, seed: int, seats: int | None = None) -> list[Ask]:
    """`count` asks for one or two seats among the first `seats` of the event: contended on
    purpose, so refusals and double grants are both possible."""
    rng = random.Random(seed)
    pool = event.seat_ids[: seats or len(event.seat_ids)]
    # Asks are retried after a fault with the same id, as a buyer retries with the same
    # Idempotency-Key: ids derived from a key, which the engine knows may repeat.
    return [
        Ask(
            rng.choice(event.user_ids),
            tuple(rng.sample(pool, rng.randint(1, 2))),
            idempotent_command_id(f"chaos:{seed}", str(number)),
        )
        for number in range(count)
    ]


class Rush:
    def __init__(
        self,
        client: EngineClient,
        event_id: int,
        asks: list[Ask],
        *,
        spread_seconds: float,
        deadline_seconds: float,
    ) -> None:
        self._client = client
        self._event_id = event_id
        self.outcomes = [Outcome(ask) for ask in asks]
        self._spread = spread_seconds
        self._deadline = deadline_seconds
        self._answered = 0
        self._milestones: list[tuple[int, asyncio.Event]] = []

    @property
    def answered(self) -> int:
        return self._answered

    @property
    def retryable_errors(self) -> int:
        return sum(outcome.retryable_errors for outcome in self.outcomes)

    async def answered_at_least(self, count: int, within: float) -> None:
        reached = asyncio.Event()
        self._milestones.append((count, reached))
        self._check_milestones()
        async with asyncio.timeout(within):
            await reached.wait()

    async def run(self) -> list[Outcome]:
        """Every ask, paced over the spread; returns when all have an answer or time is up."""
        started = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        try:
            async with asyncio.timeout(self._deadline):
                for index, outcome in enumerate(self.outcomes):
                    due = started + self._spread * index / len(self.outcomes)
                    if (wait := due - time.monotonic()) > 0:
                        await asyncio.sleep(wait)  # pacing the load, not synchronisation
                    tasks.append(asyncio.create_task(self._settle(outcome)))
                await asyncio.gather(*tasks)
        except TimeoutError:
            pass  # unanswered asks keep reply None; the "answered" invariant reports them
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return self.outcomes

    async def _settle(self, outcome: Outcome) -> None:
        ask = outcome.ask
        while True:
            try:
                reply = await ask_hold(
                    self._client, self._event_id, ask.user_id, ask.seat_ids, ask.command_id
                )
            except EngineUnavailable:
                reply = None
            if reply is not None and not reply.is_transient:
                outcome.reply = reply
                outcome.answered_at = time.monotonic()
                self._answered += 1
                self._check_milestones()
                return
            outcome.retryable_errors += 1
            await asyncio.sleep(_RETRY_PAUSE)  # back-off before the retry

    def _check_milestones(self) -> None:
        for count, reached in self._milestones:
            if self._answered >= count:
                reached.set()


async def time_to_answer(
    client: EngineClient, event_id: int, user_id: int, since: float, within: float
) -> float:
    """Seconds from `since` until a command submitted after the fault is decided: a fresh probe
    every 100 ms (each waits up to the client's decision timeout) until one is answered."""
    answered: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def probe() -> None:
        try:
            await ask_hold(client, event_id, user_id, (PROBE_SEAT,))
        except EngineUnavailable:
            return
        if not answered.done():
            answered.set_result(time.monotonic() - since)

    probes: set[asyncio.Task[None]] = set()
    try:
        async with asyncio.timeout(within):
            while not answered.done():
                probes.add(asyncio.create_task(probe()))
                await asyncio.wait([answered], timeout=0.1)
            return answered.result()
    finally:
        for task in probes:
            task.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
