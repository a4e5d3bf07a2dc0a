// @ts-check
/**
 * What the page believes about its audio output, pure: the engine's own figures
 * (getOutputTimestamp(), outputLatency, baseLatency) are checked against each other, against
 * currentTime and performance.now(), and against the previous look, before they are used.
 * When they cannot be believed the latency is a lower bound that counts only what the page
 * knows (the jitter buffer and the codec delay are in the capture times already; after the
 * context: baseLatency, or at least one render quantum), and says so.
 *
 * Why: WebKitGTK's getOutputTimestamp().performanceTime comes back as about
 * performance.now() + contextTime × 1000, with outputLatency 0, which made a latency figure
 * that grew by a second every second; Firefox is never asked at all (player.js).
 */

/** Context time the output plays before the device is first looked at. */
export const DEVICE_SETTLE_S = 0.5;
/** The gap after the first look, and after a look that found the output's clock in doubt;
 * it doubles after each look that agrees, up to DEVICE_REFRESH_S. */
export const DEVICE_RECHECK_S = 1;
export const DEVICE_REFRESH_S = 10;
/** No device, however slow (Bluetooth included), adds this much: a figure above is nonsense. */
export const MAX_DEVICE_S = 1;
/** How far two looks may disagree on when a given context time is heard (timer coarsening,
 * a callback's worth of jitter; the clocks' drift is a few ppm). */
export const STAMP_SLACK_MS = 20;
/** The smallest block an AudioContext renders, and so the least it holds after the worklet. */
export const RENDER_QUANTUM_FRAMES = 128;

/**
 * @typedef {object} OutputStamp  the device plays context time contextTime (s) at page time
 *   performanceTime (ms, the performance.now() clock)
 * @property {number} contextTime
 * @property {number} performanceTime
 *
 * @typedef {object} DeviceLook  what the engine said at one look; a figure not read is null
 * @property {number} currentTime  the context's, s
 * @property {number} nowMs  performance.now() at the look
 * @property {number} sampleRate  the context's
 * @property {unknown} baseLatency  s
 * @property {unknown} outputLatency  s
 * @property {unknown} stamp  what getOutputTimestamp() answered
 */

/**
 * A latency in seconds if it is one a device could have, else null.
 * @param {unknown} value
 * @returns {number | null}
 */
function plausibleLatencyS(value) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < MAX_DEVICE_S
    ? value : null;
}

/**
 * What is wrong with `stamp` as the output's clock at this look, or null. `impossible`: no
 * working clock says it (a moment not yet come, a context time not yet rendered): the engine
 * is never believed again. Otherwise it may be a device that stalled: not believed this time.
 * A believable stamp names a moment already played (not seconds ago), a context time already
 * rendered (not seconds before currentTime), and so says the device holds between nothing
 * and MAX_DEVICE_S of audio.
 * @param {unknown} stamp
 * @param {DeviceLook} look
 * @returns {{text: string, impossible: boolean} | null}
 */
export function stampProblem(stamp, look) {
  const s = /** @type {{contextTime?: unknown, performanceTime?: unknown} | null} */ (stamp);
  const { contextTime, performanceTime } = s ?? {};
  if (typeof contextTime !== 'number' || typeof performanceTime !== 'number' ||
      !Number.isFinite(contextTime) || !Number.isFinite(performanceTime) || performanceTime <= 0) {
    return { text: 'no output timestamp', impossible: false };
  }
  const aheadMs = performanceTime - look.nowMs;
  const behindS = look.currentTime - contextTime;
  if (aheadMs > STAMP_SLACK_MS) {
    return { text: `its time is ${aheadMs.toFixed(0)} ms ahead of now`, impossible: true };
  }
  if (behindS < 0) {
    return { text: `its context time is ${(-1000 * behindS).toFixed(0)} ms ahead`, impossible: true };
  }
  if (aheadMs < -1000 * MAX_DEVICE_S || behindS > MAX_DEVICE_S) {
    return { text: `it is ${(-aheadMs).toFixed(0)} ms old`, impossible: false };
  }
  // When the sample rendered last (at currentTime) is heard, after now.
  const deviceMs = performanceTime + 1000 * behindS - look.nowMs;
  if (deviceMs < -STAMP_SLACK_MS || deviceMs > 1000 * MAX_DEVICE_S) {
    return { text: `it says the device holds ${deviceMs.toFixed(0)} ms`, impossible: false };
  }
  return null;
}

/**
 * Whether two output stamps say the same context time is heard at the same page time.
 * @param {OutputStamp} a
 * @param {OutputStamp} b
 */
