// @ts-check
/**
 * What the session decodes through: one Decoder interface, whatever decodes. Two decoders
 * implement it: MainThreadDecoder here, with the codec the browser has (WebCodecs, or libopus
 * in WebAssembly), and DirectDecoder (direct_decoder.js), WebCodecs in a Worker that hands
 * the PCM straight to the AudioWorklet. Which one a stream gets, and the fall back from a
 * Worker that fails, is the session's choice (session/decoder_choice.js).
 *
 * Below the interface, a codec turns packets into PCM tagged with their packets' ids
 * (webcodecs_decoder.js, wasm_decoder.js); OpusDecoder is either, by kind.
 */
import { PcmOutlet } from './outlet.js';
import { WasmOpusDecoder } from './wasm_decoder.js';
import { WebCodecsOpusDecoder } from './webcodecs_decoder.js';

/**
 * @typedef {'webcodecs' | 'wasm'} DecoderKind
 * @typedef {import('./wasm_decoder.js').WasmLibrary} WasmLibrary
 * @typedef {import('./pcm.js').PcmCallback} PcmCallback
 *
 * @typedef {object} PcmSink  the output that plays decoded PCM (output/player.js's Player)
 * @property {(samples: Float32Array, captureMs?: number) => void} push  on the main thread
 * @property {() => MessagePort | null} feedPort  a port on which PCM goes to the AudioWorklet
 *   from another thread; null without a worklet
 *
 * @typedef {object} Decoder  the session's decoder, whatever decodes
 * @property {(packet: Uint8Array, id: number) => void} decode  queue one raw Opus packet
 * @property {(nextId: number, liveId: number, fresh?: boolean) => void} startConnection  a
 *   connection starts: hold its first audio and hand it over in one piece (prefill.js);
 *   fresh: a stream from another moment, the earlier stream's audio still decoding is dropped
 * @property {(sink: PcmSink) => void} connect  where the PCM goes from now on (a new output)
 * @property {() => void} close  stop decoding; queued packets are dropped
 *
 * @typedef {object} DecoderOptions
 * @property {DecoderKind} [kind]  default: WebCodecs
 * @property {WasmLibrary | Promise<WasmLibrary>} [library]  for kind 'wasm': opus-decoder's
 *   decoder class, as the page loaded it
 * @property {number} channels  1 or 2
 * @property {number} frameMs  duration of one packet
 * @property {PcmCallback} onPcm
 * @property {(err: Error) => void} onError  WebCodecs: the decoder is rebuilt on the next
 *   packet; WebAssembly: the packet is skipped
 */

/** The codec of one stream configuration, by WebCodecs or by WebAssembly. */
export class OpusDecoder {
  /** @param {DecoderOptions} options */
  constructor(options) {
    /** @type {DecoderKind} */
    this.kind = options.kind ?? 'webcodecs';
    /** @type {WebCodecsOpusDecoder | WasmOpusDecoder} */
    this.impl = this.kind === 'wasm'
      ? new WasmOpusDecoder(options.library ?? Promise.reject(new Error('no WebAssembly decoder was loaded')), options)
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

/**
 * Decoding on the page's main thread, with either codec; the PCM goes through a PcmOutlet
 * to the output's push().
 * @implements {Decoder}
 */
export class MainThreadDecoder {
  /**
   * @param {Omit<DecoderOptions, 'onPcm'> & { captureMsOf: (id: number) => number | undefined }}
   *   options  `captureMsOf`: when the first sample decoded from packet `id` was captured
   */
  constructor({ captureMsOf, ...options }) {
    this.outlet = new PcmOutlet(captureMsOf);
    this.codec = new OpusDecoder({ ...options, onPcm: (samples, id) => this.outlet.take(samples, id) });
  }

  /**
   * @param {Uint8Array} packet
   * @param {number} id
   */
  decode(packet, id) {
    this.codec.decode(packet, id);
  }

  /**
   * @param {number} nextId
   * @param {number} liveId
   * @param {boolean} [fresh]
   */
  startConnection(nextId, liveId, fresh = false) {
    this.outlet.start(nextId, liveId, fresh);
  }

  /** @param {PcmSink} sink */
  connect(sink) {
    this.outlet.connect((samples, captureMs) => sink.push(samples, captureMs));
  }

  close() {
    this.codec.close();
  }
}
