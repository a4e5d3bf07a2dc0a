// @ts-check
/**
 * The page's alerting, wired to its elements: the settings (alert_settings.js), the sound
 * alerts and the list of episodes (alerts.js), and the link-loss alarm (link_alarm.js).
 * ui/app.js hands it each session's start, player, activity and stop.
 */
import { AlertSettingsStore } from './alert_settings.js';
import { AlertCenter } from './alerts.js';
import { LinkAlarm } from './link_alarm.js';

/**
 * @typedef {import('../session/session.js').Session} Session
 * @typedef {import('../link/activity.js').ActivityChange} ActivityChange
 */

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
function element(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`listener page: #${id} is missing`);
  return /** @type {T} */ (el);
}

/** Alerts and the link-loss alarm, for whichever session listens. */
export class Alerting {
  /**
   * @param {{ episodes: string, probe: string }} urls  GET /activity/episodes (with the
   *   page's key) and a request any broadcaster answers (GET /healthz)
   * @param {import('./alerts.js').PlayEpisode} play  replay an episode from the archive
   */
  constructor(urls, play) {
    this.urls = urls;
    this.store = new AlertSettingsStore({
      alertMe: element('alert-me'),
      chime: element('alert-chime'),
      alarmDelay: element('alarm-delay'),
      onlySound: element('only-sound'),
    }, (settings, changed) => {
      this.center.configure(settings);
      this.alarm.setDelay(settings.alarmDelayS);
      if (changed === 'alertMe' && settings.alertMe) this.askForNotifications(true);
    });
    const { settings } = this.store;
    this.center = new AlertCenter({
      banner: element('alert-banner'),
      bannerText: element('alert-text'),
      bannerDismiss: element('alert-dismiss'),
      list: element('episodes'),
      listEmpty: element('episodes-empty'),
      note: element('alert-note'),
    }, settings, play);
    this.alarm = new LinkAlarm({
      box: element('alarm'),
      text: element('alarm-text'),
      silence: element('alarm-silence'),
    }, urls.probe, () => this.center.linkLost());
    this.alarm.setDelay(settings.alarmDelayS);
    // "Alert me" remembered from a visit before: say now what cannot be done here (asking
    // waits for a click: the browser lets a page ask only then).
    if (settings.alertMe) this.askForNotifications(false);
  }

  /** @param {boolean} ask  ask for permission (only inside the listener's click) */
  askForNotifications(ask) {
    this.center.askForNotifications(ask)
      .catch((err) => console.warn('broadcaster: asking for notifications failed:', err));
  }

  /**
   * A session started (inside the click on Start).
   * @param {Session} session
   */
  started(session) {
    if (this.store.settings.alertMe) this.askForNotifications(true); // a click: it may ask
    this.center.started(this.urls.episodes);
    this.alarm.start({
      link: () => ({
        lastArrivalMs: session.connection.lastArrivalMs,
        state: session.connection.captureState,
        connected: session.connection.connected,
      }),
      ctx: () => (session.closed ? null : session.output.player.ctx),
    });
  }

  /** @param {{ ctx: BaseAudioContext, outputTo: AudioNode }} player */
  attach(player) {
    this.center.attach(player);
  }

  /** @param {ActivityChange} change */
  activity(change) {
    this.center.activity(change);
  }

  /** @param {boolean} enabled  the broadcaster keeps an archive: episodes can be replayed */
  archive(enabled) {
    this.center.archive(enabled);
  }

  /** @param {boolean} replaying  a replay plays: "only when there is sound" lets it be heard */
  replay(replaying) {
    this.center.replay(replaying);
  }

  /** Listening stopped. */
  stopped() {
    this.alarm.stop();
    this.center.stopped();
  }
}
