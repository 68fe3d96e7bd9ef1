"use strict";
// The queue screen of an event with a waiting room: join, see where you stand, and be let in.
//
// Every place has a fixed rank and the room's broadcast says how far admission has come
// (`admitted_through`), so the page works out its own position from each broadcast: nothing on
// the wire is about this buyer, and 50,000 waiting pages cost the server one message per update.
// When admission reaches the buyer's rank the page asks for its status once and, admitted, hands
// over to the seat map (eventpage.js).

import { api } from "./api.js";
import { saleStartsIn } from "./countdown.js";
import { el } from "./dom.js";
import { eventDateTime, plural, roughDuration } from "./format.js";
import { announce, announceError } from "./notice.js";
import { QueueFeed } from "./queuefeed.js";

// Read out no more often than this: a screen reader saying every step of a fast queue drowns
// out everything else. The screen itself always shows the latest.
const ANNOUNCE_EVERY_MS = 30_000;
const TICK_MS = 1000;
// Admission reached our rank but the status did not say admitted yet: ask again after this.
const RECHECK_MS = 3000;

export function queuePath(eventId) {
  return `/api/v1/events/${eventId}/queue`;
}

/** The buyer's queue status (GET): their place, or null when they have none yet; "no_room" when
 *  the event's waiting room is off (everyone may shop). Other failures are thrown. */
export async function queueStatus(eventId) {
  try {
    return await api("GET", queuePath(eventId));
  } catch (error) {
    if (error.code === "not_found") return null;
    if (error.code === "no_waiting_room") return "no_room";
    throw error;
  }
}

/** People in line ahead of `rank` when admission has reached `admittedThrough`. */
export function peopleAhead(rank, admittedThrough) {
  return Math.max(rank - admittedThrough - 1, 0);
}

/** Seconds until `ahead` people have been let in at `ratePerMinute`; null when nobody is being
 *  let in (paused), since then no estimate is honest. */
export function waitSeconds(ahead, ratePerMinute) {
  if (ahead <= 0) return 0;
  if (!(ratePerMinute > 0)) return null;
  return Math.ceil((ahead * 60) / ratePerMinute);
}

/** The room as the status (GET) describes it, in the broadcast's terms. */
function roomOfStatus(room) {
  return {
    paused: room.paused,
    admitted_through: room.admitted_through,
    last_rank: room.last_rank,
    waiting: room.waiting,
    rate_per_minute: room.rate_per_minute,
    sale_starts_at_ms: Date.parse(room.sale_starts_at),
    queue_opens_at_ms: Date.parse(room.queue_opens_at),
    enabled: true,
  };
}

function progressKey(eventId) {
  return `rushqueue.queue.${eventId}`;
}

export class QueueScreen {
  /**
   * `status`: the buyer's queue status, or null before they join (or when logged out).
   * `onAdmitted(status)`: their turn came (or the room was switched off: status is null).
   */
  constructor({ event, status, signedIn, onAdmitted }) {
    this.event = event;
    this.status = status;
    this.signedIn = signedIn;
    this.onAdmitted = onAdmitted;
    this.room = status ? roomOfStatus(status.room) : null;
    this.clockOffsetMs = 0; // server time minus ours, from the broadcast's `at`
    this.refreshing = false;
    this.checkedThrough = null; // the admitted_through an admission check was last made for
    this.checkedAt = -Infinity;
    this.announcedAt = -Infinity;
    this.announcedPosition = null;
    this.finished = false;
    this.timer = null;
    this.feed = null;

    this.lead = el("p", { className: "queue-lead" });
    this.position = el("p", { className: "queue-position" });
    this.ahead = el("p", { className: "queue-ahead" });
    this.wait = el("p", { className: "queue-wait" });
    this.progress = el("progress", { className: "queue-progress", max: 100, value: 0, attrs: { "aria-label": "Progress to your turn" } });
    this.progressText = el("span", { className: "queue-progress-text" });
    this.progressRow = el("div", { className: "queue-progress-row" }, this.progress, this.progressText);
    this.countdown = el("p", { className: "queue-countdown", attrs: { role: "timer", "aria-live": "off" } });
    this.paused = el("p", { className: "queue-paused", text: "Admission is paused for the moment. You keep your place in line." });
    this.crowd = el("p", { className: "queue-crowd" });
    this.joinButton = el("button", { type: "button", className: "primary", text: "Join the queue", on: { click: () => this.join() } });
    this.login = el("p", { className: "queue-login" });
    this.connection = el("p", { className: "connection", text: "Connecting to the queue…" });
    // Everything that changes with each broadcast is shown, not read out: the live region
    // (notice.js) says what matters, at most every ANNOUNCE_EVERY_MS.
    this.figures = el("div", { className: "queue-figures", attrs: { "aria-live": "off" } },
      this.position, this.ahead, this.wait, this.progressRow, this.countdown, this.paused);
    this.element = el("section", { className: "queue-screen", attrs: { "aria-labelledby": "queue-heading" } },
      el("h2", { id: "queue-heading", text: "Waiting room" }),
      this.lead, this.figures, this.crowd, this.login, el("div", { className: "actions" }, this.joinButton), this.connection);
  }

