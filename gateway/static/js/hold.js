"use strict";
// The buyer's side of one event's map: which seats are selected, the hold on them, its
// countdown, release and checkout; or, instead of choosing, "best available": a count, an
// optional category and section, and the engine picks and holds the seats in one go. Only one
// hold at a time: the buyer checks out or releases it before holding more. Seats the buyer
// already booked for the event count against its per-buyer limit. Messages about the map and
// the hold are shown in the panel, which stays on screen, and read out by the live region.

import { api } from "./api.js";
import { FINAL_WARNING_SECONDS, HoldCountdown } from "./holdcountdown.js";
import { el, field } from "./dom.js";
import { minutesSeconds, money, plural } from "./format.js";
import { announceErrorIn, announceIn } from "./notice.js";
import { navigate } from "./router.js";
import { SeatSummary } from "./seatsummary.js";

const TICK_MS = 250;
// These answers say nothing was decided, so the same request may be sent again with the same
// Idempotency-Key: if it was decided after all, the retry gets that same hold back.
const RETRYABLE = new Set(["network", "unavailable", "engine_unavailable", "rate_limited"]);

function storageKey(eventId) {
  return `rushqueue.hold.${eventId}`;
}

/** The id of the hold this tab made on the event (kept across reloads and the checkout), or
 *  null: the order review reads it, and the event page keeps it payable after the sale. */
export function holdHere(eventId) {
  return sessionStorage.getItem(storageKey(eventId));
}

export function hasHoldHere(eventId) {
  return holdHere(eventId) !== null;
}

export class HoldPanel {
  /** `booked`: the ids of the event's seats this buyer has already bought. `onNotAdmitted(error)`:
   *  the event's waiting room refused a hold or checkout (the buyer's turn has not come, or
   *  their shopping time ran out); the page goes back to the queue. */
  constructor({ event, map, booked = [], onNotAdmitted = (error) => this.sayError(error) }) {
    this.event = event;
    this.map = map;
    this.onNotAdmitted = onNotAdmitted;
    this.bought = booked.length;
    this.allowed = Math.max(event.max_seats_per_buyer - this.bought, 0); // how many more
    this.selected = new Set();
    this.hold = null;
    this.deadline = 0; // performance.now() at which the hold ends
    this.seenOnFeed = false; // whether the live feed has shown the hold's seats taken yet
    this.releasing = false;
    this.warned = false; // whether the last-minute warning has been said
    this.timer = null;
    this.idempotencyKey = null;
    this.bestKey = null; // the best-available request's own, kept across its retries
    this.summary = el("p", { className: "hold-summary" });
    this.message = el("p", { className: "panel-message", hidden: true });
    this.seatSummary = new SeatSummary(map);
    this.countdown = new HoldCountdown({ timeZone: event.time_zone });
    this.holdButton = el("button", { type: "button", className: "primary", text: "Hold seats", on: { click: () => this.holdSelected() } });
    this.checkoutButton = el("button", { type: "button", className: "primary", text: "Check out", hidden: true, on: { click: () => this.checkout() } });
    this.releaseButton = el("button", { type: "button", text: "Release seats", hidden: true, on: { click: () => this.release() } });
    // Placed by the page below the map, so the map stays the first Tab stop after the panel.
    this.best = this.bestForm();
    this.element = el("section", { className: "hold-panel", attrs: { "aria-label": "Your seats" } },
      this.message, this.summary, this.seatSummary.element, this.countdown.element,
      el("div", { className: "actions" }, this.holdButton, this.checkoutButton, this.releaseButton));
    this.render();
  }

  bestForm() {
    const forget = () => { this.bestKey = null; }; // another request from now on
    const options = (any, items) => [el("option", { value: "", text: any }), ...items.map(([value, text]) => el("option", { value, text }))];
    const counts = Array.from({ length: this.allowed }, (_, index) => String(index + 1));
    this.bestCount = el("select", { name: "best-count", on: { change: forget } }, ...counts.map((n) => el("option", { value: n, text: n })));
    this.bestCount.value = String(Math.min(2, this.allowed));
    this.bestCategory = el("select", { name: "best-category", on: { change: forget } },
      ...options("Any category", this.map.categories.map((category) => [category.code, `${category.name} ${money(category.price, this.event.currency)}`])));
    this.bestSection = el("select", { name: "best-section", on: { change: forget } },
      ...options("Any section", this.map.sections.map((section) => [section.name, `Section ${section.name}`])));
    this.bestButton = el("button", { type: "button", text: "Hold best available", on: { click: () => this.holdBest() } });
    return el("div", { className: "best-available", attrs: { role: "group", "aria-label": "Best available" } },
      field("Seats", this.bestCount), field("Category", this.bestCategory), field("Section", this.bestSection), this.bestButton);
  }

