// Tests for listener_web/session/alert_policy.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  DEFAULT_SETTINGS,
  EpisodeList,
  alertActions,
  bannerText,
  clockText,
  durationText,
  levelText,
  notificationNote,
} from '../../../listener_web/session/alert_policy.js';

const NOON = new Date(2026, 11, 6, 12, 0, 0).getTime();

/** An episode as link/activity.js gives it. */
function episode(number, startMs, more = {}) {
  return {
    episode: number, startMs, endMs: startMs + 300, durationMs: 300, peakDbfs: -18.2,
    loudnessDbfs: -24, floorDbfs: -60, alerted: true, ongoing: true, ...more,
  };
}

const ON = { ...DEFAULT_SETTINGS, alertMe: true };

describe('alertActions', () => {
  test("an alerted episode's start alerts, in every way the listener chose", () => {
    const change = { change: 'start', ...episode(1, NOON) };
    assert.deepEqual(alertActions(change, ON, null),
      { banner: true, vibrate: true, chime: true, notify: true });
    assert.equal(alertActions(change, { ...ON, chime: false }, null).chime, false);
  });

  test('nothing alerts with "Alert me" off, nor an episode within the cooldown', () => {
    const none = { banner: false, vibrate: false, chime: false, notify: false };
    assert.deepEqual(alertActions({ change: 'start', ...episode(1, NOON) }, DEFAULT_SETTINGS, null), none);
    assert.deepEqual(alertActions({ change: 'start', ...episode(2, NOON, { alerted: false }) }, ON, null), none);
  });

  test('the end updates the banner of its own episode only, and alerts no more', () => {
    const end = { change: 'end', ...episode(4, NOON, { ongoing: false }) };
    assert.deepEqual(alertActions(end, ON, 4), { banner: true, vibrate: false, chime: false, notify: false });
    assert.equal(alertActions(end, ON, 3).banner, false);
    assert.equal(alertActions(end, ON, null).banner, false, 'dismissed: stays dismissed');
  });
});

describe('texts', () => {
  test('time, level and duration', () => {
    assert.equal(clockText(new Date(2026, 0, 2, 8, 5, 9, 700).getTime()), '08:05:09');
    assert.equal(levelText(-18.6), '\u221219 dBFS');
    assert.equal(durationText(episode(1, 0)), 'ongoing');
    assert.equal(durationText(episode(1, 0, { ongoing: false, durationMs: 2340 })), '2.3 s');
    assert.equal(durationText(episode(1, 0, { ongoing: false, durationMs: 61_400 })), '61 s');
  });

  test('the banner says when, how loud, and whether it goes on', () => {
    const at = new Date(2026, 0, 2, 21, 30, 0).getTime();
    assert.equal(bannerText(episode(1, at)), 'Sound at 21:30:00 · peak \u221218 dBFS · ongoing');
    assert.equal(bannerText(episode(1, at, { ongoing: false, durationMs: 1500 })),
      'Sound at 21:30:00 · peak \u221218 dBFS · lasted 1.5 s');
  });
});

describe('EpisodeList', () => {
  test("lists today's episodes newest first, from the server then the events", () => {
    const list = new EpisodeList();
    const yesterday = NOON - 24 * 3600_000;
    list.load([episode(3, NOON - 1000, { ongoing: false }), episode(2, NOON - 5000, { ongoing: false }),
      episode(1, yesterday, { ongoing: false })], NOON);
    assert.deepEqual(list.episodes.map((e) => e.episode), [3, 2]);
    assert.equal(list.soundNow, false);
    list.apply({ change: 'start', ...episode(4, NOON) }, NOON);
    assert.deepEqual(list.episodes.map((e) => e.episode), [4, 3, 2]);
    assert.equal(list.soundNow, true);
    list.apply({ change: 'end', ...episode(4, NOON, { ongoing: false, durationMs: 900 }) }, NOON);
    assert.deepEqual(list.episodes.map((e) => [e.episode, e.ongoing, e.durationMs]).slice(0, 1),
      [[4, false, 900]]);
    assert.equal(list.soundNow, false);
    assert.equal('change' in list.episodes[0], false);
  });

  test('an event that came before the list arrived is kept, not undone by it', () => {
    const list = new EpisodeList();
    list.apply({ change: 'end', ...episode(5, NOON, { ongoing: false }) }, NOON);
    list.load([episode(5, NOON), episode(4, NOON - 9000)], NOON);
    assert.deepEqual(list.episodes.map((e) => [e.episode, e.ongoing]), [[5, false], [4, true]]);
  });

  test('a lost link cuts off what was under way, until its end comes after all', () => {
    const list = new EpisodeList();
    list.apply({ change: 'start', ...episode(6, NOON) }, NOON);
    list.linkLost();
    assert.equal(list.soundNow, false);
    assert.equal(durationText(list.episodes[0]), 'cut off');
    list.apply({ change: 'end', ...episode(6, NOON, { ongoing: false, durationMs: 1200 }) }, NOON);
    assert.equal(durationText(list.episodes[0]), '1.2 s');
  });

  test("a restarted server's episode 1 is another episode", () => {
    const list = new EpisodeList();
    list.apply({ change: 'start', ...episode(1, NOON - 60_000) }, NOON);
    list.apply({ change: 'start', ...episode(1, NOON) }, NOON);
    assert.equal(list.episodes.length, 2);
  });
});

describe('notificationNote', () => {
  test('says why there is no notification, or nothing when there is one', () => {
    assert.equal(notificationNote({ supported: true, secure: true, permission: 'granted' }), null);
    assert.match(notificationNote({ supported: true, secure: false, permission: 'default' }), /https/);
    assert.match(notificationNote({ supported: false, secure: true, permission: 'unsupported' }),
      /no system notifications/);
    assert.match(notificationNote({ supported: true, secure: true, permission: 'denied' }), /blocked/);
    assert.match(notificationNote({ supported: true, secure: true, permission: 'default' }), /not allowed/);
  });
});
