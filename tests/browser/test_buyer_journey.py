"""Issue 19's buyer's journey, points 2, 4, 8, 9 and 10: where a sale stands and what a buyer
can do about it, the order review and a cancelled payment, bookings in the event's time zone
with a printable page, the organizer's forms, and empty states that lead somewhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import seat_button
from tests.browser.test_organizer import log_in

if TYPE_CHECKING:
    from tests.browser.conftest import NewPage, OpenStack, Person, Stack

PHONE = 375
DESKTOP = 1280
# `make test` runs the phone, where the layout differs; `make chaos` runs both (long).
BOTH_WIDTHS = pytest.mark.parametrize(
    "width", [PHONE, pytest.param(DESKTOP, marks=pytest.mark.long)]
)


async def book_everything(stack: Stack, event_id: int) -> None:
    """Mark every seat of an event the engine has not loaded as sold (as the write-behind
    leaves them): how a sold-out event stands in MariaDB."""
    async with stack.db.transaction() as conn:
        await conn.execute(
            "UPDATE event_seats SET status = 'booked' WHERE event_id = %s", (event_id,)
        )


async def buy(stack: Stack, person: Person, event_id: int, seat_ids: list[int]) -> int:
    """Hold, check out and pay on the local checkout through the API; the booking's id."""
    held = await stack.call(
        "POST", f"/api/v1/events/{event_id}/holds", {"seat_ids": seat_ids}, person=person
    )
    checkout = await stack.call(
        "POST", f"/api/v1/holds/{held['hold']['id']}/checkout", person=person
    )
    async with stack.http.post(
        f"{stack.base_url}/checkout/local/{checkout['session_id']}/pay", allow_redirects=False
    ) as paid:
        assert paid.status == 303
    bookings = await stack.call("GET", "/api/v1/bookings", person=person)
    booking_id: int = bookings["bookings"][0]["id"]
    return booking_id


def card(page: Page, event_id: int) -> Any:
    return page.locator(f'.event-card[data-event-id="{event_id}"]')


# -- 2. sale states ----------------------------------------------------------------------------


