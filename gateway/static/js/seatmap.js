"use strict";
// The seat map: the venue drawn to scale from the event's layout (the stage, every section
// shaded by what it has left, every seat coloured by category and status) on two canvases, so
// 20,000 seats cost two bitmaps rather than 20,000 elements. Wheel, pinch, drag and the zoom
// buttons move it (mapview.js); a click on a section zooms into it. Once seats are big enough
// to hit, the seats on screen also get real buttons, with the same labels and keys as ever, so
// they can be clicked, tabbed to and heard. The section list below the map is the keyboard's
// way in (section, then row and seat), and the list view lists a section's free seats.
// It shows statuses and the buyer's selection; it decides nothing, and tells its owner when
// the buyer toggles a seat.

import { el } from "./dom.js";
import { money } from "./format.js";
import { MapView } from "./mapview.js";
import { neighbour } from "./seatkeys.js";
import { SeatList } from "./seatlist.js";
import { countAvailable, overlaps, sectionAt } from "./venue.js";
import { paintBase, paintSeat, paintSeats, readPalette, sizeCanvas } from "./venuepaint.js";

const STATUS_WORDS = { available: "available", held: "held by someone", booked: "sold", mine: "held by you", yours: "yours: you booked it" };
const PICKABLE_PX = 24; // a seat gets a button once it is this big on screen: a touch target
const LARGEST_SEAT_PX = 56; // the closest zoom
const MOST_BUTTONS = 2500;
const ZOOM_STEP = 1.6;
const SHORTEST_MAP_PX = 240;
// A section smaller than this on screen goes unlabelled: its label would hide it.
const LABEL_WIDTH_PX = 56;
const LABEL_HEIGHT_PX = 18;

export class SeatMap {
  /** venue: from `buildVenue` (venue.js); onToggle(seat) when the buyer picks or drops a seat. */
  constructor({ venue, onToggle }) {
    this.venue = venue;
    this.currency = venue.currency;
    this.onToggle = onToggle;
    this.categories = venue.categories;
    this.seats = venue.seats; // id -> seat
    this.ordered = venue.ordered; // layout order
    this.sections = venue.sections;
    this.recounted = new Set(); // sections whose counts the next frame shows
    this.buttons = new Map(); // seat id -> button, for the seats big enough to pick
    this.current = null; // the seat whose button is the Tab stop
    this.pending = new Set(); // what the next frame repaints: "view", "base"
    this.drawn = false;

    this.base = el("canvas", { className: "map-canvas", attrs: { "aria-hidden": "true" } });
    this.top = el("canvas", { className: "map-canvas", attrs: { "aria-hidden": "true" } });
    this.layer = el("div", { className: "seat-layer", attrs: { role: "group", "aria-label": "Seats on the map" } });
    this.layer.addEventListener("keydown", (event) => this.key(event));
    this.layer.addEventListener("focusin", (event) => {
      const seat = this.seats.get(Number(event.target.dataset.seatId));
      if (seat) this.makeCurrent(seat);
    });
    // Each section's name and count over its middle while its seats are too small to read;
    // hidden from screen readers, which hear the same in the section list.
    this.labels = this.sections.map(() => el("span", { className: "section-label", attrs: { "aria-hidden": "true" } }));
    this.box = el("div", { className: "map-box" }, this.base, this.top, el("div", { className: "label-layer" }, this.labels), this.layer);
    this.view = new MapView({
      element: this.box,
      bounds: venue.bounds,
      maxScale: LARGEST_SEAT_PX / Math.min(...this.sections.map((section) => section.pitch)),
      onChange: () => this.request("view"),
      onClick: (x, y) => this.clicked(x, y),
    });
    this.sectionButtons = this.sections.map((section) => el("button", {
      type: "button", className: "section-choice", dataset: { section: section.name },
      on: { click: (event) => this.enterSection(section, event.detail === 0) },
    }));
    this.sectionNav = el("ul", { className: "section-list", attrs: { "aria-label": "Sections" } },
      this.sectionButtons.map((button) => el("li", {}, button)));
    this.sectionNav.addEventListener("keydown", (event) => this.sectionKey(event));
    this.sectionButtons.forEach((button, index) => (button.tabIndex = index === 0 ? 0 : -1));
    this.sections.forEach((section) => this.renderSectionCount(section));
    this.list = new SeatList(this);
    const listToggle = el("button", { type: "button", text: "List view", attrs: { "aria-pressed": "false" } });
    listToggle.addEventListener("click", () => {
      const on = !this.list.shown;
      listToggle.setAttribute("aria-pressed", String(on));
      this.list.toggle(on);
    });
    const tools = el("div", { className: "map-tools" },
      el("button", { type: "button", text: "+", attrs: { "aria-label": "Zoom in" }, on: { click: () => this.view.zoomBy(ZOOM_STEP) } }),
      el("button", { type: "button", text: "−", attrs: { "aria-label": "Zoom out" }, on: { click: () => this.view.zoomBy(1 / ZOOM_STEP) } }),
      el("button", { type: "button", text: "Whole venue", on: { click: () => this.view.fit(this.view.bounds) } }),
      listToggle);
    // The seats come first in the Tab order: the map is one stop, right after the hold panel.
    this.element = el("div", { className: "seat-map" }, this.legend(), this.box, tools,
      el("p", { className: "map-hint", text: "Choose a section to zoom in; use the arrow keys within it, Escape to go back." }),
      this.sectionNav, this.list.element);
    // Sized (and first drawn) once it is on the page and laid out.
    this.resizes = new ResizeObserver(() => this.fitBox());
    this.resizes.observe(this.box);
  }

