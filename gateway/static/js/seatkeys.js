"use strict";
// Arrow keys across the seat map. The whole map is one stop in the Tab order (one seat has
// tabindex 0, every other -1: a "roving tabindex"), so a keyboard user does not Tab through
// thousands of seats to get past it; inside it the arrows move seat by seat and row by row,
// Home and End to a row's ends. Taken seats are stops too, so they can be heard.

/** `rows`: the seat buttons, row by row in reading order (across sections). */
export function rovingFocus(container, rows) {
  const places = new Map(); // button -> [row index, seat index]
  rows.forEach((row, r) => row.forEach((button, s) => {
    places.set(button, [r, s]);
    button.tabIndex = -1;
  }));
  let current = rows[0]?.[0] ?? null;
  if (current) current.tabIndex = 0;

  const makeCurrent = (button) => {
    current.tabIndex = -1;
    button.tabIndex = 0;
    current = button;
  };
  // A click or a screen reader's own navigation moves the Tab stop along too.
  container.addEventListener("focusin", (event) => {
    if (places.has(event.target) && event.target !== current) makeCurrent(event.target);
  });
  container.addEventListener("keydown", (event) => {
    const place = places.get(event.target);
    if (!place) return;
    const target = neighbour(rows, place, event.key);
    if (target === undefined) return; // not a key of ours
    event.preventDefault();
    if (target === null) return; // at an edge
    makeCurrent(target);
    target.focus();
  });
}

/** The seat `key` moves to from `[r, s]`; null at an edge, undefined for any other key. */
function neighbour(rows, [r, s], key) {
  const row = rows[r];
  switch (key) {
    case "ArrowLeft": return row[s - 1] ?? null;
    case "ArrowRight": return row[s + 1] ?? null;
    case "ArrowUp": return sameColumn(rows[r - 1], s);
    case "ArrowDown": return sameColumn(rows[r + 1], s);
    case "Home": return row[0];
    case "End": return row[row.length - 1];
    default: return undefined;
  }
}

function sameColumn(row, s) {
  return row ? row[Math.min(s, row.length - 1)] : null;
}
