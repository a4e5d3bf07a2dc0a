// @ts-check
/**
 * The sender's clock as the player sees it, as pure arithmetic on sample counts:
 *  - TargetTracker: when its audio arrives, hence how deep the jitter buffer should be.
 *  - DriftController: how fast its clock runs against ours, hence how fast to read so that
 *    the depth follows the target (PI on the peak depth).
 * No ring of audio, no WebAudio, no allocation after construction: they run in an
 * AudioWorklet, in a ScriptProcessor fallback and under `node --test` alike. Time is counted
 * in output samples; depths and positions in input samples per channel.
 */

const BINS = 120;

/**
 * @typedef {object} TargetOptions
 * @property {number} floorSamples  the target never goes below this
 * @property {number} ceilingSamples  nor above it: a longer stall underruns instead
 * @property {number} initialSamples  the target before anything is measured
 * @property {number} [sampleRateHz]  for the defaults below (48000)
 * @property {number} [memorySamples]  how long the worst arrival counts (default 300 s)
 * @property {number} [fallPerSample]  how fast the target may then fall, in samples per
 *   output sample (default 0.0005: 0.5 ms a second, half what the controller can remove)
 * @property {number} [marginSamples]  added to the measured spread (default 2 ms)
 * @property {number} [marginFraction]  and this fraction of the spread (default 0.1)
 */

/**
 * Adaptive target depth: rises at once to cover the worst arrival of the last
 * `memorySamples`, then falls slowly.
 *
 * For each arrival, arrive() gets how late its first sample came and how early its last
 * sample came, against the output clock. The memory is cut into 120 bins; the spread of a
 * pair of neighbouring bins is the latest lateness minus the earliest earliness in them,
 * and the measured jitter is the largest such spread in the memory. With nothing late that
 * is one frame: the depth the buffer loses between two arrivals. A late clump always
 * lands in a pair with on-time audio (the frames before the stall, or those right after
 * it), while clock drift moves arrivals by only 300 ppm × 2 bins = 1.5 ms across a pair, so
 * drift is not taken for jitter. Target = clamp(jitter × (1 + marginFraction) + block +
 * margin, floor, ceiling). Arrivals are measured when the output takes them, between its
 * blocks, so the spread already holds the wait for the next block: a depth of the spread
 * alone would just do against the worst arrival in the memory. The block, the fraction and
 * the margin (together about 6 ms at 10 ms frames) are for arrivals worse than that.
 */
export class TargetTracker {
  /** @param {TargetOptions} options */
  constructor({
    floorSamples,
    ceilingSamples,
    initialSamples,
    sampleRateHz = 48000,
    memorySamples = 300 * sampleRateHz,
    fallPerSample = 0.0005,
    marginSamples = 0.002 * sampleRateHz,
    marginFraction = 0.1,
  }) {
    positive('memorySamples', memorySamples);
    positive('fallPerSample', fallPerSample);
    positive('marginSamples', marginSamples, true);
    positive('marginFraction', marginFraction, true);
    this.fallPerSample = fallPerSample;
    this.marginSamples = marginSamples;
    this.marginFraction = marginFraction;
    this._binSamples = memorySamples / BINS;
    // Per bin: the largest lateness and the smallest earliness seen in it.
    this._late = new Float64Array(BINS).fill(-Infinity);
    this._early = new Float64Array(BINS).fill(Infinity);
    this._pastSpread = -Infinity; // largest spread of the pairs before the current bin
    this._timeSamples = 0;
    this._bin = 0;
    this._blockSamples = 128;
    /** Measured spread of arrivals (samples); 0 until something is measured. */
    this.jitterSamples = 0;
    /** What the spread asks for; NaN until something is measured. */
    this.desiredSamples = NaN;
    this.floorSamples = 0;
    this.ceilingSamples = 0;
    this.targetSamples = 0;
    this.setLimits(floorSamples, ceilingSamples, initialSamples);
  }

  /**
   * Change the floor and the ceiling, and restart from `initialSamples` (clamped to them).
   * @param {number} floorSamples
   * @param {number} ceilingSamples
   * @param {number} initialSamples
   */
  setLimits(floorSamples, ceilingSamples, initialSamples) {
    positive('floorSamples', floorSamples);
    if (!(ceilingSamples >= floorSamples)) {
      throw new RangeError(`ceilingSamples: expected >= floorSamples (${floorSamples}), got ${ceilingSamples}`);
    }
    positive('initialSamples', initialSamples);
    this.floorSamples = floorSamples;
    this.ceilingSamples = ceilingSamples;
    this.targetSamples = Math.min(ceilingSamples, Math.max(floorSamples, initialSamples));
    this._update();
  }

