"""The venue map: the whole venue at first (stage, sections shaded by what they have left),
zooming into a section to pick seats, live recolouring, the keyboard's way from section to row
to seat, the list view, and a phone's touch screen."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from playwright.async_api import expect

from devstack.demo import DEMO_PRICES, demo_layout
from tests.browser.conftest import seat_button
from tests.helpers.catalog import ARENA_PRICES, arena_layout

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

    from tests.browser.conftest import NewPage, OpenStack
    from tests.helpers.catalog import MadeEvent

# The arena lists its floor blocks F1-F4 (500 seats each) first, then section 101 (900).
FIRST_OF_101: Final = 2_000
STAGE_RGB: Final = (0x3D, 0x42, 0x50)  # --stage in app.css


def section(page: Page, name: str) -> Locator:
    return page.get_by_role("button", name=re.compile(rf"^Section {name} · "))


async def open_event_map(
    open_stack: OpenStack, new_page: NewPage, *, hall: bool = False
) -> tuple[MadeEvent, Page]:
    """A stack with one event on the 20,000-seat arena (or the demo hall), and a new buyer's
    page open on its map."""
    stack = await open_stack()
    if hall:
        made = await stack.event(layout=demo_layout(), prices=DEMO_PRICES)
    else:
        made = await stack.event(layout=arena_layout(), prices=ARENA_PRICES)
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    return made, page


async def stage_pixels(page: Page) -> int:
    """How many pixels of the lower canvas are the stage's colour."""
    count: int = await page.evaluate(
        """([r, g, b]) => {
          const canvas = document.querySelector(".map-canvas");
          const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
          let found = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i] === r && data[i + 1] === g && data[i + 2] === b) found += 1;
          }
          return found;
        }""",
        list(STAGE_RGB),
    )
    return count


