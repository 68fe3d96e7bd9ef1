"""Colour and focus on the seat map, measured from the browser's computed styles: each seat's
number readable on its fill (WCAG AA, 4.5:1), chosen and sold seats far apart, and the focus
ring visible on every category colour and seat state (3:1 against what it surrounds)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from playwright.async_api import Page, expect

from tests.browser.conftest import seat_button

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack

# Eight categories, one row of three seats each: seat_ids[3 * row + n].
EIGHT: Final = {code: 1000 * (index + 1) for index, code in enumerate("ABCDEFGH")}
TEXT_CONTRAST: Final = 4.5
NON_TEXT_CONTRAST: Final = 3.0

STYLE_OF: Final = """(button) => {
  const style = getComputedStyle(button);
  const root = getComputedStyle(document.documentElement);
  return {
    color: style.color, background: style.backgroundColor, outline: style.outlineColor,
    outlineStyle: style.outlineStyle, outlineWidth: style.outlineWidth, shadow: style.boxShadow,
    taken: root.getPropertyValue("--taken").trim(),
    stripe: root.getPropertyValue("--taken-stripe").trim(),
  };
}"""


def rgb(colour: str) -> tuple[int, int, int]:
    """ "rgb(1, 2, 3)", "rgba(…)" or "#010203" as (1, 2, 3)."""
    if colour.startswith("#"):
        return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))
    red, green, blue = (int(part) for part in re.findall(r"\d+", colour)[:3])
    return (red, green, blue)


def luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


async def style_of(page: Page, seat_id: int) -> dict[str, Any]:
    style: dict[str, Any] = await seat_button(page, seat_id).evaluate(STYLE_OF)
    return style


async def test_every_seat_states_number_reads_and_chosen_is_far_from_sold(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=24, prices=EIGHT)
    buyer, other, rival = await stack.buyer(), await stack.buyer(), await stack.buyer()
    ids = made.seat_ids
    yours, sold, held, chosen = ids[3], ids[6], ids[9], ids[12]
    await stack.buy(buyer, made.event_id, [yours])
    await stack.buy(other, made.event_id, [sold])
    await stack.call(
        "POST", f"/api/v1/events/{made.event_id}/holds", {"seat_ids": [held]}, person=rival
    )
    page = await new_page()
    await stack.open_as(page, buyer, f"#/events/{made.event_id}")
    await expect(seat_button(page, held)).to_have_attribute("data-status", "held")
    await expect(seat_button(page, sold)).to_have_attribute("data-status", "booked")
    await expect(seat_button(page, yours)).to_have_attribute("data-status", "yours")
    await seat_button(page, chosen).click()
    await expect(seat_button(page, chosen)).to_have_attribute("aria-pressed", "true")

    readings: dict[str, float] = {}
    for row in range(8):
        free = await style_of(page, ids[3 * row + 1])
        readings[f"category {row}"] = contrast(free["color"], free["background"])
    for name, seat_id in (("yours", yours), ("sold", sold), ("chosen", chosen)):
        style = await style_of(page, seat_id)
        readings[name] = contrast(style["color"], style["background"])
    striped = await style_of(page, held)  # two stripes: the number must read on both
    readings["held"] = min(contrast(striped["color"], striped[key]) for key in ("taken", "stripe"))
    apart = contrast(
        (await style_of(page, chosen))["background"], (await style_of(page, sold))["background"]
    )

    await page.get_by_role("button", name="Hold 1 seat").click()
    await expect(seat_button(page, chosen)).to_have_attribute("data-status", "mine")
    mine = await style_of(page, chosen)
    readings["held for you"] = contrast(mine["color"], mine["background"])

    low = {name: round(ratio, 2) for name, ratio in readings.items() if ratio < TEXT_CONTRAST}
    assert not low, f"seat numbers under {TEXT_CONTRAST}:1: {low}"
    assert apart >= NON_TEXT_CONTRAST, f"chosen and sold seats are only {apart:.2f}:1 apart"


async def test_the_focus_ring_shows_on_every_category_colour_and_on_a_chosen_seat(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=24, prices=EIGHT)
    ids = made.seat_ids
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await seat_button(page, ids[1]).click()  # chosen: near-black
    await expect(seat_button(page, ids[1])).to_have_attribute("aria-pressed", "true")
    await page.get_by_role("button", name="Hold 1 seat").focus()
    await page.keyboard.press("Tab")  # the map's one Tab stop: the seat last pressed
    await expect(seat_button(page, ids[1])).to_be_focused()

    ring = await style_of(page, ids[1])
    # Two-tone: a white band inside the dark outline, so one of them stands out on any fill.
    band = "rgb(255, 255, 255)"
    assert ring["shadow"].startswith(f"{band} 0px 0px 0px 2px"), ring["shadow"]
    weak = {
        "chosen": max(
            contrast(ring["outline"], ring["background"]), contrast(band, ring["background"])
        ),
        "outline against its band": contrast(ring["outline"], band),
    }
    await page.keyboard.press("ArrowLeft")
    for row in range(8):
        if row:
            await page.keyboard.press("ArrowDown")
        await expect(seat_button(page, ids[3 * row])).to_be_focused()
        ring = await style_of(page, ids[3 * row])
        assert (ring["outlineStyle"], ring["outlineWidth"]) == ("solid", "3px")
        weak[f"category {row}"] = contrast(ring["outline"], ring["background"])

    low = {name: round(ratio, 2) for name, ratio in weak.items() if ratio < NON_TEXT_CONTRAST}
    assert not low, f"focus ring under {NON_TEXT_CONTRAST}:1: {low}"
