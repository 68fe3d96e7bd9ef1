"use strict";
// The seat map: sections, rows and seats drawn from the event's layout, each seat a focusable
// button coloured by its category. It shows statuses and the buyer's selection; it decides
// nothing, and tells its owner when the buyer toggles a seat.

import { el } from "./dom.js";
import { money } from "./format.js";
import { rovingFocus } from "./seatkeys.js";

const STATUS_WORDS = { available: "available", held: "held by someone", booked: "sold", mine: "held by you" };

/** One colour class per category, in the order the event lists its prices. */
function categoryClasses(prices) {
  return new Map(prices.map((price, index) => [price.category, `cat-${index % 8}`]));
}

export class SeatMap {
  /**
   * seats: the `/seats` answer's seats ({id, section, row, number, category, price, status});
   * prices: the event's prices ({category, name}); onToggle(seat) when a seat is pressed.
   */
  constructor({ seats, prices, currency, onToggle }) {
    this.currency = currency;
    this.onToggle = onToggle;
    this.categoryNames = new Map(prices.map((price) => [price.category, price.name]));
    this.classes = categoryClasses(prices);
    this.seats = new Map(seats.map((seat) => [seat.id, { ...seat, mine: false, selected: false }]));
    this.buttons = new Map();
    const buttonRows = [];
    this.element = el("div", { className: "seat-map" }, this.legend(prices), ...this.sections(buttonRows));
    rovingFocus(this.element, buttonRows);
    for (const seat of this.seats.values()) this.paint(seat);
  }

  legend(prices) {
    const items = prices.map((price) =>
      el("li", {}, el("span", { className: `swatch ${this.classes.get(price.category)}`, attrs: { "aria-hidden": "true" } }),
        `${price.name} ${money(price.amount_minor, this.currency)}`));
    const states = [["swatch-held", "Held"], ["swatch-booked", "Sold"], ["swatch-mine", "Held by you"], ["swatch-selected", "Selected"]]
      .map(([className, text]) => el("li", {}, el("span", { className: `swatch ${className}`, attrs: { "aria-hidden": "true" } }), text));
    return el("ul", { className: "legend", attrs: { "aria-label": "Legend" } }, items, states);
  }

  /** The sections drawn; each row's buttons are also pushed onto `buttonRows`, in reading
   *  order, for the arrow keys. */
  sections(buttonRows) {
    const sections = new Map(); // section -> row -> seats, in layout order
    for (const seat of this.seats.values()) {
      if (!sections.has(seat.section)) sections.set(seat.section, new Map());
      const rows = sections.get(seat.section);
      if (!rows.has(seat.row)) rows.set(seat.row, []);
      rows.get(seat.row).push(seat);
    }
    return [...sections].map(([section, rows]) =>
      el("section", { className: "seat-section", attrs: { "aria-label": `Section ${section}` } },
        el("h3", { text: `Section ${section}` }),
        [...rows].map(([row, seats]) => {
          const buttons = seats.map((seat) => this.button(seat));
          buttonRows.push(buttons);
          return el("div", { className: "seat-row", attrs: { role: "group", "aria-label": `Section ${section}, row ${row}` } },
            el("span", { className: "row-label", text: row, attrs: { "aria-hidden": "true" } }), buttons);
        })));
  }

  button(seat) {
    const button = el("button", {
      type: "button",
      className: `seat ${this.classes.get(seat.category) ?? ""}`,
      text: String(seat.number),
      dataset: { seatId: String(seat.id) },
      // Taken seats stay focusable (aria-disabled, not disabled) so they can be heard; a press
      // on one does nothing.
      on: { click: () => seat.status === "available" && !seat.mine && this.onToggle(seat) },
    });
    this.buttons.set(seat.id, button);
    return button;
  }

  /** Status of one seat as everyone sees it ("available", "held", "booked"). */
  setStatus(seatId, status) {
    const seat = this.seats.get(seatId);
    if (!seat) return;
    seat.status = status;
    this.paint(seat);
  }

  /** Every status at once, from a snapshot. */
  setStatuses(statuses) {
    for (const [seatId, status] of statuses) this.setStatus(seatId, status);
  }

  /** Which seats are in this buyer's own hold (drawn apart from other buyers' holds). */
  setMine(seatIds) {
    const mine = new Set(seatIds);
    for (const seat of this.seats.values()) {
      if (seat.mine !== mine.has(seat.id)) {
        seat.mine = mine.has(seat.id);
        this.paint(seat);
      }
    }
  }

  setSelected(seatIds) {
    const selected = new Set(seatIds);
    for (const seat of this.seats.values()) {
      if (seat.selected !== selected.has(seat.id)) {
        seat.selected = selected.has(seat.id);
        this.paint(seat);
      }
    }
  }

  seat(seatId) {
    return this.seats.get(seatId);
  }

  describe(seat) {
    return `Section ${seat.section}, row ${seat.row}, seat ${seat.number}`;
  }

  paint(seat) {
    const button = this.buttons.get(seat.id);
    // The engine confirmed our hold, so the seat is ours even before the feed says so.
    const shown = seat.mine ? "mine" : seat.status;
    button.dataset.status = shown;
    button.setAttribute("aria-disabled", String(shown !== "available"));
    button.setAttribute("aria-pressed", String(seat.selected));
    const category = this.categoryNames.get(seat.category) ?? seat.category;
    const words = [this.describe(seat), category, money(seat.price, this.currency), STATUS_WORDS[shown] ?? shown];
    if (seat.selected) words.push("selected");
    button.setAttribute("aria-label", words.join(", "));
  }
}
