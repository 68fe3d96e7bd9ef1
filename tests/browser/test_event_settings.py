"""The organizer's event settings on the live sales page: the "Refuse picks that leave a single
seat" checkbox shows the event's `no_single_gaps`, saves it with the admin PATCH, and the engine
decides the next pick with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.async_api import expect

from tests.browser.test_waiting_room import organizer

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack

LABEL = "Refuse picks that leave a single seat"


async def test_the_organizer_switches_single_gaps_on_a_live_event(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=10, name="Switch Night")
    admin = await organizer(stack)
    buyer = await stack.buyer()
    page = await new_page()
    await stack.open_as(page, admin, f"#/organizer/events/{made.event_id}")
    box = page.locator(".event-settings-panel").get_by_label(LABEL)
    await expect(box).not_to_be_checked()

    await box.check()

    await expect(page.get_by_role("status")).to_have_text(
        "Saved: picks that leave a single seat are refused from now on."
    )
    await expect(box).to_be_enabled()
    async with stack.http.post(
        f"{stack.base_url}/api/v1/events/{made.event_id}/holds",
        json={"seat_ids": list(made.seat_ids[1:3])},
        headers={"Authorization": f"Bearer {buyer.session['token']}"},
    ) as refused:
        assert refused.status == 409
        assert (await refused.json())["error"]["code"] == "orphan_seat"
    # A fresh page shows the saved setting.
    await page.reload()
    await expect(box).to_be_checked()

    await box.uncheck()

    await expect(page.get_by_role("status")).to_have_text(
        "Saved: picks may leave a single seat from now on."
    )
    await expect(box).to_be_enabled()
    picked = list(made.seat_ids[1:3])
    held = await stack.call(
        "POST", f"/api/v1/events/{made.event_id}/holds", {"seat_ids": picked}, person=buyer
    )
    assert held["hold"]["seat_ids"] == picked
