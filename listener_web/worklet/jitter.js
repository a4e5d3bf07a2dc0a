// @ts-check
/**
 * Adaptive jitter buffer with drift control: push() decoded PCM in, pull() output blocks out.
 *
 * Pure (no DOM, no WebAudio): the AudioWorklet drives it today, and any other output that
 * asks for blocks of samples (a ScriptProcessor, say) can drive it the same way; `node
 * --test` drives it with simulated arrival traces. pull() and advance() allocate nothing.
 *
 * Design
 *  - Ring (ring.js SampleRing): the audio, at absolute positions; the read position is
 *    fractional, and each block is read by cubic interpolation at `ratio` input samples per
 *    output sample. This file decides what each block does (a BlockPlan); the ring plays it.
 *  - Target depth (drift.js TargetTracker): every push is an arrival; the spread of arrival
 *    times over the last 300 s (one frame when nothing is late) sets
 *    target = clamp(1.1 × spread + block + 2 ms, floor 20 ms, ceiling 500 ms). It rises at
 *    once when something arrives later than before, and falls by at most 0.5 ms a second.
 *    For 250 ms after playback starts from nothing arrivals are not measured: a start is a
 *    burst (a connection's first audio, decoded at once) that says nothing of the network.
 *    Depths are peak depths: right after the freshest arrival, before a block is read.
 *  - Start: at the target or more, keeping what piled up (up to the ceiling): an engine
 *    whose first callbacks come late takes the pile back in a burst. The pile also meets
 *    the target the start learns, with no pitch error: kept until arrivals were measured
 *    for 1 s after the settle (WebKit on plain http: 114 -> 130-180 ms), then what lasted
 *    over 5 ms above the target at the highest peaks (what the drift control steers by)
 *    is trimmed (excess.js). Trimmed earlier, the buffer climbed back at 0.1 % (1 ms/s):
 *    tens of seconds flat, -994 ppm in WebKit (tests/js/worklet/start_pitch.test.mjs).
 *  - Drift (drift.js DriftController): a PI controller sets `ratio` within 1 ± 0.1 %, from
 *    the peak depth per 0.25 s (1 s moving average) against a setpoint that follows the
 *    target at 0.5 ms/s (fed forward). Kp = 1/10 s (1 ms off -> 100 ppm), Ki = Kp²/4
 *    (critically damped); the integral term is the sender's clock drift estimate.
 *  - Rates: positions and depths count input samples, time counts output samples times
 *    sampleRateHz / outputRateHz, so a 44.1 kHz output plays 48 kHz PCM at its pitch.
 *  - Bound: target + max(80 ms headroom, target / 2). Depth above it through two windows of
 *    0.25 s (a network's backlog, not an output's late callbacks) drops its oldest audio
 *    down to the target with a crossfade of `fadeSamples`. A full ring (nobody pulling)
 *    loses its oldest audio outright.
 *  - Underrun: when a block cannot be filled, the gain fades to 0 over `fadeSamples`
 *    (reading what is left, then holding the last sample), then silence until the depth is
 *    back at the target, then a fade-in. An expected end (capture stopped) is no underrun.
 *  - Timestamps (capture_stamps.js): each push may carry the capture time of its first
 *    sample; readHeadMs() says when the sample at the read head (the next one out) was captured.
 */
import { CaptureStamps } from './capture_stamps.js';
import { DriftController, TargetTracker } from './drift.js';
import { ExcessWatch } from './excess.js';
import { LOOKAHEAD, depthBound, resolveOptions } from './jitter_options.js';
import { DRAINING, IDLE, PLAYING, SampleRing } from './ring.js';

// A start's extra above the target by more than this is dropped once it lasted.
const SETTLE_SLACK_S = 0.005;
const START_LEARN_S = 1.0; // a start's extra is kept until arrivals were measured this long
// Depth above the bound is dropped once it lasted two buckets of this (excess.js).
const EXCESS_BUCKET_S = 0.25;
// Smallest push the timestamp ring is sized for: 2.5 ms, the shortest Opus frame.
const MIN_FRAME_S = 0.0025;

/** @typedef {import('./jitter_options.js').JitterOptions} JitterOptions */

