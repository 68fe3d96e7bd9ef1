"""Best available on the page: the engine's choice lights up on the map as the buyer's hold;
and a pick that would strand a seat is refused in plain words, that seat highlighted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.async_api import expect

from tests.browser.conftest import seat_button

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack


async def test_best_available_for_three_lights_up_three_adjacent_seats(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=10, name="Best Night")  # one row of 10, stage in front
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")

    best = page.get_by_role("group", name="Best available")
    await best.get_by_label("Seats").select_option("3")
    await best.get_by_label("Section").select_option("Main")
    await best.get_by_role("button", name="Hold best available").click()

    await expect(page.get_by_role("timer")).to_be_visible()
    await expect(page.locator("#notice")).to_contain_text("3 seats are held for you")
    # The middle of the row: seats 4, 5 and 6.
    for seat_id in made.seat_ids[3:6]:
        await expect(seat_button(page, seat_id)).to_have_attribute("data-status", "mine")
    for seat_id in made.seat_ids[:3] + made.seat_ids[6:]:
        await expect(seat_button(page, seat_id)).to_have_attribute("data-status", "available")
    await expect(best).to_be_hidden()


async def test_an_orphaning_pick_is_refused_with_the_seat_highlighted(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=10, name="Tidy Night", no_single_gaps=True)
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")

    await seat_button(page, made.seat_ids[1]).click()
    await seat_button(page, made.seat_ids[2]).click()
    await page.get_by_role("button", name="Hold 2 seats").click()

    await expect(page.locator("#notice")).to_have_text(
        "That choice would leave seat 1 in row 1 of section Main on its own, and a single seat "
        "can't be sold. Move your choice over by one seat, or add that seat (it's highlighted "
        "on the map)."
    )
    stranded = seat_button(page, made.seat_ids[0])
    await expect(stranded).to_have_attribute("data-stranded", "true")
    await expect(stranded).to_be_focused()
    await expect(page.get_by_role("timer")).to_be_hidden()

    # Adding that seat makes a choice the event accepts, and the highlight goes.
    await stranded.click()
    await expect(stranded).to_have_attribute("data-stranded", "false")
    await page.get_by_role("button", name="Hold 3 seats").click()
    await expect(page.get_by_role("timer")).to_be_visible()
    for seat_id in made.seat_ids[:3]:
        await expect(seat_button(page, seat_id)).to_have_attribute("data-status", "mine")
