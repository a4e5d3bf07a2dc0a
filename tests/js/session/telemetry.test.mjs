// Tests for listener_web/telemetry.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  CaptureClock,
  ClockOffset,
  PacketAge,
  REPORT_FIELDS,
  buildReport,
  figureParts,
  listenerId,
  reportProblem,
  shortAgent,
} from '../../../listener_web/session/telemetry.js';

describe('ClockOffset', () => {
  test('is null before any sample', () => {
    assert.equal(new ClockOffset().offsetMs, null);
  });

  test('keeps the sample delayed least: the largest server − local', () => {
    const offset = new ClockOffset();
    const trueOffsetMs = 5000; // the server's clock is 5 s ahead
    const delaysMs = [3.2, 0.4, 12, 1.1, 40];
    delaysMs.forEach((delay, i) => {
      const sentLocalMs = 1000 * i;
      offset.add(sentLocalMs + trueOffsetMs, sentLocalMs + delay);
    });
    assert.ok(Math.abs(offset.offsetMs - (trueOffsetMs - 0.4)) < 1e-9);
  });

  test('forgets samples older than its window, so it follows a stepped clock', () => {
    const offset = new ClockOffset(30000);
    offset.add(100_000, 0); // offset 100 s, with no delay at all
    for (let t = 1000; t <= 31000; t += 1000) offset.add(t + 2000 - 5, t); // stepped to 2 s
    assert.equal(offset.offsetMs, 1995);
  });

  test('a single old sample is kept until a newer one comes', () => {
    const offset = new ClockOffset(1000);
    offset.add(50, 0);
    assert.equal(offset.offsetMs, 50);
    offset.add(10_050, 10_000);
    assert.equal(offset.offsetMs, 50);
    assert.equal(offset.window.samples.length, 1);
  });

  test('ignores non-finite samples and clears', () => {
    const offset = new ClockOffset();
    offset.add(NaN, 0);
    offset.add(1, Infinity);
    assert.equal(offset.offsetMs, null);
    offset.add(10, 0);
    offset.clear();
    assert.equal(offset.offsetMs, null);
  });
});

describe('PacketAge', () => {
  test('before any live packet, anything over 100 ms + a frame + 40 ms is backlog', () => {
    const ages = new PacketAge();
    assert.equal(ages.freshMs, null);
    assert.equal(ages.isStale(160, 20), false);
    assert.equal(ages.isStale(161, 20), true);
  });

  test('the freshest live packet of the window is the reference', () => {
    const ages = new PacketAge(10000);
    [45, 31, 80, 38].forEach((age, i) => ages.note(age, 20 * i));
    assert.equal(ages.freshMs, 31);
    assert.equal(ages.isStale(90, 20), false); // 31 + 20 + 40 = 91
    assert.equal(ages.isStale(92, 20), true);
    assert.equal(ages.isStale(1500, 10), true); // a second-old packet of a resumed backlog
    ages.note(70, 20_000); // the window has moved on: the route got slower
    assert.equal(ages.freshMs, 70);
  });
});

describe('CaptureClock', () => {
  test('times a packet from the newest clock event at or before it', () => {
    const clock = new CaptureClock(20);
    clock.add({ id: 100, captureMs: 1_000_000 });
    clock.add({ id: 150, captureMs: 1_001_003 }); // a capture restart, say: not 1_001_000
    assert.equal(clock.captureMs(100), 1_000_000);
    assert.equal(clock.captureMs(149), 1_000_000 + 49 * 20);
    assert.equal(clock.captureMs(150), 1_001_003);
    assert.equal(clock.captureMs(160), 1_001_003 + 10 * 20);
  });

  test('does not know packets before its first clock event', () => {
    const clock = new CaptureClock(10);
    assert.equal(clock.captureMs(5), null);
    clock.add({ id: 10, captureMs: 500 });
    assert.equal(clock.captureMs(9), null);
  });

  test('keeps a bounded number of clock events', () => {
    const clock = new CaptureClock(20, 3);
    for (let id = 0; id < 10; id++) clock.add({ id: id * 50, captureMs: id * 1000 });
    assert.deepEqual(clock.anchors.map((a) => a.id), [350, 400, 450]);
    assert.equal(clock.captureMs(100), null);
  });

  test('ids that start again (another stream) replace what came after them', () => {
    const clock = new CaptureClock(20);
    clock.add({ id: 500, captureMs: 9000 });
    clock.add({ id: 300, captureMs: 100 });
    assert.deepEqual(clock.anchors, [{ id: 300, captureMs: 100 }]);
    clock.clear();
    assert.equal(clock.captureMs(300), null);
  });
});

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

/** @type {import('../../../listener_web/session/telemetry.js').Figures} */
const FIGURES = {
  listener: 'k3J9xQ2mZpA7',
  latencyMs: 84.234,
  outputMs: 30,
  bufferMs: 41.54,
  targetMs: 50,
  driftPpm: -12.46,
  underruns: 0,
  glitches: 0,
  reconnects: 1,
  path: 'worklet',
  agent: 'Chrome 131 on Linux',
};

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
    });
    assert.deepEqual(Object.keys(report), REPORT_FIELDS);
    assert.equal(reportProblem(report), null);
    assert.ok(JSON.stringify(report).length < 1024);
  });

  test('an unknown or implausible latency is sent as null, not refused', () => {
    for (const latencyMs of [null, NaN, -5000, 1e6]) {
      const report = buildReport({ ...FIGURES, latencyMs });
      assert.equal(report.latency_ms, null);
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
  ];
  for (const [report, problem] of cases) {
    test(problem, () => assert.equal(reportProblem(report), problem));
  }
});

describe('figureParts', () => {
  test('shows every figure, with the bare numbers beside', () => {
    const parts = figureParts({ ...FIGURES, lostFrames: 0 });
    assert.deepEqual(parts.map((p) => p.text), [
      'latency ≈ 84 ms', 'buffer 42 ms (target 50)', 'drift -12 ppm', 'underruns 0',
      'reconnects 1', 'path worklet',
    ]);
    assert.deepEqual(parts.map((p) => p.name), [
      'latency', 'buffer', 'drift', 'underruns', 'reconnects', 'path',
    ]);
    assert.equal(parts[0].value, '84.2');
  });

  test('an unknown latency is a dash; glitches and lost frames show when there are any; no path, no part', () => {
    const parts = figureParts({
      ...FIGURES, latencyMs: null, path: null, driftPpm: 0.3, glitches: 2, lostFrames: 37,
    });
    assert.deepEqual(parts.map((p) => p.text), [
      'latency –', 'buffer 42 ms (target 50)', 'drift 0 ppm', 'underruns 0', 'output glitches 2',
      'reconnects 1', 'lost 37 frames',
    ]);
    assert.equal(figureParts({ ...FIGURES, glitches: null, lostFrames: 0 }).length, 6);
    assert.equal(parts[0].value, '');
    assert.equal(figureParts({ ...FIGURES, driftPpm: 7.6, lostFrames: 0 })[2].text, 'drift +8 ppm');
  });
});