/** Jitter buffer: push() decoded PCM in, pull() fixed-size output blocks out. */
export class JitterBuffer {
  /** @param {JitterOptions} options */
  constructor(options) {
    const o = resolveOptions(options);
    const { channels, sampleRateHz, fadeSamples, capacitySamples: capacity } = o;
    this.channels = channels;
    this.sampleRateHz = sampleRateHz;
    /** Input samples per output sample at nominal rates; the drift ratio multiplies it. */
    this.rateRatio = sampleRateHz / o.outputRateHz;
    this.fadeSamples = fadeSamples;
    this.headroomSamples = o.headroomSamples;
    this.capacitySamples = capacity;
    this.settleSamples = o.settleSamples;
    /** The adaptive target (its jitterSamples: the measured spread of arrivals). */
    this.tracker = new TargetTracker({ sampleRateHz, ...o.tracking, floorSamples: o.floorSamples,
      ceilingSamples: o.ceilingSamples, initialSamples: o.targetSamples });
    /** The reading rate (its ratio, and its driftPpm: the sender's clock against ours). */
    this.control = new DriftController({ sampleRateHz, ...o.drift });

    /** Blocks that could not be filled while playing (expected ends excluded). */
    this.underruns = 0;
    /** Times audio was dropped to bound the depth, and how many samples per channel. */
    this.drops = 0;
    this.droppedSamples = 0;
    /** Output samples produced since creation. */
    this.outputSamples = 0;
    /** The output clock, in input samples (outputSamples × rateRatio): arrivals are timed on it. */
    this.clockSamples = 0;
    /** How far the output's own clock is ahead of it: a ScriptProcessor's blocks played unasked
     * and not discarded yet (their audio is no depth to steer by). */
    this.clockLeadSamples = 0;
    /** Whether the next push is timed: not while the page, which pushes and pulls, was late. */
    this.timeArrivals = true;
    /** Whether a start waits (audio piles up): the output's clock is not steady yet. */
    this.holdStart = false;

    this._ring = new SampleRing(capacity, channels, fadeSamples);
    // Start at `capacity` so that the interpolation's x[i - 1] never has a negative index.
    this._readPos = capacity;
    this._writePos = capacity;
    this._mode = IDLE;
    this._gainSteps = 0; // gain = _gainSteps / fadeSamples
    this._xfadeLeft = 0; // samples of crossfade still to play
    this._xfadeOffset = 0; // distance from the old read position to the new one
    this._endExpected = false;
    this._measuring = false; // arrivals count once playback has started
    this._measureFrom = 0; // output position from which they count
    this._arrived = false;
    /** Depth above the target that lasts (excess.js); a start's extra is trimmed closer. */
    this._excess = new ExcessWatch(Math.round(EXCESS_BUCKET_S * sampleRateHz));
    this._startExtra = false;
    this._learnSamples = Math.round(START_LEARN_S * sampleRateHz);
    this._stamps = new CaptureStamps(Math.ceil(capacity / (MIN_FRAME_S * sampleRateHz)) + 8);
    /** @type {import('./ring.js').BlockPlan} the current block, from _plan() to _commit() */
    this._block = { mode: IDLE, base: 0, ratio: 1, reads: 0, gainSteps: 0, xfadeLeft: 0, xfadeOffset: 0 };
  }

  /** Current target depth (samples per channel). */
  get targetSamples() {
    return this.tracker.targetSamples;
  }

  /** Depth above which audio is dropped. */
  get maxSamples() {
    return this._boundFor(this.tracker.targetSamples);
  }

  /** Samples per channel waiting to be played (not counting audio being dropped). */
  get depthSamples() {
    return this._writePos - this._readPos - (this._xfadeLeft > 0 ? this._xfadeOffset : 0);
  }

  /** True while audio is being played (including the fade-out after an underrun). */
  get playing() {
    return this._mode !== IDLE;
  }

  /**
   * Change the floor, the ceiling and the current target (the ring keeps its size).
   * @param {{floorSamples: number, ceilingSamples: number, targetSamples: number}} limits
   */
  setLimits({ floorSamples, ceilingSamples, targetSamples }) {
    if (!(this._boundFor(ceilingSamples) + this.fadeSamples < this.capacitySamples)) {
      throw new RangeError(`ceilingSamples: ${ceilingSamples} is too high for the ring`);
    }
    this.tracker.setLimits(floorSamples, ceilingSamples, targetSamples);
  }

  /** Forget all buffered audio and arrivals; wait for the target depth again. */
  reset() {
    this._readPos = this._writePos;
    this._mode = IDLE;
    this._gainSteps = 0;
    this._xfadeLeft = 0;
    this._endExpected = false;
    this._measuring = false;
    this._ring.clearHold();
    this._stamps.clear();
    this.tracker.forget();
    this.control.restart();
  }