  /** Pick up the hold this tab made before a reload or a trip to the checkout page. */
  async restore() {
    const holdId = sessionStorage.getItem(storageKey(this.event.id));
    if (!holdId) return;
    try {
      const { hold } = await api("GET", `/api/v1/holds/${encodeURIComponent(holdId)}`);
      if (hold.status === "held" || hold.status === "checkout") {
        this.start(hold, Date.parse(hold.expires_at) - Date.now());
        return;
      }
    } catch {
      // Gone, or not ours any more: nothing to restore.
    }
    sessionStorage.removeItem(storageKey(this.event.id));
  }

  /** Say `text` in the panel (and to screen readers); errors in plain words, marked as such. */
  say(text) {
    announceIn(this.message, text);
  }

  sayError(error) {
    announceErrorIn(this.message, error);
  }

  toggle(seat) {
    if (this.hold) {
      this.say("Check out or release the seats you hold before choosing others.");
      return;
    }
    this.map.setStranded([]);
    if (this.selected.has(seat.id)) this.selected.delete(seat.id);
    else if (this.selected.size >= this.allowed) {
      this.say(this.limitWords());
      return;
    } else this.selected.add(seat.id);
    this.message.hidden = true; // the buyer has moved on from it
    this.idempotencyKey = null; // a different request now
    this.map.setSelected(this.selected);
    this.render();
  }

  /** Statuses changed on the live map: drop selected seats someone else took, and notice when
   *  our own hold's seats are free again (it expired, or was released elsewhere). */
  statusesChanged() {
    const taken = [...this.selected].filter((id) => this.map.seat(id).status !== "available");
    if (taken.length) {
      for (const id of taken) this.selected.delete(id);
      this.map.setSelected(this.selected);
      const names = taken.map((id) => this.map.describe(this.map.seat(id))).join("; ");
      this.say(`Just taken by someone else: ${names}.`);
      this.render();
    }
    if (this.hold) this.checkHoldOnFeed();
  }

  /** The answer to our hold and the feed's news of it race each other, and a snapshot read
   *  just before the hold may arrive just after it. So our seats showing free means the hold
   *  ended only once the feed has shown them taken. */
  checkHoldOnFeed() {
    if (this.releasing) return; // the buyer let the seats go: that is no expiry
    const free = this.hold.seat_ids.some((id) => this.map.seat(id)?.status === "available");
    if (!free) this.seenOnFeed = true;
    else if (this.seenOnFeed) this.expired();
  }

  async holdSelected() {
    if (!this.selected.size) return;
    this.idempotencyKey ??= crypto.randomUUID();
    this.holdButton.disabled = true;
    await this.ask({ seat_ids: [...this.selected] }, this.idempotencyKey, () => { this.idempotencyKey = null; });
  }

  /** The engine chooses the best free seats and holds them in the same decision. */
  async holdBest() {
    const best = { count: Number(this.bestCount.value) };
    if (this.bestCategory.value) best.categories = [this.bestCategory.value];
    if (this.bestSection.value) best.sections = [this.bestSection.value];
    this.bestKey ??= crypto.randomUUID();
    this.bestButton.disabled = true;
    await this.ask({ best_available: best }, this.bestKey, () => { this.bestKey = null; });
    this.bestButton.disabled = false;
  }

  /** Ask for a hold; `forget()` drops the request's Idempotency-Key once it was decided. */
  async ask(body, idempotencyKey, forget) {
    try {
      const { hold } = await api("POST", `/api/v1/events/${this.event.id}/holds`, { body, idempotencyKey });
      forget();
      this.map.setStranded([]);
      this.selected.clear();
      this.map.setSelected(this.selected);
      sessionStorage.setItem(storageKey(this.event.id), hold.id);
      // Measured from the server's own creation time, so a wrong clock here does not matter.
      this.start(hold, Date.parse(hold.expires_at) - Date.parse(hold.created_at));
      this.say(`${plural(hold.seat_ids.length, "seat is", "seats are")} held for you for ${minutesSeconds(this.secondsLeft())}. Check out before the time runs out.`);
    } catch (error) {
      if (!RETRYABLE.has(error.code)) forget();
      if (error.code === "not_admitted") {
        this.onNotAdmitted(error);
        return;
      }
      if (error.code === "seats_unavailable") this.markTaken(error.details.seat_ids ?? []);
      this.sayError(error);
      if (error.code === "orphan_seat") this.showStranded(error.details.seat_id);
      this.render();
    }
  }