async def test_the_demo_hall_is_drawn_whole_with_what_each_section_has_left(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    _, page = await open_event_map(open_stack, new_page, hall=True)

    await expect(page.locator(".seat-map[data-drawn]")).to_be_attached()
    for name in ("Left", "Centre", "Right"):
        await expect(section(page, name)).to_have_accessible_name(
            f"Section {name} · 165 left of 165 seats (Front 39, Middle 66, Back 60)"
        )
    assert await stage_pixels(page) > 0


async def test_the_20000_seat_arena_fits_the_screen_with_no_element_per_seat(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    _, page = await open_event_map(open_stack, new_page)

    await expect(page.locator(".seat-map[data-drawn]")).to_be_attached()
    await expect(page.locator(".section-choice")).to_have_count(29)
    await expect(section(page, "F1")).to_have_text("F1 · 500 left")
    await expect(section(page, "215")).to_have_text("215 · 600 left")
    # The overview draws seats too small to hit, so none has a button yet.
    await expect(page.locator("button.seat")).to_have_count(0)
    assert await stage_pixels(page) > 0
    assert await page.evaluate("document.querySelectorAll('*').length") < 1_000


async def test_a_section_opens_up_close_and_its_seats_are_held(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    made, page = await open_event_map(open_stack, new_page)
    first, second = made.seat_ids[FIRST_OF_101], made.seat_ids[FIRST_OF_101 + 1]

    await section(page, "101").click()
    await expect(seat_button(page, first)).to_have_attribute(
        "aria-label", re.compile(r"^Section 101, row 1, seat 1, Lower bowl, .+, available$")
    )
    await seat_button(page, first).click()
    await seat_button(page, second).click()
    await page.get_by_role("button", name="Hold 2 seats").click()

    await expect(seat_button(page, first)).to_have_attribute("data-status", "mine")
    await expect(seat_button(page, second)).to_have_attribute("data-status", "mine")
    await expect(section(page, "101")).to_have_text("101 · 898 left")


async def test_a_click_on_a_section_of_the_map_zooms_into_it(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    made, page = await open_event_map(open_stack, new_page)
    # Each section's label sits over its middle (and lets clicks through to the map).
    label = page.locator(".section-label", has_text="101 · 900 left")
    await expect(label).to_be_visible()
    where = await label.bounding_box()
    assert where is not None

    await page.mouse.click(where["x"] + where["width"] / 2, where["y"] + where["height"] / 2)

    await expect(seat_button(page, made.seat_ids[FIRST_OF_101])).to_be_visible()
    await expect(label).to_be_hidden()


async def test_the_wheel_and_the_zoom_buttons_bring_seats_close_enough_to_pick(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    _, page = await open_event_map(open_stack, new_page)
    await expect(page.locator(".seat-map[data-drawn]")).to_be_attached()
    box = await page.locator(".map-box").bounding_box()
    assert box is not None

    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.45)
    for _ in range(8):
        await page.mouse.wheel(0, -400)
    await expect(page.locator("button.seat").first).to_be_visible()

    await page.get_by_role("button", name="Whole venue").click()
    await expect(page.locator("button.seat")).to_have_count(0)
    for _ in range(6):
        await page.get_by_role("button", name="Zoom in").click()
    await expect(page.locator("button.seat").first).to_be_visible()


async def test_another_buyers_hold_recolours_the_seat_and_the_section_count(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(layout=arena_layout(), prices=ARENA_PRICES)
    holder, watcher = await stack.buyer(), await stack.buyer()
    await stack.load_into_engine(made.event_id, holder)
    page = await new_page()
    await stack.open_as(page, watcher, f"#/events/{made.event_id}")
    await expect(page.get_by_text("Live: seats update")).to_be_visible()
    await section(page, "F1").click()
    seat = seat_button(page, made.seat_ids[0])
    await expect(seat).to_have_attribute("data-status", "available")

    event_holds = f"/api/v1/events/{made.event_id}/holds"
    await stack.call("POST", event_holds, {"seat_ids": [made.seat_ids[0]]}, person=holder)

    await expect(seat).to_have_attribute("data-status", "held")
    await expect(seat).to_have_attribute("aria-label", re.compile(r"held by someone$"))
    await expect(section(page, "F1")).to_have_text("F1 · 499 left")


async def test_the_keyboard_goes_from_section_to_row_to_seat(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    made, page = await open_event_map(open_stack, new_page, hall=True)
    # Centre's seats follow Left's 165; its row 1 has 12 seats.
    row_1_seat_1, row_2_seat_1, row_2_seat_2 = (
        seat_button(page, made.seat_ids[165 + offset]) for offset in (0, 12, 13)
    )

    await section(page, "Left").focus()
    await page.keyboard.press("ArrowRight")
    await expect(section(page, "Centre")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(row_1_seat_1).to_be_focused()
    await expect(row_1_seat_1).to_have_attribute(
        "aria-label", "Section Centre, row 1, seat 1, Front, €95.00, available"
    )
    await page.keyboard.press("ArrowDown")
    await expect(row_2_seat_1).to_be_focused()
    await page.keyboard.press("ArrowRight")
    await expect(row_2_seat_2).to_be_focused()
    await page.keyboard.press("Space")
    await expect(row_2_seat_2).to_have_attribute("aria-pressed", "true")
    await expect(page.get_by_role("button", name="Hold 1 seat")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(section(page, "Centre")).to_be_focused()


async def test_the_list_view_lists_a_sections_free_seats_live(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(layout=demo_layout(), prices=DEMO_PRICES)
    holder = await stack.buyer()
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await expect(page.get_by_text("Live: seats update")).to_be_visible()
    listed = page.get_by_role("region", name="List view")

    await page.get_by_role("button", name="List view").click()
    await listed.get_by_role("combobox", name="Section").select_option(label="Section Right")
    await expect(listed.get_by_role("heading")).to_have_text("Section Right: 165 available")
    first_right = made.seat_ids[330]
    event_holds = f"/api/v1/events/{made.event_id}/holds"
    await stack.call("POST", event_holds, {"seat_ids": [first_right]}, person=holder)

    await expect(listed.get_by_role("heading")).to_have_text("Section Right: 164 available")
    await expect(listed.get_by_role("button", name=re.compile(r"^Row 1, seat 1,"))).to_have_count(0)
    choice = listed.get_by_role("button", name=re.compile(r"^Row 1, seat 2, Front, €95\.00$"))
    await choice.click()
    await expect(choice).to_have_attribute("aria-pressed", "true")
    await expect(page.get_by_role("button", name="Hold 1 seat")).to_be_visible()


async def test_a_phone_taps_into_a_section_and_picks_a_seat(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(layout=arena_layout(), prices=ARENA_PRICES)
    page = await new_page(width=375, touch=True)
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await expect(page.locator(".seat-map[data-drawn]")).to_be_attached()

    await section(page, "101").tap()
    seat = seat_button(page, made.seat_ids[FIRST_OF_101])
    await seat.tap()

    await expect(seat).to_have_attribute("aria-pressed", "true")
    await expect(page.get_by_role("button", name="Hold 1 seat")).to_be_visible()
    size = await seat.bounding_box()
    assert size is not None
    assert min(size["width"], size["height"]) >= 21  # 24 px apart: WCAG 2.5.8's target size
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways at 375 px"


async def test_a_pinch_zooms_the_map_on_a_touch_screen(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(layout=arena_layout(), prices=ARENA_PRICES)
    page = await new_page(width=375, touch=True)
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await expect(page.locator(".seat-map[data-drawn]")).to_be_attached()
    await expect(page.locator("button.seat")).to_have_count(0)
    box = await page.locator(".map-box").bounding_box()
    assert box is not None
    # Two fingers on the middle of the map (the floor), moving apart.
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    devtools = await page.context.new_cdp_session(page)

    async def touch(kind: str, apart: float) -> None:
        points = [{"x": x - apart, "y": y, "id": 1}, {"x": x + apart, "y": y, "id": 2}]
        await devtools.send(
            "Input.dispatchTouchEvent", {"type": kind, "touchPoints": points if apart else []}
        )

    await touch("touchStart", 5)
    for step in range(1, 21):
        await touch("touchMove", 5 + step * 8)
    await touch("touchEnd", 0)

    await expect(page.locator("button.seat").first).to_be_visible()
