"use strict";
// Every API error code in plain words. The API's own message is for developers; this is what a
// person reads. One place, so the same failure always reads the same way.

import { dateTime, plural } from "./format.js";

const BUSY = "We're very busy right now. Please try again in a moment.";

const WORDS = {
  seats_unavailable: ({ details, message }) =>
    details.reason
      ? `${message}. Please try fewer seats, or another category or section.` // e.g. "No 4 seats together left in Balcony"
      : "Sorry, some of those seats were just taken by someone else. Please pick other seats.",
  orphan_seat: ({ details }) =>
    `That choice would leave seat ${details.number} in row ${details.row} of section ${details.section} on its own, ` +
    "and a single seat can't be sold. Move your choice over by one seat, or add that seat (it's highlighted on the map).",
  limit_exceeded: ({ details }) =>
    details.limit === undefined
      ? "You've reached the limit of seats one buyer may have for this event."
      : `You can have at most ${plural(details.limit, "seat", "seats")} for this event` +
        (details.held_or_booked ? ` and you already have ${details.held_or_booked}.` : "."),
  sale_not_open: () => "Tickets for this event aren't on sale right now.",
  hold_not_active: () => "Your hold has expired, so the seats were released. Please select them again.",
  conflict: () => "This checkout has ended. Please hold the seats again.",
  rate_limited: ({ retryAfter }) =>
    `Too many tries in a short time. Please wait ${plural(retryAfter ?? 10, "second", "seconds")} and try again.`,
  unavailable: () => BUSY,
  engine_unavailable: () => BUSY,
  payment_provider_unavailable: () => "We can't reach the payment provider right now. Please try again in a moment.",
  network: () => "We can't reach RushQueue. Check your connection and try again.",
  invalid_credentials: () => "That email and password don't match an account.",
  email_taken: () => "There's already an account with that email. Please log in instead.",
  unauthorized: () => "Please log in to continue.",
  forbidden: () => "This page is for organizers only.",
  not_admitted: () =>
    "It isn't your turn to choose seats for this event: your shopping time ran out, or your turn hasn't come yet. Your place in the queue is below.",
  no_waiting_room: () => "This event has no queue right now: you can choose seats straight away.",
  queue_not_open: ({ details }) =>
    details.queue_opens_at_ms === undefined
      ? "The queue for this event isn't open yet. Please come back a little before the sale."
      : `The queue for this event opens ${dateTime(new Date(details.queue_opens_at_ms).toISOString())}. Please come back then.`,
  not_found: () => "We couldn't find that. It may have been removed.",
  invalid_input: ({ message }) => `Please check what you entered: ${message}`,
  malformed_json: () => "Something went wrong on our side. Please try again.",
  payload_too_large: () => "That is too much to send at once.",
};

/** What to tell the person about `error` (an ApiError, or anything thrown). */
export function plainWords(error) {
  const words = WORDS[error?.code];
  return words ? words(error) : "Something went wrong on our side. Please try again.";
}
