"use strict";
// The organizer's waiting-room panel for one event (on its live sales page): the settings, the
// live controls (pause, resume; the rate and the cap through the form) and the room's figures,
// read again every few seconds. The engine applies a change from its next admission tick, so
// what the organizer sets shows in the figures within seconds.

import { api } from "./api.js";
import { el, field } from "./dom.js";
import { roughDuration } from "./format.js";
import { announce, announceError } from "./notice.js";

const REFRESH_MS = 3000;
const DEFAULT_SESSION_MINUTES = 10;
// A new room's queue opens this long before the sale, so early buyers join the pre-queue.
const DEFAULT_PRE_QUEUE_MS = 30 * 60_000;

const FIGURES = [
  ["waiting", "Waiting"],
  ["admitted_total", "Admitted so far"],
  ["inside", "Inside now"],
  ["admitted_last_minute", "Admitted in the last minute"],
  ["rate_per_minute", "Admission rate used for estimates (per minute)"],
  ["estimated_seconds_to_clear", "Estimated time to clear the queue"],
];

function roomPath(eventId) {
  return `/api/v1/admin/events/${eventId}/waiting-room`;
}

/** An instant as a datetime-local input shows it: the organizer's own time zone, to the minute. */
function localInput(epochMs) {
  const local = new Date(epochMs - new Date(epochMs).getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

function figureText(name, stats) {
  const value = stats[name];
  if (name === "estimated_seconds_to_clear") {
    if (stats.waiting === 0) return "Nobody is waiting";
    return value === null ? "Unknown while paused" : roughDuration(value);
  }
  if (name === "rate_per_minute") return String(Math.round(value * 10) / 10);
  return String(value);
}

export class WaitingRoomPanel {
  constructor(event) {
    this.event = event;
    this.timer = null;
    this.saved = null; // the settings as last read or saved
    this.enabled = el("input", { type: "checkbox", name: "room-enabled" });
    this.opensAt = el("input", { type: "datetime-local", name: "queue-opens-at", required: true });
    this.rate = el("input", { type: "number", name: "admissions-per-minute", required: true, min: 1, max: 1_000_000, value: "600" });
    this.cap = el("input", { type: "number", name: "max-inside", required: true, min: 1, max: 1_000_000, value: "500" });
    this.session = el("input", { type: "number", name: "session-minutes", required: true, min: 1, max: 1440, value: String(DEFAULT_SESSION_MINUTES) });
    const save = el("button", { type: "submit", className: "primary", text: "Save waiting room" });
    this.form = el("form", { className: "stacked-form" },
      el("label", { className: "checkbox-field" }, this.enabled, " Waiting room on"),
      field("Queue opens at", this.opensAt, "Buyers who join before the sale starts are put in line at random when it starts."),
      field("Admissions per minute", this.rate),
      field("Most shoppers inside at once", this.cap),
      field("Shopping time (minutes)", this.session, "Extended while a buyer holds seats or is paying."),
      save);
    this.form.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      save.disabled = true;
      try {
        this.show(await api("PUT", roomPath(event.id), { body: this.settings() }), { fillForm: true });
        announce(this.enabled.checked ? "Waiting room saved." : "Waiting room saved: it is off, so buyers go straight to the seats.");
      } catch (error) {
        announceError(error);
      } finally {
        save.disabled = false;
      }
    });
    this.state = el("p", { className: "room-state" });
    this.pauseButton = el("button", { type: "button", text: "Pause admission", on: { click: () => this.setPaused(true) } });
    this.resumeButton = el("button", { type: "button", text: "Resume admission", on: { click: () => this.setPaused(false) } });
    this.figures = el("dl", { className: "room-figures", attrs: { "aria-live": "off" } });
    this.element = el("section", { className: "waiting-room-panel", attrs: { "aria-labelledby": "waiting-room-heading" } },
      el("h2", { id: "waiting-room-heading", text: "Waiting room" }),
      this.state, el("div", { className: "actions" }, this.pauseButton, this.resumeButton), this.figures, this.form);
    this.fillForm(null);
    this.render(null);
  }

  /** Read the room now and every few seconds; returns the function that stops it. */
  start() {
    this.refresh({ fillForm: true });
    this.timer = setInterval(() => this.refresh({ fillForm: false }), REFRESH_MS);
    return () => clearInterval(this.timer);
  }

  async refresh({ fillForm }) {
    try {
      this.show(await api("GET", roomPath(this.event.id)), { fillForm });
    } catch (error) {
      // No room yet: the form offers to make one.
      if (error.code !== "not_found") announceError(error);
    }
  }

  async setPaused(paused) {
    for (const button of [this.pauseButton, this.resumeButton]) button.disabled = true;
    try {
      this.show(await api("PATCH", roomPath(this.event.id), { body: { paused } }), { fillForm: false });
      announce(paused ? "Admission paused: nobody new is let in until you resume." : "Admission resumed.");
    } catch (error) {
      announceError(error);
    }
    this.render(this.saved);
  }

  /** `answer`: the admin API's {settings, stats}; settings null (or a 404) before the event
   *  has a room, stats null until the engine runs it. */
  show(answer, { fillForm }) {
    this.saved = answer.settings ?? null;
    if (fillForm) this.fillForm(this.saved);
    this.render(this.saved);
    this.renderFigures(answer.stats ?? null);
  }

  fillForm(settings) {
    const opensAt = settings ? Date.parse(settings.queue_opens_at) : Date.parse(this.event.sale_starts_at) - DEFAULT_PRE_QUEUE_MS;
    this.enabled.checked = settings ? settings.enabled : true;
    this.opensAt.value = localInput(opensAt);
    if (!settings) return;
    this.rate.value = String(settings.admissions_per_minute);
    this.cap.value = String(settings.max_inside);
    this.session.value = String(settings.session_minutes);
  }

  settings() {
    return {
      enabled: this.enabled.checked,
      queue_opens_at: new Date(this.opensAt.value).toISOString(),
      admissions_per_minute: Number(this.rate.value),
      max_inside: Number(this.cap.value),
      session_minutes: Number(this.session.value),
      paused: this.saved?.paused ?? false,
    };
  }

  render(settings) {
    const on = Boolean(settings?.enabled);
    this.element.dataset.state = !settings ? "none" : !on ? "off" : settings.paused ? "paused" : "running";
    this.state.textContent = !settings ? "This event has no waiting room: buyers go straight to the seats."
      : !on ? "The waiting room is off: buyers go straight to the seats."
        : settings.paused ? "Admission is paused: buyers keep their places, nobody new is let in."
          : "Admission is running.";
    this.pauseButton.hidden = !on || settings.paused;
    this.resumeButton.hidden = !on || !settings.paused;
    for (const button of [this.pauseButton, this.resumeButton]) button.disabled = false;
  }

  renderFigures(stats) {
    this.figures.hidden = !stats;
    if (!stats) return;
    this.figures.replaceChildren(...FIGURES.map(([name, label]) =>
      el("div", { className: "room-figure", dataset: { figure: name } },
        el("dt", { text: label }), el("dd", { text: figureText(name, stats) }))));
  }
}
