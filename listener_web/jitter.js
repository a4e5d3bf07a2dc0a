// @ts-check
/**
 * A preallocated ring of interleaved Float32 PCM that smooths network jitter.
 *
 * Pure: no DOM, no WebAudio, so it runs in the AudioWorklet and under `node --test`.
 * All depths are in samples per channel. pull() allocates nothing.
 *
 * Playback modes:
 *  - IDLE: outputs silence until the depth reaches the target, then PLAYING.
 *  - PLAYING: reads the ring; the gain ramps up to 1 over `fadeSamples` (fade-in).
 *    If a block cannot be filled the buffer has underrun: DRAINING.
 *  - DRAINING: the gain ramps down to 0 over `fadeSamples`, reading what is left and then
 *    holding the last sample, so the cut is a short fade instead of a click; then IDLE.
 * While PLAYING, a depth above `maxSamples` (a burst after a stall or a reconnect) drops the
 * oldest audio down to the target with a crossfade, so latency cannot creep up.
 */

const IDLE = 0;
const PLAYING = 1;
const DRAINING = 2;

/**
 * @typedef {object} JitterOptions
 * @property {number} channels  interleaved channels in push(), 1..8
 * @property {number} targetSamples  depth at which playback starts
 * @property {number} maxSamples  depth above which the oldest audio is dropped
 * @property {number} [fadeSamples]  length of fades and crossfades (default 128, ~2.7 ms)
 * @property {number} [capacitySamples]  ring size (default 2 * maxSamples + 48000): bursts
 *   up to it are trimmed with a crossfade, a bigger one (nobody pulling) cuts hard
 */

