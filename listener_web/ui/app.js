// @ts-check
/**
 * UI wiring of the listener page: the Start/Stop button, the status, source and figures,
 * the "Tap to listen" hint when the browser blocks sound, and the note on plain http. The
 * volume, meter and graph are panel.js's; the system's media controls media_session.js's.
 *
 * A Session (session/session.js) does the listening and shows what it does through the view
 * made here; this file holds no protocol, codec or audio logic of its own.
 */
import { prestartDecoderWorker } from '../decoding/direct_decoder.js';
import { MediaControls } from './media_session.js';
import { Panel } from './panel.js';
import { Session } from '../session/session.js';
import { setUpControls } from './control.js';
import { peekHttpsPort } from '../link/stream.js';
import { figureParts } from './figures.js';
import { insecureNote } from './insecure_note.js';
import { Alerting } from './alerting.js';
import { ArchiveLink } from '../link/archive.js';
import { Timeline } from './timeline.js';
import { SaverSwitch } from './saver.js';

/**
 * @typedef {import('./figures.js').FigurePart} FigurePart
 * @typedef {import('../session/session.js').StatusTone} StatusTone
 */

// A shared listening link carries the key (?key=...): the stream needs it too.
const LISTEN_KEY = new URLSearchParams(location.search).get('key');
const KEY_QUERY = LISTEN_KEY ? `?key=${encodeURIComponent(LISTEN_KEY)}` : '';
const URLS = {
  stream: `/audio/stream${KEY_QUERY}`,
  telemetry: `/audio/telemetry${KEY_QUERY}`,
  status: `/status${KEY_QUERY}`,
};
const archive = new ArchiveLink({
  summary: `/archive${KEY_QUERY}`,
  levels: `/archive/levels${KEY_QUERY}`,
  download: `/archive/download${KEY_QUERY}`,
  episodes: `/activity/episodes${KEY_QUERY}`,
});
const alerting = new Alerting(
  { episodes: `/activity/episodes${KEY_QUERY}`, probe: '/healthz' },
  (episode) => timeline.playEpisode(episode.startMs),
);
const IDLE_FIGURES = 'latency – · buffer – · underruns –';
const BLOCKED_TEXT = 'sound is blocked by this browser until you tap the page';

/** @param {string} id */
function element(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`listener page: #${id} is missing`);
  return el;
}

const ui = {
  button: /** @type {HTMLButtonElement} */ (element('listen')),
  status: element('status'),
  source: element('source'),
  figures: element('figures'),
  unlock: /** @type {HTMLDialogElement} */ (element('unlock')),
  unlockButton: element('unlock-button'),
  secureNote: element('secure-note'),
  secureText: element('secure-text'),
  secureLink: /** @type {HTMLAnchorElement} */ (element('secure-link')),
};

const panel = new Panel({
  volume: /** @type {HTMLInputElement} */ (element('volume')),
  volumeValue: /** @type {HTMLOutputElement} */ (element('volume-value')),
  meter: /** @type {HTMLCanvasElement} */ (element('meter')),
  graph: /** @type {HTMLCanvasElement} */ (element('graph')),
});
const media = new MediaControls({
  onPlay: () => { if (!session) listen(); },
  onStop: () => { if (session) stop('stopped', 'idle'); },
});

/**
 * @param {string} text
 * @param {StatusTone} tone
 */
function setStatus(text, tone) {
  ui.status.textContent = text;
  ui.status.dataset.tone = tone;
}

/** @param {boolean} listening */
function setButton(listening) {
  ui.button.textContent = listening ? 'Stop listening' : 'Start listening';
  ui.button.setAttribute('aria-pressed', String(listening));
  media.setListening(listening);
}

/** @param {string} source */
function showSource(source) {
  ui.source.textContent = source;
  media.setSource(source);
}

/** @type {Session | null} */
let session = null;
const saver = new SaverSwitch(/** @type {HTMLInputElement} */ (element('battery-saver')),
  (bundleMs) => session?.connection.setBundleMs(bundleMs));
