"use strict";
// The venue as the map works with it: sections, rows and seats from the event's layout, each
// seat with its place on the plan (decimetres), its category, price and live status, and each
// section's count of seats left. Built in slices that give the browser back its main thread
// between them, so a 20,000-seat venue never blocks a slow phone for long at a time.

const STATUS_OF_LETTER = { a: "available", h: "held", b: "booked" };
const SEATS_PER_SLICE = 2_000;
const DEFAULT_PITCH = 5; // decimetres between seats, for a section with no two seats in a row

/** seat id -> status from the live state's letters, given the seat ids in layout order. */
export function statusesFromLetters(seatIds, letters) {
  return new Map(seatIds.map((id, index) => [id, STATUS_OF_LETTER[letters[index]] ?? "booked"]));
}

/** layout: the `/layout` answer; statuses: the `/seats/live` letters, in layout order. */
export async function buildVenue(layout, statuses) {
  const venue = {
    currency: layout.currency, categories: layout.categories, stage: layout.stage,
    sections: [], seats: new Map(), ordered: [],
  };
  let sinceBreak = 0;
  for (const [index, wire] of layout.sections.entries()) {
    venue.sections.push(buildSection(venue, wire, index));
    sinceBreak += venue.sections[index].total;
    if (sinceBreak >= SEATS_PER_SLICE) {
      sinceBreak = 0;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  venue.ordered.forEach((seat, index) => {
    seat.status = STATUS_OF_LETTER[statuses[index]] ?? "booked";
    countAvailable(venue, seat, 1);
  });
  venue.bounds = venueBounds(venue.sections, layout.stage);
  return venue;
}

/** Count `seat` into (1) or out of (-1) its section's free seats, if it is free. */
export function countAvailable(venue, seat, by) {
  if (seat.status !== "available") return;
  const section = venue.sections[seat.sectionIndex];
  section.available += by;
  section.availableBy[seat.categoryIndex] += by;
}

function buildSection(venue, wire, index) {
  const section = {
    index, name: wire.name, categoryIndex: wire.rows[0].category, rows: [], total: 0, available: 0,
    availableBy: venue.categories.map(() => 0), outline: pairs(wire.outline), pitch: pitchOf(wire.rows),
    categoryIndexes: [...new Set(wire.rows.map((row) => row.category))],
  };
  const box = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  section.rows = wire.rows.map((row, rowIndex) => {
    const category = venue.categories[row.category];
    return {
      label: row.label,
      seats: row.ids.map((id, col) => {
        const x = row.x[col];
        const y = row.y[col];
        box.minX = Math.min(box.minX, x);
        box.minY = Math.min(box.minY, y);
        box.maxX = Math.max(box.maxX, x);
        box.maxY = Math.max(box.maxY, y);
        const seat = {
          id, section: wire.name, row: row.label, number: row.numbers[col], category: category.code,
          categoryIndex: row.category, price: category.price, x, y, pitch: section.pitch,
          sectionIndex: index, rowIndex, col, status: null, mine: false, yours: false, selected: false, stranded: false,
        };
        venue.seats.set(id, seat);
        venue.ordered.push(seat);
        return seat;
      }),
    };
  });
  section.total = section.rows.reduce((sum, row) => sum + row.seats.length, 0);
  const pad = section.pitch;
  section.bounds = { minX: box.minX - pad, minY: box.minY - pad, maxX: box.maxX + pad, maxY: box.maxY + pad };
  section.centre = [(box.minX + box.maxX) / 2, (box.minY + box.maxY) / 2];
  section.size = [box.maxX - box.minX + 2 * pad, box.maxY - box.minY + 2 * pad];
  return section;
}

function pairs(flat) {
  const points = [];
  for (let index = 0; index < flat.length; index += 2) points.push([flat[index], flat[index + 1]]);
  return points;
}

/** Decimetres between neighbouring seats: from the first row with two seats, per seat number. */
function pitchOf(rows) {
  const row = rows.find((candidate) => candidate.ids.length > 1);
  if (!row) return DEFAULT_PITCH;
  const apart = Math.hypot(row.x[1] - row.x[0], row.y[1] - row.y[0]);
  return apart / Math.max(1, Math.abs(row.numbers[1] - row.numbers[0])) || DEFAULT_PITCH;
}

function venueBounds(sections, stage) {
  return sections.reduce((box, { bounds }) => ({
    minX: Math.min(box.minX, bounds.minX), minY: Math.min(box.minY, bounds.minY),
    maxX: Math.max(box.maxX, bounds.maxX), maxY: Math.max(box.maxY, bounds.maxY),
  }), {
    minX: stage.x - stage.width / 2, minY: stage.y - stage.depth / 2,
    maxX: stage.x + stage.width / 2, maxY: stage.y + stage.depth / 2,
  });
}

export function overlaps(a, b) {
  return a.minX <= b.maxX && a.maxX >= b.minX && a.minY <= b.maxY && a.maxY >= b.minY;
}

/** The section with a seat within two seat pitches of the plan point (x, y), if any. */
export function sectionAt(venue, x, y) {
  return venue.sections.find((section) => {
    const { minX, minY, maxX, maxY } = section.bounds;
    if (x < minX || x > maxX || y < minY || y > maxY) return false;
    const reach = 2 * section.pitch;
    return section.rows.some((row) => row.seats.some((seat) => Math.abs(seat.x - x) < reach && Math.abs(seat.y - y) < reach));
  });
}