  /**
   * One arrival of audio.
   * @param {number} lateSamples  output clock - position of its first sample
   * @param {number} earlySamples  output clock - position just after its last sample
   */
  arrive(lateSamples, earlySamples) {
    const b = this._bin % BINS;
    if (lateSamples > this._late[b]) this._late[b] = lateSamples;
    if (earlySamples < this._early[b]) this._early[b] = earlySamples;
    this._update();
  }

  /**
   * Let `n` output samples pass (one block of `n`): old arrivals expire, the target falls.
   * @param {number} n
   */
  tick(n) {
    this._blockSamples = n;
    this._timeSamples += n;
    const bin = Math.floor(this._timeSamples / this._binSamples);
    if (bin !== this._bin) {
      for (let k = Math.max(this._bin + 1, bin - BINS + 1); k <= bin; k++) {
        this._late[k % BINS] = -Infinity;
        this._early[k % BINS] = Infinity;
      }
      this._bin = bin;
      // Pairs ending before the new current bin; the oldest bin only as the first half.
      let spread = -Infinity;
      for (let k = Math.max(0, bin - BINS + 2); k < bin; k++) spread = Math.max(spread, this._pair(k));
      this._pastSpread = spread;
      this._update();
    }
    const excess = this.targetSamples - this.desiredSamples; // false while NaN
    const fall = excess > 0 ? Math.min(excess, this.fallPerSample * n) : 0;
    this.targetSamples -= fall;
  }

  /** Forget every arrival (a new stream starts): the target stays where it is. */
  forget() {
    this._late.fill(-Infinity);
    this._early.fill(Infinity);
    this._pastSpread = -Infinity;
    this._update();
  }

  /**
   * Spread of bins k - 1 and k (-Infinity when empty).
   * @param {number} k  absolute bin number
   */
  _pair(k) {
    const a = (k + BINS - 1) % BINS;
    const b = k % BINS;
    return Math.max(this._late[a], this._late[b]) - Math.min(this._early[a], this._early[b]);
  }

  /** Recompute the spread and the desired target; a higher one is taken at once. */
  _update() {
    const spread = Math.max(this._pastSpread, this._pair(this._bin));
    if (!(spread > -Infinity)) {
      this.jitterSamples = 0;
      this.desiredSamples = NaN;
      return;
    }
    const jitter = Math.max(0, spread);
    const want = jitter * (1 + this.marginFraction) + this._blockSamples + this.marginSamples;
    this.jitterSamples = jitter;
    this.desiredSamples = Math.min(this.ceilingSamples, Math.max(this.floorSamples, want));
    if (this.desiredSamples > this.targetSamples) this.targetSamples = this.desiredSamples;
  }
}

/**
 * @typedef {object} DriftOptions
 * @property {number} [sampleRateHz]  for the defaults below (48000)
 * @property {number} [maxPpm]  largest resampling correction (default 1000: ±0.1 %)
 * @property {number} [slewPpm]  the controller follows a new target at this rate
 *   (default 500 ppm: 0.5 ms a second)
 * @property {number} [responseS]  1 / Kp: a depth error of 1 ms then asks for
 *   1 ms / responseS of rate (default 10 s: 1 ms -> 100 ppm)
 * @property {number} [damping]  of the PI loop, 1 = critically damped (default 1)
 * @property {number} [windowSamples]  the peak depth is taken over this (default 0.25 s)
 * @property {number} [smoothingSamples]  time constant of the peak's moving average (1 s)
 */

/**
 * PI controller that keeps the buffer's depth on target by resampling: ratio = input
 * samples read per output sample, within 1 ± maxPpm.
 *
 * Measured quantity: the peak of the depth (taken before each block) over a window, i.e. the
 * depth just after the freshest arrival. Late clumps make the depth dip between arrivals
 * but leave that peak alone, so jitter hardly moves the rate; windows with no arrival or
 * with a jump in the depth are skipped. The peak is smoothed by a moving average.
 *
 * The controller does not chase a new target at once: its setpoint slews towards it at
 * `slewPpm`, and that slope is fed forward. The setpoint goes through the same moving
 * average as the depth, so the average's lag is no error either. What is left for the PI
 * is the clock drift: depth' = s - u per output sample, where s is the sender's clock rate
 * relative to ours and u = ratio - 1 = Kp e + I + ff, e = smoothed depth - smoothed setpoint,
 * I' = Ki e, Ki = Kp² / (4 ζ²). In steady state I = s: the integral is the drift estimate.
 * The integral is clamped and frozen while the output saturates in the same direction.
 */
