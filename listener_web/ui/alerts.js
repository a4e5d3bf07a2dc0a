// @ts-check
/**
 * Sound alerts in the page: the banner, vibration, the chime and the system notification
 * of each sound the broadcaster flags (when "Alert me" is on), the list of today's
 * episodes, and "play only when there is sound" (a gain between the player and the volume,
 * closed between episodes). What an episode does is session/alert_policy.js's; this file
 * only acts on it.
 */
import { parseEpisodePage } from '../link/activity.js';
import { playChime } from '../output/alert_sounds.js';
import {
  EpisodeList,
  VIBRATION_MS,
  alertActions,
  bannerText,
  clockText,
  durationText,
  levelText,
  notificationNote,
} from '../session/alert_policy.js';

/**
 * @typedef {import('../link/activity.js').ActivityChange} ActivityChange
 * @typedef {import('../link/activity.js').Episode} Episode
 * @typedef {import('../session/alert_policy.js').AlertSettings} AlertSettings
 *
 * @typedef {object} AlertElements
 * @property {HTMLElement} banner  shown while an alert is up
 * @property {HTMLElement} bannerText
 * @property {HTMLButtonElement} bannerDismiss
 * @property {HTMLElement} list  an <ol> of today's episodes
 * @property {HTMLElement} listEmpty  shown when the list is empty
 * @property {HTMLElement} note  why an alert cannot do all it should here
 *
 * @typedef {(episode: Episode) => void} PlayEpisode  replay an episode from the archive
 *   (called inside the listener's tap)
 */

// The stream fades in this fast when a sound begins, and out this slowly after it ends.
const OPEN_S = 0.01;
const CLOSE_S = 0.1;

/** The page's side of sound activity. */
export class AlertCenter {
  /**
   * @param {AlertElements} elements
   * @param {AlertSettings} settings
   * @param {PlayEpisode} play
   */
  constructor(elements, settings, play) {
    this.el = elements;
    this.settings = settings;
    this.play = play;
    /** The broadcaster keeps an archive: each episode gets a play button. */
    this.replayable = false;
    this.list = new EpisodeList();
    /** @type {number | null} the episode the banner shows */
    this.bannerEpisode = null;
    /** @type {BaseAudioContext | null} the current player's context, for the chime */
    this.ctx = null;
    /** @type {GainNode | null} "play only when there is sound" */
    this.gate = null;
    /** A replay plays: the listener chose that moment, the gate stays open. */
    this.replaying = false;
    /** The session's episodes request: a newer Start makes an older answer moot. */
    this.loads = 0;
    elements.bannerDismiss.addEventListener('click', () => this.hideBanner());
    this.render();
  }

  /**
   * Listening started: list today's episodes from the server.
   * @param {string} url  GET /activity/episodes, with the page's key
   */
  started(url) {
    const load = ++this.loads;
    fetch(url, { cache: 'no-store' })
      .then(async (response) => (response.ok ? parseEpisodePage(await response.text()) : null))
      .then((page) => {
        if (page === null || load !== this.loads) return;
        if (!page.alertsEnabled) {
          this.el.listEmpty.textContent = 'This broadcaster does not listen for sounds (its [alerts] are off).';
        }
        this.list.load(page.episodes, Date.now());
        this.render();
        this.updateGate();
      })
      .catch((err) => console.warn('broadcaster: listing sound episodes failed:', err));
  }

  /** Listening stopped: its player and context are gone. */
  stopped() {
    this.loads += 1;
    this.ctx = null;
    this.gate = null;
    this.replaying = false;
  }

  /**
   * A new player: its output goes through the gate on its way to the volume.
   * @param {{ ctx: BaseAudioContext, outputTo: AudioNode }} player
   */
  attach(player) {
    this.ctx = player.ctx;
    this.gate = player.ctx.createGain();
    this.gate.gain.value = this.gateOpen() ? 1 : 0;
    this.gate.connect(player.outputTo);
    player.outputTo = this.gate;
  }

  /**
   * The listener changed a setting.
   * @param {AlertSettings} settings
   */
  configure(settings) {
    this.settings = settings;
    this.updateGate();
    if (!settings.alertMe) this.el.note.hidden = true;
  }

