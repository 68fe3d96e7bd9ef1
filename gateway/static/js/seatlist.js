"use strict";
// The list view: a section's available seats as a plain list of buttons, for buyers who cannot
// use the map (a screen reader, a switch, a tiny screen). It chooses seats exactly as the map
// does and follows the live statuses: a seat someone takes leaves the list. The buyer's own
// booked seats in the section are listed too, as theirs, so they can be told from the rest.

import { el } from "./dom.js";

export class SeatList {
  /** map: the SeatMap whose sections and seats it lists. */
  constructor(map) {
    this.map = map;
    this.section = map.sections[0];
    this.dirty = false;
    this.choice = el("select", { name: "list-section", on: { change: () => this.show(map.sections[Number(this.choice.value)]) } },
      map.sections.map((section, index) => el("option", { value: String(index), text: `Section ${section.name}` })));
    // h2: the page's outline goes from the event's h1 straight to it.
    this.heading = el("h2", { id: "seat-list-heading" });
    this.items = el("ul", { className: "seat-list-items", attrs: { "aria-labelledby": "seat-list-heading" } });
    this.element = el("section", { className: "seat-list", hidden: true, attrs: { "aria-label": "List view" } },
      el("label", { className: "field" }, el("span", { className: "field-label", text: "Section" }), this.choice),
      this.heading, this.items);
  }

  get shown() {
    return !this.element.hidden;
  }

  toggle(on) {
    this.element.hidden = !on;
    if (on) this.render();
  }

  show(section) {
    this.section = section;
    this.choice.value = String(section.index);
    if (this.shown) this.render();
  }

  /** Something in `section` changed; the list catches up once per frame at most. */
  changed(section) {
    if (!this.shown || section !== this.section || this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => this.render());
  }

  render() {
    this.dirty = false;
    const map = this.map;
    const seats = this.section.rows.flatMap((row) => row.seats);
    const free = seats.filter((seat) => seat.status === "available" && !seat.mine);
    const yours = seats.filter((seat) => map.shownStatus(seat) === "yours");
    this.heading.textContent = `Section ${this.section.name}: ${free.length} available${yours.length ? `, ${yours.length} yours` : ""}`;
    // Rebuilt whole, keeping focus on the seat that had it.
    const focused = document.activeElement?.dataset?.listSeatId;
    const listed = [...free, ...yours].sort((a, b) => a.rowIndex - b.rowIndex || a.col - b.col);
    this.items.replaceChildren(...listed.map((seat) => {
      const words = `Row ${seat.row}, seat ${seat.number}, ${map.categoryName(seat)}, ${map.price(seat)}`;
      if (seat.status !== "available") return el("li", { className: "seat-list-yours", text: `${words}: yours, you booked it` });
      return el("li", {}, el("button", {
        type: "button",
        className: "seat-choice",
        text: words,
        dataset: { listSeatId: String(seat.id) },
        attrs: { "aria-pressed": String(seat.selected) },
        on: { click: () => map.onToggle(seat) },
      }));
    }));
    if (focused) this.items.querySelector(`[data-list-seat-id="${focused}"]`)?.focus();
  }
}