  /** The map is as tall as the venue's shape needs at this width (within bounds), then drawn. */
  fitBox() {
    const { minX, minY, maxX, maxY } = this.view.bounds;
    const width = this.box.clientWidth;
    const wanted = Math.round(Math.min(Math.max(width * ((maxY - minY) / (maxX - minX)) + 32, SHORTEST_MAP_PX), innerHeight * 0.7));
    if (Math.abs(this.box.clientHeight - wanted) > 1) this.box.style.height = `${wanted}px`;
    this.view.resize();
  }

  legend() {
    const items = this.categories.map((category, index) =>
      el("li", {}, el("span", { className: `swatch cat-${index % 8}`, attrs: { "aria-hidden": "true" } }),
        `${category.name} ${money(category.price, this.currency)}`));
    const states = [["swatch-selected", "Selected"], ["swatch-mine", "Held for you"], ["swatch-yours", "Yours (booked)"],
      ["swatch-held", "Held by others"], ["swatch-booked", "Sold"]]
      .map(([className, text]) => el("li", {}, el("span", { className: `swatch ${className}`, attrs: { "aria-hidden": "true" } }), text));
    return el("ul", { className: "legend", attrs: { "aria-label": "Legend" } }, items, states);
  }

  // -- statuses ---------------------------------------------------------------------------------

  /** Status of one seat as everyone sees it ("available", "held", "booked"). */
  setStatus(seatId, status) {
    const seat = this.seats.get(seatId);
    if (!seat || seat.status === status) return;
    countAvailable(this.venue, seat, -1);
    seat.status = status;
    countAvailable(this.venue, seat, 1);
    this.repaint(seat);
    this.recounted.add(this.sections[seat.sectionIndex]);
    this.request("base");
  }

  /** Every status at once, from a snapshot. */
  setStatuses(statuses) {
    for (const [seatId, status] of statuses) this.setStatus(seatId, status);
  }

  /** Which seats are in this buyer's own hold (drawn apart from other buyers' holds). */
  setMine(seatIds) {
    this.mark(seatIds, "mine");
  }

  /** Which seats this buyer has booked (their own, not anyone's "sold"). */
  setYours(seatIds) {
    this.mark(seatIds, "yours");
  }

  /** What the buyer sees of a seat: "mine" for their hold, "yours" for their booking, or the
   *  status everyone sees. */
  shownStatus(seat) {
    if (seat.mine) return "mine"; // the engine confirmed our hold, even before the feed says so
    if (seat.yours && seat.status === "booked") return "yours";
    return seat.status;
  }

  setSelected(seatIds) {
    this.mark(seatIds, "selected");
  }

  /** Seats a refused choice would have left alone (`orphan_seat`), drawn to catch the eye. */
  setStranded(seatIds) {
    this.mark(seatIds, "stranded");
  }

  mark(seatIds, flag) {
    const on = new Set(seatIds);
    for (const seat of this.seats.values()) {
      if (seat[flag] !== on.has(seat.id)) {
        seat[flag] = on.has(seat.id);
        this.repaint(seat);
      }
    }
  }

