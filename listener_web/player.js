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
 * @property {number} targetSamples  the adaptive target depth
 * @property {number} maxSamples  depth above which audio is dropped
 * @property {number} jitterSamples  measured spread of arrival times
 * @property {number} ratio  resampling ratio (input samples per output sample)
 * @property {number} driftPpm  how much faster the broadcaster's clock runs than ours
 * @property {number} underruns
 * @property {number} drops  times audio was dropped to bound the depth
 * @property {number} droppedSamples
 * @property {boolean} playing
 * @property {number | null} captureMs  capture time of the sample leaving at contextTime
 * @property {number} contextTime  AudioContext time (s) at which that sample leaves the worklet
 * @property {number} frame  the same as a context frame
 */

/**
 * @typedef {object} JitterTarget  limits of the worklet's adaptive target depth
 * @property {number} targetSamples  where the target starts
 * @property {number} floorSamples
 * @property {number} ceilingSamples
 */

export const SAMPLE_RATE_HZ = 48000;

/**
 * Jitter limits for a stream: the target starts at two packets plus 10 ms, then adapts to
 * the measured jitter between 20 ms (or one packet) and 500 ms.
 * @param {number} frameMs
 * @returns {JitterTarget}
 */
export function jitterTarget(frameMs) {
  const samples = (/** @type {number} */ ms) => Math.round((ms * SAMPLE_RATE_HZ) / 1000);
  return {
    targetSamples: samples(2 * frameMs + 10),
    floorSamples: samples(Math.max(20, frameMs)),
    ceilingSamples: samples(500),
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
    /** @type {PlayerStats | null} */
    this.latest = null;
  }

  /** The newest figures from the worklet (null before the first). */
  get figures() {
    return this.latest;
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
      if (event.data.type !== 'stats') return;
      this.latest = event.data;
      this.onStats(event.data);
    };
    node.connect(this.ctx.destination);
    this.node = node;
    this.channels = channels;
  }

  /**
   * Queue interleaved PCM; its buffer is transferred to the audio thread.
   * @param {Float32Array} samples
   * @param {number} [captureMs]  when its first sample was captured (server clock), if known
   */
  push(samples, captureMs) {
    this.node?.port.postMessage({ type: 'pcm', samples, captureMs }, [samples.buffer]);
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

  /**
   * Capture-to-ear latency in ms from the latest figures: when the sample they name is heard
   * minus when it was captured; null until push() was given capture times.
   * @param {number} serverOffsetMs  the server's clock minus Date.now()
   * @returns {number | null}
   */
  latencyMs(serverOffsetMs) {
    const f = this.latest;
    if (!f || f.captureMs === null) return null;
    // The device plays context time `contextTime` at page time `performanceTime`.
    const ts = this.ctx.getOutputTimestamp?.();
    let heardMs;
    if (ts?.contextTime !== undefined && ts.performanceTime !== undefined && ts.performanceTime > 0) {
      heardMs = performance.timeOrigin + ts.performanceTime + 1000 * (f.contextTime - ts.contextTime);
    } else {
      heardMs = Date.now() + 1000 * (f.contextTime - this.ctx.currentTime) + this.outputLatencyMs;
    }
    return heardMs + serverOffsetMs - f.captureMs;
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