  /** Show the screen and follow the room; returns the function that stops it. */
  start() {
    this.feed = new QueueFeed(this.event.id, {
      onRoom: (frame) => this.roomChanged(frame),
      onConnection: (state) => {
        this.connection.dataset.state = state;
        this.connection.textContent = state === "live" ? "Live: your place updates by itself. Keep this page open." : "Reconnecting to the queue…";
      },
    }).start();
    this.timer = setInterval(() => {
      this.renderCountdown();
      this.checkAdmission();
    }, TICK_MS);
    this.render();
    this.checkAdmission();
    return () => this.stop();
  }

  stop() {
    this.finished = true;
    this.feed?.stop();
    clearInterval(this.timer);
  }

  async join() {
    this.joinButton.disabled = true;
    try {
      this.placed(await api("POST", queuePath(this.event.id)));
      if (this.finished) return;
      const rank = this.status.position;
      if (this.status.state === "pre_queue") announce("You're in the pre-queue. Your place in line is drawn when the sale starts.");
      else if (this.status.state === "waiting") announce(`You're in the queue: number ${peopleAhead(rank, this.room.admitted_through) + 1} in line.`);
      this.announcedAt = performance.now();
    } catch (error) {
      announceError(error);
    } finally {
      this.joinButton.disabled = false;
    }
  }

  /** Ask for the buyer's status again: their turn may have come, or their rank been drawn. */
  async refresh() {
    if (this.refreshing || !this.signedIn) return;
    this.refreshing = true;
    try {
      const status = await queueStatus(this.event.id);
      if (status === "no_room") this.enter(null);
      else if (status) this.placed(status);
    } catch (error) {
      announceError(error);
    } finally {
      this.refreshing = false;
    }
  }

  placed(status) {
    if (this.finished) return;
    const known = this.room;
    this.status = status;
    // A broadcast may be newer than the status's view of the room (the two race): keep the one
    // further along, and the broadcast's fields the status does not carry.
    const fresh = roomOfStatus(status.room);
    this.room = known && known.admitted_through > fresh.admitted_through ? { ...fresh, ...known } : { ...known, ...fresh };
    if (status.state === "admitted") {
      this.enter(status);
      return;
    }
    this.render();
  }

  enter(status) {
    if (this.finished) return;
    this.stop();
    sessionStorage.removeItem(progressKey(this.event.id));
    this.onAdmitted(status);
  }

  roomChanged(frame) {
    if (this.finished) return;
    this.clockOffsetMs = frame.at - Date.now();
    this.room = frame;
    if (!frame.enabled) {
      this.enter(null); // switched off: everyone may shop
      return;
    }
    this.render();
    this.checkAdmission();
  }

  /** Admission reached our rank (or the pre-queue's ranks were drawn): ask once per step. */
  checkAdmission() {
    const state = this.status?.state;
    if (!this.room || (state !== "waiting" && state !== "pre_queue")) return;
    const rank = this.status.position;
    const drawn = state === "pre_queue" && this.room.shuffled === true;
    const reached = rank !== null && this.room.admitted_through >= rank;
    if (!drawn && !reached) return;
    const now = performance.now();
    if (this.checkedThrough === this.room.admitted_through && now - this.checkedAt < RECHECK_MS) return;
    this.checkedThrough = this.room.admitted_through;
    this.checkedAt = now;
    this.refresh();
  }

  /** Where admission stood when this buyer first saw their rank: the progress bar's zero, kept
   *  across reloads (per tab, like the login). */
  progressStart(rank) {
    const key = progressKey(this.event.id);
    try {
      const saved = JSON.parse(sessionStorage.getItem(key) ?? "null");
      if (saved?.placeId === this.status.place_id) return saved.from;
    } catch {
      // A damaged entry is the same as none.
    }
    const from = Math.min(this.room.admitted_through, rank - 1);
    sessionStorage.setItem(key, JSON.stringify({ placeId: this.status.place_id, from }));
    return from;
  }

