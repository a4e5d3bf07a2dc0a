// @ts-check
/**
 * What a sound episode does to the page: which alert it raises (banner, vibration, chime,
 * system notification), the list of today's episodes, and whether "play only when there
 * is sound" lets the stream be heard. Pure: no DOM, no audio; ui/alerts.js acts on it.
 */

/**
 * @typedef {import('../link/activity.js').Episode} Episode
 * @typedef {import('../link/activity.js').ActivityChange} ActivityChange
 * @typedef {Episode & { cut?: boolean }} ListedEpisode  cut: it was under way when the
 *   link was lost, and its end never came
 *
 * @typedef {object} AlertSettings  what the listener chose (ui/alert_settings.js keeps it)
 * @property {boolean} alertMe  alert on each sound the broadcaster flags
 * @property {boolean} chime  with a chime
 * @property {number} alarmDelayS  the link-loss alarm's delay (0: no alarm)
 * @property {boolean} onlySound  play only while there is sound
 *
 * @typedef {object} AlertActions  what one activity change does
 * @property {boolean} banner  show (or update) the banner
 * @property {boolean} vibrate
 * @property {boolean} chime
 * @property {boolean} notify  a system notification
 */

/** The settings of a listener who chose nothing yet. */
export const DEFAULT_SETTINGS = Object.freeze({
  alertMe: false, chime: true, alarmDelayS: 5, onlySound: false,
});
/** The vibration pattern of an alert (ms on, off, on). */
export const VIBRATION_MS = [200, 100, 200];
/** Episodes listed at most (newest first). */
const LIST_MAX = 200;

/**
 * What an activity change does. Only an alerted episode's start alerts; its end updates
 * the banner it raised. Episodes that do not alert are listed, nothing more.
 * @param {ActivityChange} change
 * @param {AlertSettings} settings
 * @param {number | null} bannerEpisode  the episode the banner shows now, if any
 * @returns {AlertActions}
 */
export function alertActions(change, settings, bannerEpisode) {
  const alerts = settings.alertMe && change.alerted && change.change === 'start';
  return {
    banner: alerts || (change.change === 'end' && bannerEpisode === change.episode),
    vibrate: alerts,
    chime: alerts && settings.chime,
    notify: alerts,
  };
}

/**
 * A wall-clock time of day, HH:MM:SS in the page's time zone.
 * @param {number} ms  Unix ms
 */
export function clockText(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()]
    .map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * A level in dBFS, to the whole dB, with a true minus sign.
 * @param {number} dbfs
 */
export function levelText(dbfs) {
  return `${Math.round(dbfs)} dBFS`.replace('-', '\u2212');
}

/**
 * How long an episode lasted ("ongoing" while it lasts).
 * @param {ListedEpisode} episode
 */
export function durationText(episode) {
  if (episode.ongoing) return 'ongoing';
  if (episode.cut) return 'cut off';
  const s = episode.durationMs / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

/**
 * The banner's text for an episode.
 * @param {Episode} episode
 */
export function bannerText(episode) {
  return `Sound at ${clockText(episode.startMs)} · peak ${levelText(episode.peakDbfs)} · ` +
    (episode.ongoing ? 'ongoing' : `lasted ${durationText(episode)}`);
}

/**
 * Whether two times fall on the same day in the page's time zone.
 * @param {number} aMs
 * @param {number} bMs
 */
function sameDay(aMs, bMs) {
  return new Date(aMs).toDateString() === new Date(bMs).toDateString();
}

/**
 * What tells episodes apart: the number, and the onset (a restarted server numbers afresh).
 * @param {Episode} episode
 */
function keyOf(episode) {
  return `${episode.episode}@${episode.startMs.toFixed(1)}`;
}

/** Today's episodes, newest first: from GET /activity/episodes, then the events. */
export class EpisodeList {
  constructor() {
    /** @type {ListedEpisode[]} newest first */
    this.episodes = [];
  }

  /**
   * Take the server's list (newest first), keeping what events brought meanwhile.
   * @param {Episode[]} episodes
   * @param {number} nowMs
   */
  load(episodes, nowMs) {
    const known = new Map(episodes.map((e) => [keyOf(e), e]));
    for (const e of this.episodes) known.set(keyOf(e), e); // the events are newer
    this.episodes = [...known.values()].sort((a, b) => b.startMs - a.startMs || b.episode - a.episode);
    this.keepToday(nowMs);
  }

  /**
   * An activity event: a new episode, or the end of one listed.
   * @param {ActivityChange} change
   * @param {number} nowMs
   */
  apply(change, nowMs) {
    const { change: _, ...episode } = change;
    const at = this.episodes.findIndex((e) => keyOf(e) === keyOf(episode));
    if (at >= 0) {
      this.episodes[at] = episode;
    } else {
      this.episodes.unshift(episode);
      this.episodes.sort((a, b) => b.startMs - a.startMs || b.episode - a.episode);
    }
    this.keepToday(nowMs);
  }

  /** @param {number} nowMs */
  keepToday(nowMs) {
    this.episodes = this.episodes.filter((e) => sameDay(e.startMs, nowMs)).slice(0, LIST_MAX);
  }

  /**
   * The link was lost: what was under way is no longer known to go on. Its end, if the
   * stream resumes in time to bring it, puts it right.
   */
  linkLost() {
    this.episodes = this.episodes.map((e) => (e.ongoing ? { ...e, ongoing: false, cut: true } : e));
  }

  /** Whether a sound is going on now (for "play only when there is sound"). */
  get soundNow() {
    return this.episodes.some((e) => e.ongoing);
  }

  /** Forget everything (a new server process numbers its episodes afresh). */
  clear() {
    this.episodes = [];
  }
}

/**
 * @typedef {object} NotificationSupport  what the browser allows, as the page can tell
 * @property {boolean} supported  the Notification API exists
 * @property {boolean} secure  a secure context (https, or this machine)
 * @property {NotificationPermission | 'unsupported'} permission
 */

const STILL = 'the banner, vibration and chime still alert you while this page is open';

/**
 * Why the page cannot show system notifications, for the listener; null when it can.
 * @param {NotificationSupport} support
 * @returns {string | null}
 */
export function notificationNote({ supported, secure, permission }) {
  if (!secure) return `System notifications need the https page: ${STILL}.`;
  if (!supported) return `This browser shows no system notifications: ${STILL}.`;
  if (permission === 'denied') {
    return `Notifications are blocked for this page (the browser's site settings can allow them): ${STILL}.`;
  }
  if (permission === 'default') return `Notifications were not allowed: ${STILL}.`;
  return null;
}
