"""Seats the buyer already bought for the event: counted against its per-buyer limit, and shown
as theirs ("yours") on the map and in the list view, not as anyone's "Sold"."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.async_api import expect

from tests.browser.conftest import seat_button

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack


async def test_after_buying_3_of_6_the_page_offers_3_more_and_marks_them_yours(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=12, max_seats_per_buyer=6)
    buyer, other = await stack.buyer(), await stack.buyer()
    bought = list(made.seat_ids[:3])
    await stack.buy(buyer, made.event_id, bought[:2])
    await stack.buy(buyer, made.event_id, bought[2:])  # two bookings, both counted
    await stack.buy(other, made.event_id, [made.seat_ids[3]])
    page = await new_page()
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")

    await expect(page.locator(".hold-summary")).to_have_text(
        "You have bought 3 seats for this event: choose up to 3 more on the map."
    )
    for seat_id in bought:
        yours = seat_button(page, seat_id)
        await expect(yours).to_have_attribute("data-status", "yours")
        await expect(yours).to_have_attribute("aria-label", re.compile(r", yours: you booked it$"))
        await expect(yours).to_have_css("background-color", "rgb(23, 101, 58)")
    sold = seat_button(page, made.seat_ids[3])
    await expect(sold).to_have_attribute("data-status", "booked")
    await expect(sold).to_have_attribute("aria-label", re.compile(r", sold$"))
    await expect(page.locator('select[name="best-count"] option')).to_have_text(["1", "2", "3"])

    for seat_id in made.seat_ids[4:8]:  # the fourth is one too many
        await seat_button(page, seat_id).click()

    await expect(page.locator(".hold-panel .panel-message")).to_have_text(
        "You can choose up to 3 more: you have bought 3 of the 6 seats allowed for this event."
    )
    await expect(page.get_by_role("button", name="Hold 3 seats")).to_be_enabled()
    await expect(seat_button(page, made.seat_ids[7])).to_have_attribute("aria-pressed", "false")

    await page.get_by_role("button", name="List view").click()
    listed = page.locator(".seat-list")
    await expect(listed.get_by_role("heading")).to_have_text("Section Main: 8 available, 3 yours")
    await expect(listed.locator(".seat-list-yours")).to_have_count(3)
    await expect(listed.locator(".seat-list-yours").first).to_have_text(
        re.compile(r"^Row 1, seat 1, Category A, €50\.00: yours, you booked it$")
    )


async def test_a_buyer_at_the_limit_is_told_so_and_offered_nothing_to_hold(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=6, max_seats_per_buyer=2)
    buyer = await stack.buyer()
    await stack.buy(buyer, made.event_id, list(made.seat_ids[:2]))
    page = await new_page()
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")
    limit = "You have already bought 2 seats, the most allowed for this event."
    await expect(page.locator(".hold-summary")).to_have_text(limit)
    await expect(page.get_by_role("group", name="Best available")).to_be_hidden()

    await seat_button(page, made.seat_ids[2]).click()

    await expect(page.locator(".hold-panel .panel-message")).to_have_text(limit)
    await expect(page.get_by_role("button", name="Hold seats")).to_be_disabled()
