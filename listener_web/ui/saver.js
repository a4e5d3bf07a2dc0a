// @ts-check
/**
 * The "battery saver" switch: the stream asks for its frames in bundles of SAVER_BUNDLE_MS
 * (docs/protocol.md, "Choosing the cost"), so a phone's radio wakes twice a second instead
 * of fifty times, at half a second more latency. Remembered in localStorage, as the alert
 * settings are; a browser that refuses storage still applies it, for this visit.
 */

/** The bundles the saver asks for. */
export const SAVER_BUNDLE_MS = 500;
const STORAGE_KEY = 'broadcaster.saver';

/**
 * Whether a stored value means the saver is on (anything unreadable: off).
 * @param {string | null} stored
 */
export function parseSaver(stored) {
  try {
    const value = stored === null ? null : JSON.parse(stored);
    return typeof value === 'object' && value !== null && value.on === true;
  } catch {
    return false;
  }
}

/**
 * The bundles a stream asks for with the saver on or off.
 * @param {boolean} on
 */
export function bundleMsFor(on) {
  return on ? SAVER_BUNDLE_MS : 0;
}

/** @returns {Storage | null} */
function localStore() {
  try {
    return window.localStorage;
  } catch {
    return null; // some browsers throw when storage is blocked
  }
}

/** The switch, bound to its checkbox and its storage. */
export class SaverSwitch {
  /**
   * @param {HTMLInputElement} checkbox
   * @param {(bundleMs: number) => void} onChange  after the listener flipped it
   */
  constructor(checkbox, onChange) {
    this.storage = localStore();
    /** @type {string | null} */
    let stored = null;
    try {
      stored = this.storage?.getItem(STORAGE_KEY) ?? null;
    } catch {
      // Unreadable: off.
    }
    this.on = parseSaver(stored);
    checkbox.checked = this.on;
    checkbox.addEventListener('change', () => {
      this.on = checkbox.checked;
      try {
        this.storage?.setItem(STORAGE_KEY, JSON.stringify({ on: this.on }));
      } catch {
        // Not remembered: still applied.
      }
      onChange(this.bundleMs);
    });
  }

  /** The bundles the stream asks for now. */
  get bundleMs() {
    return bundleMsFor(this.on);
  }
}
