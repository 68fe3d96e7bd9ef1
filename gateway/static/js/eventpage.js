"use strict";
// `#/events/{id}`: the event, its live seat map and the buyer's hold.

import { eventWithSeats } from "./api.js";
import { el } from "./dom.js";
import { dateTime } from "./format.js";
import { HoldPanel } from "./hold.js";
import { announce, announceError } from "./notice.js";
import { SeatFeed } from "./seatfeed.js";
import { SeatMap } from "./seatmap.js";
import { currentSession } from "./session.js";

export async function eventPage(container, { params: [eventId] }) {
  let event, seatMap;
  try {
    ({ event, seatMap } = await eventWithSeats(eventId));
  } catch (error) {
    announceError(error);
    container.append(el("p", {}, el("a", { href: "#/", text: "Back to all events" })));
    return;
  }
  const connection = el("p", { className: "connection", text: "Connecting to live updates…" });
  let panel = null;
  const map = new SeatMap({
    seats: seatMap.seats,
    prices: event.prices,
    currency: event.currency,
    onToggle: (seat) => (panel ? panel.toggle(seat) : announce("Log in or sign up to hold seats.")),
  });
  container.append(
    el("h1", { text: event.name }),
    el("p", { className: "event-meta", text: `${event.venue} · ${dateTime(event.starts_at)}` }),
    connection,
  );
  if (currentSession()) {
    panel = new HoldPanel({ event, map });
    container.append(panel.element);
  } else {
    const next = encodeURIComponent(`#/events/${event.id}`);
    container.append(el("p", { className: "hold-summary" }, el("a", { href: `#/login?next=${next}`, text: "Log in" }),
      " or ", el("a", { href: `#/signup?next=${next}`, text: "sign up" }), " to hold seats."));
  }
  container.append(map.element);

  const feed = new SeatFeed(event.id, {
    onSnapshot: (statuses) => {
      map.setStatuses(statuses);
      panel?.statusesChanged();
    },
    onChanges: (changes) => {
      for (const { seat_id: seatId, status } of changes) map.setStatus(seatId, status);
      panel?.statusesChanged();
    },
    onConnection: (state) => {
      connection.dataset.state = state;
      connection.textContent = state === "live" ? "Live: seats update as others buy." : "Reconnecting to live updates…";
    },
  }).start();
  await panel?.restore();
  return () => {
    feed.stop();
    panel?.dispose();
  };
}
