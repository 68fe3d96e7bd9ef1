from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from domain.statuses import SeatStatus
from engine.keys import ShardKeys, shard_of
from tests.helpers.catalog import ARENA_PRICES, arena_layout, create_on_sale_event

if TYPE_CHECKING:
    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from engine.redis_client import RedisClient
    from persistence import Database
    from tests.helpers.catalog import MakeEvent

    Client = TestClient[web.Request, web.Application]


async def error_of(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    """The error object of a response, checked against the one error shape."""
    assert response.status == status
    body = await response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"status", "code", "message"} <= set(error)
    assert (error["status"], error["code"]) == (status, code)
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


async def publish_snapshot(
    redis: RedisClient, settings: Settings, event_id: int, seq: int, statuses: dict[int, SeatStatus]
) -> None:
    """Stand in for the engine: publish live statuses where `read_snapshot` reads them."""
    keys = ShardKeys(shard_of(event_id, settings.engine.shards))
    await redis.hset(
        keys.seat_status(event_id),
        mapping={seat: status.value for seat, status in statuses.items()},
    )
    await redis.set(keys.seat_seq(event_id), seq)


async def test_events_are_listed_anonymously(client: Client, make_event: MakeEvent) -> None:
    empty = await client.get("/api/v1/events")
    assert empty.status == 200
    assert await empty.json() == {"events": []}

    made = await make_event(seats=4, prices={"A": 1200, "B": 800}, max_seats_per_buyer=3)
    response = await client.get("/api/v1/events")

    assert response.status == 200
    [event] = (await response.json())["events"]
    assert event == {
        "id": made.event_id,
        "name": "Test Night",
        "venue_id": made.venue_id,
        "venue": event["venue"],
        "starts_at": event["starts_at"],
        "sale_starts_at": made.sale_starts_at.isoformat() + "+00:00",
        "sale_ends_at": made.sale_ends_at.isoformat() + "+00:00",
        "time_zone": "UTC",  # made without one
        "currency": "EUR",
        "max_seats_per_buyer": 3,
        "no_single_gaps": False,
        "waiting_room": None,
        "seats_total": 4,
        "seats_available": 4,
    }
    assert event["venue"].startswith("Test Venue")
    assert event["starts_at"].endswith("+00:00")


async def test_an_event_shows_its_prices(client: Client, make_event: MakeEvent) -> None:
    made = await make_event(seats=4, prices={"A": 1200, "B": 800})

    response = await client.get(f"/api/v1/events/{made.event_id}")

    assert response.status == 200
    event = (await response.json())["event"]
    assert event["id"] == made.event_id
    assert (event["seats_total"], event["seats_available"]) == (4, 4)
    assert event["prices"] == [
        {"category": "A", "name": "Category A", "amount_minor": 1200},
        {"category": "B", "name": "Category B", "amount_minor": 800},
    ]


async def test_an_unloaded_events_seat_map_is_the_stored_one_at_seq_0(
    client: Client, make_event: MakeEvent
) -> None:
    made = await make_event(seats=3, prices={"A": 1200, "B": 800})

    response = await client.get(f"/api/v1/events/{made.event_id}/seats")

    assert response.status == 200
    body = await response.json()
    assert (body["event_id"], body["seq"]) == (made.event_id, 0)
    assert body["seats"] == [
        {
            "id": made.seat_ids[0],
            "section": "Main",
            "row": "1",
            "number": 1,
            "category": "A",
            "price": 1200,
            "status": "available",
        },
        {
            "id": made.seat_ids[1],
            "section": "Main",
            "row": "1",
            "number": 2,
            "category": "A",
            "price": 1200,
            "status": "available",
        },
        {
            "id": made.seat_ids[2],
            "section": "Main",
            "row": "2",
            "number": 1,
            "category": "B",
            "price": 800,
            "status": "available",
        },
    ]


async def test_a_loaded_events_live_statuses_win(
    client: Client, make_event: MakeEvent, redis: RedisClient, settings: Settings
) -> None:
    made = await make_event(seats=3)
    first, second, third = made.seat_ids
    await publish_snapshot(
        redis,
        settings,
        made.event_id,
        seq=17,
        statuses={first: SeatStatus.HELD, second: SeatStatus.BOOKED, third: SeatStatus.AVAILABLE},
    )

    response = await client.get(f"/api/v1/events/{made.event_id}/seats")

    body = await response.json()
    assert body["seq"] == 17
    assert [(seat["id"], seat["status"]) for seat in body["seats"]] == [
        (first, "held"),
        (second, "booked"),
        (third, "available"),
    ]


async def test_another_events_snapshot_is_not_mixed_in(
    client: Client, make_event: MakeEvent, redis: RedisClient, settings: Settings
) -> None:
    made = await make_event(seats=2)
    other = await make_event(seats=2)
    await publish_snapshot(redis, settings, other.event_id, 5, {other.seat_ids[0]: SeatStatus.HELD})

    body = await (await client.get(f"/api/v1/events/{made.event_id}/seats")).json()

    assert body["seq"] == 0
    assert {seat["status"] for seat in body["seats"]} == {"available"}


@pytest.mark.parametrize("suffix", ["", "/seats"])
@pytest.mark.parametrize("event_id", ["424242", "abc", "0", "-1", "1e3"])
async def test_an_unknown_event_is_404(
    client: Client, make_event: MakeEvent, suffix: str, event_id: str
) -> None:
    await make_event(seats=1)

    response = await client.get(f"/api/v1/events/{event_id}{suffix}")

    await error_of(response, 404, "not_found")


