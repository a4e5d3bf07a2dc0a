// @ts-check
/**
 * Colours for a canvas from the page's style sheet: its custom properties, read once (and
 * again when the scheme changes), since reading style on every draw makes the browser
 * recalculate the page.
 */

/**
 * @template {string} K
 * @param {HTMLCanvasElement} canvas
 * @param {Record<K, [string, string]>} wanted  each colour's custom property and fallback
 * @returns {Record<K, string>}
 */
export function canvasColours(canvas, wanted) {
  const style = getComputedStyle(canvas);
  const out = /** @type {Record<K, string>} */ ({});
  for (const key of /** @type {K[]} */ (Object.keys(wanted))) {
    const [name, fallback] = wanted[key];
    out[key] = style.getPropertyValue(name).trim() || fallback;
  }
  return out;
}
