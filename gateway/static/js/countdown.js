"use strict";
// A countdown to an instant, ticking once a second: the time until a sale opens, on the event
// page and the waiting room's pre-queue screen. The instant is the server's; `clockOffsetMs`
// (server time minus this machine's, when known) keeps a wrong local clock from moving it.

import { hoursMinutesSeconds } from "./format.js";

const TICK_MS = 1000;

/** Seconds from now until `targetMs` (ms since the epoch, server time); negative once past. */
export function secondsUntil(targetMs, clockOffsetMs = 0) {
  return (targetMs - (Date.now() + clockOffsetMs)) / 1000;
}

/** "The sale starts in 1:02:03.", or null once it has started. */
export function saleStartsIn(saleStartsAtMs, clockOffsetMs = 0) {
  const left = secondsUntil(saleStartsAtMs, clockOffsetMs);
  return left > 0 ? `The sale starts in ${hoursMinutesSeconds(left)}.` : null;
}

/** A `role="timer"` line counting down to a sale's start; `onStarted` runs once at zero.
 *  `start()` returns the function that stops it. */
export class SaleCountdown {
  constructor(saleStartsAtMs, { onStarted = () => {} } = {}) {
    this.saleStartsAtMs = saleStartsAtMs;
    this.onStarted = onStarted;
    this.timer = null;
    // Not read out every second; the page says once that the sale has started.
    this.element = document.createElement("p");
    this.element.className = "sale-countdown";
    this.element.setAttribute("role", "timer");
    this.element.setAttribute("aria-live", "off");
  }

  start() {
    this.render();
    this.timer = setInterval(() => this.render(), TICK_MS);
    return () => clearInterval(this.timer);
  }

  render() {
    const text = saleStartsIn(this.saleStartsAtMs);
    if (text !== null) {
      this.element.textContent = text;
      return;
    }
    clearInterval(this.timer);
    this.element.textContent = "The sale has started.";
    this.onStarted();
  }
}