  /**
   * Say that no more audio is coming for now (the broadcaster stopped capture): the buffer
   * plays out and fades as usual, but that one underrun is not counted, and the pause is not
   * taken for jitter. `false` withdraws it.
   * @param {boolean} [expected]
   */
  expectEnd(expected = true) {
    this._endExpected = expected;
  }

  /**
   * Append interleaved samples. If the ring is full (nobody pulls), the oldest audio goes.
   * @param {Float32Array} samples  interleaved, length a multiple of `channels`
   * @param {number} [captureMs]  when the first of them was captured, if known
   */
  push(samples, captureMs = NaN) {
    const ch = this.channels;
    if (samples.length % ch !== 0) {
      throw new RangeError(`push: ${samples.length} samples is not a multiple of ${ch} channels`);
    }
    const count = samples.length / ch;
    if (count === 0) return;
    const start = this._writePos;
    if (this._measuring && !this._settling && this.timeArrivals) {
      this.tracker.arrive(this.clockSamples - start, this.clockSamples - (start + count));
    }
    this._arrived = true;
    this._stamps.add(start, captureMs);

    this._ring.write(samples, start);
    this._writePos = start + count;
    const cap = this.capacitySamples;
    if (this._writePos - this._readPos > cap - 2) {
      this._finishCrossfade();
      const excess = this._writePos - this._readPos - (cap - 2);
      if (excess > 0) {
        this._readPos += excess;
        this._dropped(excess);
      }
    }
  }

  /**
   * Fill one output block. `out` holds one array per output channel, all the same length
   * (an AudioWorklet output). Extra output channels repeat the last buffered channel.
   * @param {Float32Array[]} out
   */
  pull(out) {
    if (out.length === 0) return;
    const n = out[0].length;
    this._plan(n);
    this._ring.render(out, n, this._block);
    this._commit(n);
  }

  /**
   * Play `n` output samples without writing them anywhere: exactly what pull() does to the
   * buffer's state (for simulations, and for outputs that cannot take the audio).
   * @param {number} n
   */
  advance(n) {
    this._plan(n);
    this._commit(n);
  }

  /**
   * Let go of `samples` at the read head, with a crossfade: audio whose time the output
   * filled on its own (a ScriptProcessor's silence while the page was late). Arrivals keep
   * their timing: they came through the same late page.
   * @param {number} samples
   */
  discard(samples) {
    if (this._mode !== PLAYING || !(samples > 0)) return;
    this._finishCrossfade();
    const n = Math.min(samples, this._writePos - this._readPos - LOOKAHEAD);
    if (n <= 0) return;
    this._xfadeOffset = n;
    this._xfadeLeft = this.fadeSamples;
    this.clockSamples += n; // the output's clock passed it
    this.control.skipWindow();
    this._excess.restart();
  }

  /**
   * Capture time (ms, in the clock of the stamps given to push()) of the sample at the read
   * head, which is the next one to be output; NaN when unknown.
   */
  readHeadMs() {
    return this._stamps.at(this._readPos, this.sampleRateHz);
  }

  /**
   * Depth beyond which audio is dropped once it lasted. For a start's extra it is just above
   * the target: more than that only adds latency.
   * @param {number} target
   * @param {boolean} [start]
   */
  _boundFor(target, start = false) {
    if (start) return target + Math.max(this.fadeSamples, SETTLE_SLACK_S * this.sampleRateHz);
    return depthBound(target, this.headroomSamples);
  }

  /** Whether a start is still settling: its arrivals are not measured. */
  get _settling() {
    return this.clockSamples < this._measureFrom;
  }

  /** @param {number} samples */
  _dropped(samples) {
    this.drops++;
    this.droppedSamples += samples;
    this.control.skipWindow();
  }

