// @ts-check
/**
 * The page's one time-window maximum, pure: behind the server clock's offset and the
 * freshest packet age (clock.js), and behind the count of the output device's glitches
 * (output/output_buffer.js).
 */

/** The largest of the values added in the last `windowMs` (and always the newest). */
export class MaxWindow {
  /** @param {number} windowMs */
  constructor(windowMs) {
    this.windowMs = windowMs;
    /** @type {{atMs: number, value: number}[]} oldest first */
    this.samples = [];
  }

  /**
   * @param {number} value
   * @param {number} atMs
   */
  add(value, atMs) {
    if (!Number.isFinite(value) || !Number.isFinite(atMs)) return;
    this.samples.push({ atMs, value });
    while (this.samples.length > 1 && atMs - this.samples[0].atMs > this.windowMs) {
      this.samples.shift();
    }
  }

  /** @returns {number | null} */
  get max() {
    if (this.samples.length === 0) return null;
    let best = -Infinity;
    for (const sample of this.samples) best = Math.max(best, sample.value);
    return best;
  }

  clear() {
    this.samples.length = 0;
  }
}