  render() {
    const state = this.status?.state ?? "none";
    this.element.dataset.state = state;
    const waiting = state === "waiting";
    for (const node of [this.position, this.ahead, this.wait, this.progressRow]) node.hidden = !waiting;
    this.countdown.hidden = state !== "pre_queue";
    this.paused.hidden = !(this.room?.paused && (waiting || state === "pre_queue"));
    this.joinButton.hidden = !this.signedIn || state !== "none";
    this.login.hidden = this.signedIn;
    this.renderCrowd();
    if (!this.signedIn) this.renderSignedOut();
    else if (state === "none") this.renderNotJoined();
    else if (state === "pre_queue") this.renderPreQueue();
    else if (waiting) this.renderWaiting();
    else if (state === "expired") {
      // One place per account per event: joining again answers this same, spent place.
      this.lead.textContent = "Your shopping time ran out, so your turn went to the next person in line. " +
        "Each account gets one turn in this queue, and yours has been used.";
    } else if (state === "done") {
      this.lead.replaceChildren("You've finished with the queue for this event: you booked, or you left the queue. ",
        el("a", { href: "#/bookings", text: "See your bookings" }), ".");
    }
  }

  renderSignedOut() {
    const next = encodeURIComponent(`#/events/${this.event.id}`);
    this.lead.textContent = "This sale has a waiting room: buyers are let in to choose seats in turn, so the shop stays fast for everyone.";
    this.login.replaceChildren(el("a", { href: `#/login?next=${next}`, text: "Log in" }), " or ",
      el("a", { href: `#/signup?next=${next}`, text: "sign up" }), " to join the queue.");
  }

  renderNotJoined() {
    const opensAt = Date.parse(this.event.waiting_room.queue_opens_at);
    const opening = opensAt > Date.now() ? ` The queue opens ${eventDateTime(this.event.waiting_room.queue_opens_at, this.event.time_zone)}.` : "";
    this.lead.textContent = "This sale has a waiting room: join the queue and you'll be let in to choose seats when it's your turn." + opening;
  }

  renderPreQueue() {
    this.lead.textContent = "You're in the pre-queue. When the sale starts, everyone in the pre-queue gets a place in line at random, " +
      "so arriving early or late before then makes no difference. Keep this page open.";
    this.renderCountdown();
  }

  renderWaiting() {
    const rank = this.status.position;
    const through = this.room.admitted_through;
    const ahead = peopleAhead(rank, through);
    const seconds = waitSeconds(ahead, this.room.paused ? 0 : this.room.rate_per_minute);
    this.lead.textContent = "You're in the queue. When it's your turn this page takes you to the seat map by itself. Keep it open.";
    this.position.textContent = `You're number ${ahead + 1} in line`;
    this.position.dataset.position = String(ahead + 1);
    this.ahead.textContent = ahead === 0 ? "Nobody is ahead of you." : `${plural(ahead, "person is", "people are")} ahead of you.`;
    this.wait.textContent = seconds === null ? "Estimated wait: unknown while admission is paused."
      : seconds === 0 ? "Estimated wait: any moment now." : `Estimated wait: ${roughDuration(seconds)}.`;
    const from = this.progressStart(rank);
    const share = rank - from <= 0 ? 1 : Math.min(Math.max((through - from) / (rank - from), 0), 1);
    const percent = Math.floor(share * 100);
    this.progress.value = percent;
    this.progress.setAttribute("aria-valuetext", `${percent}% of the way to your turn`);
    this.progressText.textContent = `${percent}% of the way to your turn`;
    this.announcePosition(ahead + 1);
  }

  announcePosition(position) {
    if (position === this.announcedPosition) return;
    const now = performance.now();
    if (now - this.announcedAt < ANNOUNCE_EVERY_MS) return;
    const first = this.announcedPosition === null;
    this.announcedAt = now;
    this.announcedPosition = position;
    announce(`You're ${first ? "" : "now "}number ${position} in line.`);
  }

  renderCountdown() {
    if (this.status?.state !== "pre_queue" || !this.room) return;
    this.countdown.textContent = saleStartsIn(this.room.sale_starts_at_ms, this.clockOffsetMs)
      ?? "The sale has started: places in line are being drawn…";
  }

  renderCrowd() {
    const waiting = this.room?.waiting;
    this.crowd.hidden = waiting === undefined || waiting === null;
    if (!this.crowd.hidden) this.crowd.textContent = `${plural(waiting, "person is", "people are")} waiting.`;
  }
}