  /**
   * Say what cannot be done here; with `ask`, inside the listener's click ("Alert me" turned
   * on, or Start with it on: the moments a browser lets a page ask), ask for notifications.
   * @param {boolean} ask
   */
  async askForNotifications(ask) {
    const supported = typeof Notification !== 'undefined';
    const secure = window.isSecureContext;
    /** @type {NotificationPermission | 'unsupported'} */
    let permission = supported ? Notification.permission : 'unsupported';
    if (ask && supported && secure && permission === 'default') {
      try {
        permission = await Notification.requestPermission();
      } catch {
        permission = 'default';
      }
    }
    // Not asked yet (it will be at the next click): nothing to explain yet.
    const unasked = !ask && supported && secure && permission === 'default';
    const note = unasked ? null : notificationNote({ supported, secure, permission });
    this.el.note.textContent = note ?? '';
    this.el.note.hidden = note === null || !this.settings.alertMe;
  }

  /**
   * An `activity` event.
   * @param {ActivityChange} change
   */
  activity(change) {
    this.list.apply(change, Date.now());
    this.render();
    this.updateGate();
    const actions = alertActions(change, this.settings, this.bannerEpisode);
    if (actions.banner) this.showBanner(change);
    if (actions.vibrate) navigator.vibrate?.(VIBRATION_MS);
    if (actions.chime && this.ctx) playChime(this.ctx);
    if (actions.notify) notify(change);
  }

  /** The link was lost: no sound is known to go on (the list says which were cut off). */
  linkLost() {
    this.list.linkLost();
    this.render();
    this.updateGate();
  }

  /** @param {Episode} episode */
  showBanner(episode) {
    this.bannerEpisode = episode.episode;
    this.el.bannerText.textContent = bannerText(episode);
    this.el.banner.dataset.episode = String(episode.episode);
    this.el.banner.dataset.ongoing = String(episode.ongoing);
    this.el.banner.hidden = false;
  }

  hideBanner() {
    this.bannerEpisode = null;
    this.el.banner.hidden = true;
  }

  /** Whether the stream may be heard now. */
  gateOpen() {
    return !this.settings.onlySound || this.list.soundNow || this.replaying;
  }

  /** @param {boolean} replaying  a replay plays (or live again) */
  replay(replaying) {
    this.replaying = replaying;
    this.updateGate();
  }

  updateGate() {
    const gate = this.gate;
    if (!gate) return;
    const open = this.gateOpen();
    const t = gate.context.currentTime;
    gate.gain.cancelScheduledValues(t);
    if (open) {
      gate.gain.setTargetAtTime(1, t, OPEN_S);
    } else {
      // An exponential fade never ends: after six time constants (−52 dB) it is cut to 0.
      gate.gain.setTargetAtTime(0, t, CLOSE_S);
      gate.gain.setValueAtTime(0, t + 6 * CLOSE_S);
    }
  }

  /** @param {boolean} enabled  whether the broadcaster keeps an archive to replay from */
  archive(enabled) {
    if (enabled === this.replayable) return;
    this.replayable = enabled;
    this.render();
  }

  /** Draw the list of today's episodes. */
  render() {
    const rows = this.list.episodes.map((episode) => {
      const li = document.createElement('li');
      li.dataset.episode = String(episode.episode);
      if (episode.alerted) li.dataset.alerted = 'true';
      const time = document.createElement('time');
      time.dateTime = new Date(episode.startMs).toISOString();
      time.textContent = clockText(episode.startMs);
      const peak = document.createElement('span');
      peak.textContent = `peak ${levelText(episode.peakDbfs)}`;
      const duration = document.createElement('span');
      duration.textContent = durationText(episode);
      li.append(time, peak, duration);
      if (this.replayable) {
        const play = document.createElement('button');
        play.type = 'button';
        play.className = 'episode-play';
        play.textContent = 'Play';
        play.setAttribute('aria-label', `Play the sound of ${clockText(episode.startMs)}`);
        play.addEventListener('click', () => this.play(episode));
        li.append(play);
      }
      return li;
    });
    this.el.list.replaceChildren(...rows);
    this.el.listEmpty.hidden = rows.length > 0;
  }
}

/**
 * A system notification, where the browser allows one (Chrome on Android allows them only
 * through a service worker: there it throws, and the banner has to do).
 * @param {Episode} episode
 */
function notify(episode) {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  try {
    new Notification('Broadcaster: a sound', {
      body: bannerText(episode), tag: 'broadcaster-sound', requireInteraction: false,
    });
  } catch (err) {
    console.info('broadcaster: no system notification here:', err);
  }
}
