// @ts-check
/**
 * The broadcaster's archive (docs/protocol.md, "The archive"): what it holds, its sound
 * levels over time and the addresses of its downloads. The parsers are pure; ArchiveLink
 * fetches them with the page's listen key.
 */
import { WireError, finite, parseObject } from './wire.js';
import { parseEpisodePage } from './activity.js';

/**
 * @typedef {object} ArchiveSummary  GET /archive
 * @property {boolean} enabled  false: the broadcaster keeps no archive (`reason` says why)
 * @property {string | null} reason
 * @property {number | null} fromMs  capture time of the oldest audio held (server clock)
 * @property {number | null} toMs  capture time of the newest
 *
 * @typedef {object} Levels  GET /archive/levels
 * @property {number} fromMs
 * @property {number} toMs
 * @property {number} stepMs
 * @property {(number | null)[]} levels  the loudest dBFS of each step; null: no audio
 *
 * @typedef {{ lastS: number } | { fromMs: number, toMs: number }} DownloadSpan
 */

/**
 * @param {Record<string, unknown>} o
 * @param {string} key
 * @param {string} what
 * @returns {number | null}
 */
function optionalMs(o, key, what) {
  return o[key] === null || o[key] === undefined ? null : finite(o, key, what);
}

/**
 * Parse the answer of GET /archive.
 * @param {string} text
 * @returns {ArchiveSummary}
 */
export function parseArchiveSummary(text) {
  const o = parseObject(text, 'archive');
  if (typeof o.enabled !== 'boolean') {
    throw new WireError(`archive.enabled: expected true or false, got ${JSON.stringify(o.enabled)}`);
  }
  return {
    enabled: o.enabled,
    reason: typeof o.reason === 'string' ? o.reason : null,
    fromMs: o.enabled ? optionalMs(o, 'from_ms', 'archive') : null,
    toMs: o.enabled ? optionalMs(o, 'to_ms', 'archive') : null,
  };
}

/**
 * Parse the answer of GET /archive/levels.
 * @param {string} text
 * @returns {Levels}
 */
export function parseLevels(text) {
  const what = 'levels';
  const o = parseObject(text, what);
  const list = o.levels;
  if (!Array.isArray(list)) {
    throw new WireError(`${what}.levels: expected a list, got ${JSON.stringify(list)}`);
  }
  const levels = list.map((level, i) => {
    if (level === null) return null;
    if (typeof level !== 'number' || !Number.isFinite(level)) {
      throw new WireError(`${what}.levels[${i}]: expected a number or null, got ${JSON.stringify(level)}`);
    }
    return level;
  });
  const stepMs = finite(o, 'step_ms', what);
  if (stepMs <= 0) throw new WireError(`${what}.step_ms: expected > 0, got ${stepMs}`);
  return { fromMs: finite(o, 'from_ms', what), toMs: finite(o, 'to_ms', what), stepMs, levels };
}

/**
 * A URL with more query parameters (the page's key may already be in its query).
 * @param {string} base
 * @param {Record<string, string | number>} params
 */
export function withQuery(base, params) {
  const query = Object.entries(params)
    .map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`).join('&');
  if (!query) return base;
  return `${base}${base.includes('?') ? '&' : '?'}${query}`;
}

/**
 * The address of a download: the newest `lastS` seconds, or a span of capture times.
 * @param {string} base  GET /archive/download, with the page's key
 * @param {DownloadSpan} span
 */
export function downloadUrl(base, span) {
  return 'lastS' in span
    ? withQuery(base, { last_s: Math.round(span.lastS) })
    : withQuery(base, { from_ms: Math.floor(span.fromMs), to_ms: Math.ceil(span.toMs) });
}

/**
 * @typedef {object} ArchiveUrls  where the archive is (each with the page's key)
 * @property {string} summary  GET /archive
 * @property {string} levels  GET /archive/levels
 * @property {string} download  GET /archive/download
 * @property {string} episodes  GET /activity/episodes
 */

/** The archive's answers, fetched. */
export class ArchiveLink {
  /** @param {ArchiveUrls} urls */
  constructor(urls) {
    this.urls = urls;
  }

  /**
   * @param {string} url
   * @returns {Promise<string>}
   */
  async text(url) {
    const response = await fetch(url, { cache: 'no-store' });
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      throw new Error(`${response.status} ${answer.error ?? response.statusText}`);
    }
    return response.text();
  }

  /** @returns {Promise<ArchiveSummary>} */
  async summary() {
    return parseArchiveSummary(await this.text(this.urls.summary));
  }

  /**
   * The levels from `fromMs` (null: the oldest audio held) to the newest, in `points` steps.
   * @param {number} points
   * @param {number | null} fromMs
   * @returns {Promise<Levels>}
   */
  async levels(points, fromMs) {
    /** @type {Record<string, number>} */
    const params = { points };
    if (fromMs !== null) params.from_ms = Math.floor(fromMs);
    return parseLevels(await this.text(withQuery(this.urls.levels, params)));
  }

  /** The latest episodes the server keeps (newest first). */
  async episodes() {
    return parseEpisodePage(await this.text(withQuery(this.urls.episodes, { limit: 200 })));
  }

  /** @param {DownloadSpan} span */
  downloadUrl(span) {
    return downloadUrl(this.urls.download, span);
  }
}
