"""The page's side of the seat feed protocol (gateway/routes/seats_ws.py), frame by frame: the
websocket is answered by the test, not the gateway, so every frame type and every `seq` case is
sent exactly when wanted."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any

from playwright.async_api import WebSocketRoute, expect

from tests.browser.conftest import EXPECT_TIMEOUT_MS, seat_button

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack


def batch(event_id: int, seq: int, seat_id: int, status: str) -> dict[str, Any]:
    changes = [{"seat_id": seat_id, "status": status}]
    return {"type": "seats", "event_id": event_id, "at": 0, "seq": seq, "changes": changes}


def snapshot(event_id: int, seq: int, statuses: dict[int, str]) -> str:
    seats = [{"seat_id": seat_id, "status": status} for seat_id, status in statuses.items()]
    return json.dumps({"type": "snapshot", "event_id": event_id, "seq": seq, "seats": seats})


async def test_batches_apply_in_order_and_a_gap_brings_a_fresh_snapshot(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=4)
    event_id, (a, b, c, d) = made.event_id, made.seat_ids
    connections: asyncio.Queue[WebSocketRoute] = asyncio.Queue()
    page = await new_page()
    await page.route_web_socket(re.compile(r"/seats/ws(\?|$)"), connections.put_nowait)
    await page.goto(f"{stack.base_url}/#/events/{event_id}")
    feed = await asyncio.wait_for(connections.get(), EXPECT_TIMEOUT_MS / 1000)

    feed.send(snapshot(event_id, 5, dict.fromkeys((a, b, c, d), "available")))
    covered = batch(event_id, 5, a, "booked")  # already in the snapshot: skipped
    messages = [covered, batch(event_id, 6, b, "held"), batch(event_id, 7, c, "held")]
    feed.send(json.dumps({"type": "batches", "event_id": event_id, "seq": 7, "messages": messages}))
    feed.send(json.dumps(batch(event_id, 8, c, "booked")))

    await expect(seat_button(page, c)).to_have_attribute("data-status", "booked")
    await expect(seat_button(page, b)).to_have_attribute("data-status", "held")
    await expect(seat_button(page, a)).to_have_attribute("data-status", "available")

    feed.send(json.dumps(batch(event_id, 10, d, "held")))  # 9 is missing
    again = await asyncio.wait_for(connections.get(), EXPECT_TIMEOUT_MS / 1000)

    await expect(page.get_by_text("Reconnecting to live updates")).to_be_visible()
    await expect(seat_button(page, d)).to_have_attribute("data-status", "available")
    again.send(snapshot(event_id, 10, {a: "available", b: "held", c: "booked", d: "booked"}))
    await expect(seat_button(page, d)).to_have_attribute("data-status", "booked")
    await expect(page.get_by_text("Live: seats update")).to_be_visible()


async def test_a_dropped_connection_is_retried(open_stack: OpenStack, new_page: NewPage) -> None:
    stack = await open_stack()
    made = await stack.event(seats=2)
    connections: asyncio.Queue[WebSocketRoute] = asyncio.Queue()
    page = await new_page()
    await page.route_web_socket(re.compile(r"/seats/ws(\?|$)"), connections.put_nowait)
    await page.goto(f"{stack.base_url}/#/events/{made.event_id}")
    first = await asyncio.wait_for(connections.get(), EXPECT_TIMEOUT_MS / 1000)
    first.send(snapshot(made.event_id, 0, dict.fromkeys(made.seat_ids, "available")))
    await expect(page.get_by_text("Live: seats update")).to_be_visible()

    await first.close(code=1011)

    await expect(page.get_by_text("Reconnecting to live updates")).to_be_visible()
    second = await asyncio.wait_for(connections.get(), EXPECT_TIMEOUT_MS / 1000)
    second.send(snapshot(made.event_id, 3, {made.seat_ids[0]: "held", made.seat_ids[1]: "held"}))
    await expect(seat_button(page, made.seat_ids[0])).to_have_attribute("data-status", "held")
    await expect(page.get_by_text("Live: seats update")).to_be_visible()
