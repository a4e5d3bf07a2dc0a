// @ts-check
/**
 * The rewind panel: a timeline of the archive with the sound level drawn over time and the
 * sound episodes marked on it, refreshed every few seconds; a tap plays that moment, a drag
 * selects a span to download; "−10 s", "−30 s", "Live", how far behind live what plays is,
 * and the downloads. Hidden when the broadcaster keeps no archive.
 *
 * The maths is timeline_scale.js's; the archive's answers link/archive.js's. Playing is the
 * page's (TimelineHost): a replay goes through the session's own connection and player.
 */
import { canvasColours } from './colours.js';
import { localNowMs } from '../link/connection.js';
import {
  TimeScale,
  behindFor,
  behindText,
  columnHeights,
  dragSpan,
  durationText,
  episodeBehind,
  episodeMarks,
  stepBack,
} from './timeline_scale.js';

/**
 * @typedef {import('../link/archive.js').ArchiveLink} ArchiveLink
 * @typedef {import('../link/archive.js').Levels} Levels
 * @typedef {import('../link/activity.js').Episode} Episode
 *
 * @typedef {object} TimelineHost  what the timeline asks of the page
 * @property {(localMs: number) => number | null} serverNowMs  the server's clock, when known
 * @property {() => { listening: boolean, behindMs: number | null }} position  what plays:
 *   behindMs null is live
 * @property {(behindMs: number | null) => void} seek  play from that far behind live (null:
 *   live), starting to listen if needed; call inside the tap
 * @property {(enabled: boolean) => void} archive  whether the broadcaster keeps an archive
 *   (after each look at it)
 *
 * @typedef {object} TimelineElements
 * @property {HTMLElement} section
 * @property {HTMLCanvasElement} canvas
 * @property {HTMLSelectElement} window  seconds shown (0: all the archive holds)
 * @property {HTMLElement} behind  the indicator
 * @property {HTMLElement} from  the time at the left edge
 * @property {HTMLElement} to  at the right edge
 * @property {HTMLButtonElement} back10
 * @property {HTMLButtonElement} back30
 * @property {HTMLButtonElement} live
 * @property {HTMLAnchorElement} downloadLast
 * @property {HTMLAnchorElement} downloadSpan
 * @property {HTMLButtonElement} clearSpan
 */

const REFRESH_MS = 5000;
const DISABLED_REFRESH_MS = 60000;
const SHOW_MS = 1000; // the indicator and the position marker
const LAST_S = 300;

/**
 * The timeline's colours, from the page's style (read once, and when the scheme changes:
 * reading style on every draw would make the browser recalculate the page).
 * @param {HTMLCanvasElement} canvas
 */
function readColours(canvas) {
  return canvasColours(canvas, {
    track: ['--track', 'rgb(128 128 128 / 25%)'],
    level: ['--accent', 'blue'],
    episode: ['--warn', 'orange'],
    quiet: ['--muted', 'gray'],
    position: ['--live', 'green'],
  });
}