async def test_the_events_list_shows_each_sale_state_with_its_next_step(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    now = datetime.now(UTC)
    on_sale = await stack.event(seats=30, name="Open Night")
    few = await stack.event(seats=30, name="Nearly Gone")
    async with stack.db.transaction() as conn:
        await conn.execute(
            "UPDATE event_seats SET status = 'booked' WHERE event_id = %s ORDER BY id LIMIT 27",
            (few.event_id,),
        )
    upcoming = await stack.event(
        name="Later Night", sale_starts_at=now + timedelta(hours=2), time_zone="Europe/Amsterdam"
    )
    sold_out = await stack.event(seats=4, name="Tour Date")
    await book_everything(stack, sold_out.event_id)
    other_date = await stack.event(
        name="Tour Date", starts_at=now + timedelta(days=9), sale_ends_at=now + timedelta(days=8)
    )
    ended = await stack.event(
        name="Gone Night",
        sale_starts_at=now - timedelta(days=2),
        sale_ends_at=now - timedelta(hours=1),
    )
    page = await new_page()

    await page.goto(stack.base_url + "/")

    await expect(card(page, on_sale.event_id).locator(".sale-state")).to_have_text(
        "On sale: 30 seats left"
    )
    await expect(
        card(page, on_sale.event_id).get_by_role("link", name="Choose seats for Open Night")
    ).to_be_visible()
    await expect(card(page, few.event_id).locator(".sale-state")).to_have_text(
        "On sale: few left, 3 seats left"
    )
    later = card(page, upcoming.event_id)
    # The sale's opening in the event's own zone, named.
    await expect(later.locator(".sale-state")).to_have_text(
        re.compile(r"^On sale from .+ (CET|CEST|GMT\+\d)$")
    )
    await expect(later.get_by_role("link", name="See the seats of Later Night")).to_be_visible()
    await expect(later).not_to_contain_text("Choose seats")
    gone = card(page, sold_out.event_id)
    await expect(gone.locator(".sale-state")).to_have_text("Sold out")
    await gone.get_by_role("link", name=re.compile(r"^Another date: ")).click()
    await expect(page).to_have_url(re.compile(rf"#/events/{other_date.event_id}$"))
    await page.go_back()
    await expect(card(page, ended.event_id).locator(".sale-state")).to_have_text("Sale ended")
    await expect(card(page, ended.event_id).locator(".call-to-action")).to_have_count(0)


@BOTH_WIDTHS
async def test_an_event_not_yet_on_sale_counts_down_and_offers_no_choice(
    open_stack: OpenStack, new_page: NewPage, width: int
) -> None:
    stack = await open_stack()
    made = await stack.event(sale_starts_at=datetime.now(UTC) + timedelta(hours=1))
    page = await new_page(width=width, touch=width == PHONE)
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")

    await expect(page.locator(".sale-block .sale-state")).to_have_text(
        re.compile(r"^On sale from ")
    )
    await expect(page.get_by_role("timer")).to_have_text(
        re.compile(r"^The sale starts in 59:\d\d\.$")
    )
    await expect(page.locator(".hold-panel")).to_have_count(0)
    await expect(page.get_by_text(re.compile("Choose up to"))).to_have_count(0)
    await expect(page.get_by_role("button", name="Hold best available")).to_have_count(0)


async def test_the_countdown_opens_the_sale_at_zero(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(sale_starts_at=datetime.now(UTC) + timedelta(seconds=4))
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await expect(page.get_by_role("timer")).to_have_text(
        re.compile(r"^The sale starts in 00:0\d\.$")
    )

    # No sleep: the page draws itself again when its countdown reaches zero.
    await expect(page.locator(".sale-block .sale-state")).to_have_text("On sale: 10 seats left")
    await expect(page.locator(".hold-panel")).to_be_visible()
    await seat_button(page, made.seat_ids[0]).click()
    await page.get_by_role("button", name="Hold 1 seat").click()
    await expect(page.get_by_role("button", name="Check out")).to_be_visible()


# -- 4. the order review and a payment left without paying ------------------------------------


async def test_leaving_the_payment_page_keeps_a_running_hold(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    """Stripe's cancel_url: the checkout stays open while the hold lasts, so the buyer is back
    on the event with the seats still theirs, and can go on to pay."""
    stack = await open_stack()
    made = await stack.event(seats=4, prices={"A": 4200})
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await seat_button(page, made.seat_ids[1]).click()
    await page.get_by_role("button", name="Hold 1 seat").click()
    await page.get_by_role("button", name="Check out").click()
    review = page.locator(".review-seats tbody tr")
    await expect(review).to_have_text(re.compile(r"Main\s*1\s*2\s*Category A.*42\.00"))
    # In the event's time zone, named, as the hold panel says it: one deadline, one way.
    await expect(page.locator(".review-pay-by")).to_have_text(
        re.compile(r"held for you until \d\d:\d\d( [AP]M)? UTC")
    )
    await page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    await expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    session_id = page.url.rsplit("/", 1)[1]

    # What Stripe's back link does: to the cancel page, the session left open.
    await page.goto(f"{stack.base_url}/api/v1/payments/cancel?session_id={session_id}")

    await expect(page).to_have_url(re.compile(rf"/#/events/{made.event_id}\?checkout=cancelled$"))
    await expect(page.get_by_role("status")).to_have_text(
        re.compile(
            r"^You left the payment page without paying\. "
            r"Your seats are still held for you until \d\d:\d\d"
        )
    )
    await page.get_by_role("button", name="Check out").click()
    await page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    await page.get_by_role("button", name="Pay", exact=True).click()
    await expect(page.locator(".payment-state")).to_have_text(
        "Payment received. Your seats are booked."
    )


async def test_the_review_fits_a_phone(open_stack: OpenStack, new_page: NewPage) -> None:
    """At 375 px the review's table fits (the page does not scroll sideways), and says the
    seats, the total and when to pay by, like the desktop's."""
    stack = await open_stack()
    made = await stack.event(seats=30, prices={"A": 12345})
    buyer = await stack.buyer()
    held = await stack.call(
        "POST",
        f"/api/v1/events/{made.event_id}/holds",
        {"seat_ids": list(made.seat_ids[:3])},
        person=buyer,
    )
    page = await new_page(width=PHONE, touch=True)
    await stack.open_as(page, buyer, "#/")
    # The hold as this tab would have made it (the map's own tests cover holding on a phone).
    await page.evaluate(
        "([key, id]) => sessionStorage.setItem(key, id)",
        [f"rushqueue.hold.{made.event_id}", held["hold"]["id"]],
    )

    await page.goto(f"{stack.base_url}/#/events/{made.event_id}/review")

    await expect(page.locator(".review-seats tbody tr")).to_have_count(3)
    await expect(page.locator(".review-total")).to_contain_text("370.35")
    await expect(page.get_by_role("heading", name="3 seats", level=2)).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile(r"^Pay .*370\.35"))).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE


async def test_the_review_without_a_hold_leads_back(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event()
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}/review")

    await expect(page.get_by_text("You hold no seats for this event in this tab.")).to_be_visible()
    await page.get_by_role("link", name="Back to the seat map").click()
    await expect(page.locator(".hold-panel")).to_be_visible()


# -- 8. bookings in the event's time zone, and a printable page ---------------------------------


@BOTH_WIDTHS
async def test_a_booking_says_where_and_when_and_prints_alone(
    open_stack: OpenStack, new_page: NewPage, width: int
) -> None:
    stack = await open_stack()
    made = await stack.event(
        name="Canal Night",
        time_zone="Europe/Amsterdam",
        starts_at=datetime(2030, 5, 1, 17, 30, tzinfo=UTC),
        sale_ends_at=datetime(2030, 5, 1, 16, 0, tzinfo=UTC),
    )
    buyer = await stack.buyer()
    booking_id = await buy(stack, buyer, made.event_id, list(made.seat_ids[:2]))
    page = await new_page(width=width, touch=width == PHONE)

    await stack.open_as(page, buyer, "#/bookings")

    booking = page.locator(f'.booking-card[data-booking-id="{booking_id}"]')
    # 17:30 UTC is 19:30 in Amsterdam in May, and it says so: whatever zone this browser is in.
    await expect(booking.locator(".booking-where")).to_have_text(
        re.compile(r"^Test Venue \d+ · .*2030.*(19:30|7:30\s?PM) (CEST|GMT\+2)$")
    )
    await expect(booking).to_contain_text("Section Main, row 1, seat 1")
    await expect(booking).to_contain_text("100.00")
    await booking.get_by_role("link", name=f"Printable ticket for booking {booking_id}").click()

    await expect(page).to_have_url(re.compile(rf"#/bookings/{booking_id}/print$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Canal Night")
    await page.emulate_media(media="print")
    await expect(page.locator(".ticket")).to_be_visible()
    await expect(page.locator(".ticket")).to_contain_text("Section Main, row 1, seat 2")
    await expect(page.locator(".site-header")).to_be_hidden()
    await expect(page.get_by_role("button", name="Print")).to_be_hidden()


# -- 10. empty states --------------------------------------------------------------------------


async def test_no_bookings_leads_to_the_events(open_stack: OpenStack, new_page: NewPage) -> None:
    stack = await open_stack()
    await stack.event(seats=30, name="First Night")
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), "#/bookings")

    await expect(page.locator(".empty-state")).to_have_text(
        "You have no bookings yet. See the events on sale."
    )
    await page.get_by_role("link", name="See the events on sale").click()

    await expect(page.get_by_role("heading", name="Events", level=1)).to_be_visible()
    await expect(page.get_by_role("link", name="First Night", exact=True)).to_be_visible()


