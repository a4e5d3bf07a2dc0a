// @ts-check
/**
 * Decoded PCM, pure: every decoder hands on interleaved Float32 samples, whatever planar
 * channels its codec gives (WebCodecs' f32-planar planes, opus-decoder's channelData).
 */

/**
 * @callback PcmCallback  how a codec hands on what it decoded
 * @param {Float32Array} samples  interleaved, `channels` per frame
 * @param {number} id  audio event id of the packet these samples came from
 * @returns {void}
 */

/**
 * Planar channels -> one interleaved array (a single channel is passed through as it is).
 * @param {Float32Array[]} planes
 * @param {number} channels
 * @param {number} frames
 * @returns {Float32Array}
 */
export function interleave(planes, channels, frames) {
  if (channels === 1 && planes[0].length === frames) return planes[0];
  const samples = new Float32Array(frames * channels);
  for (let c = 0; c < channels; c++) {
    const plane = planes[Math.min(c, planes.length - 1)];
    for (let i = 0; i < frames; i++) samples[i * channels + c] = plane[i];
  }
  return samples;
}
