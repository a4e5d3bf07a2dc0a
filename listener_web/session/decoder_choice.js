// @ts-check
/**
 * The session's choice of decoder, and its fall backs. chooseDecoder() picks the codec:
 * WebCodecs wherever the browser decodes Opus with it, secure context or not (Chrome, Edge
 * and desktop Firefox in a secure context; WebKit on plain http too), else libopus in
 * WebAssembly, whose script this page loads from the server. WebCodecs decodes off the main
 * thread, which a ScriptProcessor output (no AudioWorklet) needs most. StreamDecoder
 * then decodes the stream with it: in a Worker that hands the PCM straight to the AudioWorklet
 * where it can (decoding/direct_decoder.js), else on the main thread, and on the main thread
 * from the moment a Worker fails. The session sees one Decoder (decoding/decoder.js) either way.
 *
 * The WebAssembly decoder's browser build (the npm package `opus-decoder`, served under
 * /vendor/: scripts/setup.sh and systemd/install.sh install it, git never holds it) is a
 * classic script that defines `globalThis['opus-decoder']`, so it is loaded with a <script>
 * element: the page's CSP allows same-origin scripts, and its 'wasm-unsafe-eval' lets the
 * script compile the WebAssembly it carries inline.
 */
import { MainThreadDecoder } from '../decoding/decoder.js';
import { DirectDecoder } from '../decoding/direct_decoder.js';
import { decoderConfig } from '../decoding/webcodecs_decoder.js';

/**
 * @typedef {import('../decoding/decoder.js').Decoder} Decoder
 * @typedef {import('../decoding/decoder.js').DecoderKind} DecoderKind
 * @typedef {import('../decoding/decoder.js').PcmSink} PcmSink
 * @typedef {import('../decoding/wasm_decoder.js').WasmLibrary} WasmLibrary
 */

export const WASM_DECODER_URL = '/vendor/opus-decoder/opus-decoder.min.js';

/** No decoder works in this browser; the message says why. */
export class DecoderUnavailableError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'DecoderUnavailableError';
  }
}

/**
 * Why WebCodecs cannot decode the stream here, or null when it can.
 * @param {number} channels
 * @returns {Promise<string | null>}
 */
export async function webCodecsProblem(channels) {
  if (typeof AudioDecoder === 'undefined') {
    // Most browsers hide WebCodecs from a page that is no secure context; WebKit keeps it.
    return globalThis.isSecureContext === false
      ? 'this page is not a secure context (plain http on a LAN address), where this browser hides WebCodecs'
      : 'this browser lacks WebCodecs';
  }
  try {
    const { supported } = await AudioDecoder.isConfigSupported(decoderConfig(channels));
    if (!supported) return 'this browser lacks WebCodecs Opus';
  } catch (err) {
    return `this browser lacks WebCodecs Opus (${err})`;
  }
  return null;
}

/**
 * The codec this browser should use: WebCodecs when it decodes Opus, else WebAssembly
 * (loaded from the server here). Throws DecoderUnavailableError when neither works.
 * @param {number} channels
 * @param {string} [wasmUrl]  where the WebAssembly decoder's script is served
 * @returns {Promise<DecoderKind>}
 */
export async function chooseDecoder(channels, wasmUrl) {
  const problem = await webCodecsProblem(channels);
  if (problem === null) return 'webcodecs';
  try {
    await loadWasmOpus(wasmUrl);
  } catch (err) {
    throw new DecoderUnavailableError(
      `${problem}, and the fallback Opus decoder did not load ` +
      `(${err instanceof Error ? err.message : err}; scripts/setup.sh installs it)`,
    );
  }
  return 'wasm';
}

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

/**
 * @typedef {object} StreamDecoderOptions
 * @property {(id: number) => number | undefined} captureMsOf  when the first sample decoded
 *   from packet `id` was captured (server clock), if known
 * @property {(err: Error) => void} onError  a packet failed to decode
 * @property {() => Promise<WasmLibrary>} [loadWasm]  the WebAssembly decoder (default:
 *   loadWasmOpus())
 *
 * @typedef {object} StreamSpec  what a stream's decoder decodes, and into what
 * @property {DecoderKind} kind
 * @property {number} channels
 * @property {number} frameMs
 * @property {boolean} worklet  whether the output is an AudioWorklet (which a Worker can feed)
 */

/**
 * The decoder of the session's stream, rebuilt when the stream's configuration changes; a
 * Worker's failure moves decoding to the main thread for the rest of the session.
 * @implements {Decoder}
 */
export class StreamDecoder {
  /** @param {StreamDecoderOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {Decoder | null} */
    this.current = null;
    /** A decoder Worker failed here: decode on the main thread. */
    this.workerFailed = false;
    /** @type {StreamSpec | null} what is decoded, and into what */
    this.stream = null;
    /** @type {PcmSink | null} where the PCM goes */
    this.sink = null;
    /** @type {[number, number, boolean] | null} the current connection's nextId, liveId and
     * whether it is from another moment */
    this.connection = null;
  }

  /**
   * Decode a stream of `channels` and `frameMs` into `sink` from now on, with the codec
   * `kind` (chooseDecoder()); a Worker where the output has a worklet to hand PCM to.
   * @param {number} channels
   * @param {number} frameMs
   * @param {PcmSink & { decoderKind: DecoderKind, outputKind: string }} sink  the player
   */
  configure(channels, frameMs, sink) {
    this.current?.close();
    this.stream = { kind: sink.decoderKind, channels, frameMs, worklet: sink.outputKind === 'worklet' };
    this.current = this.build(this.stream);
    this.connect(sink);
  }

  /**
   * @param {StreamSpec} stream
   * @returns {Decoder} the decoder for it, here and now
   */
  build({ kind, channels, frameMs, worklet }) {
    const { captureMsOf, onError } = this.options;
    if (kind === 'webcodecs' && worklet && typeof Worker === 'function' && !this.workerFailed) {
      const decoder = new DirectDecoder({
        channels, frameMs, onError, captureMsOf, onFailed: (err) => this.fallBack(decoder, err),
      });
      return decoder;
    }
    const library = kind === 'wasm' ? (this.options.loadWasm ?? loadWasmOpus)() : undefined;
    return new MainThreadDecoder({ kind, library, channels, frameMs, onError, captureMsOf });
  }

  /**
   * A Worker failed (it could not load, say): decode on the main thread from now on. The next
   * packets play; a few are lost.
   * @param {Decoder} failed
   * @param {Error} err
   */
  fallBack(failed, err) {
    if (failed !== this.current || !this.stream) return; // one replaced already
    console.warn(`broadcaster: ${err.message}; decoding on the main thread`);
    this.workerFailed = true;
    failed.close();
    this.current = this.build(this.stream);
    if (this.sink) this.current.connect(this.sink);
    if (this.connection) this.current.startConnection(...this.connection);
  }

  /**
   * @param {Uint8Array} packet
   * @param {number} id
   */
  decode(packet, id) {
    this.current?.decode(packet, id);
  }

  /**
   * @param {number} nextId
   * @param {number} liveId
   * @param {boolean} [fresh]
   */
  startConnection(nextId, liveId, fresh = false) {
    this.connection = [nextId, liveId, fresh];
    this.current?.startConnection(nextId, liveId, fresh);
  }

  /** @param {PcmSink} sink */
  connect(sink) {
    this.sink = sink;
    this.current?.connect(sink);
  }

  close() {
    this.current?.close();
    this.current = null;
  }
}
