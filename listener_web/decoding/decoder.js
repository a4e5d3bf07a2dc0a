// @ts-check
/**
 * Raw Opus packets -> interleaved Float32 PCM, through WebCodecs `AudioDecoder` where the
 * browser has it for Opus (in a secure context: Chrome and Edge, say), else through
 * libopus in WebAssembly (wasm_decoder.js). chooseDecoder() says which; OpusDecoder has the
 * same interface for both: packets in with their ids, PCM out tagged with those ids.
 *
 * The broadcaster sends raw Opus (no Ogg), so the decoder is configured without a
 * description. Each decoded block is tagged with its packet's id, so it can be traced back
 * to the `clock` event that says when it was captured. In WebCodecs the id comes from a FIFO,
 * not from AudioData.timestamp: Chromium numbers outputs contiguously from the first chunk's
 * timestamp and ignores the timestamps of later chunks (a gap or a restart is invisible).
 */
import { WasmOpusDecoder, loadWasmOpus } from './wasm_decoder.js';

/** @typedef {'webcodecs' | 'wasm'} DecoderKind */

/**
 * @callback PcmCallback
 * @param {Float32Array} samples  interleaved, `channels` per frame
 * @param {number} id  audio event id of the packet these samples came from
 * @returns {void}
 */

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
  if (!globalThis.isSecureContext) {
    return 'this page is not a secure context (plain http on a LAN address), where browsers hide WebCodecs';
  }
  if (typeof AudioDecoder === 'undefined') return 'this browser lacks WebCodecs';
  try {
    const { supported } = await AudioDecoder.isConfigSupported(decoderConfig(channels));
    if (!supported) return 'this browser lacks WebCodecs Opus';
  } catch (err) {
    return `this browser lacks WebCodecs Opus (${err})`;
  }
  return null;
}

/**
 * The decoder this browser should use: WebCodecs when it decodes Opus, else WebAssembly
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

/**
 * @param {number} channels
 * @returns {AudioDecoderConfig}
 */
function decoderConfig(channels) {
  return { codec: 'opus', sampleRate: 48000, numberOfChannels: channels };
}

/**
 * @typedef {object} DecoderOptions
 * @property {DecoderKind} [kind]  from chooseDecoder() (default: WebCodecs)
 * @property {number} channels  1 or 2
 * @property {number} frameMs  duration of one packet
 * @property {PcmCallback} onPcm
 * @property {(err: Error) => void} onError  WebCodecs: the decoder is rebuilt on the next
 *   packet; WebAssembly: the packet is skipped
 */

/** The decoder of one stream configuration, by WebCodecs or by WebAssembly. */
export class OpusDecoder {
  /** @param {DecoderOptions} options */
  constructor(options) {
    /** @type {DecoderKind} */
    this.kind = options.kind ?? 'webcodecs';
    /** @type {WebCodecsOpusDecoder | WasmOpusDecoder} */
    this.impl = this.kind === 'wasm'
      ? new WasmOpusDecoder(loadWasmOpus(), options)
      : new WebCodecsOpusDecoder(options);
  }

  /** Packets that failed to decode. */
  get errors() {
    return this.impl.errors;
  }

  /** Id of the newest decoded packet, or -1. */
  get lastId() {
    return this.impl.lastId;
  }

  /**
   * Queue one raw Opus packet.
   * @param {Uint8Array} packet
   * @param {number} id  its audio event id
   */
  decode(packet, id) {
    this.impl.decode(packet, id);
  }

  /** Release the decoder; queued packets are dropped. */
  close() {
    this.impl.close();
  }
}

/** One WebCodecs AudioDecoder for one stream configuration. */
export class WebCodecsOpusDecoder {
  /** @param {DecoderOptions} options */
  constructor({ channels, frameMs, onPcm, onError }) {
    this.channels = channels;
    this.frameUs = Math.round(frameMs * 1000);
    this.onPcm = onPcm;
    this.onError = onError;
    /** Packets that failed to decode. */
    this.errors = 0;
    /** @type {AudioDecoder | null} */
    this.decoder = null;
    /** Ids of the packets queued in the decoder, oldest first: one output each. */
    this.pendingIds = /** @type {number[]} */ ([]);
    /** Id of the newest decoded packet, or -1. */
    this.lastId = -1;
    /** @type {number | null} id that timestamps count from */
    this.baseId = null;
  }

  /**
   * Queue one raw Opus packet.
   * @param {Uint8Array} packet
   * @param {number} id  its audio event id
   */
  decode(packet, id) {
    const decoder = this.decoder?.state === 'configured' ? this.decoder : this.open();
    if (this.baseId === null) this.baseId = id;
    // Ids are large (they start at the server's start time in ms): count from the first one,
    // since a chunk's timestamp must stay within JavaScript's safe integers.
    const timestamp = (id - this.baseId) * this.frameUs;
    // Every Opus packet is independently decodable: all are key chunks.
    decoder.decode(new EncodedAudioChunk({ type: 'key', timestamp, data: packet }));
    this.pendingIds.push(id);
  }

  /** Release the decoder; queued packets are dropped. */
  close() {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = null;
  }

  /** @returns {AudioDecoder} */
  open() {
    const decoder = new AudioDecoder({
      output: (data) => this.output(data),
      error: (err) => {
        this.errors++;
        this.onError(err);
      },
    });
    decoder.configure(decoderConfig(this.channels));
    this.decoder = decoder;
    this.pendingIds.length = 0;
    this.baseId = null;
    return decoder;
  }

  /** @param {AudioData} data */
  output(data) {
    try {
      const frames = data.numberOfFrames;
      const ch = this.channels;
      const samples = new Float32Array(frames * ch);
      if (ch === 1) {
        data.copyTo(samples, { planeIndex: 0, format: 'f32-planar' });
      } else {
        // f32-planar is the one conversion every WebCodecs implementation must offer.
        const plane = new Float32Array(frames);
        for (let c = 0; c < ch; c++) {
          data.copyTo(plane, { planeIndex: Math.min(c, data.numberOfChannels - 1), format: 'f32-planar' });
          for (let i = 0; i < frames; i++) samples[i * ch + c] = plane[i];
        }
      }
      this.lastId = this.pendingIds.shift() ?? this.lastId;
      this.onPcm(samples, this.lastId);
    } finally {
      data.close();
    }
  }
}
