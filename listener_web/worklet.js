// @ts-check
/**
 * AudioWorkletProcessor 'broadcaster-player': plays decoded PCM through a JitterBuffer.
 *
 * Messages in (port):
 *   {type: 'pcm', samples: Float32Array}   interleaved, buffer transferred
 *   {type: 'stats'}                         answer with a stats message now
 *   {type: 'target', targetSamples, maxSamples}
 *   {type: 'reset'}
 *   {type: 'end', expected: boolean}        audio stops on purpose: don't count the underrun
 * Messages out: {type: 'stats', depthSamples, underruns, droppedSamples, playing, frame},
 * every STATS_INTERVAL_S while PCM arrives, and on request.
 *
 * Stats are posted from the message handler, never from process(), so process()
 * allocates nothing: it only copies from the preallocated ring.
 */
import { JitterBuffer } from './jitter.js';

/* global AudioWorkletProcessor, registerProcessor, currentFrame, sampleRate */

const STATS_INTERVAL_S = 0.25;

/**
 * @typedef {object} PlayerOptions  processorOptions of the AudioWorkletNode
 * @property {number} channels
 * @property {number} targetSamples
 * @property {number} maxSamples
 * @property {number} [fadeSamples]
 */

// @ts-ignore: AudioWorkletProcessor exists only in the AudioWorkletGlobalScope.
class BroadcasterPlayer extends AudioWorkletProcessor {
  /** @param {{processorOptions: PlayerOptions}} options */
  constructor(options) {
    super();
    const { channels, targetSamples, maxSamples, fadeSamples } = options.processorOptions;
    this.buffer = new JitterBuffer({ channels, targetSamples, maxSamples, fadeSamples });
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
        buf.push(msg.samples);
        // @ts-ignore: currentFrame and sampleRate are globals of the AudioWorkletGlobalScope.
        if (currentFrame - this.lastStatsFrame >= STATS_INTERVAL_S * sampleRate) {
          this.onMessage(port, { type: 'stats' });
        }
        break;
      case 'stats':
        // @ts-ignore: see above.
        this.lastStatsFrame = currentFrame;
        port.postMessage({
          type: 'stats',
          depthSamples: buf.depthSamples,
          underruns: buf.underruns,
          droppedSamples: buf.droppedSamples,
          playing: buf.playing,
          // @ts-ignore: currentFrame is a global of the AudioWorkletGlobalScope.
          frame: currentFrame,
        });
        break;
      case 'target':
        buf.setTarget(msg.targetSamples, msg.maxSamples);
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
    this.buffer.pull(outputs[0]);
    return true;
  }
}

// @ts-ignore: registerProcessor is a global of the AudioWorkletGlobalScope.
registerProcessor('broadcaster-player', BroadcasterPlayer);
