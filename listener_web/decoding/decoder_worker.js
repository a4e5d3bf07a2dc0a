// @ts-check
/**
 * A dedicated Worker that decodes the stream with WebCodecs and hands the PCM straight to
 * the AudioWorklet through a MessagePort, so that decoded audio never waits for the page's
 * main thread (direct_decoder.js starts it and says why).
 *
 * Messages in (from direct_decoder.js): 'port' {port} where the PCM goes (the worklet's
 * end of a MessageChannel; replaced when the output is rebuilt); 'configure' {channels,
 * frameMs}; 'prefill' {nextId, liveId, fresh} when a connection starts (outlet.js); 'packet'
 * {packet, id, captureMs}; 'close'. Messages out: 'error' {message}.
 */
import { PcmOutlet } from './outlet.js';
import { WebCodecsOpusDecoder } from './webcodecs_decoder.js';

// Capture times of the packets in the decoder, by id (at most a few: outputs follow soon).
const MAX_PENDING = 256;

/** @type {WebCodecsOpusDecoder | null} */
let decoder = null;
/** @type {Map<number, number | undefined>} */
const captureTimes = new Map();
// Each packet's capture time came with it: its PCM takes it from here.
const outlet = new PcmOutlet(takeCaptureMs);

/**
 * @param {number} id
 * @returns {number | undefined}
 */
function takeCaptureMs(id) {
  const captureMs = captureTimes.get(id);
  captureTimes.delete(id);
  return captureMs;
}

/** @param {MessagePort} port  the worklet's end: 'pcm' messages, as the player sends them */
function pushTo(port) {
  return (/** @type {Float32Array} */ samples, /** @type {number | undefined} */ captureMs) =>
    port.postMessage({ type: 'pcm', samples, captureMs }, [samples.buffer]);
}

/** @param {Error} err */
function onError(err) {
  postMessage({ type: 'error', message: err.message });
}

self.addEventListener('message', (/** @type {MessageEvent} */ event) => {
  const msg = event.data;
  switch (msg.type) {
    case 'port':
      outlet.connect(pushTo(msg.port));
      break;
    case 'configure':
      decoder?.close();
      captureTimes.clear();
      decoder = new WebCodecsOpusDecoder({
        channels: msg.channels, frameMs: msg.frameMs, onPcm: (samples, id) => outlet.take(samples, id), onError,
      });
      break;
    case 'prefill':
      outlet.start(msg.nextId, msg.liveId, msg.fresh === true);
      break;
    case 'packet':
      if (!decoder) break;
      if (captureTimes.size >= MAX_PENDING) captureTimes.clear(); // outputs that never came
      captureTimes.set(msg.id, msg.captureMs);
      try {
        decoder.decode(msg.packet, msg.id);
      } catch (err) {
        onError(err instanceof Error ? err : new Error(String(err)));
      }
      break;
    case 'close':
      decoder?.close();
      decoder = null;
      captureTimes.clear();
      break;
    default:
      onError(new Error(`decoder worker: unknown message ${JSON.stringify(msg.type)}`));
  }
});