async def test_seat_statuses_unavailable_is_a_retryable_503(
    client: Client, make_event: MakeEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await make_event(seats=1)

    async def redis_down(*args: object) -> None:
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr("gateway.routes.catalog.read_snapshot", redis_down)

    response = await client.get(f"/api/v1/events/{made.event_id}/seats")

    await error_of(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "1"


async def test_an_events_layout_places_every_seat_with_its_price(
    client: Client, make_event: MakeEvent
) -> None:
    made = await make_event(seats=3, prices={"A": 1200, "B": 800})

    response = await client.get(f"/api/v1/events/{made.event_id}/layout")

    assert response.status == 200
    body = await response.json()
    assert (body["event_id"], body["currency"], body["seats"]) == (made.event_id, "EUR", 3)
    assert body["categories"] == [
        {"code": "A", "name": "Category A", "price": 1200},
        {"code": "B", "name": "Category B", "price": 800},
    ]
    [section] = body["sections"]
    assert section["name"] == "Main"
    # No geometry stored: the default arrangement puts the section in front of the stage.
    front, back = section["rows"]
    assert (front["label"], front["category"], front["ids"], front["numbers"]) == (
        "1",
        0,
        list(made.seat_ids[:2]),
        [1, 2],
    )
    assert (back["label"], back["category"], back["ids"]) == ("2", 1, [made.seat_ids[2]])
    stage_front = body["stage"]["y"] + body["stage"]["depth"] / 2
    assert all(y > stage_front for y in front["y"] + back["y"])
    assert front["x"][0] < front["x"][1]
    assert back["y"][0] > front["y"][0]
    assert len(section["outline"]) % 2 == 0


async def test_a_layout_is_cached_by_its_strong_etag_and_gzipped(
    client: Client, make_event: MakeEvent
) -> None:
    made = await make_event(seats=40)
    path = f"/api/v1/events/{made.event_id}/layout"

    first = await client.get(path, headers={"Accept-Encoding": "gzip"})
    etag = first.headers["ETag"]

    assert first.status == 200
    assert first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Cache-Control"] == "public, max-age=86400"
    assert first.headers["Vary"] == "Accept-Encoding"
    assert etag.startswith('"'), "a strong ETag, not a weak W/ one"
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    assert await again.read() == b""
    plain = await client.get(path, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert await plain.json() == await first.json()
    stale = await client.get(path, headers={"If-None-Match": '"something-else"'})
    assert stale.status == 200


async def test_the_live_state_is_a_letter_per_seat_in_layout_order(
    client: Client, make_event: MakeEvent, redis: RedisClient, settings: Settings
) -> None:
    made = await make_event(seats=4)
    first, second, _, fourth = made.seat_ids
    path = f"/api/v1/events/{made.event_id}/seats/live"

    unloaded = await (await client.get(path)).json()
    await publish_snapshot(
        redis,
        settings,
        made.event_id,
        seq=9,
        statuses={first: SeatStatus.HELD, second: SeatStatus.BOOKED, fourth: SeatStatus.HELD},
    )
    loaded = await client.get(path, headers={"Accept-Encoding": "gzip"})

    assert unloaded == {"event_id": made.event_id, "seq": 0, "statuses": "aaaa"}
    assert loaded.status == 200
    assert loaded.headers["Cache-Control"] == "no-store"
    assert loaded.headers["Content-Encoding"] == "gzip"
    assert await loaded.json() == {"event_id": made.event_id, "seq": 9, "statuses": "hbah"}


@pytest.mark.parametrize("suffix", ["/layout", "/seats/live"])
async def test_an_unknown_events_layout_and_live_state_are_404(
    client: Client, make_event: MakeEvent, suffix: str
) -> None:
    await make_event(seats=1)

    for event_id in ("424242", "abc", "0"):
        await error_of(await client.get(f"/api/v1/events/{event_id}{suffix}"), 404, "not_found")


async def test_the_20000_seat_arena_travels_within_its_byte_budgets(
    client: Client, db: Database, redis: RedisClient, settings: Settings
) -> None:
    """The figures docs/benchmarks.md publishes: bytes on the wire, gzipped, for the layout and
    for the live state a third into a rush (held and sold seats scattered among free ones)."""
    made = await create_on_sale_event(db, layout=arena_layout(), prices=ARENA_PRICES)
    assert len(made.seat_ids) == 20_000
    taken = random.Random(15).sample(made.seat_ids, 20_000 // 3)
    statuses = {
        seat: SeatStatus.BOOKED if index % 3 == 0 else SeatStatus.HELD
        for index, seat in enumerate(taken)
    }
    await publish_snapshot(redis, settings, made.event_id, seq=4_000, statuses=statuses)

    gzip = {"Accept-Encoding": "gzip"}
    path = f"/api/v1/events/{made.event_id}"
    # Not decompressed: the bytes as they crossed the wire.
    layout = await client.get(f"{path}/layout", headers=gzip, auto_decompress=False)
    live = await client.get(f"{path}/seats/live", headers=gzip, auto_decompress=False)

    layout_bytes, live_bytes = len(await layout.read()), len(await live.read())
    print(f"\n20,000-seat arena on the wire: layout {layout_bytes} B, live state {live_bytes} B")
    assert layout.headers["Content-Encoding"] == live.headers["Content-Encoding"] == "gzip"
    assert layout_bytes <= 250_000
    assert live_bytes <= 30_000
