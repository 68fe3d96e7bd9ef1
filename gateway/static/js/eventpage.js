"use strict";
// `#/events/{id}`: the event, its live seat map and the buyer's hold; for an event whose
// waiting room is on, the queue screen first, until the buyer's turn comes.

import { api, eventMap } from "./api.js";
import { el } from "./dom.js";
import { SaleCountdown } from "./countdown.js";
import { clock, eventDateTime, plural } from "./format.js";
import { HoldPanel, hasHoldHere } from "./hold.js";
import { announce, announceError } from "./notice.js";
import { QueueScreen, queueStatus } from "./queue.js";
import { SeatFeed } from "./seatfeed.js";
import { SeatMap } from "./seatmap.js";
import { buildVenue } from "./venue.js";
import { canChoose, otherDates, saleState } from "./salestate.js";
import { currentSession } from "./session.js";

// Asked again a moment after the session's end: a hold or checkout in hand extends it.
const SESSION_RECHECK_GRACE_MS = 1000;

/** One part of the page at a time (the queue screen or the map), each stopped before the next
 *  shows; a part that finishes starting after it was replaced is stopped at once. */
class Stage {
  constructor(element) {
    this.element = element;
    this.stopShown = null;
    this.generation = 0;
  }

  async show(start) {
    this.dispose();
    const mine = this.generation;
    const slot = el("div");
    this.element.replaceChildren(slot);
    const stop = await start(slot);
    if (mine === this.generation) this.stopShown = stop;
    else stop();
  }

  dispose() {
    this.generation += 1;
    this.stopShown?.();
    this.stopShown = null;
  }
}

export async function eventPage(container, { params: [eventId], query }) {
  let event, layout, live;
  try {
    ({ event, layout, live } = await eventMap(eventId));
  } catch (error) {
    announceError(error);
    container.append(el("p", {}, el("a", { href: "#/", text: "Back to all events" })));
    return;
  }
  const stage = new Stage(el("div", { className: "event-stage" }));
  let state = saleState(event, Date.now(), seatsAvailable(live.statuses));
  // Every waiting page gets here in the same second of the sale's start, so nothing is fetched
  // again but the seats' statuses (the event is in hand, the layout cached), and with a
  // waiting room not even those: the queue screen lets the buyer in.
  const saleStarted = () => {
    if (event.waiting_room?.enabled) {
      state = saleState(event, Date.now(), seatsAvailable(live.statuses));
      sale.show(state, seatsHeld(live.statuses));
      return;
    }
    announce("The sale has started: choose your seats.");
    showMap(null, { waited: true });
  };
  const sale = new SaleBlock(event, state, seatsHeld(live.statuses), saleStarted);
  container.append(
    el("h1", { text: event.name }),
    el("p", { className: "event-meta", text: `${event.venue} · ${eventDateTime(event.starts_at, event.time_zone)}` }),
    sale.element,
    stage.element,
  );
  if (state.kind === "sold_out" || state.kind === "ended") showOtherDates(event, sale.element);
  // Back from the payment page without paying: said once, by the first map shown.
  let checkoutCancelled = query.get("checkout") === "cancelled";

  const showMap = (admission, { waited }) => stage.show(async (slot) => {
    const statuses = waited ? await currentStatuses(event.id, live.statuses) : live.statuses;
    // Now, not at load: the sale may have opened, or the last seats gone, since.
    state = saleState(event, Date.now(), seatsAvailable(statuses));
    sale.show(state, seatsHeld(statuses));
    const cancelled = checkoutCancelled;
    checkoutCancelled = false;
    return mapView(slot, {
      event, layout, statuses, admission, choosing: canChoose(state), soldOut: state.kind === "sold_out",
      checkoutCancelled: cancelled, onSessionEnded: (status) => showQueue(status),
      onSeatsFreed: () => showMap(admission, { waited: true }),
    });
  });
  const showQueue = (status) => stage.show((slot) => {
    const screen = new QueueScreen({
      event,
      status,
      signedIn: Boolean(currentSession()),
      onAdmitted: (admission) => {
        if (admission) announce(`It's your turn! Choose your seats: your shopping time ends at ${clock(admission.session_expires_at_ms)}.`);
        showMap(admission, { waited: true });
      },
    });
    slot.append(screen.element);
    return screen.start();
  });
  sale.start();

  if (!event.waiting_room?.enabled) {
    await showMap(null, { waited: false });
  } else if (!currentSession()) {
    await showQueue(null);
  } else {
    let status = null;
    try {
      status = await queueStatus(event.id);
    } catch (error) {
      announceError(error); // the queue screen's Join answers the same place if there is one
    }
    if (status === "no_room") await showMap(null, { waited: false });
    else if (status?.state === "admitted") await showMap(status, { waited: false });
    else await showQueue(status);
  }
  return () => {
    sale.stop();
    stage.dispose();
  };
}

