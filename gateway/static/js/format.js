"use strict";
// How amounts and dates read to a person. The API sends money in minor units (cents).

// Formatters are costly to make and a big seat map formats every seat's price: one per currency.
const moneyFormats = new Map();
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function money(amountMinor, currency) {
  if (!moneyFormats.has(currency)) {
    moneyFormats.set(currency, new Intl.NumberFormat(undefined, { style: "currency", currency }));
  }
  return moneyFormats.get(currency).format(amountMinor / 100);
}

export function dateTime(iso) {
  return dateTimeFormat.format(new Date(iso));
}

/** Seconds as mm:ss, for the hold countdown. */
export function minutesSeconds(totalSeconds) {
  const seconds = Math.max(0, Math.ceil(totalSeconds));
  return `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
}

export function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}
