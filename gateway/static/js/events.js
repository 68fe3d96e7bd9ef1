"use strict";
// `#/`: the events on sale, with the seats each has left.

import { api } from "./api.js";
import { el } from "./dom.js";
import { dateTime, plural } from "./format.js";
import { announceError } from "./notice.js";

export async function eventsPage(container) {
  container.append(el("h1", { text: "Events" }));
  let events;
  try {
    ({ events } = await api("GET", "/api/v1/events"));
  } catch (error) {
    announceError(error);
    return;
  }
  if (!events.length) {
    container.append(el("p", { text: "No events are on sale right now." }));
    return;
  }
  container.append(el("ul", { className: "event-list" }, events.map((event) =>
    el("li", { className: "event-card" },
      el("h2", {}, el("a", { href: `#/events/${event.id}`, text: event.name })),
      el("p", { text: `${event.venue} · ${dateTime(event.starts_at)}` }),
      el("p", { className: "seats-left", text: event.seats_available ? `${plural(event.seats_available, "seat", "seats")} left` : "Sold out" })))));
}
