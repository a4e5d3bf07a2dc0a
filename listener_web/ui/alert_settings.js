// @ts-check
/**
 * The listener's alert settings ("Alert me", the chime, the link-loss alarm's delay, "play
 * only when there is sound"), bound to their controls and remembered in localStorage. A
 * browser that refuses storage (or throws on it) still applies them, for this visit.
 */
import { alarmDelayS } from '../link/watchdog.js';
import { DEFAULT_SETTINGS } from '../session/alert_policy.js';

/** @typedef {import('../session/alert_policy.js').AlertSettings} AlertSettings */

const STORAGE_KEY = 'broadcaster.alerts';

/**
 * The settings a stored value means: each field checked, the default for any that is
 * missing or wrong.
 * @param {string | null} stored
 * @returns {AlertSettings}
 */
export function parseSettings(stored) {
  /** @type {Record<string, unknown>} */
  let o = {};
  try {
    const value = stored === null ? null : JSON.parse(stored);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) o = value;
  } catch {
    // Unreadable: the defaults.
  }
  /** @param {'alertMe' | 'chime' | 'onlySound'} key */
  const flag = (key) => (typeof o[key] === 'boolean' ? /** @type {boolean} */ (o[key]) : DEFAULT_SETTINGS[key]);
  return {
    alertMe: flag('alertMe'),
    chime: flag('chime'),
    alarmDelayS: alarmDelayS(o.alarmDelayS),
    onlySound: flag('onlySound'),
  };
}

/** @returns {Storage | null} */
function localStore() {
  try {
    return window.localStorage;
  } catch {
    return null; // some browsers throw when storage is blocked
  }
}

/**
 * @typedef {object} SettingsControls
 * @property {HTMLInputElement} alertMe  a checkbox
 * @property {HTMLInputElement} chime  a checkbox
 * @property {HTMLSelectElement} alarmDelay  options in seconds, "0" for none
 * @property {HTMLInputElement} onlySound  a checkbox
 */

/** The settings, their controls and their storage. */
export class AlertSettingsStore {
  /**
   * @param {SettingsControls} controls
   * @param {(settings: AlertSettings, changed: keyof AlertSettings) => void} onChange  after a
   *   control changed one (inside the listener's gesture)
   */
  constructor(controls, onChange) {
    this.controls = controls;
    this.storage = localStore();
    this.settings = parseSettings(this.read());
    this.show();
    /** @param {keyof AlertSettings} key */
    const changed = (key) => {
      this.settings = {
        alertMe: controls.alertMe.checked,
        chime: controls.chime.checked,
        alarmDelayS: alarmDelayS(Number(controls.alarmDelay.value)),
        onlySound: controls.onlySound.checked,
      };
      this.write();
      onChange(this.settings, key);
    };
    controls.alertMe.addEventListener('change', () => changed('alertMe'));
    controls.chime.addEventListener('change', () => changed('chime'));
    controls.alarmDelay.addEventListener('change', () => changed('alarmDelayS'));
    controls.onlySound.addEventListener('change', () => changed('onlySound'));
  }

  /** @returns {string | null} */
  read() {
    try {
      return this.storage?.getItem(STORAGE_KEY) ?? null;
    } catch {
      return null;
    }
  }

  write() {
    try {
      this.storage?.setItem(STORAGE_KEY, JSON.stringify(this.settings));
    } catch {
      // Not remembered: still applied.
    }
  }

  show() {
    const { controls, settings } = this;
    controls.alertMe.checked = settings.alertMe;
    controls.chime.checked = settings.chime;
    controls.alarmDelay.value = String(settings.alarmDelayS);
    controls.onlySound.checked = settings.onlySound;
  }

  /**
   * Turn "Alert me" off from the page (the browser refused what it needs).
   * @param {boolean} on
   */
  setAlertMe(on) {
    this.settings = { ...this.settings, alertMe: on };
    this.controls.alertMe.checked = on;
    this.write();
  }
}