@BOTH_WIDTHS
async def test_a_sold_out_event_says_so_and_offers_another_date(
    open_stack: OpenStack, new_page: NewPage, width: int
) -> None:
    stack = await open_stack()
    now = datetime.now(UTC)
    sold_out = await stack.event(seats=4, name="Tour Date", starts_at=now + timedelta(days=3))
    await book_everything(stack, sold_out.event_id)
    other = await stack.event(
        name="Tour Date", starts_at=now + timedelta(days=9), sale_ends_at=now + timedelta(days=8)
    )
    page = await new_page(width=width, touch=width == PHONE)
    await stack.open_as(page, await stack.buyer(), f"#/events/{sold_out.event_id}")

    await expect(page.locator(".sale-block .sale-state")).to_have_text("Sold out")
    await expect(page.locator(".sale-offer")).to_have_text("Every seat is sold.")
    await expect(page.locator(".hold-panel")).to_have_count(0)
    await expect(page.get_by_text(re.compile("Choose up to"))).to_have_count(0)
    await page.get_by_role("link", name=re.compile(r"^Tour Date, Test Venue \d+, ")).click()

    await expect(page).to_have_url(re.compile(rf"#/events/{other.event_id}$"))
    await expect(page.locator(".hold-panel")).to_be_visible()


# -- 9. the organizer's forms -------------------------------------------------------------------


