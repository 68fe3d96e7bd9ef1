"""The organizer's view: create a venue and an event through the page, then watch its sales
change live as a buyer holds seats."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.async_api import Page, expect

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack


async def log_in(page: Page, base_url: str, email: str, password: str) -> None:
    await page.goto(base_url + "/#/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()


async def test_an_organizer_creates_an_event_and_watches_it_sell(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    organizer = await stack.admin()
    page = await new_page()
    await log_in(page, stack.base_url, organizer.email, organizer.password)
    await page.get_by_role("link", name="Organizer").click()

    venue = page.locator("form").filter(has=page.get_by_role("button", name="Create venue"))
    await venue.get_by_label("Venue name").fill("Harbour Hall")
    categories = venue.locator('[data-kind="category"]')
    await categories.get_by_label("Code").fill("P")
    await categories.get_by_label("Name").fill("Premium")
    await venue.get_by_role("button", name="Add a category").click()
    await categories.nth(1).get_by_label("Code").fill("S")
    await categories.nth(1).get_by_label("Name").fill("Standard")
    sections = venue.locator('[data-kind="section"]')
    await sections.get_by_label("Section").fill("Front")
    await sections.get_by_label("Rows").fill("2")
    await sections.get_by_label("Seats per row").fill("3")
    await sections.get_by_label("Category code").fill("P")
    await venue.get_by_role("button", name="Add a section").click()
    await sections.nth(1).get_by_label("Section").fill("Back")
    await sections.nth(1).get_by_label("Rows").fill("1")
    await sections.nth(1).get_by_label("Seats per row").fill("4")
    await sections.nth(1).get_by_label("Category code").fill("S")
    await venue.get_by_role("button", name="Create venue").click()
    await expect(page.get_by_role("status")).to_have_text(
        'Venue "Harbour Hall" created with 10 seats.'
    )

    event = page.locator("form").filter(has=page.get_by_role("button", name="Create event"))
    await expect(event.get_by_label("Venue")).to_have_text(re.compile("Harbour Hall"))
    await event.get_by_label("Event name").fill("Opening Night")
    await event.get_by_label("Sale opens").fill("2020-01-01T10:00")
    await event.get_by_label("Sale closes").fill("2099-01-01T10:00")
    await event.get_by_label("Starts at").fill("2099-01-02T20:00")
    await event.get_by_label("Seats per buyer").fill("4")
    await event.get_by_label("Price for Premium (P)").fill("80")
    await event.get_by_label("Price for Standard (S)").fill("45.50")
    await event.get_by_role("button", name="Create event").click()
    await expect(page.get_by_role("status")).to_have_text('Event "Opening Night" created.')

    [opening] = (await stack.call("GET", "/api/v1/events"))["events"]
    assert (opening["max_seats_per_buyer"], opening["seats_total"]) == (4, 10)
    buyer = await stack.buyer()
    # Loaded before the panel opens, so the holds below reach it as changes, not in a snapshot.
    await stack.load_into_engine(opening["id"], buyer)
    await page.get_by_role("link", name="Opening Night: live sales").click()
    premium = page.locator('tr[data-category="P"]')
    await expect(premium.locator('[data-status="available"]')).to_have_text("6")
    await expect(premium.locator('[data-status="held"]')).to_have_text("0")
    await expect(page.get_by_text("Live", exact=True)).to_be_visible()
    seats = (await stack.call("GET", f"/api/v1/events/{opening['id']}/seats"))["seats"]
    front = [seat["id"] for seat in seats if seat["category"] == "P"]
    assert {seat["price"] for seat in seats} == {8000, 4550}

    await stack.call(
        "POST", f"/api/v1/events/{opening['id']}/holds", {"seat_ids": front[:3]}, person=buyer
    )

    await expect(premium.locator('[data-status="held"]')).to_have_text("3")
    await expect(premium.locator('[data-status="available"]')).to_have_text("3")
    await expect(page.locator('tr[data-category="S"] [data-status="available"]')).to_have_text("4")
    await expect(page.locator(".hold-rate")).to_have_text(re.compile(r"per second .*: 0\.6$"))


async def test_a_buyer_does_not_see_the_organizer_view(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), "#/organizer")

    await expect(page.get_by_text("This page is for organizers only.")).to_be_visible()
    await expect(page.get_by_role("link", name="Organizer")).to_be_hidden()
    await expect(page.get_by_role("button", name="Create venue")).to_have_count(0)


async def test_an_organizer_places_the_sections_around_a_stage(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    organizer = await stack.admin()
    page = await new_page()
    await log_in(page, stack.base_url, organizer.email, organizer.password)
    await page.get_by_role("link", name="Organizer").click()

    venue = page.locator("form").filter(has=page.get_by_role("button", name="Create venue"))
    await venue.get_by_label("Venue name").fill("Round House")
    await venue.locator('[data-kind="category"]').get_by_label("Code").fill("A")
    await venue.locator('[data-kind="category"]').get_by_label("Name").fill("All")
    section = venue.locator('[data-kind="section"]')
    await section.get_by_label("Section").fill("Ring")
    await section.get_by_label("Rows").fill("3")
    await section.get_by_label("Seats per row").fill("20")
    await section.get_by_label("Category code").fill("A")
    await section.get_by_label("Position x (m)").fill("0")
    await section.get_by_label("Position y (m)").fill("9.5")
    await section.get_by_label("Curve radius (m)").fill("9.5")
    stage = venue.locator('[data-kind="stage"]')
    for label, number in (("x", "0"), ("y", "0"), ("width", "8"), ("depth", "4")):
        await stage.get_by_label(f"Stage {label} (m)").fill(number)
    await venue.get_by_role("button", name="Create venue").click()

    await expect(page.get_by_role("status")).to_have_text(
        'Venue "Round House" created with 60 seats.'
    )
