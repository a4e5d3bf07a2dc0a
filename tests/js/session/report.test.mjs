// Tests for listener_web/session/report.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  REPORT_FIELDS,
  buildReport,
  listenerId,
  reportProblem,
  shortAgent,
} from '../../../listener_web/session/report.js';
import { FIGURES } from './figures.mjs';

describe('listenerId', () => {
  test('is url-safe base64 of the bytes, 16 characters for 12 bytes', () => {
    const bytes = new Uint8Array([251, 255, 190, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const id = listenerId(bytes);
    assert.equal(id, '-_--AAECAwQFBgcI');
    assert.match(id, /^[A-Za-z0-9_-]{16}$/);
  });
});

describe('shortAgent', () => {
  const cases = [
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
      'Headless Chrome 131 on Linux'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
      'Chrome 131 on Android'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      'Safari 17 on iOS'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
      'Safari 18 on macOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
      'Firefox 133 on Windows'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70',
      'Edge 131 on Windows'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1',
      'Chrome 131 on iOS'],
    ['curl/8.5.0', 'a browser'],
  ];
  for (const [agent, expected] of cases) {
    test(expected, () => assert.equal(shortAgent(agent), expected));
  }

  test('is at most 64 characters', () => {
    assert.ok(shortAgent(`Firefox/1${'0'.repeat(100)} Linux`).length <= 64);
  });
});

describe('buildReport', () => {
  test('has every field the server wants, rounded, in its order', () => {
    const report = buildReport(FIGURES);
    assert.deepEqual(report, {
      listener: 'k3J9xQ2mZpA7',
      latency_ms: 84.2,
      output_ms: 30,
      buffer_ms: 41.5,
      target_ms: 50,
      drift_ppm: -12.5,
      underruns: 0,
      glitches: 0,
      reconnects: 1,
      path: 'worklet',
      agent: 'Chrome 131 on Linux',
      latency_lower_bound: false,
    });
    assert.deepEqual(Object.keys(report), REPORT_FIELDS);
    assert.equal(reportProblem(report), null);
    assert.ok(JSON.stringify(report).length < 1024);
  });

  test('an unknown or implausible latency is sent as null, not refused', () => {
    for (const latencyMs of [null, NaN, -5000, 1e6]) {
      const report = buildReport({ ...FIGURES, latencyMs, latencyIsLowerBound: true });
      assert.equal(report.latency_ms, null);
      assert.equal(report.latency_lower_bound, false, 'no figure, no bound');
      assert.equal(reportProblem(report), null);
    }
  });

  test('other numbers are clamped into their range, counts made integers', () => {
    const report = buildReport({
      ...FIGURES, bufferMs: -3, targetMs: 1e9, driftPpm: NaN, underruns: 2.6, reconnects: -1,
    });
    assert.deepEqual(
      [report.buffer_ms, report.target_ms, report.drift_ppm, report.underruns, report.reconnects],
      [0, 60000, 0, 3, 0],
    );
    assert.equal(reportProblem(report), null);
  });

  test('glitches the browser does not count are null', () => {
    for (const glitches of [null, NaN, -1]) {
      const report = buildReport({ ...FIGURES, glitches });
      assert.equal(report.glitches, null);
      assert.equal(reportProblem(report), null);
    }
    assert.equal(buildReport({ ...FIGURES, glitches: 4 }).glitches, 4);
  });

  test('a path or agent the server would refuse is left out or made safe', () => {
    const report = buildReport({ ...FIGURES, path: '<script>', agent: 'Navigateur é'.repeat(9) });
    assert.equal(report.path, null);
    assert.equal(report.agent.length, 64);
    assert.equal(reportProblem(report), null);
  });
});

describe('reportProblem', () => {
  const good = buildReport(FIGURES);
  const cases = [
    [{ ...good, colour: 'red' }, 'unknown field "colour"'],
    [(({ agent, ...rest }) => rest)(good), 'missing field agent'],
    [{ ...good, buffer_ms: null }, 'buffer_ms must not be null'],
    [{ ...good, latency_ms: '84' }, 'latency_ms must be a number'],
    [{ ...good, underruns: 1.5 }, 'underruns must be an integer'],
    [{ ...good, glitches: 2.5 }, 'glitches must be an integer'],
    [{ ...good, drift_ppm: 20000 }, 'drift_ppm must be from -10000 to 10000'],
    [{ ...good, listener: 'short' }, 'listener is malformed'],
    [{ ...good, path: '' }, 'path is malformed'],
    [{ ...good, latency_lower_bound: 1 }, 'latency_lower_bound must be true or false'],
    [{ ...good, latency_lower_bound: null }, 'latency_lower_bound must not be null'],
  ];
  for (const [report, problem] of cases) {
    test(problem, () => assert.equal(reportProblem(report), problem));
  }
});
