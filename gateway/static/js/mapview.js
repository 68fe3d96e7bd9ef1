"use strict";
// Where the venue plan sits on screen, and the gestures that move it: wheel and pinch zoom,
// drag to pan, and the zoom buttons. A plan point (x, y) in decimetres is drawn at
// (x * scale + left, y * scale + top) CSS pixels. The view only tracks the transform and its
// element's size; whoever owns it draws when told the view changed.

const PADDING_PX = 16;
const WHEEL_ZOOM = 1.0015; // per wheel delta unit
const DRAG_START_PX = 6; // a press that moves less than this is a click, not a drag
const MIN_SCALE_OF_FIT = 0.5; // how far out the buyer may zoom, relative to the whole venue

export class MapView {
  /**
   * element: the positioned box the map fills; bounds: the plan's {minX, minY, maxX, maxY};
   * maxScale: the closest zoom; onChange(view, how) after every move ("zoom" or "pan");
   * onClick(x, y) for a press on the plan that did not drag, in plan coordinates.
   */
  constructor({ element, bounds, maxScale, onChange, onClick }) {
    this.element = element;
    this.bounds = bounds;
    this.maxScale = maxScale;
    this.onChange = onChange;
    this.onClick = onClick;
    this.width = 0;
    this.height = 0;
    this.scale = 1;
    this.left = 0;
    this.top = 0;
    this.moved = false; // whether the buyer has moved the view (a resize then keeps it)
    this.pointers = new Map(); // pointerId -> {x, y} while pressed
    this.dragging = false;
    this.pressedAt = null;
    this.listen();
  }

  /** Take the element's current size; the first time, and until the buyer moves, fit all. */
  resize() {
    const box = this.element.getBoundingClientRect();
    this.width = box.width;
    this.height = box.height;
    if (!this.moved) this.fit(this.bounds, { moved: false });
    else this.onChange(this, "zoom");
  }

  minScale() {
    return this.fitScale(this.bounds) * MIN_SCALE_OF_FIT;
  }

  fitScale({ minX, minY, maxX, maxY }) {
    const width = Math.max(maxX - minX, 1);
    const height = Math.max(maxY - minY, 1);
    return Math.min((this.width - 2 * PADDING_PX) / width, (this.height - 2 * PADDING_PX) / height);
  }

  /** Show `box` whole and centred, at least `atLeast` px per decimetre (then it may overflow). */
  fit(box, { atLeast = 0, moved = true } = {}) {
    this.moved = moved;
    this.scale = this.clampScale(Math.max(this.fitScale(box), atLeast));
    this.centreOn((box.minX + box.maxX) / 2, (box.minY + box.maxY) / 2);
    this.onChange(this, "zoom");
  }

  centreOn(x, y) {
    this.left = this.width / 2 - x * this.scale;
    this.top = this.height / 2 - y * this.scale;
  }

  /** Zoom by `factor` keeping the screen point (px, py) where it is. */
  zoomBy(factor, px = this.width / 2, py = this.height / 2) {
    const scale = this.clampScale(this.scale * factor);
    const [x, y] = this.toPlan(px, py);
    this.scale = scale;
    this.left = px - x * scale;
    this.top = py - y * scale;
    this.moved = true;
    this.onChange(this, "zoom");
  }

  panBy(dx, dy) {
    this.left += dx;
    this.top += dy;
    this.moved = true;
    this.onChange(this, "pan");
  }

  /** Pan the least that brings the plan point (x, y) at least `margin` px inside the view. */
  reveal(x, y, margin) {
    const [sx, sy] = this.toScreen(x, y);
    const dx = Math.min(0, this.width - margin - sx) + Math.max(0, margin - sx);
    const dy = Math.min(0, this.height - margin - sy) + Math.max(0, margin - sy);
    if (dx || dy) this.panBy(dx, dy);
  }

  clampScale(scale) {
    return Math.min(this.maxScale, Math.max(this.minScale(), scale));
  }

  toScreen(x, y) {
    return [x * this.scale + this.left, y * this.scale + this.top];
  }

  toPlan(px, py) {
    return [(px - this.left) / this.scale, (py - this.top) / this.scale];
  }

  /** The part of the plan on screen, with `margin` px around it. */
  visible(margin = 0) {
    const [minX, minY] = this.toPlan(-margin, -margin);
    const [maxX, maxY] = this.toPlan(this.width + margin, this.height + margin);
    return { minX, minY, maxX, maxY };
  }

  listen() {
    const element = this.element;
    element.addEventListener("wheel", (event) => {
      event.preventDefault();
      const [px, py] = this.local(event);
      this.zoomBy(WHEEL_ZOOM ** -event.deltaY, px, py);
    }, { passive: false });
    element.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      this.pointers.set(event.pointerId, this.local(event));
      this.pressedAt = this.pointers.size === 1 ? this.local(event) : null;
      this.dragging = this.pointers.size > 1;
    });
    element.addEventListener("pointermove", (event) => {
      const before = this.pointers.get(event.pointerId);
      if (!before) return;
      const now = this.local(event);
      if (!this.dragging && this.pressedAt) {
        if (Math.hypot(now[0] - this.pressedAt[0], now[1] - this.pressedAt[1]) < DRAG_START_PX) return;
        // Captured only once it is a drag, so a plain press still clicks the seat under it.
        this.dragging = true;
        element.setPointerCapture(event.pointerId);
      }
      if (this.pointers.size === 2) {
        const [other] = [...this.pointers].filter(([id]) => id !== event.pointerId).map(([, at]) => at);
        const apart = Math.hypot(now[0] - other[0], now[1] - other[1]);
        const wasApart = Math.hypot(before[0] - other[0], before[1] - other[1]);
        this.pointers.set(event.pointerId, now);
        if (wasApart > 0) this.zoomBy(apart / wasApart, (now[0] + other[0]) / 2, (now[1] + other[1]) / 2);
        return;
      }
      this.pointers.set(event.pointerId, now);
      this.panBy(now[0] - before[0], now[1] - before[1]);
    });
    const release = (event) => {
      if (!this.pointers.delete(event.pointerId)) return;
      const wasClick = !this.dragging && this.pressedAt && event.type === "pointerup";
      if (this.pointers.size === 0) this.dragging = false;
      // A press on a seat's own button is that button's click.
      if (wasClick && !event.target.closest("button")) {
        const [px, py] = this.local(event);
        this.onClick(...this.toPlan(px, py));
      }
      this.pressedAt = null;
    };
    element.addEventListener("pointerup", release);
    element.addEventListener("pointercancel", release);
  }

  local(event) {
    const box = this.element.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }
}
