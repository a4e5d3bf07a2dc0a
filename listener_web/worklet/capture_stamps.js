// @ts-check
/**
 * When the audio at a jitter buffer position was captured: the capture time of each push,
 * kept in a fixed ring of slots, and looked up for a read head that only moves forward
 * (jitter.js readHeadMs(), which the stats' captureMs come from). Pure, and it allocates
 * nothing after construction: it runs on the audio thread.
 */

/** Capture times of the pushes into a buffer, to say when a given sample was captured. */
export class CaptureStamps {
  /** @param {number} slots  pushes remembered (older ones are forgotten) */
  constructor(slots) {
    this._pos = new Float64Array(slots);
    this._ms = new Float64Array(slots);
    this._written = 0;
    this._found = 0; // the newest push at or before the last position asked for
  }

  /**
   * A push starts at buffer position `position`; its first sample was captured at `captureMs`
   * (NaN when unknown). Positions must not decrease.
   * @param {number} position
   * @param {number} captureMs
   */
  add(position, captureMs) {
    const at = this._written % this._pos.length;
    this._pos[at] = position;
    this._ms[at] = captureMs;
    this._written++;
  }

  /** Forget every push. */
  clear() {
    this._found = this._written;
  }

  /**
   * Capture time (ms) of the sample at `position`; NaN when unknown. Positions asked for
   * must not decrease either (a read head).
   * @param {number} position
   * @param {number} sampleRateHz
   */
  at(position, sampleRateHz) {
    const slots = this._pos.length;
    if (this._written - this._found > slots) this._found = this._written - slots;
    while (this._found + 1 < this._written && this._pos[(this._found + 1) % slots] <= position) {
      this._found++;
    }
    const at = this._found % slots;
    if (this._found >= this._written || this._pos[at] > position) return NaN;
    return this._ms[at] + ((position - this._pos[at]) * 1000) / sampleRateHz;
  }
}