/** @type {{ text: string, tone: string | undefined } | null} status the tap hint replaced */
let statusBeforeBlock = null;

/**
 * Show or hide the "Tap to listen" hint; when it goes, put back what the session said
 * meanwhile, unless something newer replaced the hint.
 * @param {boolean} blocked
 */
function showBlocked(blocked) {
  if (blocked) {
    if (ui.status.textContent !== BLOCKED_TEXT) {
      statusBeforeBlock = { text: ui.status.textContent ?? '', tone: ui.status.dataset.tone };
    }
    setStatus(BLOCKED_TEXT, 'warn');
    showUnlock();
  } else {
    hideUnlock();
    const before = statusBeforeBlock;
    statusBeforeBlock = null;
    if (before && ui.status.textContent === BLOCKED_TEXT) {
      setStatus(before.text, /** @type {StatusTone} */ (before.tone));
    }
  }
}

/**
 * What a session shows goes to the page while it is the current one.
 * @param {() => Session | null} self  the session the view is for (once it exists)
 * @returns {import('../session/session.js').SessionView}
 */
function viewFor(self) {
  const current = () => session !== null && session === self();
  return {
    status: (text, tone) => { if (current()) setStatus(text, tone); },
    source: (source) => { if (current()) showSource(source); },
    blocked: (blocked) => { if (current()) showBlocked(blocked); },
    attach: (player) => {
      panel.attach(player);
      alerting.attach(player);
    },
    activity: (change) => { if (current()) alerting.activity(change); },
    replay: (replaying) => { if (current()) alerting.replay(replaying); },
    figures: (figures, lostFrames, replaying, bundleMs) => {
      if (!current()) return;
      showFigureParts(figureParts({ ...figures, lostFrames, replaying, bundleMs }));
      // The graph is the link's latency: a replay's distance behind live is none of it.
      panel.show(replaying ? { ...figures, latencyMs: null } : figures);
    },
    end: (text, tone) => { if (current()) stop(text, tone); },
  };
}

/**
 * Show the figures line: one span per figure, its bare value in data-value (for tools).
 * The spans stay while the same figures are shown, and only text that changed is set: the
 * main thread, which hands every packet on to the player, then lays out no more than that.
 * @param {FigurePart[]} parts
 */
function showFigureParts(parts) {
  let shown = /** @type {HTMLElement[]} */ (Array.from(ui.figures.children));
  if (shown.length !== parts.length || parts.some((part, i) => shown[i].dataset.figure !== part.name)) {
    /** @type {(Node | string)[]} */
    const nodes = [];
    for (const part of parts) {
      if (nodes.length > 0) nodes.push(' · ');
      const span = document.createElement('span');
      span.dataset.figure = part.name;
      nodes.push(span);
    }
    ui.figures.replaceChildren(...nodes);
    shown = /** @type {HTMLElement[]} */ (Array.from(ui.figures.children));
  }
  parts.forEach((part, i) => {
    const span = shown[i];
    // No-break spaces inside each figure: a phone's narrow line wraps only between figures.
    const text = part.text.replaceAll(' ', '\u00a0');
    if (span.dataset.value !== part.value) span.dataset.value = part.value;
    if (span.textContent !== text) span.textContent = text;
  });
}

/**
 * End the current session and show why.
 * @param {string} text
 * @param {'idle' | 'warn' | 'error'} tone
 */
function stop(text, tone) {
  const ending = session;
  session = null;
  statusBeforeBlock = null; // that session's: never put back in another's place
  setButton(false);
  setStatus(text, tone);
  alerting.stopped();
  hideUnlock();
  ui.figures.textContent = IDLE_FIGURES;
  panel.clear();
  ending?.close().catch((err) => console.warn('broadcaster: closing audio failed:', err));
}

function showUnlock() {
  if (!ui.unlock.open) ui.unlock.showModal();
}

function hideUnlock() {
  if (ui.unlock.open) ui.unlock.close();
}

