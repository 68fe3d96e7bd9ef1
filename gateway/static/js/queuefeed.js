"use strict";
// An event's waiting room, live, over the gateway's queue websocket
// (`/api/v1/events/{id}/queue/ws`, see gateway/routes/queue.py).
//
// Every frame is the whole room as the engine last decided it ({type: "queue", at,
// admitted_through, paused, rate_per_minute, …}), the same text for every buyer: nothing in it is
// about one buyer, who works out their own place from the rank they were given. So frames need no
// order and no gap detection; one older than the last seen (it can follow a reconnect) is
// skipped. A dropped connection is retried with jittered, doubling back-off, like the seat feed.

const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 10_000;

export class QueueFeed {
  /** onRoom(frame) gets every newer room; onConnection("live" | "reconnecting"). */
  constructor(eventId, { onRoom, onConnection = () => {} }) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/events/${eventId}/queue/ws`;
    this.handlers = { onRoom, onConnection };
    this.lastAt = -Infinity;
    this.socket = null;
    this.retryMs = FIRST_RETRY_MS;
    this.retryTimer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.socket?.close(1000);
    this.socket = null;
  }

  connect() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.receive(JSON.parse(event.data));
    });
    // An error is always followed by a close, so the close alone schedules the retry.
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.retryLater();
    });
  }

  receive(frame) {
    if (frame.type !== "queue") return;
    // The first frame of every connection is the room now: the connection works again.
    this.retryMs = FIRST_RETRY_MS;
    this.handlers.onConnection("live");
    if (frame.at < this.lastAt) return;
    this.lastAt = frame.at;
    this.handlers.onRoom(frame);
  }

  retryLater() {
    this.socket = null;
    if (this.stopped) return;
    this.handlers.onConnection("reconnecting");
    // Half fixed, half random: tens of thousands of waiting pages that lost their gateway at
    // once must not all come back in the same instant.
    const delay = this.retryMs / 2 + (Math.random() * this.retryMs) / 2;
    this.retryMs = Math.min(this.retryMs * 2, LONGEST_RETRY_MS);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
