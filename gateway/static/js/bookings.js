"use strict";
// `#/bookings`: what the buyer has bought, and `#/bookings/{id}/print` one booking on a page of
// its own to print. `#/payment/success` and `#/payment/cancel`: where the buyer lands back from
// the checkout, waiting for the payment provider's confirmation (which reaches the server as a
// webhook, maybe a moment after the buyer does); a cancel goes on to the event it was for.

import { api } from "./api.js";
import { el } from "./dom.js";
import { eventDateTime, money, plural } from "./format.js";
import { announce, announceError } from "./notice.js";
import { checkoutEvent } from "./review.js";
import { currentSession } from "./session.js";

const POLL_MS = 1000;
const POLL_LIMIT = 60;
const SETTLED = new Set(["paid", "expired", "failed", "refund_pending", "refunded"]);
const OUTCOME_WORDS = {
  paid: "Payment received. Your seats are booked.",
  expired: "The checkout ended without payment, so the seats were released.",
  failed: "The payment failed, so the seats were released.",
  refund_pending: "We couldn't keep your seats, so your payment is being refunded.",
  refunded: "We couldn't keep your seats, so your payment has been refunded.",
};

export async function bookingsPage(container) {
  container.append(el("h1", { text: "My bookings" }));
  if (!currentSession()) {
    container.append(el("p", {}, el("a", { href: "#/login?next=%23%2Fbookings", text: "Log in" }), " to see your bookings."));
    return;
  }
  const list = el("div", { className: "bookings" });
  container.append(list);
  await showBookings(list, { heading: "h2" });
}

export async function paymentPage(container, { params: [landing], query }) {
  const sessionId = query.get("session_id") ?? "";
  // Left the payment page without paying: back to the event, which says whether the seats are
  // still held (Stripe's page keeps the checkout open while the hold lasts) or were released.
  const eventId = landing === "cancel" ? checkoutEvent(sessionId) : null;
  if (eventId !== null) {
    location.replace(`#/events/${eventId}?checkout=cancelled`);
    return;
  }
  const status = el("p", { className: "payment-state", text: "Checking your payment…" });
  container.append(el("h1", { text: landing === "success" ? "Thank you" : "Checkout cancelled" }), status);
  let stopped = false;
  const poll = async () => {
    for (let attempt = 0; attempt < POLL_LIMIT && !stopped; attempt += 1) {
      let payment;
      try {
        ({ payment } = await api("GET", `/api/v1/payments/${landing}?session_id=${encodeURIComponent(sessionId)}`));
      } catch (error) {
        announceError(error);
        return;
      }
      if (SETTLED.has(payment.status)) {
        status.textContent = OUTCOME_WORDS[payment.status];
        status.dataset.status = payment.status;
        announce(OUTCOME_WORDS[payment.status]);
        if (payment.booking_id !== null && currentSession()) {
          const list = el("div", { className: "bookings" });
          container.append(el("h2", { text: "Your bookings" }), list);
          await showBookings(list, { newBookingId: payment.booking_id, heading: "h3" });
        } else if (payment.booking_id !== null) {
          // This tab has no login (the checkout came back to another address, say).
          container.append(el("p", {}, el("a", { href: "#/login?next=%23%2Fbookings", text: "Log in" }), " to see your booking."));
        }
        return;
      }
      if (landing === "cancel") {
        // Left the provider's page without paying: the checkout stays open while the hold lasts.
        status.textContent = "You left the payment page without paying. Your seats stay held until your hold runs out: open the event again to check out.";
        container.append(el("p", {}, el("a", { href: "#/", text: "Back to the events" }), " · ", el("a", { href: "#/bookings", text: "My bookings" })));
        return;
      }
      status.textContent = "Waiting for the payment provider to confirm your payment…";
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    if (!stopped) status.textContent = "Your payment isn't confirmed yet. Check My bookings again in a minute.";
  };
  poll();
  return () => {
    stopped = true;
  };
}

/** List the buyer's bookings into `list`, the one just bought (if any) marked as new; each
 *  titled with a `heading` one level below the list's own, so the outline skips none. */
async function showBookings(list, { newBookingId = null, heading = "h2" } = {}) {
  let bookings;
  try {
    ({ bookings } = await api("GET", "/api/v1/bookings"));
  } catch (error) {
    announceError(error);
    return;
  }
  if (!bookings.length) {
    list.append(el("p", { className: "empty-state" }, "You have no bookings yet. ", el("a", { href: "#/", text: "See the events on sale" }), "."));
    return;
  }
  list.append(el("ul", { className: "booking-list" }, bookings.map((booking) => bookingCard(booking, booking.id === newBookingId, heading))));
}

function bookingCard(booking, isNew, heading) {
  return el("li", { className: isNew ? "booking-card booking-new" : "booking-card", dataset: { bookingId: String(booking.id) } },
    el(heading, { text: `${booking.event.name}${isNew ? " (new)" : ""}` }),
    ...bookingFacts(booking),
    el("p", { className: "booking-print" }, el("a", { href: `#/bookings/${booking.id}/print`, text: `Printable ticket for booking ${booking.id}` })));
}

/** What a booking is: where, when (in the event's time zone), which seats, how much. */
function bookingFacts(booking) {
  const { event } = booking;
  return [
    el("p", { className: "booking-where", text: `${event.venue} · ${eventDateTime(event.starts_at, event.time_zone)}` }),
    el("p", { text: `Booking ${booking.id} · ${money(booking.amount_minor, booking.currency)} paid` }),
    el("p", { text: plural(booking.seats.length, "seat", "seats") + ":" }),
    el("ul", { className: "booked-seats" }, booking.seats.map((seat) =>
      el("li", { text: `Section ${seat.section}, row ${seat.row}, seat ${seat.number} (${money(seat.price, booking.currency)})` }))),
  ];
}

/** `#/bookings/{id}/print`: one booking alone, laid out for paper by the print stylesheet. */
export async function bookingPrintPage(container, { params: [bookingId] }) {
  if (!currentSession()) {
    container.append(el("h1", { text: "Your ticket" }),
      el("p", {}, el("a", { href: `#/login?next=${encodeURIComponent(`#/bookings/${bookingId}/print`)}`, text: "Log in" }), " to see your ticket."));
    return;
  }
  let bookings;
  try {
    ({ bookings } = await api("GET", "/api/v1/bookings"));
  } catch (error) {
    container.append(el("h1", { text: "Your ticket" }));
    announceError(error);
    return;
  }
  const booking = bookings.find((found) => String(found.id) === bookingId);
  if (!booking) {
    container.append(el("h1", { text: "Your ticket" }),
      el("p", {}, "You have no booking with that number. ", el("a", { href: "#/bookings", text: "See your bookings" }), "."));
    return;
  }
  container.append(el("article", { className: "ticket" },
    el("h1", { text: booking.event.name }),
    ...bookingFacts(booking),
    el("p", { className: "ticket-holder", text: `Booked by ${currentSession().user.name}` })),
  el("div", { className: "actions no-print" },
    el("button", { type: "button", className: "primary", text: "Print", on: { click: () => window.print() } }),
    el("a", { href: "#/bookings", text: "Back to my bookings" })));
}
