"use strict";
// The hold's countdown in the panel: the time left as mm:ss (a timer, not read out as it
// changes), the time to pay by in the event's time zone, and what happens when it runs out.
// In the last minute it turns red, and says so in words too, for those who cannot see colour.

import { el } from "./dom.js";
import { clockIn, minutesSeconds } from "./format.js";

export const FINAL_WARNING_SECONDS = 60;

export class HoldCountdown {
  /** timeZone: the event's (an IANA name), or undefined for the browser's own. */
  constructor({ timeZone }) {
    this.timeZone = timeZone;
    this.timer = el("p", { className: "countdown", attrs: { role: "timer", "aria-live": "off" } });
    this.payBy = el("p", { className: "pay-by" });
    this.element = el("div", { className: "hold-countdown", hidden: true }, this.timer, this.payBy);
  }

  /** A hold that ends at `expiresAt` (ISO 8601, the server's clock). */
  start(expiresAt) {
    this.element.hidden = false;
    this.payBy.textContent = `Pay by ${clockIn(Date.parse(expiresAt), this.timeZone)}. If the time runs out, `
      + "the seats are released for others to buy and you can choose seats again.";
  }

  /** Show `secondsLeft`; answers whether this is the last minute. */
  render(secondsLeft) {
    const urgent = secondsLeft <= FINAL_WARNING_SECONDS;
    this.timer.dataset.urgent = String(urgent);
    this.timer.textContent = `${urgent ? "Last minute to pay" : "Held for you"}: ${minutesSeconds(secondsLeft)}`;
    return urgent;
  }

  stop() {
    this.element.hidden = true;
  }
}
