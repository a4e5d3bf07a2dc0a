// The figures of one listener, as the page measures them: the fixture of report.test.mjs and
// ui/figures.test.mjs.

/** @type {import('../../../listener_web/session/report.js').Figures} */
export const FIGURES = {
  listener: 'k3J9xQ2mZpA7',
  latencyMs: 84.234,
  latencyIsLowerBound: false,
  outputMs: 30,
  outputSettled: true,
  bufferMs: 41.54,
  targetMs: 50,
  driftPpm: -12.46,
  underruns: 0,
  pauses: 0,
  longestPauseMs: 0,
  pauseUnderruns: 0,
  marginMs: 0,
  glitches: 0,
  reconnects: 1,
  path: 'worklet',
  agent: 'Chrome 131 on Linux',
};
