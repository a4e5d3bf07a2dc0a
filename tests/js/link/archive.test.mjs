// Tests for listener_web/link/archive.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  downloadUrl,
  parseArchiveSummary,
  parseLevels,
  withQuery,
} from '../../../listener_web/link/archive.js';

describe('parseArchiveSummary', () => {
  test('reads what the archive holds, or why there is none', () => {
    const held = parseArchiveSummary(JSON.stringify({
      enabled: true, reason: null, from_id: 1, to_id: 9, from_ms: 1000.5, to_ms: 9000,
      bytes: 10, files: 1, audio_s: 8,
    }));
    assert.deepEqual(held, { enabled: true, reason: null, fromMs: 1000.5, toMs: 9000 });
    assert.deepEqual(parseArchiveSummary('{"enabled":false,"reason":"archive.enabled is false"}'),
      { enabled: false, reason: 'archive.enabled is false', fromMs: null, toMs: null });
    assert.equal(parseArchiveSummary('{"enabled":true,"from_ms":null,"to_ms":null}').fromMs, null);
  });

  test('rejects an answer without enabled, or with a bad time', () => {
    assert.throws(() => parseArchiveSummary('{}'), /archive\.enabled/);
    assert.throws(() => parseArchiveSummary('{"enabled":true,"from_ms":"x"}'), /archive\.from_ms/);
  });
});

describe('parseLevels', () => {
  test('reads the levels, null where there was no audio', () => {
    assert.deepEqual(parseLevels('{"from_ms":0,"to_ms":2000,"step_ms":1000,"levels":[-20.5,null]}'),
      { fromMs: 0, toMs: 2000, stepMs: 1000, levels: [-20.5, null] });
  });

  test('rejects a bad level or step', () => {
    assert.throws(() => parseLevels('{"from_ms":0,"to_ms":1,"step_ms":1,"levels":["loud"]}'),
      /levels\[0\]/);
    assert.throws(() => parseLevels('{"from_ms":0,"to_ms":1,"step_ms":0,"levels":[]}'),
      /step_ms/);
    assert.throws(() => parseLevels('{"from_ms":0,"to_ms":1,"step_ms":1}'), /levels\.levels/);
  });
});

describe('download addresses', () => {
  test('keep the page key and give the span in whole ms or seconds', () => {
    assert.equal(withQuery('/archive', {}), '/archive');
    assert.equal(downloadUrl('/archive/download?key=a%20b', { lastS: 300 }),
      '/archive/download?key=a%20b&last_s=300');
    assert.equal(downloadUrl('/archive/download', { fromMs: 1000.7, toMs: 5000.2 }),
      '/archive/download?from_ms=1000&to_ms=5001');
  });
});