export function stampsAgree(a, b) {
  const offMs = b.performanceTime - a.performanceTime - 1000 * (b.contextTime - a.contextTime);
  return Math.abs(offMs) <= STAMP_SLACK_MS;
}

/** The device figures a Player has seen, checked: what it may use, and when to look again. */
export class OutputClock {
  constructor() {
    /** @type {number | null} the context's baseLatency (s), when plausible */
    this.baseLatencyS = null;
    /** @type {number | null} outputLatency (s) when the device gave one (> 0) that is plausible */
    this.outputLatencyS = null;
    /** @type {OutputStamp | null} the newest output timestamp that passed every check, and
     * agreed with the one before it */
    this.stamp = null;
    /** @type {OutputStamp | null} the last look's timestamp, if it passed on its own */
    this.lastStamp = null;
    /** @type {string | null} why this engine's timestamps are never believed (an impossible one) */
    this.distrust = null;
    /** How many looks it has had. */
    this.looks = 0;
    /** Context time of the next look, and the gap after it. */
    this.dueS = DEVICE_SETTLE_S;
    this.gapS = DEVICE_RECHECK_S;
  }

  /**
   * Whether a look at the device is due (the context runs, and has played a while).
   * @param {string} state  the context's
   * @param {number} currentTime
   */
  due(state, currentTime) {
    return state === 'running' && currentTime >= this.dueS;
  }

  /**
   * Take in one look: keep what passes the checks. An output timestamp is believed when it
   * passes alone and agrees with the look before (two looks, so a clock that runs at the
   * wrong rate is caught); until then, and after a look that doubts it, the figure is the
   * lower bound, and the next look comes DEVICE_RECHECK_S later.
   * @param {DeviceLook} look
   */
  add(look) {
    this.looks += 1;
    this.baseLatencyS = plausibleLatencyS(look.baseLatency) ?? this.baseLatencyS;
    const outputS = plausibleLatencyS(look.outputLatency);
    if (outputS !== null && outputS > 0) this.outputLatencyS = outputS; // 0: the engine does not know
    const stamp = this.checkedStamp(look);
    const agrees = stamp !== null && this.lastStamp !== null && stampsAgree(this.lastStamp, stamp);
    this.stamp = agrees ? stamp : null;
    this.lastStamp = stamp;
    this.gapS = agrees ? Math.min(2 * this.gapS, DEVICE_REFRESH_S) : DEVICE_RECHECK_S;
    this.dueS = look.currentTime + this.gapS;
  }

  /**
   * This look's output timestamp if it passes on its own (null when not read, or distrusted).
   * @param {DeviceLook} look
   * @returns {OutputStamp | null}
   */
  checkedStamp(look) {
    if (look.stamp === null || look.stamp === undefined || this.distrust !== null) return null;
    const problem = stampProblem(look.stamp, look);
    if (problem?.impossible) this.distrust = problem.text;
    if (problem) return null;
    const { contextTime, performanceTime } = /** @type {OutputStamp} */ (look.stamp);
    return { contextTime, performanceTime };
  }

  /**
   * Page time at which context time `contextTime` is heard, by the believed stamp.
   * @param {number} contextTime
   */
  heardAt(contextTime) {
    const stamp = /** @type {OutputStamp} */ (this.stamp);
    return stamp.performanceTime + 1000 * (contextTime - stamp.contextTime);
  }

  /**
   * What the context holds after the worklet and the device adds, as far as it is known (s):
   * baseLatency (at least one render quantum) and a believed outputLatency.
   * @param {number} sampleRate
   */
  knownOutputS(sampleRate) {
    const quantumS = RENDER_QUANTUM_FRAMES / sampleRate;
    return Math.max(this.baseLatencyS ?? 0, quantumS) + (this.outputLatencyS ?? 0);
  }

  /** Whether a latency by heardMs() leaves out the device's share, unknown: a lower bound. */
  get lowerBound() {
    return this.stamp === null && this.outputLatencyS === null;
  }

  /**
   * Page time (ms) at which the sample the context renders at `contextTime` is heard: by the
   * believed output timestamp; else now, plus what is left before that context time, plus
   * what the page knows the output adds (see lowerBound).
   * @param {number} contextTime
   * @param {{currentTime: number, nowMs: number, sampleRate: number}} now
   */
  heardMs(contextTime, now) {
    if (this.stamp) return this.heardAt(contextTime);
    return now.nowMs + 1000 * (contextTime - now.currentTime) + 1000 * this.knownOutputS(now.sampleRate);
  }
}
