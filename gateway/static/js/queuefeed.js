"use strict";
// An event's waiting room, live, over the gateway's queue websocket
// (`/api/v1/events/{id}/queue/ws`, see gateway/routes/queue.py).
//
// Every frame is the whole room as the engine last decided it ({type: "queue", at,
// admitted_through, paused, rate_per_minute, …}), the same text for every buyer: nothing in it is
// about one buyer, who works out their own place from the rank they were given. So frames need no
// order and no gap detection; one older than the last seen (it can follow a reconnect) is
// skipped. A dropped connection is retried by `LiveSocket`, like the seat feed's.

import { LiveSocket, socketUrl } from "./livesocket.js";

export class QueueFeed extends LiveSocket {
  /** onRoom(frame) gets every newer room; onConnection("live" | "reconnecting"). */
  constructor(eventId, { onRoom, onConnection = () => {} }) {
    super(socketUrl(`/api/v1/events/${eventId}/queue/ws`), onConnection);
    this.onRoom = onRoom;
    this.lastAt = -Infinity;
  }

  receive(frame) {
    if (frame.type !== "queue") return;
    // The first frame of every connection is the room now: the connection works again.
    this.connected();
    if (frame.at < this.lastAt) return;
    this.lastAt = frame.at;
    this.onRoom(frame);
  }
}
