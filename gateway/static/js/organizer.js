"use strict";
// `#/organizer` (admin role): create a venue layout, put an event on sale in it, and pick an
// event whose sales to watch live.

import { api } from "./api.js";
import { el, field } from "./dom.js";
import { eventDateTime } from "./format.js";
import { announce, announceError } from "./notice.js";
import { inOrganizerWords } from "./organizerwords.js";
import { isAdmin } from "./session.js";

export async function organizerPage(container) {
  container.append(el("h1", { text: "Organizer" }));
  if (!isAdmin()) {
    container.append(el("p", { text: "This page is for organizers only. Log in with an organizer account." }));
    return;
  }
  const eventForm = new EventForm();
  const venueForm = venueFormElement((venue) => eventForm.loadVenues(venue.id), () => eventForm.name.focus());
  const events = el("ul", { className: "event-list" });
  container.append(
    el("section", { attrs: { "aria-labelledby": "new-venue" } }, el("h2", { id: "new-venue", text: "New venue" }), venueForm.element, venueForm.result),
    el("section", { attrs: { "aria-labelledby": "new-event" } }, el("h2", { id: "new-event", text: "New event" }), eventForm.element, eventForm.result),
    el("section", { attrs: { "aria-labelledby": "watch-sales" } }, el("h2", { id: "watch-sales", text: "Watch sales" }), events));
  eventForm.onCreated = () => listEvents(events);
  await Promise.all([eventForm.loadVenues(), listEvents(events)]);
}

async function listEvents(list) {
  try {
    const { events } = await api("GET", "/api/v1/events");
    list.replaceChildren(...events.map((event) => el("li", { className: "event-card" },
      el("a", { href: `#/organizer/events/${event.id}`, text: `${event.name}: live sales` }),
      el("p", { text: `${event.venue} · ${eventDateTime(event.starts_at, event.time_zone)}` }))));
  } catch (error) {
    announceError(error);
  }
}

// -- venue layout ----------------------------------------------------------------------------

/** A list of repeated input rows (categories, sections) with an "Add" button; `reset()` goes
 *  back to one empty row. */
function repeater(legend, addText, makeRow) {
  const rows = el("div", { className: "repeater-rows" }, makeRow());
  const add = el("button", { type: "button", text: addText, on: { click: () => rows.append(makeRow()) } });
  return { element: el("fieldset", {}, el("legend", { text: legend }), rows, add), rows, reset: () => rows.replaceChildren(makeRow()) };
}

/** What became of a form's last submission, under the form: what was made, with the way on to
 *  it, or why it was refused in the form's words. (The page's live region says it too.) */
function formResult() {
  return el("div", { className: "form-result", hidden: true });
}

function showCreated(result, ...content) {
  result.hidden = false;
  result.classList.remove("form-error");
  result.replaceChildren(el("p", {}, ...content));
}

function showRefused(result, error) {
  const words = inOrganizerWords(error);
  announceError(words);
  result.hidden = false;
  result.classList.add("form-error");
  result.replaceChildren(el("p", { text: words.message ?? "" }));
}

function categoryRow() {
  return el("div", { className: "repeater-row", dataset: { kind: "category" } },
    field("Code", el("input", { name: "code", required: true, maxLength: 32, size: 6 })),
    field("Name", el("input", { name: "name", required: true, maxLength: 100 })));
}

function sectionRow() {
  return el("div", { className: "repeater-row", dataset: { kind: "section" } },
    field("Section", el("input", { name: "section", required: true, maxLength: 32, size: 6 })),
    field("Rows", el("input", { name: "rows", type: "number", required: true, min: 1, value: "5" })),
    field("Seats per row", el("input", { name: "seats", type: "number", required: true, min: 1, value: "10" })),
    field("Category code", el("input", { name: "category", required: true, maxLength: 32, size: 6 })),
    field("Position x (m)", metres("x"), "Optional: the front row's centre on the plan"),
    field("Position y (m)", metres("y")),
    field("Rotation (degrees)", metres("rotation"), "Empty: faces the stage"),
    field("Curve radius (m)", metres("curve", 1), "Empty: no curve"));
}

/** An optional number in metres (or degrees) on the venue's plan; empty means not given. */
function metres(name, min) {
  return el("input", { name, type: "number", step: "any", min, inputMode: "decimal" });
}

/** The optional stage: with it and every section's position, the map is drawn to scale; without
 *  them the sections stand side by side facing a stage. */
