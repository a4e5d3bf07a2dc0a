// @ts-check
/**
 * Playout: a JitterBuffer driven by the player's messages, rendering output blocks.
 *
 * Pure (no WebAudio): the AudioWorklet (worklet.js) and the ScriptProcessor output
 * (legacy_output.js) are thin shells around it, so every playback path plays through the same
 * buffer maths and drift control, and reports the same stats.
 *
 * Options: {channels, targetSamples, floorSamples?, ceilingSamples?, fadeSamples?}
 * (targetSamples is where the adaptive target starts).
 *
 * Messages in (onMessage):
 *   {type: 'pcm', samples: Float32Array, captureMs?: number}  interleaved; captureMs: when its
 *       first sample was captured (server clock)
 *   {type: 'stats'}                         answer with a stats message now
 *   {type: 'target', targetSamples, floorSamples?, ceilingSamples?}
 *   {type: 'reset'}
 *   {type: 'end', expected: boolean}        audio stops on purpose: don't count the underrun
 * Messages out (post), every STATS_INTERVAL_S while PCM arrives, and on request:
 *   {type: 'stats', depthSamples, targetSamples, maxSamples, jitterSamples, ratio, driftPpm,
 *    underruns, drops, droppedSamples, playing, captureMs, contextTime, frame, pauses,
 *    longestPauseMs, pauseUnderruns}
 *   pauses: times the output's render callbacks stopped for longer than PAUSE_MS, the
 *   longest, and the underruns that began in their catch-up (pause_watch.js).
 *   captureMs (or null) is the capture time of the sample that leaves the output at context
 *   time `contextTime` (= frame / sampleRate), the start of the next block.
 *
 * Stats are posted from the message handler, never from render(), so render() allocates
 * nothing: it only interpolates from the preallocated ring.
 */
import { JitterBuffer } from './jitter.js';
import { PauseWatch } from './pause_watch.js';

const STATS_INTERVAL_S = 0.25;

/**
 * @typedef {object} PlayoutOptions
 * @property {number} channels
 * @property {number} targetSamples
 * @property {number} [floorSamples]
 * @property {number} [ceilingSamples]
 * @property {number} [fadeSamples]
 * @property {number} [settleSamples]  see JitterOptions (default there)
 * @property {number} [inputRateHz]  of the pushed PCM (default 48000: the stream's); the
 *   output's rate may differ (a 44.1 kHz context), each block is resampled to it
 */

/** The jitter buffer behind every output, and its message protocol. */
export class Playout {
  /**
   * @param {PlayoutOptions} options
   * @param {number} sampleRateHz  of the output
   * @param {(msg: object) => void} post  sends a message back to the player
   */
  constructor(options, sampleRateHz, post) {
    const { channels, targetSamples, floorSamples, ceilingSamples, fadeSamples, settleSamples,
      inputRateHz = 48000 } = options;
    this.buffer = new JitterBuffer({
      channels,
      targetSamples,
      floorSamples,
      ceilingSamples,
      fadeSamples,
      settleSamples,
      sampleRateHz: inputRateHz,
      outputRateHz: sampleRateHz,
    });
    this.sampleRateHz = sampleRateHz;
    this.post = post;
    /** Context frame at which the next block starts (where the read head is). */
    this.nextFrame = 0;
    this.lastStatsFrame = -Infinity;
    /** The engine's pauses (render callbacks that stopped), and the underruns they caused. */
    this.pauseWatch = new PauseWatch();
  }

  /** @param {any} msg  one message from the player */
  onMessage(msg) {
    const buf = this.buffer;
    switch (msg.type) {
      case 'pcm':
        buf.push(msg.samples, typeof msg.captureMs === 'number' ? msg.captureMs : NaN);
        if (this.nextFrame - this.lastStatsFrame >= STATS_INTERVAL_S * this.sampleRateHz) {
          this.onMessage({ type: 'stats' });
        }
        break;
      case 'stats':
        this.lastStatsFrame = this.nextFrame;
        this.post(this.stats());
        break;
      case 'target':
        buf.setLimits({
          floorSamples: msg.floorSamples ?? buf.tracker.floorSamples,
          ceilingSamples: msg.ceilingSamples ?? buf.tracker.ceilingSamples,
          targetSamples: msg.targetSamples,
        });
        break;
      case 'reset':
        buf.reset();
        break;
      case 'end':
        buf.expectEnd(msg.expected);
        break;
      default:
        throw new Error(`broadcaster-player: unknown message ${JSON.stringify(msg.type)}`);
    }
  }

  /** The stats message for now. */
  stats() {
    const buf = this.buffer;
    const captureMs = buf.readHeadMs();
    return {
      type: 'stats',
      depthSamples: buf.depthSamples,
      targetSamples: buf.targetSamples,
      maxSamples: buf.maxSamples,
      jitterSamples: buf.tracker.jitterSamples,
      ratio: buf.control.ratio,
      driftPpm: buf.control.driftPpm,
      underruns: buf.underruns,
      drops: buf.drops,
      droppedSamples: buf.droppedSamples,
      playing: buf.playing,
      captureMs: Number.isNaN(captureMs) ? null : captureMs,
      contextTime: this.nextFrame / this.sampleRateHz,
      frame: this.nextFrame,
      pauses: this.pauseWatch.pauses,
      longestPauseMs: this.pauseWatch.longestMs,
      pauseUnderruns: this.pauseWatch.underruns,
    };
  }

  /**
   * The output played `frames` of its own (a ScriptProcessor's block of silence when the
   * page was late): the audio for them goes, so the buffer stays in step with the output.
   * @param {number} frames
   */
  skip(frames) {
    if (frames > 0) this.buffer.discard(frames * this.buffer.rateRatio);
  }

  /**
   * Fill one output block (one array per output channel, all the same length).
   * @param {Float32Array[]} out
   * @param {number} frame  the context frame at which this block will be played
   * @param {number} [nowMs]  a wall clock now (the engine's pauses are timed on it)
   */
  render(out, frame, nowMs = NaN) {
    const buf = this.buffer;
    const playing = buf.playing;
    const underruns = buf.underruns;
    buf.pull(out);
    if (out.length === 0) return;
    this.nextFrame = frame + out[0].length;
    this.pauseWatch.block(nowMs, frame, out[0].length, this.sampleRateHz, playing,
      buf.underruns > underruns);
  }
}
