// @ts-check
/**
 * Notices an AudioContext that froze, pure: one that went from running to suspended or
 * interrupted and stays so after a resume attempt, or one that says it runs while its
 * currentTime stands still. A context that never ran is the browser blocking sound until a
 * tap, which only the listener can fix: left alone.
 */

export const FROZEN_AFTER_MS = 2000;

/** @typedef {'ok' | 'resume' | 'recreate'} AudioVerdict */

/** What to do about one AudioContext, from regular looks at it. */
export class AudioWatch {
  /** @param {number} [frozenAfterMs] */
  constructor(frozenAfterMs = FROZEN_AFTER_MS) {
    this.frozenAfterMs = frozenAfterMs;
    this.hasRun = false;
    /** @type {number | null} */
    this.lastTime = null;
    this.lastAdvanceMs = 0;
    /** @type {number | null} when resume() was tried on a stopped context */
    this.resumedAtMs = null;
  }

  /**
   * @param {string} state  the context's state
   * @param {number} currentTime  the context's currentTime (s)
   * @param {number} nowMs  a monotonic clock
   * @returns {AudioVerdict}
   */
  check(state, currentTime, nowMs) {
    if (state === 'running') {
      this.resumedAtMs = null;
      // A context's clock starts at 0 and moves only while it plays.
      if (currentTime > 0) this.hasRun = true;
      if (this.lastTime === null || currentTime > this.lastTime) {
        this.lastTime = currentTime;
        this.lastAdvanceMs = nowMs;
        return 'ok';
      }
      return nowMs - this.lastAdvanceMs > this.frozenAfterMs ? 'recreate' : 'ok';
    }
    // Not running: its clock stands still on purpose; start timing again when it runs.
    this.lastTime = null;
    if (!this.hasRun || (state !== 'suspended' && state !== 'interrupted')) return 'ok';
    if (this.resumedAtMs === null) {
      this.resumedAtMs = nowMs;
      return 'resume';
    }
    return nowMs - this.resumedAtMs > this.frozenAfterMs ? 'recreate' : 'ok';
  }
}
