// @ts-check
/**
 * Raw Opus packets -> interleaved Float32 PCM through libopus compiled to WebAssembly: the
 * npm package `opus-decoder`, which the server serves under /vendor/ (package.json at the
 * repository's top; scripts/setup.sh and systemd/install.sh install it, git never holds it).
 * For browsers without WebCodecs Opus, and for pages that are no secure context, where the
 * browser hides WebCodecs.
 *
 * The package's browser build is a classic script that defines `globalThis['opus-decoder']`,
 * so it is loaded with a <script> element: the page's CSP allows same-origin scripts, and its
 * 'wasm-unsafe-eval' lets the script compile the WebAssembly it carries inline. The
 * main-thread decoder is used (its Web Worker variant would need blob: workers, which the CSP
 * refuses); decoding a 20 ms packet takes well under a millisecond.
 */

export const WASM_DECODER_URL = '/vendor/opus-decoder/opus-decoder.min.js';

/**
 * @typedef {object} WasmDecoded  what opus-decoder's decodeFrame() returns
 * @property {Float32Array[]} channelData  one array per channel, fresh copies
 * @property {number} samplesDecoded  per channel
 * @property {{ message: string }[]} errors
 *
 * @typedef {object} WasmDecoderInstance
 * @property {Promise<void>} ready
 * @property {(packet: Uint8Array) => WasmDecoded} decodeFrame
 * @property {() => void} free
 *
 * @typedef {new (options: { channels: number, sampleRate: number }) => WasmDecoderInstance} WasmLibrary
 */

// The script defines one global for the whole page: load it once (a failure may be retried).
/** @type {Map<string, Promise<WasmLibrary>>} */
const loads = new Map();

/**
 * Load opus-decoder and compile its WebAssembly; resolves its decoder class.
 * @param {string} [url]
 * @returns {Promise<WasmLibrary>}
 */
export function loadWasmOpus(url = WASM_DECODER_URL) {
  let promise = loads.get(url);
  if (!promise) {
    promise = load(url);
    loads.set(url, promise);
    promise.catch(() => loads.delete(url));
  }
  return promise;
}

/**
 * @param {string} url
 * @returns {Promise<WasmLibrary>}
 */
async function load(url) {
  await new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.onload = resolve;
    script.onerror = () => {
      script.remove();
      reject(new Error(`${url} is missing on the server`));
    };
    document.head.append(script);
  });
  const Library = /** @type {any} */ (globalThis)['opus-decoder']?.OpusDecoder;
  if (typeof Library !== 'function') throw new Error(`${url} did not define OpusDecoder`);
  // Compile the WebAssembly now, so that a failure shows before playing; the compiled module
  // is kept for every later decoder.
  const probe = new Library({ channels: 1, sampleRate: 48000 });
  await probe.ready;
  probe.free();
  return Library;
}

/** One WebAssembly libopus decoder for one stream configuration. */
export class WasmOpusDecoder {
  /**
   * @param {WasmLibrary | Promise<WasmLibrary>} library  loadWasmOpus()
   * @param {object} options
   * @param {number} options.channels  1 or 2
   * @param {import('./decoder.js').PcmCallback} options.onPcm
   * @param {(err: Error) => void} options.onError  the packet is skipped
   */
  constructor(library, { channels, onPcm, onError }) {
    this.channels = channels;
    this.onPcm = onPcm;
    this.onError = onError;
    /** Packets that failed to decode. */
    this.errors = 0;
    /** Id of the newest decoded packet, or -1. */
    this.lastId = -1;
    /** @type {WasmDecoderInstance | null} set once it is ready */
    this.decoder = null;
    /** Packets that came before the decoder was ready, oldest first. */
    this.waiting = /** @type {[Uint8Array, number][]} */ ([]);
    this.closed = false;
    Promise.resolve(library).then(async (Library) => {
      const decoder = new Library({ channels, sampleRate: 48000 });
      await decoder.ready;
      if (this.closed) {
        decoder.free();
        return;
      }
      this.decoder = decoder;
      for (const [packet, id] of this.waiting.splice(0)) this.decodeNow(decoder, packet, id);
    }).catch((err) => {
      if (!this.closed) this.fail(err);
    });
  }

  /**
   * Decode one raw Opus packet (at once, or as soon as the decoder is ready).
   * @param {Uint8Array} packet
   * @param {number} id  its audio event id
   */
  decode(packet, id) {
    if (this.closed) return;
    if (this.decoder) {
      this.decodeNow(this.decoder, packet, id);
    } else {
      this.waiting.push([packet, id]);
    }
  }

  /** Release the decoder; packets still waiting are dropped. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.decoder?.free();
    this.decoder = null;
    this.waiting.length = 0;
  }

  /**
   * @param {WasmDecoderInstance} decoder
   * @param {Uint8Array} packet
   * @param {number} id
   */
  decodeNow(decoder, packet, id) {
    let decoded;
    try {
      decoded = decoder.decodeFrame(packet);
    } catch (err) {
      this.fail(err); // a packet larger than any Opus packet, say
      return;
    }
    if (decoded.errors.length > 0) {
      this.fail(new Error(decoded.errors[0].message));
      return;
    }
    this.lastId = id;
    this.onPcm(interleave(decoded.channelData, this.channels, decoded.samplesDecoded), id);
  }

  /** @param {unknown} err */
  fail(err) {
    this.errors++;
    this.onError(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * Planar channels -> one interleaved array (a single channel is passed through as it is).
 * @param {Float32Array[]} planes
 * @param {number} channels
 * @param {number} frames
 * @returns {Float32Array}
 */
export function interleave(planes, channels, frames) {
  if (channels === 1 && planes[0].length === frames) return planes[0];
  const samples = new Float32Array(frames * channels);
  for (let c = 0; c < channels; c++) {
    const plane = planes[Math.min(c, planes.length - 1)];
    for (let i = 0; i < frames; i++) samples[i * channels + c] = plane[i];
  }
  return samples;
}
