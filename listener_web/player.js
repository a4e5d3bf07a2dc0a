// @ts-check
/**
 * Playback: an AudioContext at 48 kHz and the 'broadcaster-player' AudioWorkletNode.
 *
 * Create a Player inside the click handler (browsers only start audio on a user gesture),
 * await load(), then configure() once the stream's config says how many channels it has.
 */

/**
 * @typedef {object} PlayerStats  posted by the worklet a few times a second
 * @property {number} depthSamples  per channel, waiting in the jitter buffer
 * @property {number} underruns
 * @property {number} droppedSamples
 * @property {boolean} playing
 */

/**
 * @typedef {object} JitterTarget
 * @property {number} targetSamples
 * @property {number} maxSamples
 */

export const SAMPLE_RATE_HZ = 48000;

/**
 * Default jitter target for a stream: two packets, at least 20 ms; the maximum 80 ms above.
 * @param {number} frameMs
 * @returns {JitterTarget}
 */
export function jitterTarget(frameMs) {
  const targetMs = Math.max(20, 2 * frameMs);
  return {
    targetSamples: Math.round((targetMs * SAMPLE_RATE_HZ) / 1000),
    maxSamples: Math.round(((targetMs + 80) * SAMPLE_RATE_HZ) / 1000),
  };
}

/** The AudioContext and the worklet node that plays decoded PCM. */
export class Player {
  /** @param {(stats: PlayerStats) => void} onStats */
  constructor(onStats) {
    this.onStats = onStats;
    // Must run synchronously inside the user gesture for autoplay policies.
    this.ctx = new AudioContext({ sampleRate: SAMPLE_RATE_HZ, latencyHint: 'interactive' });
    /** @type {AudioWorkletNode | null} */
    this.node = null;
    this.channels = 0;
  }

  /** Load the worklet module and make sure the context runs. */
  async load() {
    await this.ctx.audioWorklet.addModule('/static/worklet.js');
    if (this.ctx.state === 'suspended') await this.ctx.resume();
  }

  /**
   * (Re)build the worklet node for a stream of `channels` channels.
   * @param {number} channels
   * @param {JitterTarget} target
   */
  configure(channels, target) {
    if (this.node && this.channels === channels) {
      this.node.port.postMessage({ type: 'target', ...target });
      return;
    }
    this.disconnect();
    const node = new AudioWorkletNode(this.ctx, 'broadcaster-player', {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [channels],
      processorOptions: { channels, ...target },
    });
    node.port.onmessage = (event) => {
      if (event.data.type === 'stats') this.onStats(event.data);
    };
    node.connect(this.ctx.destination);
    this.node = node;
    this.channels = channels;
  }

  /**
   * Queue interleaved PCM; its buffer is transferred to the audio thread.
   * @param {Float32Array} samples
   */
  push(samples) {
    this.node?.port.postMessage({ type: 'pcm', samples }, [samples.buffer]);
  }

  /**
   * Whether the stream is pausing on purpose, so the buffer running dry is no underrun.
   * @param {boolean} expected
   */
  expectEnd(expected) {
    this.node?.port.postMessage({ type: 'end', expected });
  }

  /** Drop everything buffered (the stream it came from has ended). */
  reset() {
    this.node?.port.postMessage({ type: 'reset' });
  }

  /** Ask the worklet for fresh stats now. */
  requestStats() {
    this.node?.port.postMessage({ type: 'stats' });
  }

  /** Output latency after the worklet, in ms: what the device adds. */
  get outputLatencyMs() {
    return 1000 * ((this.ctx.baseLatency || 0) + (this.ctx.outputLatency || 0));
  }

  /** Stop playing and release the audio device. */
  async close() {
    this.disconnect();
    if (this.ctx.state !== 'closed') await this.ctx.close();
  }

  disconnect() {
    if (!this.node) return;
    this.node.port.onmessage = null;
    this.node.disconnect();
    this.node = null;
  }
}
