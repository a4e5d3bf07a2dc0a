// @ts-check
/**
 * What the page says on plain http (no secure context), pure: which of WebCodecs and
 * AudioWorklet this browser turns off there, and what the page plays through instead.
 * Browsers differ: Chromium and Firefox turn off both, WebKit keeps WebCodecs (the page
 * then decodes with it, and only the output is the fallback).
 */

/**
 * @typedef {object} Missing  what a page that is no secure context lacks here
 * @property {boolean} webCodecs  no WebCodecs AudioDecoder
 * @property {boolean} worklet  no AudioWorklet
 */

/**
 * The note's text, or null when nothing is missing.
 * @param {Missing} missing
 * @param {boolean} httpsPage  whether the server has an https page to link to (after the text)
 * @returns {string | null}
 */
export function insecureNote({ webCodecs, worklet }, httpsPage) {
  const off = [webCodecs && 'WebCodecs', worklet && 'AudioWorklet'].filter(Boolean);
  if (off.length === 0) return null;
  const turnedOff = `On plain http this browser turns off ${off.join(' and ')}`;
  const fallback = off.length === 2 ? 'a fallback decoder and output' : 'a fallback ' +
    (worklet ? 'output' : 'decoder');
  if (httpsPage) {
    return `${turnedOff}, and this page plays through ${fallback} with more latency. ` +
      'The https page has them, and plays with the lowest latency:';
  }
  return `${turnedOff}: this page plays through ${fallback}, with more latency.`;
}
