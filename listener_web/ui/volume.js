// @ts-check
/**
 * The listener's volume: a range input, remembered in localStorage, applied by a GainNode
 * between the player's output and the context's destination.
 */

export const DEFAULT_VOLUME_PERCENT = 100;
const STORAGE_KEY = 'broadcaster.volume';
// Glide to a new gain over ~20 ms: a jump would click.
const GLIDE_S = 0.02;

/**
 * The volume a stored value means: a whole percent from 0 to 100, else the default.
 * @param {string | null} stored
 * @returns {number}
 */
export function parseVolume(stored) {
  if (stored === null || stored.trim() === '') return DEFAULT_VOLUME_PERCENT;
  const percent = Number(stored);
  if (!Number.isFinite(percent)) return DEFAULT_VOLUME_PERCENT;
  return Math.round(Math.min(100, Math.max(0, percent)));
}

/**
 * The linear gain of a volume: 50 % halves the amplitude (−6 dB).
 * @param {number} percent
 */
export function gainFor(percent) {
  return Math.min(100, Math.max(0, percent)) / 100;
}

/** The slider, its label, and the gain node of the current AudioContext. */
export class Volume {
  /**
   * @param {HTMLInputElement} input
   * @param {HTMLOutputElement} label
   * @param {Storage | null} storage  null where the browser refuses storage
   */
  constructor(input, label, storage) {
    this.input = input;
    this.label = label;
    this.storage = storage;
    this.percent = parseVolume(this.read());
    /** @type {GainNode | null} */
    this.gain = null;
    this.show();
    input.addEventListener('input', () => this.set(Number(input.value)));
  }

  /** @returns {string | null} */
  read() {
    try {
      return this.storage?.getItem(STORAGE_KEY) ?? null;
    } catch {
      return null; // storage can throw (blocked cookies): the default then
    }
  }

  /** @param {number} percent */
  set(percent) {
    this.percent = parseVolume(String(percent));
    try {
      this.storage?.setItem(STORAGE_KEY, String(this.percent));
    } catch {
      // Not remembered: still applied.
    }
    this.show();
    if (this.gain) {
      this.gain.gain.setTargetAtTime(gainFor(this.percent), this.gain.context.currentTime, GLIDE_S);
    }
  }

  show() {
    this.input.value = String(this.percent);
    this.label.textContent = `${this.percent} %`;
  }

  /**
   * A gain node in `ctx` at the current volume, connected to the destination: the player's
   * output goes into it.
   * @param {BaseAudioContext} ctx
   * @returns {GainNode}
   */
  attach(ctx) {
    // The factory, not `new GainNode`: older Safari has only the factory.
    this.gain = ctx.createGain();
    this.gain.gain.value = gainFor(this.percent);
    this.gain.connect(ctx.destination);
    return this.gain;
  }
}
