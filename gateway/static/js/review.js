"use strict";
// `#/events/{id}/review`: the order review between the hold and the payment page. The buyer
// sees each held seat with its price, the total and the time left, then goes on to pay; the
// checkout's cancel page brings them back to the event (bookings.js) with the hold, if it still
// runs, as it was.

import { api } from "./api.js";
import { el } from "./dom.js";
import { clockIn, eventDateTime, minutesSeconds, money, plural } from "./format.js";
import { holdHere } from "./hold.js";
import { announce, announceError } from "./notice.js";
import { currentSession } from "./session.js";

const TICK_MS = 250;

function checkoutKey(sessionId) {
  return `rushqueue.checkout.${sessionId}`;
}

/** The event a checkout session of this tab was for (null if none): where its cancel leads. */
export function checkoutEvent(sessionId) {
  return sessionStorage.getItem(checkoutKey(sessionId));
}

export async function reviewPage(container, { params: [eventId] }) {
  container.append(el("h1", { text: "Review your order" }));
  const back = el("p", {}, el("a", { href: `#/events/${eventId}`, text: "Back to the seat map" }));
  const holdId = holdHere(eventId);
  if (!currentSession() || holdId === null) {
    container.append(el("p", { text: "You hold no seats for this event in this tab." }), back);
    return;
  }
  let hold, event, layout;
  try {
    [{ hold }, { event }, layout] = await Promise.all([
      api("GET", `/api/v1/holds/${encodeURIComponent(holdId)}`),
      api("GET", `/api/v1/events/${eventId}`),
      api("GET", `/api/v1/events/${eventId}/layout`, { anonymous: true }),
    ]);
  } catch (error) {
    announceError(error);
    container.append(back);
    return;
  }
  if (hold.status !== "held" && hold.status !== "checkout") {
    container.append(el("p", { text: "Your hold has ended, so its seats were released. Choose seats to hold them again." }), back);
    return;
  }
  const seats = heldSeats(layout, hold.seat_ids);
  const total = seats.reduce((sum, seat) => sum + seat.price, 0);
  const deadline = performance.now() + Date.parse(hold.expires_at) - Date.now();
  const payBy = clockIn(Date.parse(hold.expires_at), event.time_zone);
  const timeLeft = el("p", { className: "review-time", attrs: { role: "timer", "aria-live": "off" } });
  const pay = el("button", { type: "button", className: "primary", text: `Pay ${money(total, event.currency)}` });
  container.append(
    el("p", { className: "event-meta", text: `${event.name} · ${event.venue} · ${eventDateTime(event.starts_at, event.time_zone)}` }),
    el("h2", { text: plural(seats.length, "seat", "seats") }),
    // Scrolls sideways on its own, rather than the page, should a phone be narrower still.
    el("div", { className: "table-scroll" }, seatTable(seats, total, event.currency)),
    el("p", { className: "review-pay-by", text: `Your seats are held for you until ${payBy}. Pay before then, or they're released for others.` }),
    timeLeft,
    el("div", { className: "actions" }, pay),
    back);
  const tick = () => {
    const left = (deadline - performance.now()) / 1000;
    if (left > 0) {
      timeLeft.textContent = `Time left: ${minutesSeconds(left)}`;
      return;
    }
    clearInterval(timer);
    pay.disabled = true;
    timeLeft.textContent = "Time's up: your hold has expired and the seats were released.";
    announce("Your hold expired, so the seats were released. Choose seats to hold them again.");
  };
  const timer = setInterval(tick, TICK_MS);
  tick();
  pay.addEventListener("click", async () => {
    pay.disabled = true;
    try {
      const checkout = await api("POST", `/api/v1/holds/${encodeURIComponent(hold.id)}/checkout`);
      sessionStorage.setItem(checkoutKey(checkout.session_id), String(event.id));
      announce("Taking you to the payment page…");
      location.assign(checkout.checkout_url);
    } catch (error) {
      announceError(error);
      pay.disabled = false;
    }
  });
  return () => clearInterval(timer);
}

/** The hold's seats, found in the event's layout, with their category and price. */
function heldSeats(layout, seatIds) {
  const wanted = new Set(seatIds);
  const found = [];
  for (const section of layout.sections) {
    for (const row of section.rows) {
      const category = layout.categories[row.category];
      row.ids.forEach((id, index) => {
        if (wanted.has(id)) {
          found.push({ section: section.name, row: row.label, number: row.numbers[index], category: category.name, price: category.price });
        }
      });
    }
  }
  return found;
}

function seatTable(seats, total, currency) {
  const cells = (tag, values) => el("tr", {}, values.map((value) => el(tag, { text: value, attrs: tag === "th" ? { scope: "col" } : {} })));
  return el("table", { className: "review-seats" },
    el("thead", {}, cells("th", ["Section", "Row", "Seat", "Category", "Price"])),
    el("tbody", {}, seats.map((seat) =>
      cells("td", [seat.section, seat.row, String(seat.number), seat.category, money(seat.price, currency)]))),
    el("tfoot", {}, el("tr", {},
      el("th", { text: "Total", attrs: { scope: "row", colspan: "4" } }),
      el("td", { className: "review-total", text: money(total, currency) }))));
}
