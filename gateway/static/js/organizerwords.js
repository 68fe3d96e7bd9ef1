"use strict";
// An organizer's form refused by the API (`invalid_input`), told in the form's own words. The
// API names the field by its path in the JSON ("'sections[1].rows[0].category' is 'X', which is
// not one of 'categories'"); the organizer filled in numbered sections and labelled fields
// ("Section 2, row 1: category 'X' does not exist"). One mapping for every such message.

// A path's steps that are places in the form: the list's name and what one item is called.
const PLACES = { categories: "Category", sections: "Section", rows: "row" };
// The last step of a path, as the form labels it.
const FIELDS = {
  name: "name", code: "code", category: "category", rows: "rows", seats: "seats", label: "label",
  rank: "rank", seat_ranks: "seat ranks", geometry: "position", x: "position x (m)", y: "position y (m)",
  rotation: "rotation", curve: "curve radius", row_spacing: "row spacing", seat_spacing: "seat spacing",
  stage: "stage", width: "width", depth: "depth", categories: "categories", sections: "sections",
  venue_id: "venue", starts_at: "starts at", sale_starts_at: "sale opens", sale_ends_at: "sale closes",
  currency: "currency", max_seats_per_buyer: "seats per buyer", prices: "prices", time_zone: "time zone",
  no_single_gaps: "no single-seat gaps",
};
// The rest of a message, where it still speaks JSON.
const REWORDS = [
  [/^is (.+), which is not one of 'categories'$/, "$1 does not exist: add it under Categories first"],
  [/^names categories the venue does not have: (.+)$/, "name categories this venue does not have: $1"],
];
const QUOTED_PATH = /'([a-z_]+(?:\[\d+\]|\.[A-Za-z0-9_]+)*)'/g;

/** `path` ("sections[1].rows[0].category") in words: "Section 2, row 1: category"; a field
 *  alone is capitalised when it starts the sentence. */
export function pathWords(path, { leading = true } = {}) {
  const places = [];
  let field = null;
  for (const step of path.split(".")) {
    const item = /^([a-z_]+)\[(\d+)\]$/.exec(step);
    if (item && PLACES[item[1]]) places.push(`${PLACES[item[1]]} ${Number(item[2]) + 1}`);
    else if (step === "stage") places.push("Stage");
    else if (/^\d+$/.test(step)) places.push(`seat ${step}`); // seat_ranks.{number}
    else if (places.length && field === "prices") field = `price for ${step}`;
    else field = FIELDS[step] ?? step.replaceAll("_", " ");
  }
  const place = places.join(", ");
  if (!place) return leading ? capitalise(field ?? "") : field ?? "";
  return field ? `${place}: ${field}` : place;
}

/** The error with its message in the organizer's words; other errors unchanged. */
export function inOrganizerWords(error) {
  if (error?.code !== "invalid_input") return error;
  return { code: error.code, details: error.details, message: organizerMessage(error.message ?? "") };
}

function organizerMessage(message) {
  const lead = /^'([^']+)' (.*)$/s.exec(message);
  const inner = (text) => text.replace(QUOTED_PATH, (_, path) => pathWords(path, { leading: false }));
  if (!lead) return inner(message);
  let rest = lead[2];
  for (const [pattern, words] of REWORDS) rest = rest.replace(pattern, words);
  return `${pathWords(lead[1])} ${inner(rest)}`;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
