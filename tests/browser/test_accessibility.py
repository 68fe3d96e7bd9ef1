"""axe-core over the page's main states, on a desktop and on a phone: no colour-contrast or
heading-order findings, and no serious or critical violation of any other rule.

The event page is audited with a seat of each kind on screen at once: free in three categories,
chosen, held by another buyer, sold to another, the buyer's own booked seats ("yours"), and then
the buyer's own hold with its countdown.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import pytest
from playwright.async_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import seat_button
from tests.browser.test_waiting_room import join, open_room, organizer, queue_screen

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack

PHONE: Final = 375
DESKTOP: Final = 1280
# `make test` runs the phone, where the layout differs; `make chaos` runs both (long).
WIDTHS: Final = pytest.mark.parametrize(
    "width", [PHONE, pytest.param(DESKTOP, marks=pytest.mark.long)], ids=["phone", "desktop"]
)
PRICES: Final = {"A": 8000, "B": 5000, "C": 3000}


@WIDTHS
async def test_the_event_page_with_every_kind_of_seat(
    open_stack: OpenStack, new_page: NewPage, width: int
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=12, prices=PRICES)
    buyer, other, rival = await stack.buyer(), await stack.buyer(), await stack.buyer()
    mine, sold, held, chosen = (
        [made.seat_ids[0], made.seat_ids[1]],
        made.seat_ids[4],
        made.seat_ids[5],
        made.seat_ids[8],
    )
    await stack.buy(buyer, made.event_id, mine)
    await stack.buy(other, made.event_id, [sold])
    await stack.call(
        "POST", f"/api/v1/events/{made.event_id}/holds", {"seat_ids": [held]}, person=rival
    )
    page = await new_page(width=width, touch=width == PHONE)
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")
    await expect(seat_button(page, mine[0])).to_have_attribute("data-status", "yours")
    await expect(seat_button(page, sold)).to_have_attribute("data-status", "booked")
    await expect(seat_button(page, held)).to_have_attribute("data-status", "held")
    await seat_button(page, chosen).click()
    await expect(seat_button(page, chosen)).to_have_attribute("aria-pressed", "true")
    await page.get_by_role("button", name="List view").click()
    await expect(page.locator(".seat-list-yours")).to_have_count(2)

    await assert_accessible(page)

    await page.get_by_role("button", name="Hold 1 seat").click()
    await expect(seat_button(page, chosen)).to_have_attribute("data-status", "mine")
    await expect(page.get_by_role("timer")).to_be_visible()
    await assert_accessible(page)


async def test_the_events_list_login_and_signup(open_stack: OpenStack, new_page: NewPage) -> None:
    stack = await open_stack()
    await stack.event(seats=4, name="Quiet Night")
    page = await new_page()
    await page.goto(stack.base_url + "/")
    await expect(page.get_by_role("link", name="Quiet Night", exact=True)).to_be_visible()
    await assert_accessible(page)

    for route, heading in (("#/login", "Log in"), ("#/signup", "Sign up")):
        await page.goto(f"{stack.base_url}/{route}")
        await expect(page.get_by_role("heading", name=heading)).to_be_visible()
        await assert_accessible(page)


async def test_checkout_payment_and_bookings(open_stack: OpenStack, new_page: NewPage) -> None:
    """The order review, the provider's (local) checkout page, the page the buyer lands back on,
    the bookings."""
    stack = await open_stack()
    made = await stack.event(seats=4, prices=PRICES)
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await seat_button(page, made.seat_ids[0]).click()
    await page.get_by_role("button", name="Hold 1 seat").click()
    await page.get_by_role("button", name="Check out").click()
    await expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("button", name=re.compile(r"^Pay €")).click()
    await expect(page.get_by_role("button", name="Pay", exact=True)).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("button", name="Pay", exact=True).click()
    await expect(page.locator(".booking-new")).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("link", name="My bookings").click()
    await expect(page.locator(".booking-card")).to_have_count(1)
    await assert_accessible(page)


async def test_the_organizer_views(open_stack: OpenStack, new_page: NewPage) -> None:
    stack = await open_stack()
    await stack.event(seats=4)
    admin = await organizer(stack)
    page = await new_page()
    await stack.open_as(page, admin, "#/organizer")
    await expect(page.get_by_role("link", name="Test Night: live sales")).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("link", name="Test Night: live sales").click()
    await expect(page.get_by_role("heading", name="Sales: Test Night")).to_be_visible()
    await expect(page.locator(".sales").first).to_be_visible()
    await assert_accessible(page)


@WIDTHS
async def test_the_waiting_room(open_stack: OpenStack, new_page: NewPage, width: int) -> None:
    stack = await open_stack()
    made = await stack.event(seats=4)
    await open_room(stack, made.event_id, await organizer(stack), paused=True)
    first, buyer = await stack.buyer(), await stack.buyer()
    await join(stack, made.event_id, first)
    page = await new_page(width=width)
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")
    await page.get_by_role("button", name="Join the queue").click()
    await expect(queue_screen(page, "waiting").locator(".queue-position")).to_be_visible()

    await assert_accessible(page)
