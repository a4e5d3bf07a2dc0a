// Seeded random numbers for the simulations in tests/js (the same run every time).

/**
 * Deterministic uniform numbers in [0, 1) (mulberry32).
 * @param {number} seed
 * @returns {() => number}
 */
export function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
