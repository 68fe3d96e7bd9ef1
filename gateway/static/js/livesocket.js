"use strict";
// A websocket that follows one of the gateway's live feeds and comes back by itself.
//
// A dropped connection is retried with jittered, doubling back-off (half fixed, half random:
// tens of thousands of pages that lost their gateway at once must not all return in the same
// instant). A feed calls `connected()` when a frame shows the connection works again, which
// resets the back-off, and implements `receive(frame)` for every frame of the current socket.

const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 10_000;

/** The websocket address of a gateway path, on the page's own host and scheme. */
export function socketUrl(path) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

export class LiveSocket {
  /** onConnection("live" | "reconnecting") says whether what the feed shows is current. */
  constructor(url, onConnection) {
    this.url = url;
    this.onConnection = onConnection;
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

  /** A frame showed the connection works again. */
  connected() {
    this.retryMs = FIRST_RETRY_MS;
    this.onConnection("live");
  }

  /** The socket is gone: what the feed knew may be stale until it is back. */
  disconnected() {}

  retryLater() {
    this.socket = null;
    this.disconnected();
    if (this.stopped) return;
    this.onConnection("reconnecting");
    const delay = this.retryMs / 2 + (Math.random() * this.retryMs) / 2;
    this.retryMs = Math.min(this.retryMs * 2, LONGEST_RETRY_MS);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
