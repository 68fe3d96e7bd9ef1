"""The sticky hold panel: messages about the map and the hold shown where the buyer is looking
(and still read out by the live region), the seats chosen or held listed with their prices and
total, and the countdown with the time to pay by, its last minute and what happens at zero."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import seat_button

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack

PHONE: Final = 375
DESKTOP: Final = 1280
# `make test` runs the phone, where the layout differs; `make chaos` runs both (long).
WIDTHS: Final = pytest.mark.parametrize(
    "width", [PHONE, pytest.param(DESKTOP, marks=pytest.mark.long)], ids=["phone", "desktop"]
)
# The id of a seat whose button lies wholly inside the map's box, where a finger can reach it.
SEAT_IN_VIEW: Final = """() => {
  const box = document.querySelector(".map-box").getBoundingClientRect();
  const inside = [...document.querySelectorAll("button.seat")].find((button) => {
    const seat = button.getBoundingClientRect();
    return seat.left >= box.left && seat.right <= box.right
      && seat.top >= box.top && seat.bottom <= box.bottom;
  });
  return Number(inside.dataset.seatId);
}"""


async def expect_said_in_panel(page: Page, text: str, *, tone: str = "info") -> None:
    """Shown in the panel, read out by the live region, and not shown a second time at the top."""
    message = page.locator(".hold-panel .panel-message")
    await expect(message).to_have_text(text)
    await expect(message).to_be_visible()
    await expect(message).to_be_in_viewport()
    await expect(message).to_have_attribute("data-tone", tone)
    await expect(page.get_by_role("status")).to_have_text(text)
    await expect(page.get_by_role("status")).to_have_class(
        re.compile(r"\bnotice-shown-elsewhere\b")
    )


@WIDTHS
async def test_a_chosen_seat_taken_by_someone_else_is_said_in_the_panel_in_view(
    open_stack: OpenStack, new_page: NewPage, width: int
) -> None:
    """The buyer has scrolled down past the top of the page to the map's list of sections; the
    panel stays on screen and says what happened to the seat."""
    stack = await open_stack()
    made = await stack.event(seats=40)
    buyer, other = await stack.buyer(), await stack.buyer()
    page = await new_page(width=width, touch=width == PHONE)
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")
    await expect(page.get_by_text("Live: seats update")).to_be_visible()
    await page.locator(".section-choice").first.click()  # zoomed in until seats can be hit
    await expect(page.locator("button.seat").first).to_be_attached()
    seat_id = await page.evaluate(SEAT_IN_VIEW)
    chosen = seat_button(page, seat_id)
    await chosen.click()
    await page.locator(".section-list").scroll_into_view_if_needed()
    await expect(page.locator("h1")).not_to_be_in_viewport()

    await stack.call(
        "POST", f"/api/v1/events/{made.event_id}/holds", {"seat_ids": [seat_id]}, person=other
    )

    name = await chosen.get_attribute("aria-label")
    assert name is not None
    where = name.split(", Category")[0]
    await expect_said_in_panel(page, f"Just taken by someone else: {where}.")
    await expect(page.locator(".hold-panel")).to_be_in_viewport()
    await expect(chosen).to_have_attribute("aria-pressed", "false")


async def test_a_failed_hold_is_said_in_the_panel_as_an_error(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    """The other buyer's hold lands while the live feed is cut, so only the engine's refusal
    tells this buyer."""
    stack = await open_stack()
    made = await stack.event(seats=4)
    quick, slow = await stack.buyer(), await stack.buyer()
    page = await new_page()
    await page.route_web_socket(re.compile(r"/seats/ws(\?|$)"), lambda socket: None)
    await stack.open_as(page, slow, f"#/events/{made.event_id}")
    await seat_button(page, made.seat_ids[0]).click()
    await stack.call(
        "POST",
        f"/api/v1/events/{made.event_id}/holds",
        {"seat_ids": [made.seat_ids[0]]},
        person=quick,
    )

    await page.get_by_role("button", name="Hold 1 seat").click()

    await expect_said_in_panel(
        page,
        "Sorry, some of those seats were just taken by someone else. Please pick other seats.",
        tone="error",
    )
    await expect(page.locator(".hold-panel .panel-message")).to_have_css(
        "color", "rgb(164, 22, 26)"
    )


async def test_an_expired_hold_is_said_in_the_panel(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack(HOLD_TTL_SECONDS="3")
    made = await stack.event(seats=4)
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await seat_button(page, made.seat_ids[0]).click()

    await page.get_by_role("button", name="Hold 1 seat").click()

    await expect_said_in_panel(
        page, "Your hold expired, so the seats were released. Select seats to hold them again."
    )
    await expect(page.locator(".panel-seats li")).to_have_count(0)


async def test_a_released_hold_is_said_in_the_panel_and_a_new_choice_clears_it(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=4)
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await seat_button(page, made.seat_ids[0]).click()
    await page.get_by_role("button", name="Hold 1 seat").click()
    await expect(page.get_by_role("button", name="Release seats")).to_be_visible()

    await page.get_by_role("button", name="Release seats").click()

    await expect_said_in_panel(page, "Your seats were released.")
    await seat_button(page, made.seat_ids[1]).click()
    await expect(page.locator(".hold-panel .panel-message")).to_be_hidden()


@WIDTHS
async def test_held_seats_are_listed_with_prices_and_total_and_stand_out_on_the_map(
    open_stack: OpenStack, new_page: NewPage, width: int
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=6, prices={"A": 8000, "B": 4500})  # rows of 3: A, then B
    page = await new_page(width=width, touch=width == PHONE)
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    for seat_id in (made.seat_ids[4], made.seat_ids[0]):
        await seat_button(page, seat_id).click()
    listed = page.locator(".hold-panel .panel-seats li")
    await expect(listed).to_have_text(
        ["Section Main, row 1, seat 1€80.00", "Section Main, row 2, seat 2€45.00"]
    )
    await expect(page.locator(".hold-panel .panel-total")).to_have_text("Total: €125.00")

    await page.get_by_role("button", name="Hold 2 seats").click()

    await expect(page.locator(".hold-summary")).to_have_text("You hold 2 seats:")
    await expect(listed).to_have_text(
        ["Section Main, row 1, seat 1€80.00", "Section Main, row 2, seat 2€45.00"]
    )
    await expect(page.get_by_role("list", name="Seats held for you")).to_be_visible()
    await expect(page.locator(".hold-panel .panel-total")).to_have_text("Total: €125.00")
    held = seat_button(page, made.seat_ids[0])
    await expect(held).to_have_attribute("data-status", "mine")
    # A fill of its own, not a thin outline on the category's colour.
    await expect(held).to_have_css("background-color", "rgb(31, 95, 214)")
    await expect(held).to_have_css("color", "rgb(255, 255, 255)")
    await expect(seat_button(page, made.seat_ids[1])).to_have_css(
        "background-color", "rgb(142, 202, 230)"
    )
    if width == PHONE:
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "the panel's list makes the phone's page scroll sideways"


async def test_the_countdown_says_when_to_pay_by_and_what_happens_at_zero(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=4)
    buyer = await stack.buyer()
    page = await new_page()
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")
    await seat_button(page, made.seat_ids[0]).click()
    await page.get_by_role("button", name="Hold 1 seat").click()
    timer = page.get_by_role("timer")
    await expect(timer).to_have_text(re.compile(r"^Held for you: \d\d:\d\d$"))
    await expect(timer).to_have_attribute("data-urgent", "false")

    hold_id = await page.evaluate(f"sessionStorage.getItem('rushqueue.hold.{made.event_id}')")
    hold = (await stack.call("GET", f"/api/v1/holds/{hold_id}", person=buyer))["hold"]
    event = await stack.call("GET", f"/api/v1/events/{made.event_id}", person=buyer)
    assert event["event"]["time_zone"] == "UTC"  # the default, stated with the time
    due = datetime.fromisoformat(hold["expires_at"]).astimezone(ZoneInfo("UTC"))
    pay_by = page.locator(".hold-panel .pay-by")
    await expect(pay_by).to_contain_text("If the time runs out, the seats are released")
    shown = re.fullmatch(
        r"Pay by (\d\d):(\d\d)( [AP]M)? UTC\. If the time runs out, the seats are released "
        r"for others to buy and you can choose seats again\.",
        await pay_by.inner_text(),
    )
    assert shown is not None, await pay_by.inner_text()
    hour = int(shown[1])
    if shown[3]:  # a 12-hour locale
        hour = hour % 12 + (12 if shown[3] == " PM" else 0)
    assert (hour, int(shown[2])) == (due.hour, due.minute)


async def test_the_last_minute_looks_and_reads_urgent(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack(HOLD_TTL_SECONDS="50")
    made = await stack.event(seats=4)
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await seat_button(page, made.seat_ids[0]).click()

    await page.get_by_role("button", name="Hold 1 seat").click()

    timer = page.get_by_role("timer")
    await expect(timer).to_have_text(re.compile(r"^Last minute to pay: 00:\d\d$"))
    await expect(timer).to_have_attribute("data-urgent", "true")
    await expect(timer).to_have_css("background-color", "rgb(164, 22, 26)")
    await expect(page.locator(".hold-panel")).to_have_attribute("data-urgent", "true")


async def test_the_pay_by_time_is_in_the_events_time_zone_when_it_has_one(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    """format.js's clock for an event's time zone, in a browser set to another zone."""
    stack = await open_stack()
    page = await new_page()
    await page.goto(stack.base_url + "/")
    winter_noon_utc = datetime(2030, 1, 15, 12, 5, tzinfo=ZoneInfo("UTC")).timestamp() * 1000

    said = await page.evaluate(
        """async (at) => {
          const { clockIn } = await import("/static/js/format.js");
          return [clockIn(at, "Asia/Tokyo"), clockIn(at, "No/Such_Zone"), clockIn(at, undefined)];
        }""",
        winter_noon_utc,
    )

    tokyo, unknown, browser = said
    assert re.fullmatch(r"(21:05|09:05 PM) GMT\+9", tokyo), tokyo
    assert unknown == browser, said
    assert re.fullmatch(r"\d\d:\d\d( [AP]M)?", browser), said
