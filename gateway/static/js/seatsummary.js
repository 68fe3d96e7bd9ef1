"use strict";
// The hold panel's list of the seats chosen or held: section, row, seat and price, a line each
// in the map's order, then their total. It stays on screen with the panel, so the buyer sees
// which seats they are about to pay for without finding them on the map.

import { el } from "./dom.js";
import { money } from "./format.js";

export class SeatSummary {
  /** map: the SeatMap the seats are on. */
  constructor(map) {
    this.map = map;
    this.list = el("ul", { className: "panel-seats" });
    this.total = el("p", { className: "panel-total" });
    this.element = el("div", { className: "panel-seat-summary", hidden: true }, this.list, this.total);
  }

  /** List `seatIds` under `label` (read out with the list); none hides the summary. */
  show(seatIds, label) {
    const seats = seatIds.map((id) => this.map.seat(id)).filter(Boolean)
      .sort((a, b) => a.sectionIndex - b.sectionIndex || a.rowIndex - b.rowIndex || a.col - b.col);
    this.element.hidden = seats.length === 0;
    this.list.setAttribute("aria-label", label);
    this.list.replaceChildren(...seats.map((seat) => el("li", { dataset: { seatId: String(seat.id) } },
      el("span", { text: this.map.describe(seat) }), el("span", { text: this.map.price(seat) }))));
    const total = seats.reduce((sum, seat) => sum + seat.price, 0);
    this.total.textContent = `Total: ${money(total, this.map.currency)}`;
  }
}