  seat(seatId) {
    return this.seats.get(seatId);
  }

  describe(seat) {
    return `Section ${seat.section}, row ${seat.row}, seat ${seat.number}`;
  }

  categoryName(seat) {
    return this.categories[seat.categoryIndex].name;
  }

  price(seat) {
    return money(seat.price, this.currency);
  }

  // -- drawing ----------------------------------------------------------------------------------

  request(what) {
    if (this.pending.size === 0) requestAnimationFrame(() => this.frame());
    this.pending.add(what);
  }

  frame() {
    const started = performance.now();
    const whole = this.pending.has("view");
    this.pending.clear();
    if (whole) {
      if (this.base.width !== Math.round(this.view.width * (window.devicePixelRatio || 1))) {
        this.baseContext = sizeCanvas(this.base, this.view);
        this.topContext = sizeCanvas(this.top, this.view);
        this.palette = readPalette(this.element, this.categories.length);
      }
      // The first time, the seats come a task after the stage and sections: on a slow phone
      // the page's first layout and both layers in one task would block it for too long.
      if (this.drawn) this.paintSeats();
      else setTimeout(() => this.firstSeats(), 0);
    }
    paintBase(this.baseContext, this.view, this.venue, this.palette);
    for (const section of this.recounted) this.renderSectionCount(section);
    this.recounted.clear();
    performance.measure("seatmap-frame", { start: started });
  }

  paintSeats() {
    paintSeats(this.topContext, this.view, this.ordered, this.palette);
    this.placeButtons();
    this.placeLabels();
  }

  placeLabels() {
    for (const section of this.sections) {
      const label = this.labels[section.index];
      const [width, height] = section.size.map((length) => length * this.view.scale);
      label.hidden = section.pitch * this.view.scale >= PICKABLE_PX || width < LABEL_WIDTH_PX || height < LABEL_HEIGHT_PX;
      if (label.hidden) continue;
      const [x, y] = this.view.toScreen(...section.centre);
      label.style.left = `${x}px`;
      label.style.top = `${y}px`;
    }
  }

  firstSeats() {
    if (this.drawn) return;
    this.paintSeats();
    this.drawn = true;
    this.element.dataset.drawn = "true";
    performance.mark("seatmap-drawn");
  }

  /** One seat, on the canvas and on its button: never the whole venue. */
  repaint(seat) {
    if (this.topContext && this.view.scale) paintSeat(this.topContext, this.view, seat, this.palette);
    const button = this.buttons.get(seat.id);
    if (button) this.paintButton(seat, button);
    this.list.changed(this.sections[seat.sectionIndex]);
  }

  renderSectionCount(section) {
    const button = this.sectionButtons[section.index];
    button.textContent = this.labels[section.index].textContent = `${section.name} · ${section.available} left`;
    const byCategory = section.categoryIndexes
      .map((index) => `${this.categories[index].name} ${section.availableBy[index]}`).join(", ");
    // The name starts with the words on the button, so a buyer who says what they see (voice
    // control) reaches it: "Section A · 10 left of 12 seats (Premium 10)".
    button.setAttribute("aria-label", `Section ${button.textContent} of ${section.total} seats (${byCategory})`);
  }

  // -- seat buttons -----------------------------------------------------------------------------

  /** Buttons for the seats of every section on screen once seats are big enough to hit; the
   *  section of the seat with the Tab stop keeps its buttons while it is on screen. */
  placeButtons() {
    const view = this.view;
    const seen = view.visible(0);
    const wanted = new Set();
    let budget = MOST_BUTTONS;
    for (const section of this.sections) {
      if (section.pitch * view.scale < PICKABLE_PX || !overlaps(section.bounds, seen) || section.total > budget) continue;
      budget -= section.total;
      for (const row of section.rows) for (const seat of row.seats) wanted.add(seat);
    }
    for (const [id, button] of this.buttons) {
      if (!wanted.has(this.seats.get(id))) {
        button.remove();
        this.buttons.delete(id);
      }
    }
    for (const seat of wanted) {
      const button = this.buttons.get(seat.id) ?? this.addButton(seat);
      const size = Math.min(seat.pitch * view.scale, LARGEST_SEAT_PX) * 0.9;
      const [px, py] = view.toScreen(seat.x, seat.y);
      // CSSOM properties, not a style attribute: the page's CSP allows no inline styles.
      button.style.left = `${px - size / 2}px`;
      button.style.top = `${py - size / 2}px`;
      button.style.width = button.style.height = `${size}px`;
    }
    if (this.current && !this.buttons.has(this.current.id)) this.current = null;
    const [first] = this.buttons.keys();
    if (!this.current && first !== undefined) this.makeCurrent(this.seats.get(first));
  }

