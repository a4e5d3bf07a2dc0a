// @ts-check
/**
 * Playback: an AudioContext at 48 kHz and the output that plays decoded PCM through the
 * jitter buffer: the 'broadcaster-player' AudioWorkletNode where the browser has AudioWorklet
 * (a secure context), else a ScriptProcessorNode (legacy_output.js) with the same buffer.
 *
 * Create a Player inside the click handler (browsers only start audio on a user gesture),
 * await load(decoderKind), then configure() once the stream's config says how many channels
 * it has. `path` names the playback path: "webcodecs+worklet", "wasm+worklet" or
 * "wasm+scriptprocessor".
 */
import { ScriptProcessorOutput } from './legacy_output.js';
import { OutputClock } from './output_clock.js';
import { latencyHint, scriptProcessorBlock } from './output_buffer.js';
import { pauseMarginMs } from './pause_margin.js';

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
 * @property {number} pauses  times the engine stopped rendering (worklet/pause_watch.js)
 * @property {number} longestPauseMs
 * @property {number} pauseUnderruns  underruns that began in a pause's catch-up
 */

/**
 * @typedef {object} JitterTarget  limits of the worklet's adaptive target depth
 * @property {number} targetSamples  where the target starts
 * @property {number} floorSamples
 * @property {number} ceilingSamples
 */

export const SAMPLE_RATE_HZ = 48000;
// The AudioWorklet's module: worklet/ holds all the code that runs on the audio thread.
const WORKLET_URL = new URL('../worklet/worklet.js', import.meta.url);

/** @typedef {'worklet' | 'scriptprocessor'} OutputKind */

/**
 * Whether reading `outputLatency` and `getOutputTimestamp()` cannot block the page: Chromium
 * answers them from what its audio callback last handed over (it alone has playbackStats,
 * counted in the same callback). Firefox asks the device for them, from the main thread
 * while holding the lock its audio thread needs: a read during a device callback deadlocks
 * the tab for good (PulseAudio cannot answer until the callback ends, which waits for that
 * lock). It froze 2 of 30 starts even read once after a second of steady play, so Firefox is
 * never asked. WebKit (no playbackStats either) is not asked: its figures are no better
 * (outputLatency 0, a timestamp output_clock.js refuses). What is read is checked first.
 * @returns {boolean}
 */
export function deviceFiguresAreCheap() {
  return typeof AudioContext === 'function' && 'playbackStats' in AudioContext.prototype;
}

/**
 * Ask iOS to play even with the silent switch on (Safari 16.4+: navigator.audioSession).
 * @returns {boolean} whether the browser has that setting
 */
export function setPlaybackAudioSession() {
  const session = /** @type {{ type?: string } | undefined} */ (
    /** @type {any} */ (globalThis.navigator)?.audioSession
  );
  if (!session) return false;
  session.type = 'playback';
  return true;
}

/**
 * Jitter limits for a stream: the target starts at two packets plus 10 ms, then adapts to
 * the measured jitter between 20 ms (or one packet) and 500 ms; on an engine that pauses
 * whole (pause_margin.js), never below its margin. Frames that come in bundles
 * (docs/protocol.md, "Choosing the cost") arrive up to a bundle apart: the start and the
 * ceiling are a bundle higher.
 * @param {number} frameMs
 * @param {number} [bundleMs]  the bundles' length; 0: frame by frame
 * @param {number} [marginMs]  pause_margin.js's margin (0: none)
 * @returns {JitterTarget}
 */
export function jitterTarget(frameMs, bundleMs = 0, marginMs = 0) {
  const samples = (/** @type {number} */ ms) => Math.round((ms * SAMPLE_RATE_HZ) / 1000);
  return {
    targetSamples: samples(Math.max(2 * frameMs + 10, marginMs) + bundleMs),
    floorSamples: samples(Math.max(20, frameMs, marginMs)),
    ceilingSamples: samples(500 + bundleMs),
  };
}

/** The AudioContext and the output node that plays decoded PCM. */
export class Player {
  /**
   * @param {(stats: PlayerStats) => void} onStats
   * @param {import('./output_buffer.js').OutputBuffer} [outputBuffer]  what to ask the
   *   device for (output_buffer.js)
   */
  constructor(onStats, outputBuffer = 'interactive') {
    this.onStats = onStats;
    this.outputBuffer = outputBuffer;
    // Before the context starts: iOS picks the audio session when it does.
    setPlaybackAudioSession();
    // Must run synchronously inside the user gesture for autoplay policies.
    this.ctx = new AudioContext({ sampleRate: SAMPLE_RATE_HZ, latencyHint: latencyHint(outputBuffer) });
    /** @type {OutputKind} AudioWorklet exists only in a secure context */
    this.outputKind = this.ctx.audioWorklet ? 'worklet' : 'scriptprocessor';
    /** The buffer's floor (ms) on an engine that pauses whole (pause_margin.js); 0: none. */
    this.marginMs = pauseMarginMs(globalThis.navigator?.userAgent ?? '', this.outputKind);
    /** @type {import('../decoding/decoder.js').DecoderKind} what decodes the PCM pushed here */
    this.decoderKind = 'webcodecs';
    /** @type {AudioWorkletNode | ScriptProcessorOutput | null} */
    this.node = null;
    this.channels = 0;
    /** @type {PlayerStats | null} */
    this.latest = null;
    /** @type {AudioNode} where the output node plays into (a volume control may go between) */
    this.outputTo = this.ctx.destination;
    /** Whether sampleDevice() may ask the device for its figures. */
    this.readsDevice = deviceFiguresAreCheap();
    /** What the device figures sampleDevice() read can be believed for (output_clock.js). */
    this.outputClock = new OutputClock();
  }

