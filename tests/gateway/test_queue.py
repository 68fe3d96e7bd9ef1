"""A buyer's place in an event's waiting room over the full gateway app, real Redis and MariaDB,
and an in-process engine: join, look, leave, the websocket, and the gate on holds and checkouts.

Rooms are set up through the organizer's API. Tests that need nobody admitted pause the room,
so what they see cannot race the engine's admission tick.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

import orjson
from aiohttp import WSMsgType

from domain.statuses import Role
from engine.keys import ShardKeys, shard_of
from tests.helpers.queue import admitted, join, queue_url, set_room
from tests.helpers.redis_modes import ON_BOTH_REDIS

if TYPE_CHECKING:
    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from engine.redis_client import RedisClient
    from tests.helpers.catalog import MadeEvent, MakeEvent
    from tests.helpers.engine import RunningEngine
    from tests.helpers.users import Signup

    Client = TestClient[web.Request, web.Application]

STATUS_FIELDS: Final = {
    "event_id",
    "place_id",
    "state",
    "position",
    "ahead",
    "estimated_wait_seconds",
    "session_expires_at",
    "session_expires_at_ms",
    "queue_url",
    "socket_url",
    "room",
}
UPGRADE: Final = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def error_of(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    body = await response.json()
    assert response.status == status, body
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert (error["status"], error["code"]) == (status, code), error
    assert error["message"]
    return error


async def test_joining_twice_answers_the_same_place(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    made = await make_event(seats=4)
    admin = await signup(role=Role.ADMIN)
    await set_room(client, admin.headers, made.event_id, paused=True)
    first, second = await signup(), await signup()

    joined = await join(client, first.headers, made.event_id)
    again = await join(client, first.headers, made.event_id)
    behind = await join(client, second.headers, made.event_id)
    shown = await client.get(queue_url(made.event_id), headers=second.headers)

    assert set(joined) == STATUS_FIELDS
    assert again["place_id"] == joined["place_id"]
    assert (again["state"], again["position"]) == ("waiting", 1)
    assert len(joined["place_id"]) >= 32, "a place id must not be guessable"
    assert behind["place_id"] != joined["place_id"]
    assert (behind["position"], behind["ahead"]) == (2, 1)
    # Paused: nothing is being admitted, so no honest estimate.
    assert behind["estimated_wait_seconds"] is None
    assert behind["room"]["paused"] is True
    assert behind["queue_url"] == queue_url(made.event_id)
    assert behind["socket_url"] == f"{queue_url(made.event_id)}/ws"
    assert shown.status == 200
    status = await shown.json()
    assert {key: status[key] for key in ("place_id", "state", "position", "ahead")} == {
        "place_id": behind["place_id"],
        "state": "waiting",
        "position": 2,
        "ahead": 1,
    }
    assert status["room"]["waiting"] == 2


async def test_without_a_place_the_status_is_a_404_that_says_how_to_join(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    made = await make_event(seats=2)
    admin = await signup(role=Role.ADMIN)
    await set_room(client, admin.headers, made.event_id, paused=True)
    buyer = await signup()

    missing = await client.get(queue_url(made.event_id), headers=buyer.headers)
    no_event = await client.get(queue_url(made.event_id + 1000), headers=buyer.headers)

    assert "POST" in (await error_of(missing, 404, "not_found"))["message"]
    await error_of(no_event, 404, "not_found")


async def test_an_event_without_a_waiting_room_refuses_the_queue_with_409(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    made = await make_event(seats=2)
    switched_off = await make_event(seats=2)
    admin = await signup(role=Role.ADMIN)
    await set_room(client, admin.headers, switched_off.event_id, enabled=False)
    buyer = await signup()

    for event_id in (made.event_id, switched_off.event_id):
        await error_of(
            await client.get(queue_url(event_id), headers=buyer.headers), 409, "no_waiting_room"
        )
        await error_of(
            await client.post(queue_url(event_id), headers=buyer.headers), 409, "no_waiting_room"
        )
    await error_of(
        await client.get(f"{queue_url(made.event_id)}/ws", headers=UPGRADE), 409, "no_waiting_room"
    )
    # And with no room on, the seats are open to everyone.
    hold = await client.post(
        f"/api/v1/events/{made.event_id}/holds",
        json={"seat_ids": [made.seat_ids[0]]},
        headers=buyer.headers,
    )
    assert hold.status == 201


async def test_leaving_answers_the_place_done(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    made = await make_event(seats=2)
    admin = await signup(role=Role.ADMIN)
    await set_room(client, admin.headers, made.event_id, paused=True)
    buyer, stranger = await signup(), await signup()
    joined = await join(client, buyer.headers, made.event_id)

    left = await client.delete(queue_url(made.event_id), headers=buyer.headers)
    shown = await client.get(queue_url(made.event_id), headers=buyer.headers)
    never_joined = await client.delete(queue_url(made.event_id), headers=stranger.headers)

    assert left.status == 200
    body = await left.json()
    assert (body["place_id"], body["state"]) == (joined["place_id"], "done")
    assert (await shown.json())["state"] == "done"
    await error_of(never_joined, 404, "not_found")


async def test_holds_need_an_admission_and_the_refusal_says_where_the_queue_is(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    made = await make_event(seats=2)
    admin = await signup(role=Role.ADMIN)
    await set_room(client, admin.headers, made.event_id, paused=True)
    waiting, outsider = await signup(), await signup()
    await join(client, waiting.headers, made.event_id)

    for buyer in (waiting, outsider):
        response = await client.post(
            f"/api/v1/events/{made.event_id}/holds",
            json={"seat_ids": [made.seat_ids[0]]},
            headers=buyer.headers,
        )
        error = await error_of(response, 403, "not_admitted")
        assert error["queue_url"] == queue_url(made.event_id)
        assert error["event_id"] == made.event_id


async def test_an_admitted_buyer_holds_within_their_session(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    made = await make_event(seats=2)
    admin = await signup(role=Role.ADMIN)
    await set_room(client, admin.headers, made.event_id)
    buyer = await signup()

    status = await admitted(client, buyer.headers, made.event_id)
    hold = await client.post(
        f"/api/v1/events/{made.event_id}/holds",
        json={"seat_ids": [made.seat_ids[0]]},
        headers=buyer.headers,
    )

    assert hold.status == 201, await hold.text()
    assert (status["ahead"], status["estimated_wait_seconds"]) == (0, 0)
    assert status["session_expires_at_ms"] is not None
    assert status["session_expires_at"].endswith("+00:00")


async def test_a_checkout_needs_an_admission_once_the_room_is_on(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> None:
    """A hold made before the organizer switched the room on cannot be paid for by skipping the
    line: its buyer queues like everyone else."""
    made = await make_event(seats=2)
    admin = await signup(role=Role.ADMIN)
    buyer = await signup()
    hold = await client.post(
        f"/api/v1/events/{made.event_id}/holds",
        json={"seat_ids": [made.seat_ids[0]]},
        headers=buyer.headers,
    )
    assert hold.status == 201, await hold.text()
    await set_room(client, admin.headers, made.event_id, paused=True)

    checkout = await client.post(
        f"/api/v1/holds/{(await hold.json())['hold']['id']}/checkout", headers=buyer.headers
    )

    error = await error_of(checkout, 403, "not_admitted")
    assert error["queue_url"] == queue_url(made.event_id)


async def paused_room(
    client: Client, signup: Signup, make_event: MakeEvent, settings: Settings
) -> tuple[MadeEvent, str]:
    """An event whose room is on but paused (nothing moves unless a test publishes it), and the
    channel its room is published on."""
    made = await make_event(seats=2)
    admin = await signup(role=Role.ADMIN)
    await set_room(client, admin.headers, made.event_id, paused=True)
    keys = ShardKeys(shard_of(made.event_id, settings.engine.shards))
    return made, keys.queue_channel(made.event_id)


@ON_BOTH_REDIS
async def test_the_socket_sends_the_room_first_then_each_update_as_published(
    client: Client,
    engine: RunningEngine,
    signup: Signup,
    make_event: MakeEvent,
    redis: RedisClient,
    settings: Settings,
) -> None:
    made, channel = await paused_room(client, signup, make_event, settings)

    async with client.ws_connect(f"{queue_url(made.event_id)}/ws") as socket:
        first = await socket.receive_json(timeout=5)
        # Sent as is, whatever it holds: the gateway never rewrites a room.
        update = orjson.dumps({**first, "at": first["at"] + 1, "waiting": 41})
        await redis.spublish(channel, update)
        forwarded = await socket.receive(timeout=5)
        # Older than what the socket has sent: skipped, and the next newer one goes out.
        await redis.spublish(channel, orjson.dumps({**first, "at": first["at"] - 1}))
        await redis.spublish(channel, orjson.dumps({**first, "at": first["at"] + 2}))
        newest = await socket.receive_json(timeout=5)

    assert (first["type"], first["event_id"], first["paused"]) == ("queue", made.event_id, True)
    assert forwarded.type is WSMsgType.TEXT
    assert forwarded.data == update.decode()
    assert newest["at"] == first["at"] + 2


async def test_every_socket_of_an_event_shares_one_subscription(
    client: Client,
    engine: RunningEngine,
    signup: Signup,
    make_event: MakeEvent,
    redis: RedisClient,
    settings: Settings,
) -> None:
    made, channel = await paused_room(client, signup, make_event, settings)
    url = f"{queue_url(made.event_id)}/ws"

    async with client.ws_connect(url) as one, client.ws_connect(url) as two:
        firsts = [await one.receive_json(timeout=5), await two.receive_json(timeout=5)]
        subscribers = await redis.pubsub_shardnumsub(channel)
        update = orjson.dumps({**firsts[0], "at": firsts[0]["at"] + 1, "admitted_through": 3})
        await redis.spublish(channel, update)
        got = await asyncio.gather(one.receive(timeout=5), two.receive(timeout=5))

    assert subscribers == [(channel.encode(), 1)]
    assert [message.data for message in got] == [update.decode()] * 2