  addButton(seat) {
    const button = el("button", {
      type: "button",
      className: `seat cat-${seat.categoryIndex % 8}`,
      text: String(seat.number),
      dataset: { seatId: String(seat.id) },
      // Taken seats stay focusable (aria-disabled, not disabled) so they can be heard; a press
      // on one does nothing.
      on: { click: () => seat.status === "available" && !seat.mine && this.onToggle(seat) },
    });
    button.tabIndex = -1;
    this.buttons.set(seat.id, button);
    this.paintButton(seat, button);
    this.layer.append(button);
    return button;
  }

  paintButton(seat, button) {
    const shown = this.shownStatus(seat);
    button.dataset.status = shown;
    button.setAttribute("aria-disabled", String(shown !== "available"));
    button.setAttribute("aria-pressed", String(seat.selected));
    button.dataset.stranded = String(Boolean(seat.stranded));
    const words = [this.describe(seat), this.categoryName(seat), this.price(seat), STATUS_WORDS[shown] ?? shown];
    if (seat.selected) words.push("selected");
    if (seat.stranded) words.push("would be left on its own");
    button.setAttribute("aria-label", words.join(", "));
  }

  makeCurrent(seat) {
    if (this.current) this.buttons.get(this.current.id)?.setAttribute("tabindex", "-1");
    this.current = seat;
    this.buttons.get(seat.id)?.setAttribute("tabindex", "0");
  }

  /** Move the keyboard to `seat`: bring it on screen, give it a button, focus it. */
  focusSeat(seat) {
    const section = this.sections[seat.sectionIndex];
    if (section.pitch * this.view.scale < PICKABLE_PX) this.view.fit(section.bounds, { atLeast: PICKABLE_PX / section.pitch });
    this.view.reveal(seat.x, seat.y, LARGEST_SEAT_PX);
    this.pending.add("view"); // drawn now, not next frame: the seat's button must exist to focus
    this.frame();
    this.firstSeats();
    this.makeCurrent(seat);
    this.buttons.get(seat.id)?.focus({ preventScroll: true });
  }

  key(event) {
    const seat = this.seats.get(Number(event.target.dataset.seatId));
    if (!seat) return;
    if (event.key === "Escape") {
      event.preventDefault();
      this.sectionButtons[seat.sectionIndex].focus();
      return;
    }
    const target = neighbour(this.sections[seat.sectionIndex].rows, seat, event.key);
    if (target === undefined) return; // not a key of ours
    event.preventDefault();
    if (target) this.focusSeat(target);
  }

  // -- sections ---------------------------------------------------------------------------------

  /** Zoom into `section` until its seats can be picked; from the keyboard, focus its first free
   *  seat (or its first seat). */
  enterSection(section, fromKeyboard) {
    this.view.fit(section.bounds, { atLeast: PICKABLE_PX / section.pitch });
    this.list.show(section);
    if (!fromKeyboard) return;
    const seats = section.rows.flatMap((row) => row.seats);
    this.focusSeat(seats.find((seat) => seat.status === "available" && !seat.mine) ?? seats[0]);
  }

  sectionKey(event) {
    const index = this.sectionButtons.indexOf(event.target);
    if (index < 0) return;
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
    const to = event.key === "Home" ? 0 : event.key === "End" ? this.sectionButtons.length - 1 : step === undefined ? null : index + step;
    if (to === null) return;
    event.preventDefault();
    const target = this.sectionButtons[to];
    if (!target) return;
    event.target.tabIndex = -1;
    target.tabIndex = 0;
    target.focus();
  }

  /** A press on the plan that was not a drag: into the section under it, if any. */
  clicked(x, y) {
    const section = sectionAt(this.venue, x, y);
    if (section) this.enterSection(section, false);
  }

  dispose() {
    this.resizes.disconnect();
  }
}