/**
 * Start a session; call inside a click, where the browser lets its audio start.
 * @param {number | null} [behindMs]  start with a replay this far behind live
 * @returns {void}
 */
function listen(behindMs = null) {
  /** @param {unknown} err */
  const failed = (err) => {
    if (err instanceof DOMException && err.name === 'NotAllowedError') {
      // Some browsers refuse to start audio outright instead of leaving it suspended.
      stop(BLOCKED_TEXT, 'warn');
      showUnlock();
    } else {
      stop(err instanceof Error ? err.message : String(err), 'error');
    }
  };
  /** @type {Session | null} */
  let current = null;
  try {
    current = new Session(viewFor(() => current), URLS);
  } catch (err) {
    failed(err);
    return;
  }
  session = current;
  current.connection.bundleMs = saver.bundleMs;
  alerting.started(current);
  setButton(true);
  const started = current;
  started.start(behindMs).catch((err) => {
    if (session === started) failed(err);
  });
}

/**
 * On plain http (not a secure context) browsers turn off AudioWorklet, and most WebCodecs
 * too: the page plays through a fallback with more latency. Say so at once, and link to the
 * https page when the server has one.
 */
async function explainInsecurePage() {
  if (window.isSecureContext) return;
  const missing = {
    webCodecs: typeof AudioDecoder === 'undefined',
    // Chromium keeps the AudioWorkletNode constructor there, but no context's audioWorklet.
    worklet: !('audioWorklet' in (globalThis.BaseAudioContext ?? AudioContext).prototype),
  };
  const text = insecureNote(missing, false);
  if (text === null) return;
  ui.secureText.textContent = text;
  ui.secureNote.hidden = false;
  const port = await peekHttpsPort(URLS.stream);
  if (port === null) return;
  const origin = `https://${location.hostname}:${port}`;
  ui.secureText.textContent = insecureNote(missing, true);
  ui.secureLink.href = `${origin}${location.pathname}${location.search}${location.hash}`;
  ui.secureLink.textContent = `${origin}/`;
  ui.secureLink.hidden = false;
}

ui.button.addEventListener('click', () => {
  if (session) {
    stop('stopped', 'idle');
  } else {
    listen();
  }
});

ui.unlockButton.addEventListener('click', () => {
  hideUnlock();
  if (session) {
    session.unlock();
  } else {
    listen();
  }
});

// Escape closes the hint: the listener chose not to listen.
ui.unlock.addEventListener('cancel', () => {
  if (session) stop('stopped', 'idle');
});

const timeline = new Timeline({
  section: element('archive'),
  canvas: /** @type {HTMLCanvasElement} */ (element('timeline')),
  window: /** @type {HTMLSelectElement} */ (element('timeline-window')),
  behind: element('behind'),
  from: element('timeline-from'),
  to: element('timeline-to'),
  back10: /** @type {HTMLButtonElement} */ (element('back-10')),
  back30: /** @type {HTMLButtonElement} */ (element('back-30')),
  live: /** @type {HTMLButtonElement} */ (element('go-live')),
  downloadLast: /** @type {HTMLAnchorElement} */ (element('download-last')),
  downloadSpan: /** @type {HTMLAnchorElement} */ (element('download-span')),
  clearSpan: /** @type {HTMLButtonElement} */ (element('clear-span')),
}, archive, {
  serverNowMs: (localMs) => session?.serverNowMs(localMs) ?? null,
  position: () => ({ listening: session !== null, behindMs: session?.behindMs() ?? null }),
  archive: (enabled) => alerting.archive(enabled),
  seek: (behindMs) => {
    if (session) {
      session.seek(behindMs);
    } else {
      listen(behindMs);
    }
  },
});

setButton(false);
setStatus('stopped', 'idle');
explainInsecurePage().catch((err) => console.warn('broadcaster: https link failed:', err));
prestartDecoderWorker(); // loads while the page waits for a press
setUpControls(element('controls'), (text, ok) => {
  if (!session) setStatus(text, ok ? 'idle' : 'error');
});
