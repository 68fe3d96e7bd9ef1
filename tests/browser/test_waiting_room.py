"""The waiting room on the page: a buyer's queue screen, from joining to being let into the seat
map by the engine's admission, and the organizer's panel that sets and watches the room.

Admission runs on the engine's tick (once a second), so each test sets a high rate and a small
cap: the buyer is let in within a tick or two of the room allowing it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import Person, seat_button

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack, Stack

# Fast enough that one tick lets in everyone the cap allows.
RATE_PER_MINUTE = 6000


async def organizer(stack: Stack) -> Person:
    """An organizer logged in through the API, as the page's login form would be."""
    admin = await stack.admin()
    answer = await stack.call(
        "POST", "/api/v1/auth/login", {"email": admin.email, "password": admin.password}
    )
    session = {"token": answer["token"], "user": answer["user"], "expiresAt": answer["expires_at"]}
    return Person(admin.user_id, admin.email, admin.password, session)


async def open_room(
    stack: Stack, event_id: int, admin: Person, *, paused: bool = False, max_inside: int = 10
) -> None:
    opened = datetime.now(UTC) - timedelta(minutes=5)
    await stack.call(
        "PUT",
        f"/api/v1/admin/events/{event_id}/waiting-room",
        {
            "enabled": True,
            "queue_opens_at": opened.isoformat(),
            "admissions_per_minute": RATE_PER_MINUTE,
            "max_inside": max_inside,
            "session_minutes": 10,
            "paused": paused,
        },
        person=admin,
    )


async def join(stack: Stack, event_id: int, buyer: Person) -> Any:
    return await stack.call("POST", f"/api/v1/events/{event_id}/queue", person=buyer)


def queue_screen(page: Page, state: str) -> Locator:
    return page.locator(f'.queue-screen[data-state="{state}"]')


async def test_a_buyer_waits_in_line_then_enters_the_seat_map_by_itself(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=4)
    admin = await organizer(stack)
    await open_room(stack, made.event_id, admin, paused=True)
    first, buyer = await stack.buyer(), await stack.buyer()
    await join(stack, made.event_id, first)
    page = await new_page()
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")

    await page.get_by_role("button", name="Join the queue").click()

    waiting = queue_screen(page, "waiting")
    await expect(waiting.locator(".queue-position")).to_have_text("You're number 2 in line")
    await expect(waiting.get_by_text("1 person is ahead of you.")).to_be_visible()
    await expect(
        waiting.get_by_text("Estimated wait: unknown while admission is paused.")
    ).to_be_visible()
    await expect(waiting.get_by_text("Admission is paused for the moment.")).to_be_visible()
    await expect(waiting.get_by_role("progressbar")).to_have_attribute(
        "aria-valuetext", "0% of the way to your turn"
    )
    await expect(page.get_by_role("status")).to_have_text("You're in the queue: number 2 in line.")
    await expect(seat_button(page, made.seat_ids[0])).to_have_count(0)

    # A reload keeps the place: the page asks for it and shows it without a second join.
    await page.reload()
    await expect(queue_screen(page, "waiting").locator(".queue-position")).to_have_text(
        "You're number 2 in line"
    )
    await expect(page.get_by_role("button", name="Join the queue")).to_be_hidden()
    await expect(page.locator(".connection")).to_have_attribute("data-state", "live")

    await stack.call(
        "PATCH",
        f"/api/v1/admin/events/{made.event_id}/waiting-room",
        {"paused": False},
        person=admin,
    )

    await expect(page.locator(".session-line")).to_have_text(
        re.compile(r"^Your shopping time ends at \d\d:\d\d")
    )
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^It's your turn!"))
    await seat_button(page, made.seat_ids[0]).click()
    await page.get_by_role("button", name="Hold 1 seat").click()
    await expect(page.get_by_role("button", name="Check out")).to_be_visible()
    await expect(seat_button(page, made.seat_ids[0])).to_have_attribute("data-status", "mine")


