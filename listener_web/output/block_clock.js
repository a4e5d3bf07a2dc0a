// @ts-check
/**
 * How many frames a ScriptProcessor's context played without asking the page for them,
 * pure: the clock the output really consumes at, against the blocks the page filled.
 *
 * A ScriptProcessorNode asks the main thread for each block ahead of time. When the main
 * thread is late, WebKit does not wait: it plays a block of silence and fires no event for
 * it (11-16 times in a minute on a busy machine). The jitter buffer, counting the blocks it
 * filled, then believes the output slower than it is: the audio that should have played
 * piles up (latency grows, the drift control reads faster) and arrivals look early. So each
 * event's `playbackTime` (the context's clock) is compared with the blocks filled so far.
 * WebKit computes it when the event is dispatched, not per block: a few events in a row
 * can carry the same time, and it jitters by render quanta. What lasts over a window of
 * events is what the context really played on its own; it comes in whole blocks.
 */

/** Compares a ScriptProcessor's playbackTime with the blocks it was asked to fill. */
export class BlockClock {
  /**
   * @param {number} blockFrames
   * @param {number} [bucketEvents]  the window is two buckets of this many events
   */
  constructor(blockFrames, bucketEvents = 8) {
    this.blockFrames = blockFrames;
    this.bucketEvents = bucketEvents;
    /** Frames the context played on its own, so far (whole blocks). */
    this.skippedFrames = 0;
    /** How far the latest event's time is ahead of the blocks filled: the context's clock at
     * once, unconfirmed blocks and the dispatch's jitter included. */
    this.leadFrames = 0;
    this._base = NaN; // frame of the first event
    this._events = 0; // events before this one
    this._prev = Infinity; // least offset of the previous bucket
    this._cur = Infinity;
    this._inBucket = 0;
    this._judged = false;
  }

  /** Whether the first window has set the baseline (the context's clock is steady). */
  get judged() {
    return this._judged;
  }

  /**
   * How far the context's clock is ahead of the blocks filled and skipped so far, when
   * the next block would play at `frame` (0 before the baseline is known).
   * @param {number} frame
   */
  pendingFrames(frame) {
    if (!this._judged) return 0;
    return Math.max(0, frame - this._base - this._events * this.blockFrames - this.skippedFrames);
  }

  /**
   * One event: the context frame at which its block plays.
   * @param {number} frame
   * @returns {number}  frames the context played on its own since the previous report (≥ 0)
   */
  event(frame) {
    if (Number.isNaN(this._base)) this._base = frame;
    // Ahead of where the filled blocks alone would put this one: what played on its own.
    const offset = frame - this._base - this._events * this.blockFrames;
    this._events++;
    this.leadFrames = Math.max(0, offset);
    this._cur = Math.min(this._cur, offset);
    if (++this._inBucket < this.bucketEvents) return 0;
    const lasting = Math.min(this._prev, this._cur);
    this._prev = this._cur;
    this._cur = Infinity;
    this._inBucket = 0;
    if (lasting === Infinity) return 0;
    if (!this._judged) {
      // The first window sets the baseline: the first event's time may have been late.
      this._judged = true;
      this._base += lasting;
      this._prev -= lasting;
      return 0;
    }
    const blocks = Math.round((lasting - this.skippedFrames) / this.blockFrames);
    if (blocks <= 0) return 0;
    this.skippedFrames += blocks * this.blockFrames;
    return blocks * this.blockFrames;
  }
}
