// @ts-check
/**
 * The jitter buffer's options (jitter.js): what each one means, its default, and the checks
 * that refuse a buffer that could not work. Pure.
 */

/** @typedef {import('./drift.js').TargetOptions} TargetOptions */
/** @typedef {import('./drift.js').DriftOptions} DriftOptions */

// Cubic interpolation at p reads floor(p) - 1 .. floor(p) + 2: p must stay below write - 2.
export const LOOKAHEAD = 3;

/**
 * @typedef {object} JitterOptions
 * @property {number} channels  interleaved channels in push(), 1..8
 * @property {number} targetSamples  initial target depth, per channel
 * @property {number} [sampleRateHz]  of the pushed PCM (default 48000); depths, positions and
 *   the defaults below are in samples at this rate
 * @property {number} [outputRateHz]  of the output, when it differs (a 44.1 kHz context):
 *   each block is then resampled by sampleRateHz / outputRateHz as well as the drift ratio
 * @property {number} [floorSamples]  lowest target (default 20 ms)
 * @property {number} [ceilingSamples]  highest target (default 500 ms)
 * @property {number} [headroomSamples]  least distance from target to bound (default 80 ms)
 * @property {number} [fadeSamples]  length of fades and crossfades (default 128)
 * @property {number} [settleSamples]  after playback starts from nothing, arrivals this
 *   long are not measured (default 250 ms): the start's own burst is no jitter
 * @property {number} [capacitySamples]  ring size (default: twice the highest bound + 1 s)
 * @property {Partial<TargetOptions>} [tracking]  tuning of the target
 * @property {DriftOptions} [drift]  tuning of the drift controller
 */

/**
 * Depth beyond which audio is dropped once it lasted, at a target.
 * @param {number} target
 * @param {number} headroomSamples
 */
export function depthBound(target, headroomSamples) {
  return target + Math.max(headroomSamples, target / 2);
}

/**
 * The options with their defaults, checked.
 * @param {JitterOptions} options
 * @returns {Required<JitterOptions>}
 */
export function resolveOptions({
  channels,
  targetSamples,
  sampleRateHz = 48000,
  outputRateHz = sampleRateHz,
  floorSamples = Math.round(0.02 * sampleRateHz),
  ceilingSamples = Math.round(0.5 * sampleRateHz),
  headroomSamples = Math.round(0.08 * sampleRateHz),
  fadeSamples = 128,
  settleSamples = Math.round(0.25 * sampleRateHz),
  capacitySamples,
  tracking = {},
  drift = {},
}) {
  integer('channels', channels, 1, 8);
  integer('fadeSamples', fadeSamples, 1);
  integer('settleSamples', settleSamples, 0);
  if (!(headroomSamples >= fadeSamples + LOOKAHEAD)) {
    throw new RangeError(`headroomSamples: expected >= fadeSamples + ${LOOKAHEAD}, got ${headroomSamples}`);
  }
  if (!(outputRateHz > 0)) throw new RangeError(`outputRateHz: expected > 0, got ${outputRateHz}`);
  const options = {
    channels, targetSamples, sampleRateHz, outputRateHz, floorSamples, ceilingSamples,
    headroomSamples, fadeSamples, settleSamples, capacitySamples: 0, tracking, drift,
  };
  const highest = Math.ceil(depthBound(ceilingSamples, headroomSamples) + fadeSamples); // + a crossfade
  options.capacitySamples = capacitySamples ?? 2 * highest + sampleRateHz;
  integer('capacitySamples', options.capacitySamples, highest + 1);
  return options;
}

/**
 * @param {string} name
 * @param {number} value
 * @param {number} min
 * @param {number} [max]
 */
function integer(name, value, min, max = Infinity) {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `in ${min}..${max}`;
    throw new RangeError(`${name}: expected an integer ${range}, got ${value}`);
  }
}
