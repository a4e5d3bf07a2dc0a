// @ts-check
/** The latency/buffer graph's data, pure: a ring of the last points, and the scales. */

/** A fixed-size ring of (time, latency, buffer) points; latency NaN when unknown. */
export class PointRing {
  /** @param {number} capacity */
  constructor(capacity) {
    this.capacity = capacity;
    this.timesMs = new Float64Array(capacity);
    this.latencyMs = new Float64Array(capacity);
    this.bufferMs = new Float64Array(capacity);
    this.start = 0; // index of the oldest point
    this.length = 0;
  }

  /**
   * Add the newest point, forgetting the oldest when full.
   * @param {number} atMs
   * @param {number | null} latencyMs
   * @param {number} bufferMs
   */
  push(atMs, latencyMs, bufferMs) {
    const at = (this.start + this.length) % this.capacity;
    this.timesMs[at] = atMs;
    this.latencyMs[at] = latencyMs ?? NaN;
    this.bufferMs[at] = bufferMs;
    if (this.length < this.capacity) this.length += 1;
    else this.start = (this.start + 1) % this.capacity;
  }

  /**
   * The storage index of the i-th point, oldest first.
   * @param {number} i
   */
  index(i) {
    return (this.start + i) % this.capacity;
  }

  clear() {
    this.start = 0;
    this.length = 0;
  }

  /**
   * The largest latency or buffer of the points since `sinceMs` (0 when none).
   * @param {number} sinceMs
   */
  maxSince(sinceMs) {
    let max = 0;
    for (let i = 0; i < this.length; i++) {
      const at = this.index(i);
      if (this.timesMs[at] < sinceMs) continue;
      const latency = this.latencyMs[at];
      if (latency > max) max = latency; // NaN never is
      if (this.bufferMs[at] > max) max = this.bufferMs[at];
    }
    return max;
  }
}

const STEPS = [1, 2, 5];

/**
 * The top of the graph's axis: the smallest 1, 2 or 5 × 10ⁿ ms at or above `maxMs`, and
 * at least `minMs`.
 * @param {number} maxMs
 * @param {number} [minMs]
 */
export function axisTopMs(maxMs, minMs = 50) {
  const want = Math.max(minMs, Number.isFinite(maxMs) ? maxMs : 0);
  let decade = 10 ** Math.floor(Math.log10(want));
  for (;;) {
    for (const step of STEPS) if (step * decade >= want - 1e-9) return step * decade;
    decade *= 10;
  }
}

/**
 * Canvas x of a point at `atMs` on a graph of the `windowMs` up to `nowMs`.
 * @param {number} atMs
 * @param {number} nowMs
 * @param {number} windowMs
 * @param {number} width
 */
export function xFor(atMs, nowMs, windowMs, width) {
  return width * (1 - (nowMs - atMs) / windowMs);
}

/**
 * Canvas y of `valueMs` on an axis from 0 (bottom) to `topMs` (top), clamped to the canvas.
 * @param {number} valueMs
 * @param {number} topMs
 * @param {number} height
 */
export function yFor(valueMs, topMs, height) {
  const fraction = Math.min(1, Math.max(0, valueMs / topMs));
  return height * (1 - fraction);
}
