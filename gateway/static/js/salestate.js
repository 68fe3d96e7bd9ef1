"use strict";
// Where an event's sale stands, from what the API says of it (its sale window and the seats it
// has left), and what a buyer can do about it: the one place the events list and the event
// page take their "On sale from …", "Few left", "Sold out" and "Sale ended" from.

import { eventDateTime, plural } from "./format.js";

// "Few left" from this share of the event's seats down: what a buyer reads as "hurry" depends
// on the size of the house, so it is a share; in a small hall, up to this many seats, as long
// as more than half the house is gone.
const FEW_LEFT_SHARE = 0.1;
const FEW_LEFT_SEATS = 10;

/**
 * `{ kind, label }` for `event` at `nowMs`; kind is one of "upcoming", "on_sale", "few_left",
 * "sold_out", "ended". `seatsAvailable` overrides the event's own count (the live state's is
 * newer than the catalog's, which is written behind).
 */
export function saleState(event, nowMs = Date.now(), seatsAvailable = event.seats_available) {
  if (nowMs < Date.parse(event.sale_starts_at)) {
    return { kind: "upcoming", label: `On sale from ${eventDateTime(event.sale_starts_at, event.time_zone)}` };
  }
  if (nowMs >= Date.parse(event.sale_ends_at)) return { kind: "ended", label: "Sale ended" };
  if (seatsAvailable <= 0) return { kind: "sold_out", label: "Sold out" };
  const left = `${plural(seatsAvailable, "seat", "seats")} left`;
  const few = Math.max(Math.ceil(event.seats_total * FEW_LEFT_SHARE), Math.min(FEW_LEFT_SEATS, Math.floor(event.seats_total / 2)));
  if (seatsAvailable <= few) return { kind: "few_left", label: `On sale: few left, ${left}` };
  return { kind: "on_sale", label: `On sale: ${left}` };
}

/** Whether a buyer can choose seats in this state. */
export function canChoose(state) {
  return state.kind === "on_sale" || state.kind === "few_left";
}

/** Other dates of the same show: events of the same name, elsewhere in time, still to be
 *  bought. The catalog has no "show" of its own; a tour's dates share the name. */
export function otherDates(event, events, nowMs = Date.now()) {
  return events.filter((other) => other.id !== event.id && other.name === event.name
    && !["ended", "sold_out"].includes(saleState(other, nowMs).kind));
}
