"""The live seat map: other buyers' holds appear without a reload, expiry frees seats on every
map, a missed batch is recovered by a fresh snapshot, and seats work from the keyboard."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from playwright.async_api import WebSocketRoute, expect

from tests.browser.conftest import EXPECT_TIMEOUT_MS, seat_button

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack


async def test_a_hold_turns_the_seats_grey_on_another_buyers_map(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=10)
    first, second = await stack.buyer(), await stack.buyer()
    holder, watcher = await new_page(), await new_page()
    await stack.open_as(holder, first, f"#/events/{made.event_id}")
    await stack.open_as(watcher, second, f"#/events/{made.event_id}")
    chosen = made.seat_ids[:2]
    await expect(watcher.get_by_text("Live: seats update")).to_be_visible()

    for seat_id in chosen:
        await seat_button(holder, seat_id).click()
    await holder.get_by_role("button", name="Hold 2 seats").click()

    for seat_id in chosen:
        on_watcher = seat_button(watcher, seat_id)
        await expect(on_watcher).to_have_attribute("data-status", "held")
        await expect(on_watcher).to_be_disabled()
        await expect(on_watcher).to_have_attribute("aria-label", re.compile(r"held by someone$"))
        await expect(seat_button(holder, seat_id)).to_have_attribute("data-status", "mine")
    untouched = watcher.locator(f'button[data-seat-id="{made.seat_ids[2]}"]')
    await expect(untouched).to_have_attribute("data-status", "available")
    await expect(holder.get_by_role("timer")).to_have_text(re.compile(r"Held for you: \d\d:\d\d"))


async def test_an_expired_hold_frees_the_seats_on_both_maps(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack(HOLD_TTL_SECONDS="3")
    made = await stack.event(seats=6)
    first, second = await stack.buyer(), await stack.buyer()
    holder, watcher = await new_page(), await new_page()
    await stack.open_as(holder, first, f"#/events/{made.event_id}")
    await stack.open_as(watcher, second, f"#/events/{made.event_id}")
    seat_id = made.seat_ids[0]
    await expect(watcher.get_by_text("Live: seats update")).to_be_visible()

    await seat_button(holder, seat_id).click()
    await holder.get_by_role("button", name="Hold 1 seat").click()
    await expect(seat_button(watcher, seat_id)).to_have_attribute("data-status", "held")

    for page in (holder, watcher):
        freed = seat_button(page, seat_id)
        await expect(freed).to_have_attribute("data-status", "available")
        await expect(freed).to_be_enabled()
    await expect(holder.get_by_role("status")).to_have_text(re.compile("Your hold expired"))
    await expect(holder.get_by_role("timer")).to_be_hidden()
    await expect(holder.get_by_role("button", name="Check out")).to_be_hidden()


async def test_released_seats_are_free_again_on_both_maps(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=4)
    first, second = await stack.buyer(), await stack.buyer()
    holder, watcher = await new_page(), await new_page()
    await stack.open_as(holder, first, f"#/events/{made.event_id}")
    await stack.open_as(watcher, second, f"#/events/{made.event_id}")
    seat_id = made.seat_ids[0]
    await seat_button(holder, seat_id).click()
    await holder.get_by_role("button", name="Hold 1 seat").click()
    await expect(seat_button(watcher, seat_id)).to_have_attribute("data-status", "held")

    await holder.get_by_role("button", name="Release seats").click()

    await expect(holder.get_by_role("status")).to_have_text("Your seats were released.")
    for page in (holder, watcher):
        await expect(seat_button(page, seat_id)).to_have_attribute("data-status", "available")
    await expect(holder.get_by_role("button", name="Hold seats")).to_be_disabled()


async def test_a_missed_batch_is_recovered_from_a_fresh_snapshot(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    """The first seat change sent to the watcher is lost on the way; the next one shows a gap
    in `seq`, so the page reconnects and the new snapshot has both holds."""
    stack = await open_stack()
    made = await stack.event(seats=6)
    first, second = await stack.buyer(), await stack.buyer()
    connections: list[WebSocketRoute] = []
    dropped: list[str] = []
    lost = asyncio.Event()

    async def lose_the_first_change(socket: WebSocketRoute) -> None:
        connections.append(socket)
        server = socket.connect_to_server()

        def forward(message: str | bytes) -> None:
            if not dropped and '"type":"snapshot"' not in str(message):
                dropped.append(str(message))
                lost.set()
                return
            socket.send(message)

        server.on_message(forward)

    await stack.load_into_engine(made.event_id, first)
    watcher = await new_page()
    await watcher.route_web_socket(re.compile(r"/seats/ws(\?|$)"), lose_the_first_change)
    await stack.open_as(watcher, second, f"#/events/{made.event_id}")
    await expect(watcher.get_by_text("Live: seats update")).to_be_visible()

    event_holds = f"/api/v1/events/{made.event_id}/holds"
    await stack.call("POST", event_holds, {"seat_ids": [made.seat_ids[0]]}, person=first)
    # The second change must come in a later frame than the lost one, or nothing shows the gap.
    await asyncio.wait_for(lost.wait(), EXPECT_TIMEOUT_MS / 1000)
    await stack.call("POST", event_holds, {"seat_ids": [made.seat_ids[1]]}, person=first)

    for seat_id in made.seat_ids[:2]:
        await expect(seat_button(watcher, seat_id)).to_have_attribute("data-status", "held")
    assert len(dropped) == 1
    assert len(connections) >= 2, "the gap should have made the page connect again"


async def test_seats_are_chosen_and_held_from_the_keyboard(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    """The map is one Tab stop; arrows move inside it; Enter and Space choose a seat."""
    stack = await open_stack()
    made = await stack.event(seats=4, prices={"A": 5000, "B": 2500})  # rows of 2: A, then B
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    row_1_seat_1, row_1_seat_2, row_2_seat_1, row_2_seat_2 = (
        seat_button(page, seat_id) for seat_id in made.seat_ids
    )
    await expect(row_1_seat_1).to_have_attribute(
        "aria-label", re.compile(r"^Section Main, row 1, seat 1, Category A, .+, available$")
    )

    await page.get_by_role("button", name="Log out").focus()
    await page.keyboard.press("Tab")
    await expect(row_1_seat_1).to_be_focused()
    await page.keyboard.press("Enter")
    await page.keyboard.press("ArrowDown")
    await expect(row_2_seat_1).to_be_focused()
    await page.keyboard.press("ArrowRight")
    await expect(row_2_seat_2).to_be_focused()
    await page.keyboard.press("Space")

    await expect(row_1_seat_1).to_have_attribute("aria-pressed", "true")
    await expect(row_2_seat_2).to_have_attribute("aria-pressed", "true")
    await expect(row_2_seat_2).to_have_attribute("aria-label", re.compile(r"available, selected$"))
    await expect(row_1_seat_2).to_have_attribute("aria-pressed", "false")
    await page.keyboard.press("Shift+Tab")  # out of the map, back to the hold button
    await expect(page.get_by_role("button", name="Hold 2 seats")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(row_1_seat_1).to_have_attribute("data-status", "mine")
    await expect(page.get_by_role("status")).to_have_text(re.compile("2 seats are held for you"))


async def test_the_page_fits_a_phone_screen(open_stack: OpenStack, new_page: NewPage) -> None:
    stack = await open_stack()
    made = await stack.event(seats=40)
    page = await new_page(width=375)
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await expect(page.get_by_role("button", name="Hold seats")).to_be_visible()

    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")

    assert overflow <= 0, "the page scrolls sideways at 375 px; only the seat map itself may"