  /**
   * Decide what the next block of n samples does: start, underrun, drop, and at what rate.
   * @param {number} n
   */
  _plan(n) {
    const ctl = this.control;
    const target = this.tracker.targetSamples;
    const step = n * this.rateRatio; // the block's length in input samples
    const need = (n - 1) * this.rateRatio * (1 + ctl.maxOffset) + LOOKAHEAD;
    let depth = this._writePos - this._readPos;
    if (this._mode === IDLE && !this.holdStart && depth >= Math.max(target, need)) {
      // Start with what piled up, up to the ceiling: an output that starts late and then
      // catches up in a burst takes it back; what it does not is trimmed once it lasted.
      // Skip the oldest beyond that, silently since nothing plays yet.
      const keep = Math.max(target, need, Math.min(depth, this.tracker.ceilingSamples));
      if (depth > keep) this._dropped(depth - keep);
      this._readPos += depth - keep;
      this._startExtra = keep > this._boundFor(target, true);
      depth = keep;
      this._mode = PLAYING;
      this._gainSteps = 0;
      // After a reset or an expected end, arrivals are timed afresh: a pause is no jitter.
      if (!this._measuring) {
        this.tracker.forget();
        // Right after a start the page is busy setting up, and what came at once (a
        // connection's first audio) is still being decoded: that is no jitter to learn.
        this._measureFrom = this.clockSamples + this.settleSamples;
      }
      this._measuring = true;
      this._excess.restart();
      ctl.restart();
    }
    if (this._mode === PLAYING) {
      const pending = this._xfadeLeft > 0 ? this._xfadeOffset : 0;
      if (depth - pending < need) {
        // No message can arrive during this block, so it will run dry: fade out now.
        this._finishCrossfade();
        this._mode = DRAINING;
        if (this._endExpected) {
          this._endExpected = false;
          this._measuring = false; // the pause until capture resumes is no jitter
        } else {
          this.underruns++;
        }
      } else if (pending > 0) {
        ctl.skipWindow();
      } else {
        // A start's extra goes to the target once it learnt; later, what lasts beyond the bound.
        const learning = this._startExtra && this.clockSamples < this._measureFrom + this._learnSamples;
        const slack = learning ? Infinity : this._boundFor(target, this._startExtra) - target;
        const ahead = depth - this.clockLeadSamples; // what the output's clock has not passed
        const drop = this._excess.observe(ahead - target, step, this._arrived, slack, this._startExtra);
        if (learning) this._excess.restart(); // judged afresh once the target has learnt
        else if (this._excess.judged > 0 && !(this._excess.lastingTopSamples > slack)) this._startExtra = false;
        if (drop > 0) {
          this._xfadeOffset = drop;
          this._xfadeLeft = this.fadeSamples;
          // A start's extra within the bound is trimmed, not counted as a drop.
          if (drop > this._boundFor(target) - target) this._dropped(drop);
          else ctl.skipWindow();
          this._excess.restart();
        } else if (!this._startExtra) {
          ctl.observe(ahead, step, this._arrived, target);
        }
      }
    }
    this._arrived = false;

    const block = this._block;
    const ratio = ctl.ratio * this.rateRatio;
    block.mode = this._mode;
    block.base = this._readPos;
    block.ratio = ratio;
    block.gainSteps = this._gainSteps;
    block.xfadeLeft = this._xfadeLeft;
    block.xfadeOffset = this._xfadeOffset;
    if (this._mode === PLAYING) {
      block.reads = n;
    } else if (this._mode === DRAINING) {
      const readable = Math.ceil((this._writePos - (LOOKAHEAD - 1) - this._readPos) / ratio);
      block.reads = Math.max(0, Math.min(n, this._gainSteps, readable));
    } else {
      block.reads = 0;
    }
  }

  /**
   * Move the state past the planned block.
   * @param {number} n
   */
  _commit(n) {
    const block = this._block;
    if (block.mode === PLAYING) {
      this._readPos = block.base + n * block.ratio;
      if (this._xfadeLeft > 0) {
        if (this._xfadeLeft <= n) {
          this._readPos += this._xfadeOffset;
          this._xfadeLeft = 0;
        } else {
          this._xfadeLeft -= n;
        }
      }
      this._gainSteps = Math.min(this.fadeSamples, this._gainSteps + n);
    } else if (block.mode === DRAINING) {
      this._readPos = block.base + block.reads * block.ratio;
      if (this._gainSteps <= n) {
        this._gainSteps = 0;
        this._mode = IDLE;
      } else {
        this._gainSteps -= n;
      }
    }
    this.outputSamples += n;
    this.clockSamples += n * this.rateRatio;
    this.tracker.tick(n * this.rateRatio);
  }

  /** Abandon a crossfade in progress by jumping straight to the newer audio. */
  _finishCrossfade() {
    if (this._xfadeLeft > 0) {
      this._readPos += this._xfadeOffset;
      this._xfadeLeft = 0;
    }
  }
}
