// @ts-check
/**
 * The system's media controls (lock screen, headset buttons, notification): title
 * "Broadcaster", the source as the artist, and play/pause/stop mapped to Start/Stop listening.
 * Browsers without navigator.mediaSession simply have none.
 */

/**
 * @typedef {object} MediaSessionLike  the part of navigator.mediaSession used here
 * @property {unknown} metadata
 * @property {string} playbackState
 * @property {(action: string, handler: (() => void) | null) => void} setActionHandler
 */

/** The page's media session, or nothing where the browser has none. */
export class MediaControls {
  /**
   * @param {{ onPlay: () => void, onStop: () => void }} actions
   * @param {{ mediaSession?: MediaSessionLike }} [nav]
   * @param {(init: { title: string, artist: string }) => unknown} [makeMetadata]
   */
  constructor(actions, nav = /** @type {any} */ (globalThis.navigator),
    makeMetadata = (init) => new MediaMetadata(init)) {
    this.session = nav?.mediaSession ?? null;
    this.makeMetadata = makeMetadata;
    if (!this.session) return;
    /** @type {[string, () => void][]} */
    const handlers = [['play', actions.onPlay], ['pause', actions.onStop], ['stop', actions.onStop]];
    for (const [action, handler] of handlers) {
      try {
        this.session.setActionHandler(action, handler);
      } catch {
        // An action this browser does not know ('stop' on older ones): left out.
      }
    }
  }

  /**
   * Show what plays (or what would play): `source` as the artist.
   * @param {string} source
   */
  setSource(source) {
    if (!this.session) return;
    this.session.metadata = this.makeMetadata({ title: 'Broadcaster', artist: source });
  }

  /** @param {boolean} listening */
  setListening(listening) {
    if (this.session) this.session.playbackState = listening ? 'playing' : 'paused';
  }
}