/** Seats free in the live state (a letter per seat: "a" available, "h" held, "b" booked). */
function seatsAvailable(statuses) {
  return countLetter(statuses, "a");
}

/** Seats held: they come back if their buyers don't pay. */
function seatsHeld(statuses) {
  return countLetter(statuses, "h");
}

function countLetter(statuses, wanted) {
  let count = 0;
  for (const letter of statuses) if (letter === wanted) count += 1;
  return count;
}

/** The sale's state under the event's name: a countdown before it opens (`onStarted` runs at
 *  zero) and, when no seat can be had, why and what is left to do. `show(state)` redraws it. */
class SaleBlock {
  constructor(event, state, held, onStarted) {
    this.event = event;
    this.label = el("p", { className: "sale-state" });
    this.offer = el("p", { className: "sale-offer" });
    this.element = el("div", { className: "sale-block" }, this.label);
    this.countdown = null;
    this.stopCountdown = () => {};
    if (state.kind === "upcoming") {
      this.countdown = new SaleCountdown(Date.parse(event.sale_starts_at), { onStarted });
      this.element.append(this.countdown.element);
    }
    this.element.append(this.offer);
    this.show(state, held);
  }

  /** Start the countdown, if any: only once the page holds this block, since it may end at once. */
  start() {
    if (this.countdown) this.stopCountdown = this.countdown.start();
  }

  stop() {
    this.stopCountdown();
  }

  /** `held`: seats held by buyers now, which may yet come back. */
  show(state, held) {
    this.element.dataset.sale = state.kind;
    this.label.dataset.sale = state.kind;
    this.label.textContent = state.label;
    this.offer.hidden = state.kind !== "sold_out" && state.kind !== "ended";
    if (state.kind === "sold_out" && held === 0) {
      this.offer.textContent = "Every seat is sold.";
    } else if (state.kind === "sold_out") {
      this.offer.textContent = this.event.waiting_room?.enabled
        ? `Every seat is taken for now, but ${plural(held, "seat is", "seats are")} only held: seats whose buyers don't pay come back. Stay in the waiting room and you'll be let in to choose when it's your turn.`
        : `Every seat is taken for now, but ${plural(held, "seat is", "seats are")} only held: seats whose buyers don't pay come back within minutes. Keep this page open and they appear on the map.`;
    } else if (state.kind === "ended") {
      this.offer.replaceChildren("Tickets for this event are no longer sold here. ",
        el("a", { href: "#/bookings", text: "See your bookings" }), " or ", el("a", { href: "#/", text: "browse other events" }), ".");
    }
  }
}

/** Other dates of the same show, for a buyer who cannot have seats on this one. */
async function showOtherDates(event, element) {
  let events;
  try {
    ({ events } = await api("GET", "/api/v1/events"));
  } catch {
    return; // an extra: the page says what matters without it
  }
  const others = otherDates(event, events);
  if (!others.length) return;
  element.append(el("p", { className: "other-dates-lead", text: "Other dates with seats:" }),
    el("ul", { className: "other-dates" }, others.map((other) => el("li", {},
      el("a", { href: `#/events/${other.id}`, text: `${other.name}, ${other.venue}, ${eventDateTime(other.starts_at, other.time_zone)}` })))));
}

/** The seats' statuses now, for a buyer who waited in the queue since the page loaded; the
 *  page's own (older) statuses if they cannot be had: the live feed's first snapshot corrects
 *  them either way, this only spares the buyer a moment of a stale map. */
