"""A buyer's whole journey on the page: sign up, hold, check out, pay, see the booking; and
every refusal from the API told in plain words."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.async_api import expect

from tests.browser.conftest import seat_button

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack


async def test_sign_up_hold_pay_and_see_the_booking(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=6, prices={"A": 8000, "B": 4500}, name="Rush Night")
    page = await new_page()
    await page.goto(stack.base_url + "/")
    await page.get_by_role("link", name="Rush Night", exact=True).click()
    # The event page's own link, which brings the buyer back to this event afterwards.
    await page.get_by_role("link", name="sign up", exact=True).click()
    await page.get_by_label("Name").fill("Ada")
    await page.get_by_label("Email").fill("ada@example.com")
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("heading", name="Rush Night")).to_be_visible()
    await expect(page.get_by_role("link", name="My bookings")).to_be_visible()

    chosen = made.seat_ids[0], made.seat_ids[-1]  # one A seat, one B seat
    for seat_id in chosen:
        await seat_button(page, seat_id).click()
    await page.get_by_role("button", name="Hold 2 seats").click()
    await page.get_by_role("button", name="Check out").click()
    # The order review first: each seat, the total and the time left, then the payment page.
    await expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    await expect(page.locator(".review-seats tbody tr")).to_have_count(2)
    await expect(page.locator(".review-total")).to_contain_text("125.00")
    await expect(page.get_by_role("timer")).to_have_text(re.compile(r"^Time left: \d\d:\d\d$"))
    await page.get_by_role("button", name=re.compile(r"^Pay .*125\.00")).click()
    await expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    await page.get_by_role("button", name="Pay").click()

    await expect(page).to_have_url(re.compile(r"/#/payment/success\?session_id=cs_local_"))
    await expect(page.locator(".payment-state")).to_have_text(
        "Payment received. Your seats are booked."
    )
    new_booking = page.locator(".booking-new")
    await expect(new_booking).to_contain_text("Rush Night")
    await expect(new_booking).to_contain_text("Section Main, row 1, seat 1")
    await expect(new_booking).to_contain_text("Section Main, row 2, seat 3")
    await expect(new_booking).to_contain_text("125.00")

    await page.get_by_role("link", name="My bookings").click()
    listed = page.locator(".booking-card")
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("Rush Night")
    await page.goto(f"{stack.base_url}/#/events/{made.event_id}")
    for seat_id in chosen:  # the buyer's own, not anyone's "sold"
        await expect(seat_button(page, seat_id)).to_have_attribute("data-status", "yours")


async def test_a_cancelled_checkout_releases_the_seats(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    """The local checkout's Cancel expires the session at once: back on the event, freed."""
    stack = await open_stack()
    made = await stack.event(seats=4)
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await seat_button(page, made.seat_ids[0]).click()
    await page.get_by_role("button", name="Hold 1 seat").click()
    await page.get_by_role("button", name="Check out").click()
    await page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    await page.get_by_role("button", name="Cancel").click()

    await expect(page).to_have_url(re.compile(rf"/#/events/{made.event_id}\?checkout=cancelled$"))
    await expect(page.get_by_role("status")).to_have_text(
        "You left the payment page without paying, and your seats were released. "
        "Choose seats to hold them again."
    )
    await expect(seat_button(page, made.seat_ids[0])).to_have_attribute("data-status", "available")
    await expect(page.get_by_role("timer")).to_be_hidden()


async def test_a_seat_taken_while_choosing_is_explained(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    """The other buyer's hold lands while this buyer's request is on its way (here: the live
    feed is cut, so the map cannot show it first); the engine's refusal is put in plain words
    and the seat is greyed."""
    stack = await open_stack()
    made = await stack.event(seats=4)
    quick, slow = await stack.buyer(), await stack.buyer()
    page = await new_page()
    await page.route_web_socket(re.compile(r"/seats/ws(\?|$)"), lambda socket: None)
    await stack.open_as(page, slow, f"#/events/{made.event_id}")
    contested = seat_button(page, made.seat_ids[0])
    await contested.click()

    await stack.call(
        "POST",
        f"/api/v1/events/{made.event_id}/holds",
        {"seat_ids": [made.seat_ids[0]]},
        person=quick,
    )
    await page.get_by_role("button", name="Hold 1 seat").click()

    await expect(page.get_by_role("status")).to_have_text(
        "Sorry, some of those seats were just taken by someone else. Please pick other seats."
    )
    await expect(contested).to_have_attribute("data-status", "held")
    await expect(contested).to_have_attribute("aria-pressed", "false")


async def test_the_per_buyer_limit_is_explained(open_stack: OpenStack, new_page: NewPage) -> None:
    """Seats held in another tab count toward the limit; the page learns it from the API."""
    stack = await open_stack()
    made = await stack.event(seats=6, max_seats_per_buyer=2)
    buyer = await stack.buyer()
    page = await new_page()
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")
    await stack.call(
        "POST",
        f"/api/v1/events/{made.event_id}/holds",
        {"seat_ids": [made.seat_ids[5]]},
        person=buyer,
    )

    await seat_button(page, made.seat_ids[0]).click()
    await seat_button(page, made.seat_ids[1]).click()
    await seat_button(page, made.seat_ids[2]).click()  # one more than the limit: refused here
    await expect(page.get_by_role("status")).to_have_text(
        "You can choose up to 2 seats for this event."
    )
    await page.get_by_role("button", name="Hold 2 seats").click()

    await expect(page.get_by_role("status")).to_have_text(
        "You can have at most 2 seats for this event and you already have 1."
    )
    await expect(page.locator(".notice-error")).to_be_visible()
    await expect(seat_button(page, made.seat_ids[0])).to_have_attribute("data-status", "available")