async def test_a_freed_slot_lets_the_next_buyer_in_and_a_refused_hold_goes_back_to_the_queue(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    """One shopper at a time: the second waits at the front until the first leaves, is let in
    by the broadcast, and once their own place has ended a hold sends them back to the queue."""
    stack = await open_stack()
    made = await stack.event(seats=4)
    admin = await organizer(stack)
    await open_room(stack, made.event_id, admin, max_inside=1)
    first, buyer = await stack.buyer(), await stack.buyer()
    await join(stack, made.event_id, first)
    await join(stack, made.event_id, buyer)
    page = await new_page()
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")
    await expect(queue_screen(page, "waiting").locator(".queue-position")).to_have_text(
        "You're number 1 in line"
    )
    await expect(page.get_by_text("Nobody is ahead of you.")).to_be_visible()

    await stack.call("DELETE", f"/api/v1/events/{made.event_id}/queue", person=first)

    await expect(page.locator(".session-line")).to_be_visible()
    await seat_button(page, made.seat_ids[1]).click()
    # The buyer's place ends in another tab while they choose.
    await stack.call("DELETE", f"/api/v1/events/{made.event_id}/queue", person=buyer)
    await page.get_by_role("button", name="Hold 1 seat").click()

    await expect(page.get_by_role("status")).to_have_text(
        re.compile(r"^It isn't your turn to choose seats for this event")
    )
    await expect(queue_screen(page, "done")).to_contain_text(
        "You've finished with the queue for this event"
    )
    await expect(seat_button(page, made.seat_ids[1])).to_have_count(0)


async def test_the_pre_queue_counts_down_to_the_sale(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=4, sale_starts_at=datetime.now(UTC) + timedelta(hours=1))
    await open_room(stack, made.event_id, await organizer(stack))
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")

    await page.get_by_role("button", name="Join the queue").click()

    pre_queue = queue_screen(page, "pre_queue")
    await expect(pre_queue.get_by_role("timer")).to_have_text(
        re.compile(r"^The sale starts in (59:\d\d|1:00:00)\.$")
    )
    await expect(pre_queue).to_contain_text("gets a place in line at random")
    await expect(pre_queue.locator(".queue-position")).to_be_hidden()


async def test_a_logged_out_visitor_is_asked_to_log_in_to_join(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=4)
    await open_room(stack, made.event_id, await organizer(stack))
    page = await new_page()

    await page.goto(f"{stack.base_url}/#/events/{made.event_id}")

    await expect(queue_screen(page, "none")).to_contain_text("This sale has a waiting room")
    await expect(queue_screen(page, "none").get_by_role("link", name="Log in")).to_be_visible()
    await expect(page.get_by_role("button", name="Join the queue")).to_be_hidden()
    await expect(seat_button(page, made.seat_ids[0])).to_have_count(0)


async def test_the_organizer_sets_up_a_waiting_room_watches_it_and_pauses_it(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=4, name="Queue Night")
    admin = await organizer(stack)
    page = await new_page()
    await stack.open_as(page, admin, f"#/organizer/events/{made.event_id}")
    panel = page.locator(".waiting-room-panel")
    await expect(panel.locator(".room-state")).to_have_text(
        "This event has no waiting room: buyers go straight to the seats."
    )

    await panel.get_by_label("Waiting room on").check()
    # "Queue opens at" is left as offered: half an hour before the sale, which began an hour ago.
    await panel.get_by_label("Admissions per minute").fill(str(RATE_PER_MINUTE))
    await panel.get_by_label("Most shoppers inside at once").fill("1")
    await panel.get_by_label("Shopping time (minutes)").fill("15")
    await panel.get_by_role("button", name="Save waiting room").click()

    await expect(page.get_by_role("status")).to_have_text("Waiting room saved.")
    await expect(panel.locator(".room-state")).to_have_text("Admission is running.")
    saved = await stack.call(
        "GET", f"/api/v1/admin/events/{made.event_id}/waiting-room", person=admin
    )
    assert saved["settings"]["max_inside"] == 1
    assert saved["settings"]["session_minutes"] == 15
    for _ in range(3):
        await join(stack, made.event_id, await stack.buyer())

    def figure(name: str) -> Locator:
        return panel.locator(f'[data-figure="{name}"] dd')

    await expect(figure("inside")).to_have_text("1")
    await expect(figure("waiting")).to_have_text("2")
    await expect(figure("admitted_total")).to_have_text("1")

    await panel.get_by_role("button", name="Pause admission").click()

    await expect(panel.locator(".room-state")).to_have_text(
        "Admission is paused: buyers keep their places, nobody new is let in."
    )
    await expect(figure("estimated_seconds_to_clear")).to_have_text("Unknown while paused")
    paused = await stack.call(
        "GET", f"/api/v1/admin/events/{made.event_id}/waiting-room", person=admin
    )
    assert paused["settings"]["paused"] is True

    await panel.get_by_role("button", name="Resume admission").click()

    await expect(panel.locator(".room-state")).to_have_text("Admission is running.")
    await expect(panel.get_by_role("button", name="Pause admission")).to_be_visible()