  /** Point at the seat the refused choice would have left alone, so the buyer can shift. */
  showStranded(seatId) {
    const seat = this.map.seat(seatId);
    if (!seat) return;
    this.map.setStranded([seatId]);
    this.map.focusSeat(seat);
  }

  /** The engine says these seats are taken, even if the live map has not shown it yet. */
  markTaken(seatIds) {
    for (const id of seatIds) {
      this.selected.delete(id);
      if (this.map.seat(id)?.status === "available") this.map.setStatus(id, "held");
    }
    this.map.setSelected(this.selected);
  }

  async release() {
    const hold = this.hold;
    if (!hold) return;
    this.releasing = true;
    try {
      await api("DELETE", `/api/v1/holds/${encodeURIComponent(hold.id)}`);
      this.stop();
      this.say("Your seats were released.");
    } catch (error) {
      this.sayError(error);
    } finally {
      this.releasing = false;
    }
  }

  /** On to the order review (review.js): the seats, prices and time left, then the payment. */
  checkout() {
    if (this.hold) navigate(`#/events/${this.event.id}/review`);
  }

  start(hold, millisecondsLeft) {
    this.hold = hold;
    this.deadline = performance.now() + millisecondsLeft;
    this.seenOnFeed = false;
    this.warned = millisecondsLeft <= FINAL_WARNING_SECONDS * 1000; // too late to warn usefully
    this.map.setMine(hold.seat_ids);
    this.countdown.start(hold.expires_at);
    this.checkHoldOnFeed();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.render();
  }

  tick() {
    const left = this.secondsLeft();
    if (left <= 0) {
      this.expired();
      return;
    }
    // The countdown itself is not read out (it changes every second); one warning is.
    if (left <= FINAL_WARNING_SECONDS && !this.warned) {
      this.warned = true;
      this.say("One minute left to check out before your seats are released.");
    }
    this.renderCountdown();
  }

  expired() {
    this.stop();
    this.say("Your hold expired, so the seats were released. Select seats to hold them again.");
  }

  /** Forget the hold (it ended): no countdown, the seats drawn as everyone else sees them. */
  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.hold = null;
    sessionStorage.removeItem(storageKey(this.event.id));
    this.map.setMine([]);
    this.countdown.stop();
    this.element.dataset.urgent = "false";
    this.render();
  }

  secondsLeft() {
    return (this.deadline - performance.now()) / 1000;
  }

  dispose() {
    clearInterval(this.timer);
  }

  /** Why no more seats can be chosen: the limit, less what the buyer already bought. */
  limitWords() {
    const max = this.event.max_seats_per_buyer;
    if (!this.bought) return `You can choose up to ${plural(max, "seat", "seats")} for this event.`;
    if (!this.allowed) return `You have already bought ${plural(this.bought, "seat", "seats")}, the most allowed for this event.`;
    return `You can choose up to ${this.allowed} more: you have bought ${this.bought} of the ${max} seats allowed for this event.`;
  }

  render() {
    const holding = this.hold !== null;
    this.holdButton.hidden = holding;
    this.holdButton.disabled = this.selected.size === 0;
    this.holdButton.textContent = this.selected.size ? `Hold ${plural(this.selected.size, "seat", "seats")}` : "Hold seats";
    this.checkoutButton.hidden = !holding;
    this.checkoutButton.disabled = false;
    this.releaseButton.hidden = !holding;
    this.best.hidden = holding || this.allowed === 0;
    if (holding) {
      this.summary.textContent = `You hold ${plural(this.hold.seat_ids.length, "seat", "seats")}:`;
      this.seatSummary.show(this.hold.seat_ids, "Seats held for you");
      this.renderCountdown();
    } else if (this.selected.size) {
      const more = this.bought ? ` more (you have bought ${this.bought})` : "";
      this.summary.textContent = `${plural(this.selected.size, "seat", "seats")} selected. You may choose up to ${this.allowed}${more}.`;
      this.seatSummary.show([...this.selected], "Seats you selected");
    } else {
      this.summary.textContent = this.allowed === this.event.max_seats_per_buyer
        ? `Choose up to ${plural(this.allowed, "seat", "seats")} on the map.`
        : this.allowed ? `You have bought ${plural(this.bought, "seat", "seats")} for this event: choose up to ${this.allowed} more on the map.` : this.limitWords();
      this.seatSummary.show([], "");
    }
  }

  renderCountdown() {
    this.element.dataset.urgent = String(this.countdown.render(this.secondsLeft()));
  }
}
