// @ts-check
/**
 * AudioWorkletProcessor 'broadcaster-player': plays decoded PCM through a JitterBuffer.
 *
 * processorOptions: {channels, targetSamples, floorSamples?, ceilingSamples?, fadeSamples?}
 * (targetSamples is where the adaptive target starts).
 *
 * Messages in (port):
 *   {type: 'pcm', samples: Float32Array, captureMs?: number}  interleaved, buffer
 *       transferred; captureMs: when its first sample was captured (server clock)
 *   {type: 'stats'}                         answer with a stats message now
 *   {type: 'target', targetSamples, floorSamples?, ceilingSamples?}
 *   {type: 'reset'}
 *   {type: 'end', expected: boolean}        audio stops on purpose: don't count the underrun
 * Messages out, every STATS_INTERVAL_S while PCM arrives, and on request:
 *   {type: 'stats', depthSamples, targetSamples, maxSamples, jitterSamples, ratio, driftPpm,
 *    underruns, drops, droppedSamples, playing, captureMs, contextTime, frame}
 *   captureMs (or null) is the capture time of the sample that leaves the worklet at context
 *   time `contextTime` (= frame / sampleRate), the start of the next render quantum.
 *
 * Stats are posted from the message handler, never from process(), so process()
 * allocates nothing: it only interpolates from the preallocated ring.
 */
import { JitterBuffer } from './jitter.js';

/* global AudioWorkletProcessor, registerProcessor, currentFrame, sampleRate */

const STATS_INTERVAL_S = 0.25;

/**
 * @typedef {object} PlayerOptions  processorOptions of the AudioWorkletNode
 * @property {number} channels
 * @property {number} targetSamples
 * @property {number} [floorSamples]
 * @property {number} [ceilingSamples]
 * @property {number} [fadeSamples]
 */

// @ts-ignore: AudioWorkletProcessor exists only in the AudioWorkletGlobalScope.
class BroadcasterPlayer extends AudioWorkletProcessor {
  /** @param {{processorOptions: PlayerOptions}} options */
  constructor(options) {
    super();
    const { channels, targetSamples, floorSamples, ceilingSamples, fadeSamples } = options.processorOptions;
    this.buffer = new JitterBuffer({
      channels,
      targetSamples,
      floorSamples,
      ceilingSamples,
      fadeSamples,
      // @ts-ignore: sampleRate is a global of the AudioWorkletGlobalScope.
      sampleRateHz: sampleRate,
    });
    /** Context frame at which the next render quantum starts (where the read head is). */
    this.nextFrame = 0;
    this.lastStatsFrame = -Infinity;
    /** @type {MessagePort} */
    // @ts-ignore: port is declared by AudioWorkletProcessor.
    const port = this.port;
    port.onmessage = (event) => this.onMessage(port, event.data);
  }

  /**
   * @param {MessagePort} port
   * @param {any} msg
   */
  onMessage(port, msg) {
    const buf = this.buffer;
    switch (msg.type) {
      case 'pcm':
        buf.push(msg.samples, typeof msg.captureMs === 'number' ? msg.captureMs : NaN);
        // @ts-ignore: sampleRate is a global of the AudioWorkletGlobalScope.
        if (this.nextFrame - this.lastStatsFrame >= STATS_INTERVAL_S * sampleRate) {
          this.onMessage(port, { type: 'stats' });
        }
        break;
      case 'stats': {
        this.lastStatsFrame = this.nextFrame;
        const captureMs = buf.readHeadMs();
        port.postMessage({
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
          // @ts-ignore: sampleRate is a global of the AudioWorkletGlobalScope.
          contextTime: this.nextFrame / sampleRate,
          frame: this.nextFrame,
        });
        break;
      }
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

  /**
   * @param {Float32Array[][]} _inputs
   * @param {Float32Array[][]} outputs
   */
  process(_inputs, outputs) {
    const out = outputs[0];
    this.buffer.pull(out);
    // @ts-ignore: currentFrame is a global of the AudioWorkletGlobalScope.
    if (out.length > 0) this.nextFrame = currentFrame + out[0].length;
    return true;
  }
}

// @ts-ignore: registerProcessor is a global of the AudioWorkletGlobalScope.
registerProcessor('broadcaster-player', BroadcasterPlayer);
