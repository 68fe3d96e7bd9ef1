"use strict";
// `#/`: the events, each with where its sale stands and what a buyer can do about it.

import { api } from "./api.js";
import { el } from "./dom.js";
import { eventDateTime } from "./format.js";
import { announceError } from "./notice.js";
import { otherDates, saleState } from "./salestate.js";

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
  const now = Date.now();
  container.append(el("ul", { className: "event-list" }, events.map((event) => {
    const state = saleState(event, now);
    return el("li", { className: "event-card", dataset: { eventId: String(event.id), sale: state.kind } },
      el("h2", {}, el("a", { href: `#/events/${event.id}`, text: event.name })),
      el("p", { text: `${event.venue} · ${eventDateTime(event.starts_at, event.time_zone)}` }),
      el("p", { className: "sale-state", dataset: { sale: state.kind }, text: state.label }),
      callToAction(event, state, events, now));
  })));
}

/** The one next step that fits the sale's state, or none when there is nothing to do. */
function callToAction(event, state, events, now) {
  const link = (href, text) => el("p", { className: "call-to-action" }, el("a", { href, text }));
  if (state.kind === "on_sale" || state.kind === "few_left") return link(`#/events/${event.id}`, `Choose seats for ${event.name}`);
  if (state.kind === "upcoming") {
    return link(`#/events/${event.id}`, event.waiting_room?.enabled ? `Join the waiting room for ${event.name}` : `See the seats of ${event.name}`);
  }
  const [other] = otherDates(event, events, now);
  return other ? link(`#/events/${other.id}`, `Another date: ${eventDateTime(other.starts_at, other.time_zone)}`) : null;
}
