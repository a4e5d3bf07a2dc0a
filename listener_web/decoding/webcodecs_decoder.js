// @ts-check
/**
 * Raw Opus packets -> interleaved Float32 PCM through WebCodecs `AudioDecoder`, where the
 * browser has it for Opus (in a secure context: Chrome and Edge, say). It runs on the main
 * thread (decoder.js) or in the decoder Worker (decoder_worker.js).
 *
 * The broadcaster sends raw Opus (no Ogg), so the decoder is configured without a
 * description. Each decoded block is tagged with its packet's id, so it can be traced back
 * to the `clock` event that says when it was captured. The id comes from a FIFO, not from
 * AudioData.timestamp: Chromium numbers outputs contiguously from the first chunk's
 * timestamp and ignores the timestamps of later chunks (a gap or a restart is invisible).
 */
import { interleave } from './pcm.js';

/**
 * @typedef {object} CodecOptions  what a codec (WebCodecs or WebAssembly) is made with
 * @property {number} channels  1 or 2
 * @property {number} frameMs  duration of one packet
 * @property {import('./pcm.js').PcmCallback} onPcm
 * @property {(err: Error) => void} onError  WebCodecs: the decoder is rebuilt on the next
 *   packet; WebAssembly: the packet is skipped
 */

/**
 * The WebCodecs configuration for the stream.
 * @param {number} channels
 * @returns {AudioDecoderConfig}
 */
export function decoderConfig(channels) {
  return { codec: 'opus', sampleRate: 48000, numberOfChannels: channels };
}

/** One WebCodecs AudioDecoder for one stream configuration. */
export class WebCodecsOpusDecoder {
  /** @param {CodecOptions} options */
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
      // f32-planar is the one conversion every WebCodecs implementation must offer.
      const planes = [];
      for (let c = 0; c < Math.min(this.channels, data.numberOfChannels); c++) {
        const plane = new Float32Array(frames);
        data.copyTo(plane, { planeIndex: c, format: 'f32-planar' });
        planes.push(plane);
      }
      this.lastId = this.pendingIds.shift() ?? this.lastId;
      this.onPcm(interleave(planes, this.channels, frames), this.lastId);
    } finally {
      data.close();
    }
  }
}