function stageFields() {
  return el("fieldset", { dataset: { kind: "stage" } },
    el("legend", { text: "Stage (optional, metres; y runs down the plan)" }),
    el("div", { className: "repeater-row" },
      field("Stage x (m)", metres("stage-x")), field("Stage y (m)", metres("stage-y")),
      field("Stage width (m)", metres("stage-width", 0.1)), field("Stage depth (m)", metres("stage-depth", 0.1))));
}

/** A number input's value, or undefined when it is empty (left out of the layout). */
function optionalNumber(container, name) {
  const text = value(container, name);
  return text === "" ? undefined : Number(text);
}

/** The section's geometry when the organizer placed it, else undefined. */
function sectionGeometry(row) {
  const [x, y] = [optionalNumber(row, "x"), optionalNumber(row, "y")];
  if (x === undefined && y === undefined) return undefined;
  return { x, y, rotation: optionalNumber(row, "rotation"), curve: optionalNumber(row, "curve") };
}

function stageOf(fields) {
  const stage = Object.fromEntries(["x", "y", "width", "depth"].map((key) => [key, optionalNumber(fields, `stage-${key}`)]));
  return Object.values(stage).every((part) => part === undefined) ? undefined : stage;
}

function value(row, name) {
  return row.querySelector(`[name="${name}"]`).value.trim();
}

/** The venue form; `onCreated(venue)` after one is made, `onNext()` when the organizer goes on
 *  to put an event on sale in it. */
function venueFormElement(onCreated, onNext) {
  const categories = repeater("Categories", "Add a category", categoryRow);
  const sections = repeater("Sections (rows numbered 1 up, seats 1 up)", "Add a section", sectionRow);
  const name = el("input", { name: "venue-name", required: true, maxLength: 200 });
  const submit = el("button", { type: "submit", className: "primary", text: "Create venue" });
  const stage = stageFields();
  const form = el("form", { className: "stacked-form" }, field("Venue name", name), categories.element, sections.element, stage, submit);
  const result = formResult();
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const layout = {
      name: name.value.trim(),
      categories: [...categories.rows.children].map((row) => ({ code: value(row, "code"), name: value(row, "name") })),
      sections: [...sections.rows.children].map((row) => ({
        name: value(row, "section"),
        rows: Number(value(row, "rows")),
        seats: Number(value(row, "seats")),
        category: value(row, "category"),
        geometry: sectionGeometry(row),
      })),
      stage: stageOf(stage),
    };
    submit.disabled = true;
    try {
      const { venue } = await api("POST", "/api/v1/admin/venues", { body: layout });
      const said = `Venue "${venue.name}" created with ${venue.seats} seats.`;
      announce(said);
      // A blank form: the values kept would make a duplicate venue one click away.
      form.reset();
      categories.reset();
      sections.reset();
      showCreated(result, `${said} `, el("button", { type: "button", className: "link-button", text: `Put an event on sale in ${venue.name}`, on: { click: onNext } }));
      await onCreated(venue);
    } catch (error) {
      if (error.code === "invalid_input") showRefused(result, error);
      else announceError(error);
    } finally {
      submit.disabled = false;
    }
  });
  return { element: form, result };
}

// -- event -----------------------------------------------------------------------------------

/** A datetime-local input's value, read as the wall clock in `timeZone` (the event's), as an
 *  ISO instant. */
function instant(input, timeZone) {
  const asUtc = Date.parse(`${input.value}Z`);
  // The zone's offset at the instant itself, so a time just after a DST change reads right.
  const first = asUtc - zoneOffsetMs(asUtc, timeZone);
  return new Date(asUtc - zoneOffsetMs(first, timeZone)).toISOString();
}

/** How far `timeZone`'s wall clock is ahead of UTC at `epochMs`. */
function zoneOffsetMs(epochMs, timeZone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
  }).formatToParts(new Date(epochMs)).map(({ type, value }) => [type, Number(value)]));
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - (epochMs - (epochMs % 1000));
}

/** A choice of every time zone the browser knows, starting at the organizer's own. */
function timeZoneSelect() {
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = Intl.supportedValuesOf("timeZone");
  const select = el("select", { name: "time-zone", required: true },
    ...(zones.includes(own) ? zones : [own, ...zones]).map((zone) => el("option", { value: zone, text: zone.replaceAll("_", " ") })));
  select.value = own;
  return select;
}

