// @ts-check
/**
 * The link-loss watchdog: decides, from when things last arrived and what the server last
 * said, whether the listener must be alarmed that the stream is gone. Pure: the caller
 * ticks it with the time and the link's state, sends the probes it asks for, and sounds
 * the alarm it names.
 *
 * What the page can know: while capture runs, audio arrives every frame (50 a second at
 * 20 ms) and a `clock` event at least once a second, so a few seconds with nothing is a
 * dead link, whatever EventSource believes (a connection whose packets are silently
 * dropped stays "open" with nothing arriving). While capture is stopped nothing arrives:
 * the server's heartbeat is an SSE comment, which EventSource never hands to the page. So
 * then the page asks the server itself (a small request, GET /healthz, every PROBE_EVERY_MS)
 * and counts its answers as arrivals. A source reported offline alarms at once.
 */

/** The alarm's delay unless the listener chose another: far above any pause of a live
 * stream (the connection reopens a stream silent for 3 s) and above a probe's round. */
export const DEFAULT_ALARM_DELAY_MS = 5000;
/** The delays a listener may choose, in seconds (0: no alarm). */
export const ALARM_DELAYS_S = [0, 3, 5, 10, 30, 60];
/** While capture is stopped, how often the server is asked whether it is still there. */
export const PROBE_EVERY_MS = 1500;

/**
 * @typedef {import('./wire.js').CaptureState} CaptureState
 *
 * @typedef {object} LinkState  what the page knows of its link now
 * @property {number | null} lastArrivalMs  when the latest stream event arrived (null: none yet)
 * @property {CaptureState | null} state  the capture state the server announced last
 * @property {boolean} connected  the stream is open and has sent its config
 *
 * @typedef {object} Verdict
 * @property {string | null} alarm  why the listener is alarmed, or null: all is well
 * @property {boolean} sound  the alarm should sound (not silenced by the listener)
 * @property {boolean} probe  ask the server now whether it is there (then probeAnswered)
 */

/** One session's watchdog: armed at Start, until Stop. */
export class LinkWatchdog {
  /**
   * @param {number} delayMs  how long nothing may arrive before the alarm (0: never)
   * @param {number} startMs  when the session started (nothing is expected before)
   */
  constructor(delayMs, startMs) {
    this.delayMs = delayMs;
    this.startMs = startMs;
    /** When a probe last got an answer from the server (any HTTP answer). */
    this.answeredMs = -Infinity;
    /** When a probe was last sent. */
    this.probedMs = -Infinity;
    /** The listener silenced the alarm now sounding: until the link is back. */
    this.silenced = false;
    /** @type {string | null} the alarm last decided */
    this.alarm = null;
  }

  /**
   * Nothing is expected before `nowMs` (the page is not listening yet: its sound is blocked
   * until a tap, and the stream closed meanwhile).
   * @param {number} nowMs
   */
  rearm(nowMs) {
    this.startMs = nowMs;
    this.alarm = null;
    this.silenced = false;
  }

  /** @param {number} nowMs */
  probeSent(nowMs) {
    this.probedMs = nowMs;
  }

  /**
   * The server answered a probe (whatever its status: it is there).
   * @param {number} nowMs
   */
  probeAnswered(nowMs) {
    this.answeredMs = nowMs;
  }

  /** The listener silenced the alarm: quiet until the link is back and lost again. */
  silence() {
    if (this.alarm !== null) this.silenced = true;
  }

  /**
   * What to do now.
   * @param {number} nowMs
   * @param {LinkState} link
   * @returns {Verdict}
   */
  decide(nowMs, link) {
    const stopped = link.state === 'stopped';
    let heardMs = Math.max(this.startMs, link.lastArrivalMs ?? -Infinity);
    // A stopped stream sends nothing the page can see: the probes' answers stand in.
    if (stopped) heardMs = Math.max(heardMs, this.answeredMs);
    const quietMs = nowMs - heardMs;
    /** @type {string | null} */
    let alarm = null;
    if (this.delayMs > 0) {
      if (link.state === 'offline') {
        alarm = 'the source is offline: no sound is captured';
      } else if (quietMs > this.delayMs) {
        const s = Math.floor(quietMs / 1000);
        if (stopped) {
          alarm = `the broadcaster has not answered for ${s} s`;
        } else if (link.connected) {
          alarm = `nothing has arrived for ${s} s: the link is silent`;
        } else {
          alarm = `the link to the broadcaster is lost (nothing for ${s} s)`;
        }
      }
    }
    if (alarm === null) this.silenced = false;
    this.alarm = alarm;
    const probe = stopped && this.delayMs > 0 && nowMs - this.probedMs >= PROBE_EVERY_MS &&
      nowMs - heardMs >= PROBE_EVERY_MS;
    return { alarm, sound: alarm !== null && !this.silenced, probe };
  }
}

/**
 * The alarm delay a stored value means: one of ALARM_DELAYS_S, else the default.
 * @param {unknown} seconds
 * @returns {number}  in seconds
 */
export function alarmDelayS(seconds) {
  return typeof seconds === 'number' && ALARM_DELAYS_S.includes(seconds)
    ? seconds : DEFAULT_ALARM_DELAY_MS / 1000;
}
