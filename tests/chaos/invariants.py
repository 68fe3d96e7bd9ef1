"""The invariants every scenario checks once the system has recovered.

A `Verdict` records each check by name (for the report table) and keeps going, so one run shows
every broken invariant; `assert_all` then fails the test with all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from config import Settings
from domain.statuses import SeatStatus
from engine.client import EngineClient
from engine.keys import ShardKeys, shard_of
from engine.redis_client import RedisClient
from engine.snapshot import read_snapshot
from persistence import Database
from tests.chaos.rush import Outcome
from tests.helpers.engine import ask_hold, journals_drained

_NO_GRANTS: Final[Mapping[int, str]] = MappingProxyType({})


@dataclass(slots=True)
class Verdict:
    checks: dict[str, bool] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks[name] = self.checks.get(name, True) and ok
        if not ok:
            self.details.append(f"{name}: {detail}")
        return ok

    def assert_all(self) -> None:
        assert not self.details, "broken invariants:\n" + "\n".join(self.details)


def granted_seats(
    verdict: Verdict, grants: Iterable[tuple[str, tuple[int, ...]]]
) -> dict[int, str]:
    """Seat → hold for every granted hold; a seat in two different holds breaks the invariant."""
    owner: dict[int, str] = {}
    twice: list[int] = []
    for hold_id, seats in grants:
        for seat in seats:
            if owner.setdefault(seat, hold_id) != hold_id:
                twice.append(seat)
    verdict.check("no seat granted twice", not twice, f"seats {twice[:10]}")
    return owner


def engine_grants(outcomes: Iterable[Outcome]) -> list[tuple[str, tuple[int, ...]]]:
    return [
        (o.reply.hold.id, o.reply.hold.seat_ids)
        for o in outcomes
        if o.reply is not None and o.reply.hold is not None
    ]


def grants_by_seat(outcomes: Iterable[Outcome]) -> dict[int, str]:
    """Seat → granted hold, with no checks (for `neighbours`)."""
    return {seat: hold for hold, seats in engine_grants(outcomes) for seat in seats}


def all_answered(verdict: Verdict, outcomes: list[Outcome]) -> None:
    missing = [o.ask.command_id for o in outcomes if o.reply is None]
    verdict.check("every request answered", not missing, f"{len(missing)} never answered")


async def retries_get_recorded_answer(
    verdict: Verdict, client: EngineClient, event_id: int, outcomes: list[Outcome]
) -> None:
    """Asking again with the same command id returns the first decision, not a new one."""
    differ = []
    for outcome in outcomes:
        if outcome.reply is None:
            continue
        ask = outcome.ask
        again = await ask_hold(client, event_id, ask.user_id, ask.seat_ids, ask.command_id)
        if again != outcome.reply:
            differ.append(ask.command_id)
    verdict.check("retry gets recorded answer", not differ, f"{len(differ)} differ: {differ[:3]}")


async def redis_holds_match(
    verdict: Verdict,
    redis: RedisClient,
    settings: Settings,
    event_id: int,
    owner: Mapping[int, str],
    neighbours: Mapping[int, str] = _NO_GRANTS,
) -> None:
    """Every granted hold still locks its seats, no other lock exists (but `neighbours`, the
    seats granted on another event of the same shard), and the live status hash says exactly
    those seats are held."""
    keys = ShardKeys(shard_of(event_id, settings.engine.shards))
    lost = [
        seat
        for seat, hold_id in owner.items()
        if await redis.get(keys.lock(seat)) != hold_id.encode()
    ]
    verdict.check("granted holds kept (Redis locks)", not lost, f"seats {lost[:10]} lost a lock")
    stray = []
    async for raw in redis.scan_iter(match=keys.lock_pattern, count=500):
        seat = int(raw.decode().rsplit(":", 1)[1])
        if seat not in owner and seat not in neighbours:
            stray.append(seat)
    verdict.check("no stray Redis locks", not stray, f"seats {stray[:10]} locked by nobody")
    snapshot = await read_snapshot(redis, settings.engine, event_id)
    held = {
        s
        for s, status in (snapshot.statuses if snapshot else {}).items()
        if status is SeatStatus.HELD
    }
    verdict.check(
        "live seat map matches grants",
        held == set(owner),
        f"{len(held - set(owner))} extra, {len(set(owner) - held)} missing",
    )


async def event_seats(db: Database, event_id: int) -> dict[int, tuple[str, str | None]]:
    async with db.transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT id, status, hold_id FROM event_seats WHERE event_id = %s", (event_id,)
        )
    return {row["id"]: (row["status"], row["hold_id"]) for row in rows}


async def mariadb_converges(
    verdict: Verdict,
    redis: RedisClient,
    db: Database,
    settings: Settings,
    event_id: int,
    owner: Mapping[int, str],
    *,
    within: float = 30.0,
) -> None:
    """After the journal drains, MariaDB's event seats are the engine's live map, and the held
    ones are held by exactly the granted holds."""
    try:
        await journals_drained(redis, settings, within=within)
        drained = True
    except TimeoutError:
        drained = False
    verdict.check("journal drained", drained, f"not empty after {within:.0f} s")
    rows = await event_seats(db, event_id)
    held = {seat: hold for seat, (status, hold) in rows.items() if status == "held"}
    verdict.check(
        "MariaDB holds = grants",
        held == dict(owner),
        f"{len(set(held) ^ set(owner))} seats differ",
    )
    snapshot = await read_snapshot(redis, settings.engine, event_id)
    live = {seat: str(status) for seat, status in (snapshot.statuses if snapshot else {}).items()}
    stored = {seat: status for seat, (status, _) in rows.items()}
    differ = [seat for seat in stored if live.get(seat) != stored[seat]]
    verdict.check(
        "MariaDB = live seat map",
        snapshot is not None and not differ,
        f"{len(differ)} seats differ, e.g. {[(s, stored[s], live.get(s)) for s in differ[:3]]}",
    )


async def engine_invariants(
    verdict: Verdict,
    client: EngineClient,
    redis: RedisClient,
    db: Database,
    settings: Settings,
    event_id: int,
    outcomes: list[Outcome],
    *,
    neighbours: Mapping[int, str] = _NO_GRANTS,
) -> dict[int, str]:
    """The whole set for a rush through the EngineClient; returns seat → granted hold. (Each
    argument has its own type, so a call that mixes them up does not type-check.) `neighbours`:
    seat → hold granted on another event of the same shard, whose locks are not stray."""
    all_answered(verdict, outcomes)
    owner = granted_seats(verdict, engine_grants(outcomes))
    verdict.check("some holds granted", bool(owner), "the rush granted nothing")
    await retries_get_recorded_answer(verdict, client, event_id, outcomes)
    await redis_holds_match(verdict, redis, settings, event_id, owner, neighbours)
    await mariadb_converges(verdict, redis, db, settings, event_id, owner)
    return owner
