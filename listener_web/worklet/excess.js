// @ts-check
/**
 * When the jitter buffer holds more than it needs, pure: the depth above the target that
 * lasted a whole window, which can go without the buffer running dry in that window.
 *
 * A deep buffer is not always too deep. An engine that delivers its callbacks late and then
 * in a burst (WebKit: none for 40-100 ms, then 8-16 render quanta at once; any engine's
 * first callbacks) lets audio pile up during the wait and takes it back in the burst:
 * dropping the pile makes the burst underrun. Audio that stays above the target for a whole
 * window, measured at the peaks (right after an arrival), is a real excess: a network's
 * backlog delivered at once, or the extra a start keeps against a late output. The window is
 * two buckets of `bucketSamples` of output time; no allocation (it runs on the audio thread).
 */

/** The depth above the target that lasted over the last two buckets. */
export class ExcessWatch {
  /** @param {number} bucketSamples  output time per bucket, in input samples */
  constructor(bucketSamples) {
    if (!(bucketSamples > 0)) throw new RangeError(`bucketSamples: expected > 0, got ${bucketSamples}`);
    this.bucketSamples = bucketSamples;
    this._prev = Infinity; // least excess seen at a peak in the previous bucket
    this._cur = Infinity; // and in this one
    this._prevTop = -Infinity; // most excess seen at a peak in the previous bucket
    this._curTop = -Infinity; // and in this one
    this._elapsed = 0;
    /** Windows judged since the restart (both buckets with an arrival). */
    this.judged = 0;
    /** The excess at the highest peaks that lasted through the last window judged. */
    this.lastingTopSamples = -Infinity;
  }

  /** Forget what was seen: the depth jumped (a drop, a start). */
  restart() {
    this._prev = Infinity;
    this._cur = Infinity;
    this._prevTop = -Infinity;
    this._curTop = -Infinity;
    this._elapsed = 0;
    /** Windows judged since the restart (both buckets with an arrival). */
    this.judged = 0;
  }

  /**
   * One block about to be played.
   * @param {number} excessSamples  depth minus target before the block
   * @param {number} stepSamples  the block's length (in input samples)
   * @param {boolean} arrived  audio arrived since the previous block (the depth is a peak)
   * @param {number} slackSamples  excess allowed to stay
   * @param {boolean} [toTop]  drop what lasted at each bucket's highest peak, which is what
   *   the drift control steers by (drift.js), not at its lowest: after that drop the depth
   *   is on its target, and the rate need not move (a start's extra; see jitter.js)
   * @returns {number}  how much to drop now (0: nothing)
   */
  observe(excessSamples, stepSamples, arrived, slackSamples, toTop = false) {
    if (arrived && excessSamples < this._cur) this._cur = excessSamples;
    if (arrived && excessSamples > this._curTop) this._curTop = excessSamples;
    this._elapsed += stepSamples;
    if (this._elapsed < this.bucketSamples) return 0;
    // A bucket without an arrival says nothing: Infinity, so the minimum stays with the other.
    const lasting = Math.min(this._prev, this._cur);
    const lastingTop = Math.min(this._prevTop, this._curTop);
    const seen = this._prev < Infinity && this._cur < Infinity;
    this._prev = this._cur;
    this._cur = Infinity;
    this._prevTop = this._curTop;
    this._curTop = -Infinity;
    this._elapsed = 0;
    if (!seen) return 0;
    this.judged++;
    this.lastingTopSamples = lastingTop;
    const excess = toTop ? lastingTop : lasting;
    return excess > slackSamples ? Math.max(0, Math.min(excess, excessSamples)) : 0;
  }
}
