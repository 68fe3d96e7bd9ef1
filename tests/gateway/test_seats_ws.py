"""The live seat map websocket over the full gateway app, real Redis and MariaDB, and an
in-process engine: a snapshot first, then every change batch in order, seq rising by one.

Every wait here is for a message (`receive_json` with a timeout), never a sleep.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import weakref
from collections import Counter, deque
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import pytest
from aiohttp import web

from devstack.servers import RedisServer
from domain.statuses import Role
from gateway.app import make_app
from gateway.appkeys import SEAT_FEED, TOKENS
from tests.helpers.engine import RunningEngine
from tests.helpers.redis_modes import ON_BOTH_REDIS
from tests.helpers.seatfeed import per_event_state
from tests.helpers.users import bearer

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from aiohttp.test_utils import TestClient
    from aiohttp.typedefs import Handler
    from pytest_aiohttp import AiohttpClient

    from config import Settings
    from engine.redis_client import RedisClient
    from persistence import Database
    from tests.helpers.catalog import MadeEvent, MakeEvent
    from tests.helpers.engine import Buyers
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]
    Socket = aiohttp.ClientWebSocketResponse

RECEIVE_SECONDS: Final = 5.0
# Batches received in a `batches` frame and not yet looked at, per socket.
_UNREAD: Final[weakref.WeakKeyDictionary[Socket, deque[dict[str, Any]]]] = (
    weakref.WeakKeyDictionary()
)
# A websocket handshake's headers, for a plain GET that can read an error body.
UPGRADE_HEADERS: Final = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
}


def ws_url(event_id: int | str) -> str:
    return f"/api/v1/events/{event_id}/seats/ws"


async def receive(ws: Socket) -> dict[str, Any]:
    message = await ws.receive_json(timeout=RECEIVE_SECONDS)
    assert isinstance(message, dict), message
    return message


def statuses_of(message: dict[str, Any], key: str) -> dict[int, str]:
    pairs = message[key]
    assert all(set(pair) == {"seat_id", "status"} for pair in pairs), pairs
    statuses = {pair["seat_id"]: pair["status"] for pair in pairs}
    assert len(statuses) == len(pairs), f"a seat is listed twice: {pairs}"
    return statuses


async def snapshot_of(ws: Socket, event_id: int) -> tuple[int, dict[int, str]]:
    message = await receive(ws)
    assert set(message) == {"type", "event_id", "seq", "seats"}, message
    assert (message["type"], message["event_id"]) == ("snapshot", event_id)
    assert isinstance(message["seq"], int)
    return message["seq"], statuses_of(message, "seats")


async def next_batch(ws: Socket) -> dict[str, Any]:
    """The next decision batch, whether it came alone (`seats`) or within a `batches` frame
    (batches decided within one push window of each other, as concurrent holds may be)."""
    unread = _UNREAD.setdefault(ws, deque())
    if not unread:
        frame = await receive(ws)
        if frame["type"] == "batches":
            assert set(frame) == {"type", "event_id", "seq", "messages"}, frame
            assert frame["seq"] == frame["messages"][-1]["seq"], frame
            unread.extend(frame["messages"])
        else:
            unread.append(frame)
    return unread.popleft()


async def change_of(ws: Socket, event_id: int, seq: int) -> dict[int, str]:
    """The next batch, which must be the change batch numbered `seq`."""
    message = await next_batch(ws)
    assert set(message) == {"type", "event_id", "at", "seq", "changes"}, message
    assert (message["type"], message["event_id"], message["seq"]) == ("seats", event_id, seq)
    decided_ms_ago = time.time() * 1000 - message["at"]
    assert 0 <= decided_ms_ago < 60_000, "`at` is the decision time in epoch milliseconds"
    return statuses_of(message, "changes")


async def seat_map(client: Client, event_id: int) -> tuple[int, dict[int, str]]:
    response = await client.get(f"/api/v1/events/{event_id}/seats")
    body = await response.json()
    assert response.status == 200, body
    return body["seq"], {seat["id"]: seat["status"] for seat in body["seats"]}


async def hold(client: Client, headers: dict[str, str], event_id: int, seat_ids: list[int]) -> str:
    response = await client.post(
        f"/api/v1/events/{event_id}/holds", json={"seat_ids": seat_ids}, headers=headers
    )
    body = await response.json()
    assert response.status == 201, body
    hold_id: str = body["hold"]["id"]
    return hold_id


async def release(client: Client, headers: dict[str, str], hold_id: str) -> None:
    response = await client.delete(f"/api/v1/holds/{hold_id}", headers=headers)
    assert response.status == 204, await response.text()


async def load_into_engine(client: Client, headers: dict[str, str], event: MadeEvent) -> None:
    """Have the engine load the event now. It loads an event on its first command for it, and
    loading tells open seat maps to resync; doing it before a socket opens keeps that socket's
    stream to seat changes only. A seat the event lacks is refused without changing anything."""
    response = await client.post(
        f"/api/v1/events/{event.event_id}/holds",
        json={"seat_ids": [max(event.seat_ids) + 10_000]},
        headers=headers,
    )
    assert response.status == 422, await response.text()


def token_headers(client: Client, user_id: int) -> dict[str, str]:
    return bearer(client.app[TOKENS].issue(user_id, Role.BUYER).token)


# -- the snapshot --------------------------------------------------------------------------


async def test_an_unloaded_events_snapshot_comes_from_the_database(
    client: Client, make_event: MakeEvent
) -> None:
    """No engine and no token: the seat map is public, and MariaDB's statuses are current."""
    event = await make_event(seats=5)

    async with client.ws_connect(ws_url(event.event_id)) as ws:
        seq, statuses = await snapshot_of(ws, event.event_id)

    assert seq == 0
    assert statuses == dict.fromkeys(event.seat_ids, "available")


