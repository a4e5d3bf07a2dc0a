// Tests for listener_web/session/reporter.js, with a stand-in fetch: run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { REPORT_EVERY_MS, reportProblem } from '../../../listener_web/session/report.js';
import { Reporter } from '../../../listener_web/session/reporter.js';
import { FIGURES } from './figures.mjs';

afterEach(() => {
  delete globalThis.fetch;
});

/** A fetch that answers `status`, and the bodies it was sent. */
function server(status) {
  const bodies = [];
  globalThis.fetch = async (url, init) => {
    bodies.push(JSON.parse(init.body));
    return { ok: status < 300, status, statusText: 'Unprocessable', json: async () => ({ error: 'no' }) };
  };
  return bodies;
}

describe('Reporter', () => {
  test('reports as soon as the latency is known, then every REPORT_EVERY_MS', () => {
    const bodies = server(204);
    const reporter = new Reporter('/audio/telemetry', 1000);
    reporter.offer({ ...FIGURES, latencyMs: null }, 0); // the first report is due at once
    reporter.offer(FIGURES, 1000); // the latency is known, but the last report is too recent
    reporter.offer(FIGURES, 2000);
    reporter.offer(FIGURES, 3000);
    reporter.offer(FIGURES, 2000 + REPORT_EVERY_MS);
    assert.deepEqual(bodies.map((body) => body.latency_ms), [null, 84.2, 84.2]);
    assert.ok(bodies.every((body) => reportProblem(body) === null));
  });

  test('the first report waits for what the page reads of the output device', () => {
    const bodies = server(204);
    const reporter = new Reporter('/audio/telemetry', 1000);
    reporter.offer({ ...FIGURES, outputMs: null, outputSettled: false }, REPORT_EVERY_MS);
    reporter.offer({ ...FIGURES, outputMs: null, outputSettled: false }, REPORT_EVERY_MS + 2000);
    reporter.offer(FIGURES, REPORT_EVERY_MS + 3000);
    assert.deepEqual(bodies.map((body) => body.output_ms), [null, 30]);
  });

  test('a lower bound is reported as one', () => {
    const bodies = server(204);
    new Reporter('/audio/telemetry', 1000).offer({ ...FIGURES, latencyIsLowerBound: true }, 0);
    assert.equal(bodies[0].latency_ms, 84.2);
    assert.equal(bodies[0].latency_lower_bound, true);
    assert.equal(reportProblem(bodies[0]), null);
  });

  test('says once that the server refused a report', async () => {
    server(422);
    const warned = [];
    const warn = console.warn;
    console.warn = (...args) => warned.push(args.join(' '));
    try {
      const reporter = new Reporter('/audio/telemetry', 1000);
      reporter.send(FIGURES);
      reporter.send(FIGURES);
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(warned.length, 1);
      assert.match(warned[0], /refused the telemetry report \(422\): no/);
    } finally {
      console.warn = warn;
    }
  });
});
