// Tests for listener_web/link/resume.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  RESUME_MAX_BEHIND_MS,
  crossesRestart,
  liveResumeAfter,
  resumedTooFar,
  startsBehindMs,
  streamQuery,
} from '../../../listener_web/link/resume.js';

const config = (nextId, liveId, replayBehindMs = null, frameMs = 20, epoch = null) => ({
  codec: 'opus', sampleRateHz: 48000, channels: 1, frameMs, frameSamples: 960, bitrateBps: null,
  application: null, codecDelayMs: 0, source: 'tone', state: 'running', serverMs: 0, nextId,
  liveId, replayBehindMs, bundleMs: 0, epoch,
});

describe('how far behind a connection starts', () => {
  test('is the frames captured before it, by frame_ms', () => {
    assert.equal(startsBehindMs(config(100, 105)), 100);
    assert.equal(startsBehindMs(config(100, 100)), 0);
    assert.equal(startsBehindMs(config(100, 99)), 0, 'never negative');
    assert.equal(startsBehindMs(config(0, 600, null, 40)), 24000);
  });

  test('across a restart, ids are no frame count: at least the new process\'s frames', () => {
    // The process before ran an hour from T; this one began at T + 3_600_500.
    const T = 1_764_064_000_000;
    const resumed = config(T + 180_000, T + 3_600_500 + 100, null, 20, T + 3_600_500);
    assert.equal(crossesRestart(resumed), true);
    assert.equal(startsBehindMs(resumed), 2000);
    assert.equal(resumedTooFar(resumed), false);
    const later = config(T + 180_000, T + 3_600_500 + 600, null, 20, T + 3_600_500);
    assert.equal(resumedTooFar(later), true);
    assert.equal(crossesRestart(config(T + 3_600_600, T + 3_600_700, null, 20, T + 3_600_500)), false);
  });

  test('a live resume more than 10 s behind is too far; a replay never is', () => {
    assert.equal(RESUME_MAX_BEHIND_MS, 10000);
    assert.equal(resumedTooFar(config(0, 500)), false);
    assert.equal(resumedTooFar(config(0, 501)), true);
    assert.equal(resumedTooFar(config(0, 3_600_000 / 20)), true, 'an hour from the archive');
    assert.equal(resumedTooFar(config(0, 3_600_000 / 20, 3_600_000)), false);
  });
});

describe('where a live stream reopened resumes', () => {
  test('after the newest packet, unless it came more than 10 s ago', () => {
    assert.equal(liveResumeAfter(42, 1000, 11_000), 42);
    assert.equal(liveResumeAfter(42, 1000, 11_001), null);
    assert.equal(liveResumeAfter(null, null, 5), null);
    assert.equal(liveResumeAfter(42, null, 5), null);
  });
});

describe('the query of the stream', () => {
  test('live: a backlog, or a resume; a replay: its distance, and where it resumes', () => {
    const start = { behindMs: null, afterId: null, backlogMs: 100.4, bundleMs: 0 };
    assert.equal(streamQuery(start), 'backlog_ms=100');
    assert.equal(streamQuery({ ...start, afterId: 7 }), 'last_id=7');
    assert.equal(streamQuery({ ...start, behindMs: 30000.4 }), 'behind_ms=30000');
    assert.equal(streamQuery({ ...start, behindMs: 30000, afterId: 7 }), 'behind_ms=30000&last_id=7');
  });

  test('bundles when asked, whatever the start', () => {
    const start = { behindMs: null, afterId: null, backlogMs: 600, bundleMs: 500 };
    assert.equal(streamQuery(start), 'backlog_ms=600&bundle_ms=500');
    assert.equal(streamQuery({ ...start, afterId: 7 }), 'last_id=7&bundle_ms=500');
    assert.equal(streamQuery({ ...start, behindMs: 5000 }), 'behind_ms=5000&bundle_ms=500');
  });
});