async def test_the_snapshot_shows_live_statuses(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=5)
    buyer = await signup()
    held = [event.seat_ids[1], event.seat_ids[4]]
    await hold(client, buyer.headers, event.event_id, held)

    async with client.ws_connect(ws_url(event.event_id)) as ws:
        seq, statuses = await snapshot_of(ws, event.event_id)

    assert statuses == {s: "held" if s in held else "available" for s in event.seat_ids}
    assert (seq, statuses) == await seat_map(client, event.event_id)
    assert seq >= 1


async def test_a_letters_snapshot_is_the_compact_live_state_then_changes_follow(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    """`?snapshot=letters`, as the buyer's page asks: a letter per seat in layout order (the
    same as `/seats/live`), then the same change batches as ever."""
    event = await make_event(seats=5)
    buyer = await signup()
    s = event.seat_ids
    await hold(client, buyer.headers, event.event_id, [s[1], s[4]])

    async with client.ws_connect(ws_url(event.event_id) + "?snapshot=letters") as ws:
        snapshot = await receive(ws)
        live = await (await client.get(f"/api/v1/events/{event.event_id}/seats/live")).json()
        await hold(client, buyer.headers, event.event_id, [s[0]])
        change = await change_of(ws, event.event_id, snapshot["seq"] + 1)

    assert snapshot == {
        "type": "snapshot",
        "event_id": event.event_id,
        "seq": snapshot["seq"],
        "statuses": "ahaah",
    }
    assert live == {"event_id": event.event_id, "seq": snapshot["seq"], "statuses": "ahaah"}
    assert change == {s[0]: "held"}


# -- changes -------------------------------------------------------------------------------


@ON_BOTH_REDIS
async def test_changes_arrive_in_order_with_seq_rising_by_one(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event = await make_event(seats=6)
    alice, bob = await signup(), await signup()
    s = event.seat_ids
    await load_into_engine(client, alice.headers, event)

    async with client.ws_connect(ws_url(event.event_id)) as ws:
        n, statuses = await snapshot_of(ws, event.event_id)
        assert statuses == dict.fromkeys(s, "available")

        alices = await hold(client, alice.headers, event.event_id, [s[0], s[1]])
        assert await change_of(ws, event.event_id, n + 1) == {s[0]: "held", s[1]: "held"}
        await hold(client, bob.headers, event.event_id, [s[2]])
        assert await change_of(ws, event.event_id, n + 2) == {s[2]: "held"}
        # A refused hold changes nothing, so it sends nothing: the next batch is the release.
        refused = await client.post(
            f"/api/v1/events/{event.event_id}/holds",
            json={"seat_ids": [s[1], s[3]]},
            headers=bob.headers,
        )
        assert refused.status == 409
        await release(client, alice.headers, alices)
        assert await change_of(ws, event.event_id, n + 3) == {
            s[0]: "available",
            s[1]: "available",
        }
        await hold(client, bob.headers, event.event_id, [s[1]])
        assert await change_of(ws, event.event_id, n + 4) == {s[1]: "held"}

    assert await seat_map(client, event.event_id) == (
        n + 4,
        {**dict.fromkeys(s, "available"), s[1]: "held", s[2]: "held"},
    )


async def test_batches_within_the_push_window_arrive_together_in_one_frame(
    client: Client,
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    engine: RunningEngine,
    signup: Signup,
    make_event: MakeEvent,
) -> None:
    """The first change after a quiet spell is pushed at once; the ones decided within the
    window after it wait for the window's end and come as one `batches` frame, in order."""
    paced = await aiohttp_client(make_app(make_settings(SEAT_PUSH_WINDOW_MS="3000")))
    event = await make_event(seats=4)
    alice, bob, carol = await signup(), await signup(), await signup()
    s = event.seat_ids
    await load_into_engine(client, alice.headers, event)

    async with paced.ws_connect(ws_url(event.event_id)) as ws:
        n, _ = await snapshot_of(ws, event.event_id)
        await hold(client, alice.headers, event.event_id, [s[0]])
        assert await change_of(ws, event.event_id, n + 1) == {s[0]: "held"}
        await hold(client, bob.headers, event.event_id, [s[1]])
        await hold(client, carol.headers, event.event_id, [s[2], s[3]])

        frame = await receive(ws)
        assert set(frame) == {"type", "event_id", "seq", "messages"}, frame
        assert (frame["type"], frame["event_id"], frame["seq"]) == (
            "batches",
            event.event_id,
            n + 3,
        )
        assert [inner["seq"] for inner in frame["messages"]] == [n + 2, n + 3]
        assert [statuses_of(inner, "changes") for inner in frame["messages"]] == [
            {s[1]: "held"},
            {s[2]: "held", s[3]: "held"},
        ]


async def test_two_sockets_see_every_change_in_the_same_order(
    client: Client, engine: RunningEngine, buyers: Buyers, make_event: MakeEvent
) -> None:
    event = await make_event(seats=8)
    user_ids = await buyers(8)
    headers = [token_headers(client, user_id) for user_id in user_ids]
    await load_into_engine(client, headers[0], event)

    async with (
        client.ws_connect(ws_url(event.event_id)) as first,
        client.ws_connect(ws_url(event.event_id)) as second,
    ):
        n1, start = await snapshot_of(first, event.event_id)
        n2, _ = await snapshot_of(second, event.event_id)
        assert n1 == n2
        # Eight buyers at once: the engine may batch them, so count seats, not messages.
        await asyncio.gather(
            *(
                hold(client, headers[i], event.event_id, [seat])
                for i, seat in enumerate(event.seat_ids)
            )
        )
        seen: list[dict[int, str]] = []
        while sum(len(batch) for batch in seen) < len(event.seat_ids):
            seen.append(await change_of(first, event.event_id, n1 + len(seen) + 1))
        also_seen = [
            await change_of(second, event.event_id, n2 + index + 1) for index in range(len(seen))
        ]

    assert also_seen == seen
    assert start == dict.fromkeys(event.seat_ids, "available")
    assert {seat: status for batch in seen for seat, status in batch.items()} == dict.fromkeys(
        event.seat_ids, "held"
    )


async def test_a_socket_sees_nothing_of_another_event(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    event_a, event_b = await make_event(seats=3), await make_event(seats=3)
    buyer = await signup()
    await load_into_engine(client, buyer.headers, event_a)
    await load_into_engine(client, buyer.headers, event_b)

    async with (
        client.ws_connect(ws_url(event_a.event_id)) as ws_a,
        client.ws_connect(ws_url(event_b.event_id)) as ws_b,
    ):
        n_a, _ = await snapshot_of(ws_a, event_a.event_id)
        n_b, _ = await snapshot_of(ws_b, event_b.event_id)
        b_hold = await hold(client, buyer.headers, event_b.event_id, [event_b.seat_ids[0]])
        await release(client, buyer.headers, b_hold)
        assert await change_of(ws_b, event_b.event_id, n_b + 1) == {event_b.seat_ids[0]: "held"}
        assert await change_of(ws_b, event_b.event_id, n_b + 2) == {
            event_b.seat_ids[0]: "available"
        }
        # B's changes went out before this one, over the same subscription: had A's socket
        # been sent any of them, they would come first.
        await hold(client, buyer.headers, event_a.event_id, [event_a.seat_ids[2]])
        assert await change_of(ws_a, event_a.event_id, n_a + 1) == {event_a.seat_ids[2]: "held"}


async def test_a_socket_opened_before_the_engine_loads_the_event_catches_up(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    """Loading the event makes the engine publish a resync; the socket answers it with a fresh
    snapshot, and whatever mix of snapshots and changes arrives must end at the live map."""
    event = await make_event(seats=4)
    buyer = await signup()
    wanted = event.seat_ids[3]

    async with client.ws_connect(ws_url(event.event_id)) as ws:
        seq, statuses = await snapshot_of(ws, event.event_id)
        assert seq == 0
        await hold(client, buyer.headers, event.event_id, [wanted])
        for _ in range(4):
            if statuses[wanted] == "held":
                break
            message = await receive(ws)
            assert message["event_id"] == event.event_id
            if message["type"] == "snapshot":
                assert message["seq"] > seq
                seq, statuses = message["seq"], statuses_of(message, "seats")
            else:
                assert (message["type"], message["seq"]) == ("seats", seq + 1), message
                seq = message["seq"]
                statuses |= statuses_of(message, "changes")

    assert (seq, statuses) == await seat_map(client, event.event_id)
    assert statuses[wanted] == "held"


# -- no such event -------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["unknown", "malformed"])
async def test_no_such_event_is_a_404_before_the_upgrade(
    client: Client, make_event: MakeEvent, which: str
) -> None:
    event = await make_event(seats=2)
    event_id = str(event.event_id + 1000) if which == "unknown" else "abc"

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with client.ws_connect(ws_url(event_id)):
            pass
    assert refused.value.status == 404

    response = await client.get(ws_url(event_id), headers=UPGRADE_HEADERS)
    assert response.status == 404
    body = await response.json()
    assert body["error"]["status"] == 404
    assert body["error"]["code"] == "not_found"


# -- what a seat map leaves behind ----------------------------------------------------------


async def redis_calls(redis: RedisClient) -> dict[str, int]:
    """Calls per command since the last `CONFIG RESETSTAT`."""
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): fields["calls"] for name, fields in stats.items()}


def handlers_done(app: web.Application) -> asyncio.Queue[str]:
    """A queue that gets each request's path once its handler has returned: a seat map's
    handler returns after it has left the feed, so this is the moment to look at the feed."""
    done: asyncio.Queue[str] = asyncio.Queue()

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            done.put_nowait(request.path)

    app.middlewares.append(record)
    return done


async def test_made_up_events_are_404s_that_leave_nothing_behind(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    make_event: MakeEvent,
) -> None:
    """A crowd of made-up ids once left a lock each in the feed, and each cost a subscription,
    a snapshot read and a MariaDB query. Now each is a lookup and a 404, and nothing stays."""
    # Limits off: this is about what each request leaves, not how many one client may send.
    client = await aiohttp_client(make_app(make_settings(RATE_LIMITS="off")))
    event = await make_event(seats=2)
    await redis.config_resetstat()

    answers: Counter[tuple[int, str]] = Counter()
    for event_id in range(event.event_id + 1, event.event_id + 301):
        response = await client.get(ws_url(event_id), headers=UPGRADE_HEADERS)
        error = (await response.json())["error"]
        answers[(response.status, error["code"])] += 1

    assert answers == {(404, "not_found"): 300}
    state = per_event_state(client.app[SEAT_FEED])
    assert not any(state.values()), state
    # No snapshot was read (MULTI, HGETALL, GET of seq) and nothing was subscribed, so nothing
    # was unsubscribed (the gateway's revocation listener keeps its own subscription for good).
    calls = await redis_calls(redis)
    assert not {"multi", "hgetall", "get", "unsubscribe"} & set(calls), calls


async def test_a_plain_get_is_a_400_that_leaves_nothing_behind(
    client: Client, redis: RedisClient, make_event: MakeEvent
) -> None:
    event = await make_event(seats=2)
    await redis.config_resetstat()

    response = await client.get(ws_url(event.event_id))

    error = (await response.json())["error"]
    assert (response.status, error["status"], error["code"]) == (400, 400, "bad_request")
    state = per_event_state(client.app[SEAT_FEED])
    assert not any(state.values()), state
    calls = await redis_calls(redis)
    assert not {"multi", "hgetall", "get", "unsubscribe"} & set(calls), calls


async def test_an_events_state_goes_with_its_last_watcher(
    aiohttp_client: AiohttpClient, settings: Settings, db: Database, make_event: MakeEvent
) -> None:
    app = make_app(settings)
    done = handlers_done(app)
    client = await aiohttp_client(app)
    feed = app[SEAT_FEED]
    event = await make_event(seats=3)
    url = ws_url(event.event_id)

    first = await client.ws_connect(url)
    second = await client.ws_connect(url)
    await snapshot_of(first, event.event_id)
    await snapshot_of(second, event.event_id)
    await first.close()
    assert await asyncio.wait_for(done.get(), RECEIVE_SECONDS) == url

    # One watcher left: the event is still watched, and its socket still served.
    assert any(per_event_state(feed).values())
    assert not second.closed

    await second.close()
    assert await asyncio.wait_for(done.get(), RECEIVE_SECONDS) == url
    state = per_event_state(feed)
    assert not any(state.values()), state

    # Nothing left over that a new watcher depends on either: it starts from scratch.
    async with client.ws_connect(url) as again:
        assert (await snapshot_of(again, event.event_id))[0] == 0


# -- expiry --------------------------------------------------------------------------------


@ON_BOTH_REDIS
async def test_an_expired_hold_frees_its_seat_on_the_map(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    redis: RedisClient,
    buyers: Buyers,
    make_event: MakeEvent,
) -> None:
    settings = make_settings(HOLD_TTL_SECONDS="0.5")
    client = await aiohttp_client(make_app(settings))
    running = RunningEngine(settings, db)
    await running.start()
    try:
        event = await make_event(seats=3)
        holder, next_buyer = [token_headers(client, u) for u in await buyers(2)]
        seat = event.seat_ids[0]
        await load_into_engine(client, holder, event)

        async with client.ws_connect(ws_url(event.event_id)) as ws:
            n, _ = await snapshot_of(ws, event.event_id)
            response = await client.post(
                f"/api/v1/events/{event.event_id}/holds", json={"seat_ids": [seat]}, headers=holder
            )
            body = (await response.json())["hold"]
            assert response.status == 201
            expires_at = datetime.fromisoformat(body["expires_at"])
            assert expires_at - datetime.fromisoformat(body["created_at"]) == timedelta(seconds=0.5)
            assert await change_of(ws, event.event_id, n + 1) == {seat: "held"}
            assert await change_of(ws, event.event_id, n + 2) == {seat: "available"}
            assert datetime.now(UTC) >= expires_at, "the hold ended before it expired"

        shown = await client.get(f"/api/v1/holds/{body['id']}", headers=holder)
        assert shown.status == 200
        assert (await shown.json())["hold"] == {**body, "status": "expired"}
        await hold(client, next_buyer, event.event_id, [seat])
    finally:
        await running.stop()


async def test_an_unreachable_redis_is_a_503_before_the_upgrade(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    make_event: MakeEvent,
) -> None:
    """Like the REST seat map: a dependency outage is a retryable 503, not an opaque 500."""
    settings = make_settings(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    client = await aiohttp_client(make_app(settings))
    event = await make_event(seats=2)

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with client.ws_connect(ws_url(event.event_id)):
            pass

    assert refused.value.status == 503
    response = await client.get(ws_url(event.event_id), headers=UPGRADE_HEADERS)
    body = await response.json()
    assert (response.status, body["error"]["code"]) == (503, "unavailable"), body
    assert "Retry-After" in response.headers


async def test_a_socket_that_cannot_resync_is_closed_not_left_silent(
    aiohttp_client: AiohttpClient,
    make_settings: Callable[..., Settings],
    db: Database,
    make_event: MakeEvent,
    tmp_path: Path,
) -> None:
    """Redis goes away under an open seat map. The feed tells the socket to resync, and the
    snapshot cannot be read: the server must close the socket (so the client reconnects once
    Redis is back) rather than keep it open, heartbeating, with nothing behind it."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        client = await aiohttp_client(make_app(make_settings(REDIS_URL=server.url)))
        event = await make_event(seats=2)
        async with client.ws_connect(ws_url(event.event_id)) as ws:
            await snapshot_of(ws, event.event_id)

            server.kill()
            message = await ws.receive(timeout=10)

            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
    finally:
        server.kill()
