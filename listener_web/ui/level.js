// @ts-check
/** Levels of PCM, pure: peak and RMS of a block, and where a level sits on a meter. */

/** The quietest level a meter shows: anything below is an empty meter. */
export const FLOOR_DBFS = -60;

/**
 * Peak and RMS (linear, full scale 1) of `samples`, written into `out` (no allocation).
 * @param {Float32Array} samples
 * @param {{peak: number, rms: number}} out
 */
export function measure(samples, out) {
  let peak = 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i];
    const a = x < 0 ? -x : x;
    if (a > peak) peak = a;
    sum += x * x;
  }
  out.peak = peak;
  out.rms = samples.length > 0 ? Math.sqrt(sum / samples.length) : 0;
  return out;
}

/**
 * Where a linear level sits on a meter from FLOOR_DBFS (0) to 0 dBFS (1).
 * @param {number} linear
 * @param {number} [floorDbfs]
 */
export function meterFraction(linear, floorDbfs = FLOOR_DBFS) {
  if (!(linear > 0)) return 0;
  const dbfs = 20 * Math.log10(linear);
  return Math.min(1, Math.max(0, 1 - dbfs / floorDbfs));
}

/**
 * A peak marker that falls back slowly: the new peak when it is higher, else the held one
 * lowered by `fallPerS` (meter fraction per second) over `elapsedS`.
 * @param {number} held
 * @param {number} peak
 * @param {number} elapsedS
 * @param {number} [fallPerS]
 */
export function holdPeak(held, peak, elapsedS, fallPerS = 0.5) {
  return Math.max(peak, held - fallPerS * elapsedS, 0);
}
