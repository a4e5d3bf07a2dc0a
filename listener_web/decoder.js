// @ts-check
/**
 * Raw Opus packets -> interleaved Float32 PCM, through WebCodecs `AudioDecoder`.
 *
 * The broadcaster sends raw Opus (no Ogg), so the decoder is configured without a
 * description. Each decoded block is tagged with its packet's id, so it can be traced back
 * to the `clock` event that says when it was captured. The id comes from a FIFO, not from
 * AudioData.timestamp: Chromium numbers outputs contiguously from the first chunk's
 * timestamp and ignores the timestamps of later chunks (a gap or a restart is invisible).
 */

/**
 * @callback PcmCallback
 * @param {Float32Array} samples  interleaved, `channels` per frame
 * @param {number} id  audio event id of the packet these samples came from
 * @returns {void}
 */

/** Why this browser cannot decode the stream, or null when it can. */
export async function decoderProblem(/** @type {number} */ channels) {
  if (!globalThis.isSecureContext) {
    return (
      'this page is not a secure context (plain http on a LAN address): the browser ' +
      'hides WebCodecs and AudioWorklet; a fallback comes later'
    );
  }
  if (typeof AudioDecoder === 'undefined') {
    return 'this browser lacks WebCodecs Opus; a fallback comes later';
  }
  try {
    const { supported } = await AudioDecoder.isConfigSupported(decoderConfig(channels));
    if (!supported) return 'this browser lacks WebCodecs Opus; a fallback comes later';
  } catch (err) {
    return `this browser lacks WebCodecs Opus (${err}); a fallback comes later`;
  }
  return null;
}

/**
 * @param {number} channels
 * @returns {AudioDecoderConfig}
 */
function decoderConfig(channels) {
  return { codec: 'opus', sampleRate: 48000, numberOfChannels: channels };
}

/** One WebCodecs AudioDecoder for one stream configuration. */
export class OpusDecoder {
  /**
   * @param {object} options
   * @param {number} options.channels  1 or 2
   * @param {number} options.frameMs  duration of one packet
   * @param {PcmCallback} options.onPcm
   * @param {(err: Error) => void} options.onError  the decoder is rebuilt on the next packet
   */
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
