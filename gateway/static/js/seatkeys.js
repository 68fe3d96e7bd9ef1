"use strict";
// Arrow keys inside a section of the seat map: Left and Right move seat by seat along a row, Up
// and Down to the previous or next row (front to back) at the same place along it, Home and End
// to a row's ends. The map keeps one seat as the Tab stop (a "roving tabindex"), so a keyboard
// user never Tabs through thousands of seats; taken seats are stops too, so they can be heard.

/** The seat `key` moves to from `seat` within `rows` (its section's rows, each {seats}); null
 *  at an edge, undefined for a key that is not ours. */
export function neighbour(rows, seat, key) {
  const row = rows[seat.rowIndex].seats;
  switch (key) {
    case "ArrowLeft": return row[seat.col - 1] ?? null;
    case "ArrowRight": return row[seat.col + 1] ?? null;
    case "ArrowUp": return sameColumn(rows[seat.rowIndex - 1], seat.col);
    case "ArrowDown": return sameColumn(rows[seat.rowIndex + 1], seat.col);
    case "Home": return row[0];
    case "End": return row[row.length - 1];
    default: return undefined;
  }
}

function sameColumn(row, col) {
  return row ? row.seats[Math.min(col, row.seats.length - 1)] : null;
}
