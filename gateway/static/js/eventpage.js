"use strict";
// `#/events/{id}`: the event, its live seat map and the buyer's hold; for an event whose
// waiting room is on, the queue screen first, until the buyer's turn comes.

import { api, eventMap } from "./api.js";
import { el } from "./dom.js";
import { clock, dateTime } from "./format.js";
import { HoldPanel } from "./hold.js";
import { announce, announceError } from "./notice.js";
import { QueueScreen, queueStatus } from "./queue.js";
import { SeatFeed } from "./seatfeed.js";
import { SeatMap } from "./seatmap.js";
import { buildVenue } from "./venue.js";
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

export async function eventPage(container, { params: [eventId] }) {
  let event, layout, live;
  try {
    ({ event, layout, live } = await eventMap(eventId));
  } catch (error) {
    announceError(error);
    container.append(el("p", {}, el("a", { href: "#/", text: "Back to all events" })));
    return;
  }
  const stage = new Stage(el("div", { className: "event-stage" }));
  container.append(
    el("h1", { text: event.name }),
    el("p", { className: "event-meta", text: `${event.venue} · ${dateTime(event.starts_at)}` }),
    stage.element,
  );

  const showMap = (admission, { waited }) => stage.show(async (slot) => {
    const statuses = waited ? await currentStatuses(event.id, live.statuses) : live.statuses;
    return mapView(slot, { event, layout, statuses, admission, onSessionEnded: (status) => showQueue(status) });
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
  return () => stage.dispose();
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
async function mapView(slot, { event, layout, statuses, admission, onSessionEnded }) {
  const connection = el("p", { className: "connection", text: "Connecting to live updates…" });
  let panel = null;
  let sessionTimer = null;
  const sessionLine = el("p", { className: "session-line", hidden: true });
  const [venue, booked] = await Promise.all([buildVenue(layout, statuses), currentSession() ? bookedSeats(event.id) : []]);
  const map = new SeatMap({
    venue,
    onToggle: (seat) => (panel ? panel.toggle(seat) : announce("Log in or sign up to hold seats.")),
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
  if (currentSession()) {
    map.setYours(booked);
    panel = new HoldPanel({ event, map, booked, onNotAdmitted: backToQueue });
    slot.append(panel.element);
  } else {
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
    clearTimeout(sessionTimer);
    feed.stop();
    map.dispose();
    panel?.dispose();
  };
}