/** Jitter buffer: push() decoded PCM in, pull() fixed-size output blocks out. */
export class JitterBuffer {
  /** @param {JitterOptions} options */
  constructor({ channels, targetSamples, maxSamples, fadeSamples = 128, capacitySamples }) {
    if (!Number.isInteger(channels) || channels < 1 || channels > 8) {
      throw new RangeError(`channels: expected an integer in 1..8, got ${channels}`);
    }
    if (!Number.isInteger(fadeSamples) || fadeSamples < 1) {
      throw new RangeError(`fadeSamples: expected an integer >= 1, got ${fadeSamples}`);
    }
    // A reconnect can resume with seconds of backlog arriving between two render quanta.
    const capacity = capacitySamples ?? 2 * maxSamples + 48000;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacitySamples: expected an integer >= 1, got ${capacity}`);
    }
    this.channels = channels;
    this.fadeSamples = fadeSamples;
    this.capacitySamples = capacity;
    /** Underruns since creation: blocks that could not be filled while playing. */
    this.underruns = 0;
    /** Samples per channel thrown away to bound the depth. */
    this.droppedSamples = 0;

    this._ring = new Float32Array(capacity * channels);
    this._hold = new Float32Array(channels); // last sample read, per channel
    this._fadeStep = 1 / fadeSamples;
    // Absolute sample positions; a double counts exactly for ~6000 years at 48 kHz.
    this._readPos = 0;
    this._writePos = 0;
    this._mode = IDLE;
    this._gain = 0;
    this._xfadeLeft = 0; // samples of crossfade still to play
    this._xfadeOffset = 0; // distance from the old read position to the new one
    this._endExpected = false; // the stream ends on purpose: its underrun is not counted
    this.targetSamples = 0;
    this.maxSamples = 0;
    this.setTarget(targetSamples, maxSamples);
  }

  /**
   * Change the target and the maximum depth.
   * @param {number} targetSamples
   * @param {number} maxSamples
   */
  setTarget(targetSamples, maxSamples) {
    if (!Number.isInteger(targetSamples) || targetSamples < 1) {
      throw new RangeError(`targetSamples: expected an integer >= 1, got ${targetSamples}`);
    }
    // The crossfade reads fadeSamples of old audio before the jump, so max - target must
    // leave room for them; the ring must hold max plus a burst.
    if (!Number.isInteger(maxSamples) || maxSamples < targetSamples + this.fadeSamples) {
      throw new RangeError(
        `maxSamples: expected an integer >= targetSamples + fadeSamples ` +
          `(${targetSamples + this.fadeSamples}), got ${maxSamples}`,
      );
    }
    if (maxSamples >= this.capacitySamples) {
      throw new RangeError(
        `maxSamples: expected < capacitySamples (${this.capacitySamples}), got ${maxSamples}`,
      );
    }
    this.targetSamples = targetSamples;
    this.maxSamples = maxSamples;
  }

  /** Samples per channel waiting to be played (not counting audio being dropped). */
  get depthSamples() {
    return this._writePos - this._readPos - (this._xfadeLeft > 0 ? this._xfadeOffset : 0);
  }

  /** True while audio is being played (including the fade-out after an underrun). */
  get playing() {
    return this._mode !== IDLE;
  }

  /** Forget all buffered audio and go back to waiting for the target depth. */
  reset() {
    this._readPos = this._writePos;
    this._mode = IDLE;
    this._gain = 0;
    this._xfadeLeft = 0;
    this._endExpected = false;
    this._hold.fill(0);
  }

  /**
   * Say that no more audio is coming for now (the broadcaster stopped capture): the buffer
   * plays out and fades as usual, but that one underrun is not counted. `false` withdraws it.
   * @param {boolean} [expected]
   */
  expectEnd(expected = true) {
    this._endExpected = expected;
  }

  /**
   * Append interleaved samples. If the ring is full (nobody pulls), the oldest audio goes.
   * @param {Float32Array} samples  interleaved, length a multiple of `channels`
   */
  push(samples) {
    const ch = this.channels;
    if (samples.length % ch !== 0) {
      throw new RangeError(`push: ${samples.length} samples is not a multiple of ${ch} channels`);
    }
    const cap = this.capacitySamples;
    let count = samples.length / ch;
    if (count > cap) {
      this.droppedSamples += count - cap;
      samples = samples.subarray((count - cap) * ch);
      count = cap;
    }
    const overflow = this._writePos - this._readPos + count - cap;
    if (overflow > 0) {
      this._finishCrossfade();
      this._readPos += overflow;
      this.droppedSamples += overflow;
    }
    const start = this._writePos % cap;
    const first = Math.min(count, cap - start);
    this._ring.set(samples.subarray(0, first * ch), start * ch);
    if (first < count) this._ring.set(samples.subarray(first * ch), 0);
    this._writePos += count;
  }

  /**
   * Fill one output block. `out` holds one array per output channel, all the same length
   * (an AudioWorklet output). Extra output channels repeat the last buffered channel.
   * @param {Float32Array[]} out
   */
  pull(out) {
    const outChannels = out.length;
    if (outChannels === 0) return;
    const n = out[0].length;
    this._beginBlock(n);

    const ring = this._ring;
    const hold = this._hold;
    const ch = this.channels;
    const cap = this.capacitySamples;
    const step = this._fadeStep;
    const xfadeLen = this.fadeSamples;
    const xOff = this._xfadeOffset;
    let read = this._readPos;
    let gain = this._gain;
    let mode = this._mode;
    let xLeft = this._xfadeLeft;
    let avail = this._writePos - read - (xLeft > 0 ? xOff : 0);

    for (let i = 0; i < n; i++) {
      if (mode === PLAYING) {
        gain = gain + step >= 1 ? 1 : gain + step;
      } else if (mode === DRAINING) {
        gain -= step;
        if (gain <= 0) {
          gain = 0;
          mode = IDLE;
        }
      }
      if (mode !== IDLE && avail > 0) {
        const base = (read % cap) * ch;
        if (xLeft > 0) {
          const wOld = xLeft / xfadeLen;
          const other = ((read + xOff) % cap) * ch;
          for (let c = 0; c < ch; c++) {
            hold[c] = ring[base + c] * wOld + ring[other + c] * (1 - wOld);
          }
          read++;
          xLeft--;
          if (xLeft === 0) read += xOff;
        } else {
          for (let c = 0; c < ch; c++) hold[c] = ring[base + c];
          read++;
        }
        avail--;
      }
      // Past the end of the data (DRAINING) the last sample is held while the gain falls.
      for (let c = 0; c < outChannels; c++) out[c][i] = hold[c < ch ? c : ch - 1] * gain;
    }
    this._readPos = read;
    this._gain = gain;
    this._mode = mode;
    this._xfadeLeft = xLeft;
  }

  /**
   * Decide, before a block of n samples, whether to start, underrun or drop.
   * @param {number} n
   */
  _beginBlock(n) {
    const depth = this._writePos - this._readPos;
    if (this._mode === IDLE) {
      if (depth >= this.targetSamples) {
        if (depth > this.maxSamples) {
          // Silent while idle: just skip to the newest audio.
          const drop = depth - this.targetSamples;
          this._readPos += drop;
          this.droppedSamples += drop;
        }
        this._mode = PLAYING;
      }
    } else if (this._mode === PLAYING) {
      if (this.depthSamples < n) {
        // No message can arrive during this block, so it will run dry: fade out now.
        this._finishCrossfade();
        this._mode = DRAINING;
        if (this._endExpected) this._endExpected = false;
        else this.underruns++;
      } else if (this._xfadeLeft === 0 && depth > this.maxSamples) {
        this._xfadeOffset = depth - this.targetSamples;
        this._xfadeLeft = this.fadeSamples;
        this.droppedSamples += this._xfadeOffset;
      }
    }
  }

  /** Abandon a crossfade in progress by jumping straight to the newer audio. */
  _finishCrossfade() {
    if (this._xfadeLeft > 0) {
      this._readPos += this._xfadeOffset;
      this._xfadeLeft = 0;
    }
  }
}