/** @param {number} ms  capture time (server clock, Unix ms) */
function clockText(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** The rewind panel. */
export class Timeline {
  /**
   * @param {TimelineElements} el
   * @param {ArchiveLink} link
   * @param {TimelineHost} host
   */
  constructor(el, link, host) {
    this.el = el;
    this.link = link;
    this.host = host;
    const g = el.canvas.getContext('2d');
    if (!g) throw new Error('timeline: no 2d canvas');
    this.g = g;
    /** @type {Levels | null} */
    this.levels = null;
    /** @type {Episode[]} */
    this.episodes = [];
    /** @type {TimeScale | null} the axis as last drawn */
    this.scale = null;
    /** @type {number | null} oldest capture time held */
    this.heldFromMs = null;
    /** @type {number | null} server − local clock, from the archive's newest audio */
    this.guessedOffsetMs = null;
    /** @type {{ fromMs: number, toMs: number } | null} */
    this.span = null;
    /** @type {{ pointer: number, x0: number, dragging: boolean } | null} */
    this.press = null;
    /** The canvas's size on screen, in CSS pixels. */
    this.cssWidth = el.canvas.clientWidth;
    this.cssHeight = el.canvas.clientHeight;
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => {
        this.cssWidth = el.canvas.clientWidth;
        this.cssHeight = el.canvas.clientHeight;
        this.draw();
      }).observe(el.canvas);
    }
    this.colours = readColours(el.canvas);
    window.matchMedia?.('(prefers-color-scheme: dark)')
      .addEventListener?.('change', () => { this.colours = readColours(el.canvas); });
    this.timer = setTimeout(() => this.refresh(), 0);
    setInterval(() => this.show(), SHOW_MS);
    el.downloadLast.href = link.downloadUrl({ lastS: LAST_S });
    el.back10.addEventListener('click', () => this.back(10000));
    el.back30.addEventListener('click', () => this.back(30000));
    el.live.addEventListener('click', () => host.seek(null));
    el.clearSpan.addEventListener('click', () => this.select(null));
    el.window.addEventListener('change', () => this.refreshSoon());
    this.listen(el.canvas);
  }

  /** @returns {number | null} the server's clock now */
  serverNowMs() {
    const local = localNowMs();
    const known = this.host.serverNowMs(local);
    return known ?? (this.guessedOffsetMs === null ? null : local + this.guessedOffsetMs);
  }

  refreshSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 0);
  }

  async refresh() {
    let next = REFRESH_MS;
    try {
      const summary = await this.link.summary();
      this.el.section.hidden = !summary.enabled;
      this.host.archive(summary.enabled);
      if (!summary.enabled) next = DISABLED_REFRESH_MS;
      if (summary.enabled && summary.fromMs !== null && summary.toMs !== null) {
        this.heldFromMs = summary.fromMs;
        this.guessedOffsetMs = summary.toMs - localNowMs();
        const windowMs = 1000 * Number(this.el.window.value);
        const fromMs = windowMs > 0 && summary.toMs - windowMs > summary.fromMs
          ? summary.toMs - windowMs : null;
        const points = Math.min(2000, Math.max(1, Math.round(this.cssWidth)));
        const [levels, episodes] = await Promise.all([
          this.link.levels(points, fromMs),
          this.link.episodes().then((page) => page.episodes, () => this.episodes),
        ]);
        this.levels = levels;
        this.episodes = episodes;
        this.show();
      }
    } catch (err) {
      // Unreachable (fetch's TypeError): the link alarm says so; ask again as usual.
      if (!(err instanceof TypeError)) {
        console.warn('broadcaster: the archive did not answer:', err);
        next = DISABLED_REFRESH_MS; // a refused key or an older server: ask again later
      }
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), next);
  }

  /** @param {number} stepMs */
  back(stepMs) {
    const now = this.serverNowMs();
    const oldest = now === null || this.heldFromMs === null ? null : now - this.heldFromMs;
    this.host.seek(stepBack(this.host.position().behindMs, stepMs, oldest));
  }

  /**
   * Replay a sound episode from just before its onset (its play button in the list of
   * today's sounds): the same seek as a tap on the timeline. Call inside the tap.
   * @param {number} startMs  the episode's onset (capture time, server clock)
   */
  playEpisode(startMs) {
    const now = this.serverNowMs();
    if (now !== null) this.host.seek(episodeBehind(startMs, now, this.heldFromMs));
  }

  /** @param {{ fromMs: number, toMs: number } | null} span */
  select(span) {
    this.span = span;
    const { downloadSpan, clearSpan } = this.el;
    downloadSpan.hidden = clearSpan.hidden = span === null;
    if (span) {
      downloadSpan.href = this.link.downloadUrl(span);
      downloadSpan.textContent =
        `Download the selection (${durationText(span.toMs - span.fromMs)} from ${clockText(span.fromMs)})`;
    }
    this.draw();
  }

  /** @param {HTMLCanvasElement} canvas  a tap plays, a drag selects */
  listen(canvas) {
    const xOf = (/** @type {PointerEvent} */ e) => e.clientX - canvas.getBoundingClientRect().left;
    canvas.addEventListener('pointerdown', (e) => {
      this.press = { pointer: e.pointerId, x0: xOf(e), dragging: false };
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', (e) => {
      const press = this.press;
      if (!press || press.pointer !== e.pointerId || !this.scale) return;
      const span = dragSpan(press.x0, xOf(e), this.scale);
      if (span) {
        press.dragging = true;
        this.select(span);
      }
    });
    canvas.addEventListener('pointerup', (e) => {
      const press = this.press;
      this.press = null;
      if (!press || press.pointer !== e.pointerId || press.dragging || !this.scale) return;
      const now = this.serverNowMs();
      if (now !== null) this.host.seek(behindFor(this.scale.ms(xOf(e)), now));
    });
    canvas.addEventListener('pointercancel', () => { this.press = null; });
  }

  /** The indicator, the buttons' state and the timeline. */
  show() {
    const { listening, behindMs } = this.host.position();
    const text = listening ? behindText(behindMs) : 'not listening';
    if (this.el.behind.textContent !== text) this.el.behind.textContent = text;
    this.el.behind.dataset.behindMs = behindMs === null ? '' : behindMs.toFixed(0);
    this.el.live.setAttribute('aria-pressed', String(listening && behindMs === null));
    this.draw();
  }

  /** Draw the levels, the episodes, the selection and where playback is. */
  draw() {
    const { g } = this;
    const { canvas } = this.el;
    const levels = this.levels;
    if (!levels || this.el.section.hidden) return;
    const ratio = window.devicePixelRatio || 1;
    const { cssWidth, colours } = this;
    const width = Math.round(cssWidth * ratio);
    const height = Math.round(this.cssHeight * ratio);
    if (width <= 0 || height <= 0) return;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    // The right edge is now: what plays is placed right between two refreshes.
    const now = this.serverNowMs();
    const scale = new TimeScale(levels.fromMs, Math.max(levels.toMs, now ?? 0), cssWidth);
    this.scale = scale;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    const h = height / ratio;
    g.clearRect(0, 0, cssWidth, h);
    g.fillStyle = colours.track;
    g.fillRect(0, 0, cssWidth, h);
    g.fillStyle = colours.level;
    columnHeights(levels, scale).forEach((level, x) => {
      if (!Number.isNaN(level)) g.fillRect(x, h - Math.max(1, level * (h - 6)), 1, h);
    });
    for (const mark of episodeMarks(this.episodes, scale)) {
      g.fillStyle = mark.alerted ? colours.episode : colours.quiet;
      g.fillRect(mark.x, 0, mark.width, 5);
    }
    if (this.span) {
      g.fillStyle = 'rgb(128 128 128 / 35%)';
      const x0 = scale.x(this.span.fromMs);
      g.fillRect(x0, 0, scale.x(this.span.toMs) - x0, h);
    }
    const { listening, behindMs } = this.host.position();
    if (listening && now !== null) {
      const x = Math.min(cssWidth - 1, scale.x(now - (behindMs ?? 0)));
      g.fillStyle = colours.position;
      g.fillRect(Math.max(0, x - 1), 0, 2, h);
    }
    const from = clockText(levels.fromMs);
    const to = clockText(scale.toMs);
    if (this.el.from.textContent !== from) this.el.from.textContent = from;
    if (this.el.to.textContent !== to) this.el.to.textContent = to;
    canvas.dataset.fromMs = String(levels.fromMs);
    canvas.dataset.toMs = String(scale.toMs);
  }
}
