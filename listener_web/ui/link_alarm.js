// @ts-check
/**
 * The link-loss alarm in the page: ticks link/watchdog.js while a session listens, asks the
 * server whether it is there while capture is stopped, sounds the siren
 * (output/alert_sounds.js) and shows why, with a button that silences it until the link is
 * back and lost again.
 *
 * The tick is a timer on arrivals, not on EventSource's errors: a link whose packets are
 * silently dropped leaves EventSource "open" and quiet. In a background tab timers run at
 * most once a second, which a delay of seconds allows for; the player's running
 * AudioContext keeps the tab's audio alive, and the siren, once started, needs no timer.
 */
import { LinkWatchdog, PROBE_EVERY_MS } from '../link/watchdog.js';
import { Siren } from '../output/alert_sounds.js';

/**
 * @typedef {import('../link/watchdog.js').LinkState} LinkState
 *
 * @typedef {object} AlarmElements
 * @property {HTMLElement} box  shown while the alarm is up
 * @property {HTMLElement} text  why
 * @property {HTMLButtonElement} silence
 *
 * @typedef {object} Watched  what the alarm watches: the current session's link and output
 * @property {() => LinkState} link
 * @property {() => BaseAudioContext | null} ctx  the player's context, to sound the siren in
 */

// Checked this often in a visible tab, so that the alarm comes within the delay plus a
// fraction of a second.
const TICK_MS = 250;
// A probe that has not been answered in this long counts as unanswered.
const PROBE_TIMEOUT_MS = 2 * PROBE_EVERY_MS;

/** The alarm of one page, across sessions. */
export class LinkAlarm {
  /**
   * @param {AlarmElements} elements
   * @param {string} probeUrl  a small request any broadcaster answers (GET /healthz)
   * @param {() => void} onLost  the alarm was raised (the link is lost, or the source)
   */
  constructor(elements, probeUrl, onLost) {
    this.el = elements;
    this.onLost = onLost;
    /** An alarm is up now. */
    this.raised = false;
    this.probeUrl = probeUrl;
    this.siren = new Siren();
    this.delayMs = 0;
    /** @type {LinkWatchdog | null} */
    this.watchdog = null;
    /** @type {Watched | null} */
    this.watched = null;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.timer = undefined;
    elements.silence.addEventListener('click', () => {
      this.watchdog?.silence();
      this.tick();
    });
  }

  /**
   * The delay the listener chose (0: no alarm); applies at once.
   * @param {number} delayS
   */
  setDelay(delayS) {
    this.delayMs = delayS * 1000;
    if (this.watchdog) this.watchdog.delayMs = this.delayMs;
    this.tick();
  }

  /**
   * A session started listening: watch it until stop().
   * @param {Watched} watched
   */
  start(watched) {
    this.stop();
    this.watched = watched;
    this.watchdog = new LinkWatchdog(this.delayMs, performance.now());
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Listening stopped: no alarm. */
  stop() {
    clearInterval(this.timer);
    this.raised = false;
    this.watchdog = null;
    this.watched = null;
    this.siren.stop();
    this.show(null, false);
  }

  tick() {
    const { watchdog, watched } = this;
    if (!watchdog || !watched) return;
    const now = performance.now();
    const ctx = watched.ctx();
    if (ctx && (ctx.state === 'suspended' || /** @type {string} */ (ctx.state) === 'interrupted')) {
      // Sound blocked until a tap: the session waits for it with its stream closed, and no
      // alarm could sound anyway. The delay starts when the sound does.
      watchdog.rearm(now);
      this.siren.stop();
      this.show(null, false);
      return;
    }
    const verdict = watchdog.decide(now, watched.link());
    if (verdict.probe) this.probe(watchdog, now);
    if (verdict.alarm !== null && !this.raised) this.onLost();
    this.raised = verdict.alarm !== null;
    if (verdict.sound && ctx && ctx.state !== 'closed') {
      this.siren.start(ctx);
    } else {
      this.siren.stop();
    }
    this.show(verdict.alarm, verdict.sound);
  }

  /**
   * Ask the server whether it is there; any answer counts.
   * @param {LinkWatchdog} watchdog
   * @param {number} now
   */
  probe(watchdog, now) {
    watchdog.probeSent(now);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), PROBE_TIMEOUT_MS);
    fetch(this.probeUrl, { cache: 'no-store', signal: abort.signal })
      .then(() => watchdog.probeAnswered(performance.now()))
      .catch(() => {}) // unanswered: the watchdog's delay runs on
      .finally(() => clearTimeout(timer));
  }

  /**
   * @param {string | null} why
   * @param {boolean} sounding
   */
  show(why, sounding) {
    const { box, text, silence } = this.el;
    if (why === null) {
      box.hidden = true;
      delete box.dataset.sounding;
      return;
    }
    const shown = `No stream: ${why}`;
    if (text.textContent !== shown) text.textContent = shown;
    box.dataset.sounding = String(sounding);
    silence.hidden = !sounding;
    box.hidden = false;
  }
}
