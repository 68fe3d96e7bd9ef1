"use strict";
// `#/organizer/events/{id}`: an event's sales as they happen, worked out in the browser from the
// same live seat feed buyers see: seats available, held and sold per category, and how many
// seats are being held per second; the event's settings; and its waiting room, set and watched.

import { eventWithSeats } from "./api.js";
import { el } from "./dom.js";
import { EventSettingsPanel } from "./eventsettings.js";
import { announceError } from "./notice.js";
import { SeatFeed } from "./seatfeed.js";
import { WaitingRoomPanel } from "./waitingroom.js";

const STATUSES = ["available", "held", "booked"];
const RATE_WINDOW_MS = 5000;
const RATE_REFRESH_MS = 1000;

/** Seat counts per category and status, kept up to date change by change. */
export class SalesTally {
  constructor(seats) {
    this.categoryOf = new Map(seats.map((seat) => [seat.id, seat.category]));
    this.statusOf = new Map(seats.map((seat) => [seat.id, seat.status]));
    this.counts = new Map();
    this.recount();
  }

  recount() {
    this.counts = new Map();
    for (const [seatId, status] of this.statusOf) this.bump(this.categoryOf.get(seatId), status, 1);
  }

  /** Every status at once, from a snapshot; returns how many seats it newly holds. */
  replace(statuses) {
    let newlyHeld = 0;
    for (const [seatId, status] of statuses) {
      if (!this.categoryOf.has(seatId)) continue;
      if (status === "held" && this.statusOf.get(seatId) !== "held") newlyHeld += 1;
      this.statusOf.set(seatId, status);
    }
    this.recount();
    return newlyHeld;
  }

  /** Apply one change; true when it newly holds a seat. */
  change(seatId, status) {
    const category = this.categoryOf.get(seatId);
    const before = this.statusOf.get(seatId);
    if (category === undefined || before === status) return false;
    this.bump(category, before, -1);
    this.bump(category, status, 1);
    this.statusOf.set(seatId, status);
    return status === "held";
  }

  bump(category, status, by) {
    if (!this.counts.has(category)) this.counts.set(category, Object.fromEntries(STATUSES.map((s) => [s, 0])));
    const row = this.counts.get(category);
    row[status] = (row[status] ?? 0) + by;
  }
}

export async function salesPage(container, { params: [eventId] }) {
  let event, seatMap;
  try {
    ({ event, seatMap } = await eventWithSeats(eventId));
  } catch (error) {
    announceError(error);
    return;
  }
  const tally = new SalesTally(seatMap.seats);
  const names = new Map(event.prices.map((price) => [price.category, price.name]));
  const body = el("tbody");
  const rate = el("p", { className: "hold-rate", attrs: { "aria-live": "off" } });
  const connection = el("p", { className: "connection", text: "Connecting to live updates…" });
  const heldAt = []; // receipt times of seats newly held, within the rate window
  container.append(
    el("h1", { text: `Sales: ${event.name}` }),
    connection,
    el("table", { className: "sales" },
      el("caption", { text: "Seats per category" }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Category" }), STATUSES.map((status) =>
        el("th", { scope: "col", text: { available: "Available", held: "Held", booked: "Sold" }[status] })))),
      body),
    rate,
    el("p", {}, el("a", { href: `#/events/${event.id}`, text: "Open the buyers' seat map" })));
  container.append(new EventSettingsPanel(event).element);
  const room = new WaitingRoomPanel(event);
  container.append(room.element);
  const stopRoom = room.start();

  const renderCounts = () => {
    body.replaceChildren(...[...tally.counts].map(([category, counts]) =>
      el("tr", { dataset: { category } }, el("th", { scope: "row", text: names.get(category) ?? category }),
        STATUSES.map((status) => el("td", { dataset: { status }, text: String(counts[status]) })))));
  };
  const renderRate = () => {
    const now = performance.now();
    while (heldAt.length && heldAt[0] < now - RATE_WINDOW_MS) heldAt.shift();
    const perSecond = heldAt.length / (RATE_WINDOW_MS / 1000);
    rate.textContent = `Seats held per second (last ${RATE_WINDOW_MS / 1000} s): ${perSecond.toFixed(1)}`;
  };
  renderCounts();
  renderRate();

  const feed = new SeatFeed(event.id, {
    onSnapshot: (statuses) => {
      // Holds a snapshot reveals (after a reconnect, say) happened since the last news too.
      const now = performance.now();
      for (let count = tally.replace(statuses); count > 0; count -= 1) heldAt.push(now);
      renderCounts();
      renderRate();
    },
    onChanges: (changes) => {
      const now = performance.now();
      for (const { seat_id: seatId, status } of changes) if (tally.change(seatId, status)) heldAt.push(now);
      renderCounts();
      renderRate();
    },
    onConnection: (state) => {
      connection.dataset.state = state;
      connection.textContent = state === "live" ? "Live" : "Reconnecting…";
    },
  }).start();
  const timer = setInterval(renderRate, RATE_REFRESH_MS);
  return () => {
    feed.stop();
    clearInterval(timer);
    stopRoom();
  };
}