export class DriftController {
  /** @param {DriftOptions} [options] */
  constructor({
    sampleRateHz = 48000,
    maxPpm = 1000,
    slewPpm = 500,
    responseS = 10,
    damping = 1,
    windowSamples = 0.25 * sampleRateHz,
    smoothingSamples = sampleRateHz,
  } = {}) {
    positive('maxPpm', maxPpm);
    positive('slewPpm', slewPpm);
    positive('responseS', responseS);
    positive('damping', damping);
    positive('windowSamples', windowSamples);
    positive('smoothingSamples', smoothingSamples);
    this.maxOffset = maxPpm * 1e-6;
    this.slew = slewPpm * 1e-6;
    /** Ratio per sample of depth error. */
    this.kp = 1 / (responseS * sampleRateHz);
    /** Ratio per sample of depth error per output sample. */
    this.ki = (this.kp * this.kp) / (4 * damping * damping);
    this.windowSamples = windowSamples;
    this.smoothingSamples = smoothingSamples;
    /** Input samples read per output sample. */
    this.ratio = 1;
    /** Integral term: the sender's clock rate relative to ours, minus 1. */
    this.integral = 0;
    /** Smoothed peak depth; NaN until measured since the last restart(). */
    this.smoothedSamples = NaN;
    /** The depth the controller steers to: the target, approached at `slewPpm`. */
    this.setpointSamples = NaN;
    this._smoothedSetpoint = NaN;
    this._feedForward = 0;
    this._peak = -Infinity;
    this._elapsed = 0;
    this._arrivals = 0;
    this._valid = true;
  }

  /** The drift estimate: how many ppm faster the sender's clock runs than the output's. */
  get driftPpm() {
    return this.integral * 1e6;
  }

  /**
   * One block of `n` output samples about to be read, with the depth before it.
   * @param {number} depthSamples
   * @param {number} n
   * @param {boolean} arrived  audio arrived since the previous block
   * @param {number} targetSamples
   */
  observe(depthSamples, n, arrived, targetSamples) {
    if (depthSamples > this._peak) this._peak = depthSamples;
    if (arrived) this._arrivals++;
    this._elapsed += n;
    if (this._elapsed < this.windowSamples) return;
    if (this._valid && this._arrivals > 0) this._step(this._peak, targetSamples, this._elapsed);
    this._newWindow();
  }

  /** The depth jumped (audio dropped): the current window measures nothing. */
  skipWindow() {
    this._valid = false;
  }

  /** Playback (re)starts at the target: forget the depth, keep the drift estimate. */
  restart() {
    this._newWindow();
    this.smoothedSamples = NaN;
    this.setpointSamples = NaN;
    this._feedForward = 0;
    this.ratio = 1 + this._clamp(this.integral);
  }

  _newWindow() {
    this._peak = -Infinity;
    this._elapsed = 0;
    this._arrivals = 0;
    this._valid = true;
  }

  /**
   * @param {number} peak
   * @param {number} target
   * @param {number} dt  output samples since the previous step
   */
  _step(peak, target, dt) {
    if (Number.isNaN(this.smoothedSamples)) {
      this.smoothedSamples = peak;
      this.setpointSamples = target;
      this._smoothedSetpoint = target;
      this._feedForward = 0;
    } else {
      const alpha = 1 - Math.exp(-dt / this.smoothingSamples);
      const reach = this.slew * dt;
      const move = Math.min(reach, Math.max(-reach, target - this.setpointSamples));
      this.setpointSamples += move;
      this.smoothedSamples += alpha * (peak - this.smoothedSamples);
      this._smoothedSetpoint += alpha * (this.setpointSamples - this._smoothedSetpoint);
      // The setpoint will likely keep moving as it just did: read slower while it rises.
      this._feedForward = -move / dt;
    }
    const error = this.smoothedSamples - this._smoothedSetpoint;
    const p = this.kp * error;
    const wanted = p + this.integral + this._feedForward;
    const saturated = (wanted >= this.maxOffset && error > 0) || (wanted <= -this.maxOffset && error < 0);
    if (!saturated) this.integral = this._clamp(this.integral + this.ki * error * dt);
    this.ratio = 1 + this._clamp(p + this.integral + this._feedForward);
  }

  /** @param {number} x */
  _clamp(x) {
    return Math.min(this.maxOffset, Math.max(-this.maxOffset, x));
  }
}

/**
 * @param {string} name
 * @param {number} value
 * @param {boolean} [zeroOk]
 */
function positive(name, value, zeroOk = false) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0)) {
    throw new RangeError(`${name}: expected a ${zeroOk ? 'non-negative' : 'positive'} number, got ${value}`);
  }
}