class EventForm {
  constructor() {
    this.venues = [];
    this.onCreated = () => {};
    this.venue = el("select", { name: "venue", required: true, on: { change: () => this.renderPrices() } });
    this.name = el("input", { name: "event-name", required: true, maxLength: 200 });
    this.startsAt = el("input", { name: "starts-at", type: "datetime-local", required: true });
    this.saleStartsAt = el("input", { name: "sale-starts-at", type: "datetime-local", required: true });
    this.saleEndsAt = el("input", { name: "sale-ends-at", type: "datetime-local", required: true });
    this.currency = el("input", { name: "currency", required: true, value: "EUR", pattern: "[A-Z]{3}", size: 4 });
    this.maxSeats = el("input", { name: "max-seats", type: "number", required: true, min: 1, max: 50, value: "6" });
    this.timeZone = timeZoneSelect();
    this.noSingleGaps = el("input", { name: "no-single-gaps", type: "checkbox" });
    this.prices = el("fieldset", {}, el("legend", { text: "Prices" }));
    const submit = el("button", { type: "submit", className: "primary", text: "Create event" });
    this.result = formResult();
    this.element = el("form", { className: "stacked-form" },
      field("Venue", this.venue), field("Event name", this.name),
      field("Time zone", this.timeZone, "Where the event happens: the times below, and on its tickets, are in this zone."),
      field("Starts at", this.startsAt),
      field("Sale opens", this.saleStartsAt), field("Sale closes", this.saleEndsAt),
      field("Currency", this.currency, "Three letters, e.g. EUR."), field("Seats per buyer", this.maxSeats),
      el("label", { className: "checkbox-field" }, this.noSingleGaps, " No single-seat gaps: refuse holds that would leave one seat alone in a row"),
      this.prices, submit);
    this.element.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      submit.disabled = true;
      try {
        const { event } = await api("POST", "/api/v1/admin/events", { body: this.spec() });
        announce(`Event "${event.name}" created.`);
        this.clear();
        showCreated(this.result, `Event "${event.name}" created: `,
          el("a", { href: `#/events/${event.id}`, text: `${event.name} on the buyer's page` }), " · ",
          el("a", { href: `#/organizer/events/${event.id}`, text: "Watch its sales" }));
        await this.onCreated(event);
      } catch (error) {
        if (error.code === "invalid_input") showRefused(this.result, error);
        else announceError(error);
      } finally {
        submit.disabled = false;
      }
    });
  }

  /** A blank form for the next event, on the same venue and in the same time zone. */
  clear() {
    const [venue, timeZone] = [this.venue.value, this.timeZone.value];
    this.element.reset();
    this.venue.value = venue;
    this.timeZone.value = timeZone;
  }

  /** Fill the venue choice; `selectId` (a venue just created) is chosen, else the choice stays. */
  async loadVenues(selectId = null) {
    try {
      ({ venues: this.venues } = await api("GET", "/api/v1/admin/venues"));
    } catch (error) {
      announceError(error);
      return;
    }
    const chosen = selectId === null ? this.venue.value : String(selectId);
    this.venue.replaceChildren(...this.venues.map((venue) =>
      el("option", { value: String(venue.id), text: `${venue.name} (${venue.seats} seats)` })));
    if (this.venues.some((venue) => String(venue.id) === chosen)) this.venue.value = chosen;
    this.renderPrices();
  }

  chosenVenue() {
    return this.venues.find((venue) => String(venue.id) === this.venue.value);
  }

  renderPrices() {
    const categories = this.chosenVenue()?.categories ?? [];
    this.prices.replaceChildren(el("legend", { text: "Prices" }), ...categories.map((category) =>
      field(`Price for ${category.name} (${category.code})`,
        el("input", { type: "number", required: true, min: 0, step: "0.01", dataset: { category: category.code } }))));
  }

  spec() {
    const prices = Object.fromEntries([...this.prices.querySelectorAll("input")].map((input) =>
      [input.dataset.category, Math.round(Number(input.value) * 100)]));
    return {
      venue_id: Number(this.venue.value),
      name: this.name.value.trim(),
      starts_at: instant(this.startsAt, this.timeZone.value),
      sale_starts_at: instant(this.saleStartsAt, this.timeZone.value),
      sale_ends_at: instant(this.saleEndsAt, this.timeZone.value),
      time_zone: this.timeZone.value,
      currency: this.currency.value.trim(),
      max_seats_per_buyer: Number(this.maxSeats.value),
      no_single_gaps: this.noSingleGaps.checked,
      prices,
    };
  }
}
