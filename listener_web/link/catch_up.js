// @ts-check
/** Getting back to live after a reconnect (link/connection.js's): pure. */
import { PacketAge } from './clock.js';

// After a reconnect, backlog is skipped for at most this long (then played anyway).
const CATCH_UP_MAX_MS = 2000;

/**
 * After a reconnect the server resumes with what its ring kept since the last packet, in a
 * burst. Played, it would add the outage to the latency, and the burst would look like jitter
 * to the buffer (whose target would jump): it is skipped, until a packet is live again.
 */
export class CatchUp {
  constructor() {
    this.active = false;
    /** @type {number | null} local time of the first packet while catching up */
    this.startMs = null;
    /** Packets skipped to get back to live after reconnects. */
    this.skippedFrames = 0;
    /** How old live packets are when they arrive. */
    this.ages = new PacketAge();
  }

  /** A connection resumed: skip its backlog. */
  begin() {
    this.active = true;
    this.startMs = null;
  }

  /**
   * What to do with a packet `ageMs` old (null: unknown) that arrived at `localMs`.
   * @param {number | null} ageMs
   * @param {number} localMs
   * @param {number} frameMs
   * @returns {'skip' | 'live again' | 'play'}  'live again': play it, after dropping what
   *   the player holds
   */
  check(ageMs, localMs, frameMs) {
    if (!this.active) {
      if (ageMs !== null) this.ages.note(ageMs, localMs);
      return 'play';
    }
    this.startMs ??= localMs;
    if (ageMs !== null && this.ages.isStale(ageMs, frameMs) && localMs - this.startMs < CATCH_UP_MAX_MS) {
      this.skippedFrames += 1;
      return 'skip';
    }
    this.active = false;
    return 'live again';
  }
}
