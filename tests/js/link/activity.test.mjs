// Tests for listener_web/link/activity.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { parseActivity, parseEpisodePage } from '../../../listener_web/link/activity.js';
import { WireError } from '../../../listener_web/link/wire.js';

const EPISODE = {
  episode: 12, start_ms: 1764064033101.2, end_ms: 1764064033401.2, duration_ms: 300.0,
  peak_dbfs: -18.2, loudness_dbfs: -24.0, floor_dbfs: -61.5, alerted: true, ongoing: true,
};

describe('parseActivity', () => {
  test("reads the protocol's example", () => {
    assert.deepEqual(parseActivity(JSON.stringify({ change: 'start', ...EPISODE })), {
      change: 'start', episode: 12, startMs: 1764064033101.2, endMs: 1764064033401.2,
      durationMs: 300, peakDbfs: -18.2, loudnessDbfs: -24, floorDbfs: -61.5, alerted: true,
      ongoing: true,
    });
  });

  test('a missing duration is the span from start to end', () => {
    const { duration_ms: _, ...rest } = EPISODE;
    assert.equal(parseActivity(JSON.stringify({ change: 'end', ...rest })).durationMs, 300);
  });

  for (const [field, value, named] of [
    ['change', 'middle', 'activity.change'], ['episode', 0, 'activity.episode'],
    ['peak_dbfs', 'loud', 'activity.peak_dbfs'], ['alerted', 1, 'activity.alerted'],
    ['ongoing', null, 'activity.ongoing'], ['start_ms', undefined, 'activity.start_ms'],
  ]) {
    test(`refuses a bad ${field}, naming it`, () => {
      const event = { change: 'start', ...EPISODE, [field]: value };
      assert.throws(() => parseActivity(JSON.stringify(event)),
        (err) => err instanceof WireError && err.message.startsWith(named));
    });
  }

  test('refuses what is not a JSON object', () => {
    assert.throws(() => parseActivity('[1]'), WireError);
    assert.throws(() => parseActivity('{'), WireError);
  });
});

describe('parseEpisodePage', () => {
  test('reads a page, newest first, and its next page', () => {
    const page = parseEpisodePage(JSON.stringify({
      alerts_enabled: true, episodes: [EPISODE, { ...EPISODE, episode: 11, ongoing: false }],
      next_before: 11,
    }));
    assert.equal(page.alertsEnabled, true);
    assert.deepEqual(page.episodes.map((e) => [e.episode, e.ongoing]), [[12, true], [11, false]]);
    assert.equal(page.nextBefore, 11);
  });

  test('a broadcaster with alerts off has no episodes', () => {
    assert.deepEqual(parseEpisodePage('{"alerts_enabled":false}'),
      { alertsEnabled: false, episodes: [], nextBefore: null });
  });

  test('refuses a bad episode, naming where it is', () => {
    assert.throws(() => parseEpisodePage(JSON.stringify({ episodes: [EPISODE, 'x'] })),
      /episodes\[1\]/);
    assert.throws(() => parseEpisodePage(JSON.stringify({ episodes: {} })), /episodes.episodes/);
  });
});
