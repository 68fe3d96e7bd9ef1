"use strict";
// How amounts and dates read to a person. The API sends money in minor units (cents).

// Formatters are costly to make and a big seat map formats every seat's price: one per currency.
const moneyFormats = new Map();
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

export function money(amountMinor, currency) {
  if (!moneyFormats.has(currency)) {
    moneyFormats.set(currency, new Intl.NumberFormat(undefined, { style: "currency", currency }));
  }
  return moneyFormats.get(currency).format(amountMinor / 100);
}

export function dateTime(iso) {
  return dateTimeFormat.format(new Date(iso));
}

/** The time of day of an instant (ms since the epoch), e.g. "14:05": for times within the hour. */
export function clock(epochMs) {
  return clockFormat.format(new Date(epochMs));
}

/** A wait in seconds as a person says it: "less than a minute", "about 5 minutes",
 *  "about 1 hour 20 minutes". Rounded up: a promise a little long is kinder than one too short. */
export function roughDuration(totalSeconds) {
  if (totalSeconds < 60) return "less than a minute";
  const minutes = Math.ceil(totalSeconds / 60);
  if (minutes < 90) return `about ${plural(minutes, "minute", "minutes")}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `about ${plural(hours, "hour", "hours")}${rest ? ` ${plural(rest, "minute", "minutes")}` : ""}`;
}

/** Seconds as h:mm:ss (or mm:ss under an hour), for countdowns that may be long. */
export function hoursMinutesSeconds(totalSeconds) {
  const seconds = Math.max(0, Math.ceil(totalSeconds));
  const hours = Math.floor(seconds / 3600);
  const rest = minutesSeconds(seconds % 3600);
  return hours ? `${hours}:${rest}` : rest;
}

/** Seconds as mm:ss, for the hold countdown. */
export function minutesSeconds(totalSeconds) {
  const seconds = Math.max(0, Math.ceil(totalSeconds));
  return `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
}

export function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

// One formatter per time zone: every event's times read as on its tickets, in its own zone,
// with the zone's name ("1 May 2030, 19:30 CEST") so a buyer elsewhere is not misled.
const eventFormats = new Map();

/** An instant (ISO string) as a date and time in the IANA `timeZone`, naming the zone. */
export function eventDateTime(iso, timeZone = "UTC") {
  if (!eventFormats.has(timeZone)) {
    eventFormats.set(timeZone, new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone }));
  }
  return `${eventFormats.get(timeZone).format(new Date(iso))} ${zoneName(iso, timeZone)}`;
}

/** The zone's short name at that instant ("CEST", "GMT+2"): summer and winter differ. */
function zoneName(iso, timeZone) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, timeZoneName: "short" }).formatToParts(new Date(iso));
  return parts.find((part) => part.type === "timeZoneName")?.value ?? timeZone;
}

// One formatter per time zone, made on first use.
const zoneClockFormats = new Map();

/** The time of day of an instant (ms since the epoch) in `timeZone`, an IANA name such as
 *  "Europe/Paris", with the zone's short name ("20:05 CET"): the event's time, wherever the
 *  buyer is. Without a zone (or with one this browser does not know), the browser's own. */
export function clockIn(epochMs, timeZone) {
  if (!timeZone) return clock(epochMs);
  if (!zoneClockFormats.has(timeZone)) {
    try {
      zoneClockFormats.set(timeZone, new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZone, timeZoneName: "short" }));
    } catch {
      return clock(epochMs);
    }
  }
  return zoneClockFormats.get(timeZone).format(new Date(epochMs));
}
