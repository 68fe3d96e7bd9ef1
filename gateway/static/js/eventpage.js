"use strict";
// `#/events/{id}`: the event, its live seat map and the buyer's hold.

import { eventMap } from "./api.js";
import { el } from "./dom.js";
import { dateTime } from "./format.js";
import { HoldPanel } from "./hold.js";
import { announce, announceError } from "./notice.js";
import { SeatFeed } from "./seatfeed.js";
import { SeatMap } from "./seatmap.js";
import { buildVenue } from "./venue.js";
import { currentSession } from "./session.js";

export async function eventPage(container, { params: [eventId] }) {
  let event, layout, live;
  try {
    ({ event, layout, live } = await eventMap(eventId));
  } catch (error) {
    announceError(error);
    container.append(el("p", {}, el("a", { href: "#/", text: "Back to all events" })));
    return;
  }
  const connection = el("p", { className: "connection", text: "Connecting to live updates…" });
  let panel = null;
  const venue = await buildVenue(layout, live.statuses);
  const map = new SeatMap({
    venue,
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
      const started = performance.now();
      for (const { seat_id: seatId, status } of changes) map.setStatus(seatId, status);
      panel?.statusesChanged();
      // What a batch costs the page, for the browser tests' published figures.
      performance.measure("seat-changes", { start: started, detail: changes.length });
    },
    seatOrder: venue.ordered.map((seat) => seat.id),
    onConnection: (state) => {
      connection.dataset.state = state;
      connection.textContent = state === "live" ? "Live: seats update as others buy." : "Reconnecting to live updates…";
    },
  }).start();
  await panel?.restore();
  return () => {
    feed.stop();
    map.dispose();
    panel?.dispose();
  };
}
