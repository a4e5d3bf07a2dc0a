// @ts-check
/**
 * Raw Opus packets -> interleaved Float32 PCM through libopus compiled to WebAssembly: the
 * npm package `opus-decoder`, for browsers without WebCodecs Opus, and for pages that are no
 * secure context, where the browser hides WebCodecs. The page loads the library (its script
 * is served under /vendor/: session/decoder_choice.js) and hands its decoder class here.
 *
 * The main-thread decoder is used (its Web Worker variant would need blob: workers, which
 * the CSP refuses); decoding a 20 ms packet takes well under a millisecond.
 */
import { interleave } from './pcm.js';

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

/** One WebAssembly libopus decoder for one stream configuration. */
export class WasmOpusDecoder {
  /**
   * @param {WasmLibrary | Promise<WasmLibrary>} library  opus-decoder's OpusDecoder class
   * @param {object} options
   * @param {number} options.channels  1 or 2
   * @param {import('./pcm.js').PcmCallback} options.onPcm
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
