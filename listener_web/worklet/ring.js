// @ts-check
/**
 * The jitter buffer's audio: one preallocated ring of interleaved samples, written at
 * absolute positions and read at fractional ones. It holds no policy: the JitterBuffer
 * (jitter.js) decides what each output block does (a BlockPlan), the ring plays it.
 *
 * Positions are absolute sample counts per channel, held in doubles. Each output sample is
 * a 4-point cubic (Catmull-Rom) interpolation at the read position, which then moves by
 * `ratio` input samples: resampling by up to ±0.1 % without an audible pitch change. A
 * crossfade mixes the audio at the read position into the audio further ahead; a gain that
 * moves one step per sample fades in and out. Pure, and render() allocates nothing: it runs
 * on the audio thread.
 */

/** What a block does: plays nothing, plays (fading in), or drains (fading out). */
export const IDLE = 0;
export const PLAYING = 1;
export const DRAINING = 2;

/**
 * @typedef {object} BlockPlan  one output block, as the jitter buffer planned it
 * @property {number} mode  IDLE, PLAYING or DRAINING
 * @property {number} base  read position of its first sample
 * @property {number} ratio  input samples per output sample
 * @property {number} reads  samples read from the ring; after them the last one is held
 * @property {number} gainSteps  the gain before the block, in steps of 1 / fadeSamples
 * @property {number} xfadeLeft  samples of crossfade still to play (0: none)
 * @property {number} xfadeOffset  how far ahead of the read position the newer audio is
 */

/** A ring of interleaved samples, and what an output block reads from it. */
export class SampleRing {
  /**
   * @param {number} capacity  samples per channel
   * @param {number} channels
   * @param {number} fadeSamples  length of fades and crossfades
   */
  constructor(capacity, channels, fadeSamples) {
    this.capacity = capacity;
    this.channels = channels;
    this.fadeSamples = fadeSamples;
    this.data = new Float32Array(capacity * channels);
    /** The last sample read, per channel: held while a drained block fades out. */
    this.hold = new Float32Array(channels);
  }

  /**
   * Write interleaved samples from absolute position `start` on; a write larger than the
   * ring keeps its end.
   * @param {Float32Array} samples  length a multiple of `channels`
   * @param {number} start
   */
  write(samples, start) {
    const { capacity: cap, channels: ch } = this;
    const count = samples.length / ch;
    const keep = Math.min(count, cap);
    const from = count - keep;
    const at = (start + from) % cap;
    const first = Math.min(keep, cap - at);
    this.data.set(samples.subarray(from * ch, (from + first) * ch), at * ch);
    if (first < keep) this.data.set(samples.subarray((from + first) * ch), 0);
  }

  /** Forget the held sample (a fade-out after a reset starts from silence). */
  clearHold() {
    this.hold.fill(0);
  }

  /**
   * Write the planned block of `n` samples into `out` (one array per output channel, all of
   * length `n`); extra output channels repeat the last buffered one. Changes nothing but the
   * held sample.
   * @param {Float32Array[]} out
   * @param {number} n
   * @param {BlockPlan} plan
   */
  render(out, n, plan) {
    const outChannels = out.length;
    if (plan.mode === IDLE) {
      for (let c = 0; c < outChannels; c++) out[c].fill(0);
      return;
    }
    const { data: ring, hold, channels: ch, capacity: cap, fadeSamples: fade } = this;
    const { base, ratio, reads, xfadeLeft: xLeft, xfadeOffset: xOff } = plan;
    const up = plan.mode === PLAYING;
    let steps = plan.gainSteps;
    for (let i = 0; i < n; i++) {
      steps = up ? (steps < fade ? steps + 1 : fade) : steps > 0 ? steps - 1 : 0;
      if (i < reads) {
        const pos = base + i * ratio;
        if (xLeft > 0 && i < xLeft) {
          const wOld = (xLeft - i) / fade;
          for (let c = 0; c < ch; c++) {
            hold[c] = wOld * cubic(ring, cap, ch, c, pos) + (1 - wOld) * cubic(ring, cap, ch, c, pos + xOff);
          }
        } else {
          const at = xLeft > 0 ? pos + xOff : pos;
          for (let c = 0; c < ch; c++) hold[c] = cubic(ring, cap, ch, c, at);
        }
      }
      // Past the end of the data (DRAINING) the last sample is held while the gain falls.
      const gain = steps / fade;
      for (let c = 0; c < outChannels; c++) out[c][i] = hold[c < ch ? c : ch - 1] * gain;
    }
  }
}

/**
 * Channel c of an interleaved ring at fractional position pos: Catmull-Rom cubic through
 * the samples at floor(pos) - 1 .. floor(pos) + 2 (exact at whole positions).
 * @param {Float32Array} ring
 * @param {number} cap  ring size in samples per channel
 * @param {number} ch  channels
 * @param {number} c
 * @param {number} pos  >= 1
 */
export function cubic(ring, cap, ch, c, pos) {
  const whole = Math.floor(pos);
  const t = pos - whole;
  const i1 = whole % cap;
  const i0 = i1 === 0 ? cap - 1 : i1 - 1;
  const i2 = i1 + 1 === cap ? 0 : i1 + 1;
  const i3 = i2 + 1 === cap ? 0 : i2 + 1;
  const x0 = ring[i0 * ch + c];
  const x1 = ring[i1 * ch + c];
  const x2 = ring[i2 * ch + c];
  const x3 = ring[i3 * ch + c];
  return x1 + 0.5 * t * (x2 - x0 + t * (2 * x0 - 5 * x1 + 4 * x2 - x3 + t * (3 * (x1 - x2) + x3 - x0)));
}
