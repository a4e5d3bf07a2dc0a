// @ts-check
/**
 * The margin the jitter buffer keeps from the start on an engine whose whole rendering
 * stops now and then; pure.
 *
 * WebKit's web process (page, network, decoder and audio thread alike) stood still for
 * 104-156 ms every five to ten minutes on the machines measured, then rendered the time it
 * owed at once, to refill its device, before the audio that waited could arrive
 * (worklet/pause_watch.js; docs/performance.md, "WebKit's own floor"). Only a buffer deeper
 * than the pause covers that, and it must be that deep from the start: the adaptive target
 * learns a pause only by underrunning in it. The buffer must hold the longest pause even
 * when it comes right after a burst was played (WebKit hands out up to 40 ms at once) and a
 * frame is due: 156 + 40 + 20 ms, rounded up.
 *
 * Which engines: telling them by how they render was tried and missed most first sessions
 * of a fresh browser, which render as steadily as Firefox's (docs/performance.md), so it is
 * the engine's name, from the user agent: WebKit, which is every browser on an iPhone, and
 * not Chromium's engine, whose user agent names AppleWebKit too. Only the AudioWorklet
 * output takes the margin: the ScriptProcessor output's 2048-frame blocks keep its buffer
 * deep already (legacy_output.js), and it had no underrun on WebKit in the same runs.
 */

/** The buffer's floor on an engine that pauses whole (ms). */
export const PAUSE_MARGIN_MS = 220;

/**
 * Whether the user agent is WebKit's engine (Safari, WebKitGTK, any iOS browser).
 * @param {string} userAgent
 * @returns {boolean}
 */
export function isWebKitEngine(userAgent) {
  return /AppleWebKit\//.test(userAgent) && !/\b(?:Chrome|Chromium|HeadlessChrome)\//.test(userAgent);
}

/**
 * The margin for an output on an engine (0: none).
 * @param {string} userAgent
 * @param {'worklet' | 'scriptprocessor'} outputKind
 * @returns {number} ms
 */
export function pauseMarginMs(userAgent, outputKind) {
  return outputKind === 'worklet' && isWebKitEngine(userAgent) ? PAUSE_MARGIN_MS : 0;
}