async function currentStatuses(eventId, loaded) {
  try {
    return (await api("GET", `/api/v1/events/${eventId}/seats/live`, { anonymous: true })).statuses;
  } catch {
    return loaded;
  }
}

/** The ids of the event's seats this buyer has bought, or none if that cannot be had just now:
 *  the map then shows them as sold, and the engine still counts them against the limit. */
async function bookedSeats(eventId) {
  try {
    return (await api("GET", `/api/v1/events/${eventId}/my-seats`)).booked_seat_ids;
  } catch {
    return [];
  }
}

/** The live map and the buyer's hold; `admission` is the buyer's queue status when a waiting
 *  room let them in (their shopping time is shown, and its end sends them back to the queue). */
async function mapView(slot, { event, layout, statuses, admission, choosing, soldOut, checkoutCancelled, onSessionEnded, onSeatsFreed }) {
  const connection = el("p", { className: "connection", text: "Connecting to live updates…" });
  let panel = null;
  let sessionTimer = null;
  const sessionLine = el("p", { className: "session-line", hidden: true });
  const [venue, booked] = await Promise.all([buildVenue(layout, statuses), currentSession() ? bookedSeats(event.id) : []]);
  const map = new SeatMap({
    venue,
    onToggle: (seat) => {
      if (panel) panel.toggle(seat);
      else announce(choosing ? "Log in or sign up to hold seats." : "Seats can't be chosen for this event right now.");
    },
  });
  const backToQueue = async (error) => {
    announceError(error);
    let status = null;
    try {
      status = await queueStatus(event.id);
    } catch {
      // The queue screen says what it can without it and offers to join.
    }
    onSessionEnded(status === "no_room" ? null : status);
  };
  // The session may have been extended by a hold or checkout: ask when it should have ended.
  const watchSession = (status) => {
    sessionLine.hidden = false;
    sessionLine.textContent = `Your shopping time ends at ${clock(status.session_expires_at_ms)}.`;
    clearTimeout(sessionTimer);
    sessionTimer = setTimeout(async () => {
      let now = null;
      try {
        now = await queueStatus(event.id);
      } catch {
        watchSession(status); // could not ask: the hold's answer will tell
        return;
      }
      if (now === "no_room") sessionLine.hidden = true;
      else if (now?.state === "admitted") watchSession(now);
      else onSessionEnded(now);
    }, Math.max(status.session_expires_at_ms - Date.now(), 0) + SESSION_RECHECK_GRACE_MS);
  };
  slot.append(connection, sessionLine);
  // Not on sale (yet, or any more), or sold out: the map is only to look at, and the sale's
  // state above says why. A hold this tab already has (maybe on the last seats) stays payable.
  const mayHold = choosing || hasHoldHere(event.id);
  if (currentSession()) map.setYours(booked);
  if (mayHold && currentSession()) {
    panel = new HoldPanel({ event, map, booked, onNotAdmitted: backToQueue });
    slot.append(panel.element);
  } else if (mayHold) {
    const next = encodeURIComponent(`#/events/${event.id}`);
    slot.append(el("p", { className: "hold-summary" }, el("a", { href: `#/login?next=${next}`, text: "Log in" }),
      " or ", el("a", { href: `#/signup?next=${next}`, text: "sign up" }), " to hold seats."));
  }
  slot.append(map.element);
  if (panel) slot.append(panel.best);
  if (admission) watchSession(admission);

  const feed = new SeatFeed(event.id, {
    onSnapshot: (snapshot) => {
      map.setStatuses(snapshot);
      panel?.statusesChanged();
    },
    onChanges: (changes) => {
      // A sold-out event whose held seats come free: the map again, with the panel.
      if (soldOut && changes.some(({ status }) => status === "available")) {
        onSeatsFreed();
        return;
      }
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
  if (checkoutCancelled) {
    announce(panel?.hold
      ? `You left the payment page without paying. Your seats are still held for you until ${clock(Date.now() + panel.secondsLeft() * 1000)}: check out again, or release them.`
      : "You left the payment page without paying, and your seats were released. Choose seats to hold them again.");
  }
  return () => {
    clearTimeout(sessionTimer);
    feed.stop();
    map.dispose();
    panel?.dispose();
  };
}
