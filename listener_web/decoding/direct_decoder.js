// @ts-check
/**
 * WebCodecs decoding in a Worker whose PCM goes straight to the AudioWorklet: the decoder
 * for the 'webcodecs+worklet' path.
 *
 * Decoded on the page's main thread, a packet's audio waits for that thread twice more (the
 * decoder's output callback, then the hand-over to the worklet) behind whatever else it
 * does: layout, drawing, timers. Timed in headless Chromium against the server's even pace,
 * that made the latest of a minute's packets 3.5–7.5 ms later than the stream delivered
 * them, while in a Worker it added 0.5 ms. The jitter buffer's target covers the latest
 * arrival, so a busy main thread (a phone's, say) no longer adds to it. The stream itself
 * stays on the main thread (an EventSource in a Worker delivered no more evenly), and sends
 * each packet on with its capture time; the Worker holds a connection's first audio
 * (outlet.js) and hands it over in one piece, as the main thread does on the other paths.
 */

/** @typedef {import('./decoder.js').Decoder} Decoder */

/** @type {Worker | null} started ahead of need, not yet used */
let spare = null;

/** @type {WeakMap<Worker, Error>} why a Worker failed (a spare may fail before it is used) */
const failures = new WeakMap();

/** @returns {Worker} */
function newWorker() {
  const worker = new Worker(new URL('./decoder_worker.js', import.meta.url), { type: 'module' });
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    failures.set(worker, new Error(`the decoder worker failed: ${event.message || 'could not load it'}`));
  });
  return worker;
}

/**
 * Start a decoder Worker ahead of need where the page will use one (a secure context with
 * WebCodecs and AudioWorklet), so that it has loaded by the time Start is pressed: loaded
 * on the press, it made the first sound about 30 ms later.
 */
export function prestartDecoderWorker() {
  if (spare || !globalThis.isSecureContext || typeof Worker !== 'function' ||
      typeof AudioDecoder === 'undefined' || typeof AudioWorkletNode === 'undefined') return;
  spare = newWorker();
}

/** @returns {Worker} the Worker started ahead, else a new one */
function decoderWorker() {
  const worker = spare ?? newWorker();
  spare = null;
  return worker;
}

/**
 * WebCodecs in a Worker, its PCM straight to the worklet: a Decoder (decoder.js).
 * @implements {Decoder}
 */
export class DirectDecoder {
  /**
   * @param {{ channels: number, frameMs: number, onError: (err: Error) => void,
   *   onFailed: (err: Error) => void, captureMsOf: (id: number) => number | undefined }}
   *   options  `onError`: a packet failed to decode; `onFailed`: the Worker itself failed
   *   (it could not load, say) and decodes nothing more; `captureMsOf`: when the first
   *   sample decoded from packet `id` was captured (server clock), if known
   */
  constructor({ channels, frameMs, onError, onFailed, captureMsOf }) {
    const worker = decoderWorker();
    this.worker = worker;
    this.captureMsOf = captureMsOf;
    worker.addEventListener('message', (event) => {
      if (event.data?.type === 'error') onError(new Error(String(event.data.message)));
    });
    const failed = () => onFailed(failures.get(worker) ?? new Error('the decoder worker failed'));
    if (failures.has(worker)) {
      queueMicrotask(failed);
    } else {
      worker.addEventListener('error', failed);
    }
    this.worker.postMessage({ type: 'configure', channels, frameMs });
  }

  /**
   * Where the PCM goes from now on: the output's worklet, through a port it hands out.
   * @param {import('./decoder.js').PcmSink} sink
   */
  connect(sink) {
    const port = sink.feedPort();
    if (port) this.worker.postMessage({ type: 'port', port }, [port]);
  }

  /**
   * A connection starts: the Worker holds its first audio as prefill.js says.
   * @param {number} nextId
   * @param {number} liveId
   * @param {boolean} [fresh]
   */
  startConnection(nextId, liveId, fresh = false) {
    this.worker.postMessage({ type: 'prefill', nextId, liveId, fresh });
  }

  /**
   * Queue one raw Opus packet (its buffer is handed to the Worker), dated by `captureMsOf`.
   * @param {Uint8Array} packet
   * @param {number} id
   */
  decode(packet, id) {
    const captureMs = this.captureMsOf(id);
    this.worker.postMessage({ type: 'packet', packet, id, captureMs }, [packet.buffer]);
  }

  /** Stop decoding; the Worker ends. */
  close() {
    this.worker.postMessage({ type: 'close' });
    this.worker.terminate();
  }
}