async def test_the_organizer_forms_clear_link_on_and_speak_the_form_s_words(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    page = await new_page()
    organizer = await stack.admin()
    await log_in(page, stack.base_url, organizer.email, organizer.password)
    await page.get_by_role("link", name="Organizer").click()
    venue = page.locator("form").filter(has=page.get_by_role("button", name="Create venue"))
    await venue.get_by_label("Venue name").fill("Dock Hall")
    await venue.locator('[data-kind="category"]').get_by_label("Code").fill("A")
    await venue.locator('[data-kind="category"]').get_by_label("Name").fill("Stalls")
    section = venue.locator('[data-kind="section"]')
    await section.get_by_label("Section").fill("Floor")
    await section.get_by_label("Rows").fill("2")
    await section.get_by_label("Seats per row").fill("3")
    await section.get_by_label("Category code").fill("X")  # no such category
    await venue.get_by_role("button", name="Create venue").click()

    refused = page.locator(".form-result.form-error")
    await expect(refused).to_have_text(
        "Section 1: category 'X' does not exist: add it under Categories first"
    )
    await expect(page.get_by_role("status")).to_contain_text(
        "Section 1: category 'X' does not exist"
    )
    await section.get_by_label("Category code").fill("A")
    await venue.get_by_role("button", name="Create venue").click()

    await expect(page.locator(".form-result").first).to_have_text(
        'Venue "Dock Hall" created with 6 seats. Put an event on sale in Dock Hall'
    )
    await expect(venue.get_by_label("Venue name")).to_have_value("")
    await expect(section.get_by_label("Section")).to_have_value("")
    await page.get_by_role("button", name="Put an event on sale in Dock Hall").click()
    event = page.locator("form").filter(has=page.get_by_role("button", name="Create event"))
    await expect(event.get_by_label("Event name")).to_be_focused()
    await event.get_by_label("Event name").fill("Harbour Lights")
    await event.get_by_label("Time zone").select_option("Europe/Amsterdam")
    await event.get_by_label("Starts at").fill("2030-05-01T19:30")
    await event.get_by_label("Sale opens").fill("2020-01-01T10:00")
    await event.get_by_label("Sale closes").fill("2030-05-01T18:00")
    await event.get_by_label("Price for Stalls (A)").fill("30")
    await event.get_by_role("button", name="Create event").click()

    created = page.locator(".form-result").nth(1)
    await expect(created).to_contain_text('Event "Harbour Lights" created')
    await expect(event.get_by_label("Event name")).to_have_value("")
    listed = await stack.call("GET", "/api/v1/events")
    [made] = [found for found in listed["events"] if found["name"] == "Harbour Lights"]
    # Wall-clock 19:30 in Amsterdam, whatever this browser's own zone.
    assert (made["starts_at"], made["time_zone"]) == (
        "2030-05-01T17:30:00+00:00",
        "Europe/Amsterdam",
    )
    await created.get_by_role("link", name="Harbour Lights on the buyer's page").click()
    await expect(page.get_by_role("heading", name="Harbour Lights", level=1)).to_be_visible()


async def test_seats_freed_on_a_sold_out_event_can_be_chosen_at_once(
    open_stack: OpenStack, new_page: NewPage
) -> None:
    stack = await open_stack()
    made = await stack.event(seats=2)
    other = await stack.buyer()
    held = await stack.call(
        "POST",
        f"/api/v1/events/{made.event_id}/holds",
        {"seat_ids": list(made.seat_ids)},
        person=other,
    )
    page = await new_page()
    await stack.open_as(page, await stack.buyer(), f"#/events/{made.event_id}")
    await expect(page.locator(".sale-block .sale-state")).to_have_text("Sold out")
    await expect(page.locator(".sale-offer")).to_contain_text("but 2 seats are only held")
    await expect(page.locator(".hold-panel")).to_have_count(0)

    async with stack.http.delete(
        f"{stack.base_url}/api/v1/holds/{held['hold']['id']}",
        headers={"Authorization": f"Bearer {other.session['token']}"},
    ) as released:
        assert released.status == 204

    await expect(page.locator(".sale-block .sale-state")).to_have_text("On sale: 2 seats left")
    await expect(page.locator(".sale-offer")).to_be_hidden()
    await seat_button(page, made.seat_ids[0]).click()
    await expect(page.get_by_role("button", name="Hold 1 seat")).to_be_enabled()