  /** The newest figures from the worklet (null before the first). */
  get figures() {
    return this.latest;
  }

  /** The playback path, e.g. "wasm+worklet". */
  get path() {
    return `${this.decoderKind}+${this.outputKind}`;
  }

  /**
   * Load the worklet module (if the output is the worklet) and make sure the context runs.
   * @param {import('../decoding/decoder.js').DecoderKind} [decoderKind]  for `path`
   */
  async load(decoderKind = 'webcodecs') {
    this.decoderKind = decoderKind;
    if (this.outputKind === 'worklet') await this.ctx.audioWorklet.addModule(WORKLET_URL);
    if (this.ctx.state === 'suspended') await this.ctx.resume();
  }

  /**
   * (Re)build the output node for a stream of `channels` channels.
   * @param {number} channels
   * @param {JitterTarget} target
   */
  configure(channels, target) {
    if (this.node && this.channels === channels) {
      this.node.port.postMessage({ type: 'target', ...target });
      return;
    }
    this.disconnect();
    const node = this.outputKind === 'worklet'
      ? new AudioWorkletNode(this.ctx, 'broadcaster-player', {
        numberOfInputs: 0,
        numberOfOutputs: 1,
        outputChannelCount: [channels],
        processorOptions: { channels, ...target },
      })
      : new ScriptProcessorOutput(this.ctx, { channels, ...target },
        scriptProcessorBlock({ countsGlitches: deviceFiguresAreCheap() }));
    node.port.onmessage = (/** @type {MessageEvent} */ event) => {
      if (event.data.type !== 'stats') return;
      this.latest = event.data;
      this.onStats(event.data);
    };
    node.connect(this.outputTo);
    this.node = node;
    this.channels = channels;
  }

  /**
   * A port on which PCM ('pcm' messages, as push() sends) goes straight to the worklet, from
   * any thread it is transferred to (direct_decoder.js); null without a worklet node.
   * @returns {MessagePort | null}
   */
  feedPort() {
    if (this.outputKind !== 'worklet' || !this.node) return null;
    const channel = new MessageChannel();
    this.node.port.postMessage({ type: 'feed', port: channel.port1 }, [channel.port1]);
    return channel.port2;
  }

  /**
   * Queue interleaved PCM; its buffer is transferred to the audio thread (the worklet's).
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

  /**
   * Latency after the jitter buffer, in ms: what the device adds, and the blocks a
   * ScriptProcessor output has taken from the buffer but not played yet.
   */
  get outputLatencyMs() {
    const queuedS = this.node instanceof ScriptProcessorOutput ? this.node.aheadS : 0;
    return this.deviceLatencyMs + 1000 * queuedS;
  }

  /**
   * Times the device got no audio in time from the browser (output_buffer.js); null where
   * the browser does not say.
   * @returns {number | null}
   */
  get glitches() {
    const stats = /** @type {{ playbackStats?: { underrunEvents?: unknown } }} */ (
      /** @type {unknown} */ (this.ctx)).playbackStats;
    const count = stats?.underrunEvents;
    return typeof count === 'number' && Number.isFinite(count) ? count : null;
  }

  /** Latency after the worklet, in ms, as far as it is known: the context's own (baseLatency,
   * at least a render quantum) and the device's (outputLatency, when believed). */
  get deviceLatencyMs() {
    return 1000 * this.outputClock.knownOutputS(this.ctx.sampleRate || SAMPLE_RATE_HZ);
  }

  /** The device's share of the latency (outputLatency) in ms, when known and believed. */
  get deviceOutputMs() {
    const outputS = this.outputClock.outputLatencyS;
    return outputS === null ? null : 1000 * outputS;
  }

  /** Whether latencyMs() leaves out the device's share (unknown here): a lower bound. */
  get latencyIsLowerBound() {
    return this.outputClock.lowerBound;
  }

  /** Whether the page knows all it will learn of the device (reports wait for it). */
  get deviceSettled() {
    return !this.readsDevice || this.outputClock.looks > 0;
  }

  /**
   * Look at the device's figures when due: call it from a timer (once a second), never from
   * the figures' path, which only uses what was read here. Where a read may block
   * (deviceFiguresAreCheap) only baseLatency is read, which no engine asks the device for.
   * @param {number} [nowMs]  performance.now()
   */
  sampleDevice(nowMs = performance.now()) {
    const ctx = this.ctx;
    if (!this.outputClock.due(ctx.state, ctx.currentTime)) return;
    const reads = this.readsDevice;
    this.outputClock.add({
      currentTime: ctx.currentTime,
      nowMs,
      sampleRate: ctx.sampleRate || SAMPLE_RATE_HZ,
      baseLatency: ctx.baseLatency,
      outputLatency: reads ? ctx.outputLatency : null,
      stamp: reads ? ctx.getOutputTimestamp?.() ?? null : null,
    });
  }

  /**
   * Capture-to-ear latency in ms from the latest figures: when the sample they name is heard
   * minus when it was captured; null until push() was given capture times.
   * A lower bound where the device's share is unknown (latencyIsLowerBound).
   * @param {number} serverOffsetMs  the server's clock minus the page's (localNowMs)
   * @param {number} [nowMs]  performance.now()
   * @returns {number | null}
   */
  latencyMs(serverOffsetMs, nowMs = performance.now()) {
    const f = this.latest;
    if (!f || f.captureMs === null) return null;
    const heardMs = this.outputClock.heardMs(f.contextTime, {
      currentTime: this.ctx.currentTime, nowMs, sampleRate: this.ctx.sampleRate || SAMPLE_RATE_HZ,
    });
    return performance.timeOrigin + heardMs + serverOffsetMs - f.captureMs;
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
