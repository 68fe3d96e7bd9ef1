"use strict";
// The organizer's event settings on the live sales page: for now the one switch that makes the
// engine refuse picks leaving a single free seat (`no_single_gaps`). A change is saved with
// PATCH /api/v1/admin/events/{id} and is in force for the next hold once the answer comes back.

import { api } from "./api.js";
import { el } from "./dom.js";
import { announce, announceError } from "./notice.js";

export class EventSettingsPanel {
  constructor(event) {
    this.event = event;
    this.noSingleGaps = el("input", {
      type: "checkbox",
      name: "no-single-gaps",
      checked: Boolean(event.no_single_gaps),
      on: { change: () => this.save() },
    });
    this.element = el("section", { className: "event-settings-panel", attrs: { "aria-labelledby": "event-settings-heading" } },
      el("h2", { id: "event-settings-heading", text: "Event settings" }),
      el("label", { className: "checkbox-field" }, this.noSingleGaps, " Refuse picks that leave a single seat"),
      el("p", { className: "field-hint", text: "Buyers are asked to move their choice by one seat instead of leaving one seat alone in a row. Seats already held stay held." }));
  }

  async save() {
    const wanted = this.noSingleGaps.checked;
    this.noSingleGaps.disabled = true;
    try {
      const { event } = await api("PATCH", `/api/v1/admin/events/${this.event.id}`, { body: { no_single_gaps: wanted } });
      this.event = event;
      this.noSingleGaps.checked = event.no_single_gaps;
      announce(event.no_single_gaps ? "Saved: picks that leave a single seat are refused from now on."
        : "Saved: picks may leave a single seat from now on.");
    } catch (error) {
      // Back to what the server last said, so the box never shows a setting that is not saved.
      this.noSingleGaps.checked = Boolean(this.event.no_single_gaps);
      announceError(error);
    } finally {
      this.noSingleGaps.disabled = false;
    }
  }
}
