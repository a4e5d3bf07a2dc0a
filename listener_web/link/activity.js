// @ts-check
/**
 * Sound episodes from the broadcaster (docs/protocol.md): the `activity` event and the
 * answer of GET /activity/episodes. Pure: parsing only, no DOM, no network.
 */
import { WireError, finite, integer, parseObject } from './wire.js';

/**
 * @typedef {object} Episode  a sound that stood out from the room's quiet
 * @property {number} episode  its number, from 1 since the server started
 * @property {number} startMs  the sound's onset (capture time, Unix ms)
 * @property {number} endMs  the end of its last loud frame (so far, while ongoing)
 * @property {number} durationMs
 * @property {number} peakDbfs  the loudest frame
 * @property {number} loudnessDbfs  the mean power
 * @property {number} floorDbfs  the room's quiet when it began
 * @property {boolean} alerted  false: it began within the cooldown after one that alerted
 * @property {boolean} ongoing
 *
 * @typedef {Episode & { change: 'start' | 'end' }} ActivityChange  the `activity` event
 *
 * @typedef {object} EpisodePage  GET /activity/episodes
 * @property {boolean} alertsEnabled  false: the broadcaster measures no sound activity
 * @property {Episode[]} episodes  newest first
 * @property {number | null} nextBefore
 */

/**
 * @param {Record<string, unknown>} o
 * @param {string} key
 * @param {string} what
 */
function bool(o, key, what) {
  const v = o[key];
  if (typeof v !== 'boolean') {
    throw new WireError(`${what}.${key}: expected true or false, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * One episode's fields, as the event and the list give them.
 * @param {Record<string, unknown>} o
 * @param {string} what
 * @returns {Episode}
 */
function episodeOf(o, what) {
  const startMs = finite(o, 'start_ms', what);
  const endMs = finite(o, 'end_ms', what);
  return {
    episode: integer(o, 'episode', what, 1),
    startMs,
    endMs,
    durationMs: o.duration_ms === undefined ? endMs - startMs : finite(o, 'duration_ms', what),
    peakDbfs: finite(o, 'peak_dbfs', what),
    loudnessDbfs: finite(o, 'loudness_dbfs', what),
    floorDbfs: finite(o, 'floor_dbfs', what),
    alerted: bool(o, 'alerted', what),
    ongoing: bool(o, 'ongoing', what),
  };
}

/**
 * Parse the `activity` event.
 * @param {string} text
 * @returns {ActivityChange}
 */
export function parseActivity(text) {
  const o = parseObject(text, 'activity');
  if (o.change !== 'start' && o.change !== 'end') {
    throw new WireError(`activity.change: expected "start" or "end", got ${JSON.stringify(o.change)}`);
  }
  return { change: o.change, ...episodeOf(o, 'activity') };
}

/**
 * Parse the answer of GET /activity/episodes.
 * @param {string} text
 * @returns {EpisodePage}
 */
export function parseEpisodePage(text) {
  const what = 'episodes';
  const o = parseObject(text, what);
  const list = o.episodes === undefined ? [] : o.episodes;
  if (!Array.isArray(list)) {
    throw new WireError(`${what}.episodes: expected a list, got ${JSON.stringify(list)}`);
  }
  return {
    alertsEnabled: o.alerts_enabled === true,
    episodes: list.map((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        throw new WireError(`${what}[${i}]: expected an object, got ${JSON.stringify(item)}`);
      }
      return episodeOf(/** @type {Record<string, unknown>} */ (item), `${what}[${i}]`);
    }),
    nextBefore: o.next_before === null || o.next_before === undefined
      ? null : integer(o, 'next_before', what, 0),
  };
}
