// Tests for listener_web/link/connection.js, with a stand-in EventSource and fetch: run with
// `node --test tests/js/`.
import assert from 'node:assert/strict';
import { afterEach, before, describe, test } from 'node:test';

import { CatchUp } from '../../../listener_web/link/catch_up.js';
import { Connection } from '../../../listener_web/link/connection.js';

/** A stand-in EventSource: the test emits the server's events. */
class FakeEventSource {
  static CLOSED = 2;

  static opened = [];

  constructor(url) {
    this.url = url;
    this.readyState = 1;
    this.listeners = new Map();
    FakeEventSource.opened.push(this);
  }

  addEventListener(type, listener) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  emit(type, data = '', lastEventId = '') {
    for (const listener of this.listeners.get(type) ?? []) listener({ data, lastEventId });
  }

  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
}

const config = (nextId, liveId, state = 'running') => JSON.stringify({
  codec: 'opus', sample_rate_hz: 48000, channels: 1, frame_ms: 20, frame_samples: 960,
  source: 'tone:440', state, server_ms: 1000, next_id: nextId, live_id: liveId,
});

/** A connection whose events are written down, as the session would get them. */
function connect(urls = { stream: '/audio/stream?key=k', telemetry: '/t', status: '/status' }) {
  const seen = [];
  const connection = new Connection(urls, {
    onConfig: (c, localMs) => seen.push(['config', c.nextId, c.liveId, typeof localMs]),
    onPacket: (id) => seen.push(['packet', id]),
    onClock: (clock) => seen.push(['clock', clock.id]),
    onState: (change) => seen.push(['state', change.state]),
    onGap: (gap) => seen.push(['gap', gap.nextId]),
    onActivity: (change) => seen.push(['activity', change.change, change.episode]),
    onReconnecting: (text) => seen.push(['reconnecting', text]),
    onRefused: (text) => seen.push(['refused', text]),
  });
  return { connection, seen, source: () => FakeEventSource.opened.at(-1) };
}

before(() => {
  globalThis.EventSource = FakeEventSource;
});

afterEach(() => {
  FakeEventSource.opened.length = 0;
  delete globalThis.fetch;
});

describe('Connection', () => {
  test('asks for the newest audio first, then resumes after the newest packet handled', () => {
    const { connection, source } = connect();
    connection.open();
    assert.equal(source().url, '/audio/stream?key=k&backlog_ms=100');
    source().emit('config', config(7, 7));
    source().emit('message', 'AQ==', '7');
    connection.open();
    assert.equal(source().url, '/audio/stream?key=k&last_id=7');
    assert.equal(connection.lastId, 7);
    connection.close();
  });

  test('a seek opens a replay as far behind live as asked, resumed at that distance; live again', () => {
    const { connection, seen, source } = connect();
    connection.open();
    source().emit('config', config(7, 7));
    source().emit('message', 'AQ==', '7');
    connection.seek(30000.4);
    assert.equal(source().url, '/audio/stream?key=k&behind_ms=30000');
    const replay = JSON.parse(config(3, 18));
    source().emit('config', JSON.stringify({ ...replay, replay: { behind_ms: 30000 } }));
    source().emit('message', 'AQ==', '3');
    assert.equal(connection.reconnects, 0, 'a seek is no reconnect');
    connection.open(); // the stream stalled, say
    assert.equal(source().url, '/audio/stream?key=k&behind_ms=30000&last_id=3');
    source().emit('config', JSON.stringify({ ...replay, next_id: 4, replay: { behind_ms: 30000 } }));
    assert.equal(connection.reconnects, 1);
    assert.equal(connection.catchUp.active, false, 'a replay has no backlog to skip');
    connection.seek(null, 180.4); // as much audio at once as the jitter buffer's target
    assert.equal(source().url, '/audio/stream?key=k&backlog_ms=180');
    connection.seek(null);
    assert.equal(source().url, '/audio/stream?key=k&backlog_ms=100');
    assert.deepEqual(seen.filter(([type]) => type === 'config').map(([, nextId]) => nextId), [7, 3, 4]);
    connection.close();
  });

  test("holds what arrives while the player loads; the config's first audio reaches past it", () => {
    const { connection, seen, source } = connect();
    connection.hold();
    connection.open();
    source().emit('config', config(10, 11));
    for (const id of [10, 11, 12]) source().emit('message', 'AQ==', String(id));
    assert.deepEqual(seen, []);
    connection.release();
    assert.deepEqual(seen, [
      ['config', 10, 13, 'number'], ['packet', 10], ['packet', 11], ['packet', 12],
    ]);
    connection.close();
  });

  test('hands on sound episodes, and notes when anything last arrived, held or not', () => {
    const { connection, seen, source } = connect();
    connection.hold();
    connection.open();
    assert.equal(connection.lastArrivalMs, null);
    source().emit('config', config(10, 10));
    const held = connection.lastArrivalMs;
    assert.equal(typeof held, 'number');
    source().emit('activity', JSON.stringify({
      change: 'start', episode: 3, start_ms: 1000, end_ms: 1300, duration_ms: 300,
      peak_dbfs: -18, loudness_dbfs: -24, floor_dbfs: -60, alerted: true, ongoing: true,
    }));
    assert.ok(connection.lastArrivalMs >= held);
    connection.release();
    assert.deepEqual(seen, [['config', 10, 10, 'number'], ['activity', 'start', 3]]);
    const before = connection.lastArrivalMs;
    source().emit('error');
    assert.equal(connection.lastArrivalMs, before, 'an error is no arrival');
    connection.close();
  });

  test('a dropped hold opens afresh on release', () => {
    const { connection, seen, source } = connect();
    connection.hold();
    connection.open();
    source().emit('config', config(10, 10));
    connection.drop();
    connection.release();
    assert.equal(FakeEventSource.opened.length, 2);
    assert.equal(FakeEventSource.opened[0].readyState, FakeEventSource.CLOSED);
    assert.deepEqual(seen, []);
    source().emit('config', config(20, 20));
    assert.deepEqual(seen, [['config', 20, 20, 'number']]);
    connection.close();
  });

  test('a live reconnect that resumes far behind live starts again at the live edge', () => {
    const { connection, seen, source } = connect();
    connection.open();
    source().emit('config', config(1, 1));
    source().emit('message', 'AQ==', '1');
    source().emit('error'); // EventSource reconnects by itself, with Last-Event-ID: 1
    source().emit('config', config(2, 2 + 501)); // 501 frames of 20 ms from the archive: 10.02 s
    assert.equal(FakeEventSource.opened.length, 2);
    assert.equal(source().url, '/audio/stream?key=k&backlog_ms=100');
    assert.equal(FakeEventSource.opened[0].readyState, FakeEventSource.CLOSED);
    assert.deepEqual(seen.slice(-1), [['gap', 503]]);
    assert.equal(connection.restartsAtLive, 1);
    source().emit('config', config(700, 705));
    assert.deepEqual([connection.reconnects, connection.catchUp.active], [1, true]);
    // 10 s behind is near enough: resumed and caught up.
    source().emit('message', 'AQ==', '700');
    source().emit('error');
    source().emit('config', config(701, 701 + 500));
    assert.deepEqual([FakeEventSource.opened.length, connection.reconnects], [2, 2]);
    connection.close();
  });

  test('a resume into a restarted server, far behind, starts at live and says it restarted', () => {
    const { connection, source } = connect();
    const gaps = [];
    connection.events.onGap = (gap) => gaps.push(gap);
    connection.open();
    source().emit('config', config(1000, 1000));
    source().emit('message', 'AQ==', '1000');
    source().emit('error');
    source().emit('config', JSON.stringify({ ...JSON.parse(config(1001, 90_000)), epoch: 80_000 }));
    assert.deepEqual(gaps, [{ lost: null, nextId: 90_000, reason: 'restart' }]);
    assert.equal(source().url, '/audio/stream?key=k&backlog_ms=100');
    connection.close();
  });

  test("the page's own reopen long after the last packet starts at the live edge", (t) => {
    const { connection, source } = connect();
    let now = 1000;
    t.mock.method(performance, 'now', () => now);
    connection.open();
    source().emit('config', config(1, 1));
    source().emit('message', 'AQ==', '1');
    now += 9000;
    connection.open();
    assert.equal(source().url, '/audio/stream?key=k&last_id=1');
    now += 2000; // 11 s since the packet
    connection.open();
    assert.equal(source().url, '/audio/stream?key=k&backlog_ms=100');
    connection.close();
  });

  test('the battery saver asks for bundles, and a bigger start; switched, the stream reopens where it was', () => {
    const { connection, source } = connect();
    connection.setBundleMs(500); // before the first stream: nothing to reopen
    assert.equal(FakeEventSource.opened.length, 0);
    connection.open();
    assert.equal(source().url, '/audio/stream?key=k&backlog_ms=600&bundle_ms=500');
    source().emit('config', config(7, 7));
    source().emit('message', 'AQ==', '7');
    connection.setBundleMs(0);
    assert.equal(source().url, '/audio/stream?key=k&last_id=7');
    connection.setBundleMs(0);
    assert.equal(FakeEventSource.opened.length, 2, 'the same: no reopen');
    connection.close();
  });

  test('the battery saver switched while the player loads: the stream opens afresh on release', () => {
    const { connection, source } = connect();
    connection.hold();
    connection.open();
    source().emit('config', config(7, 7));
    connection.setBundleMs(500);
    assert.equal(source().readyState, FakeEventSource.CLOSED);
    connection.release();
    assert.equal(source().url, '/audio/stream?key=k&backlog_ms=600&bundle_ms=500');
    connection.close();
  });

  test('counts reconnects, and catches up with live after each', () => {
    const { connection, source } = connect();
    connection.open();
    source().emit('config', config(1, 1));
    assert.equal(connection.catchUp.active, false);
    source().emit('error');
    source().emit('config', config(5, 9));
    assert.deepEqual([connection.reconnects, connection.connected, connection.catchUp.active], [1, true, true]);
    connection.close();
  });

  test('reopens a stream silent for 3 s while capture runs, not while it is stopped', () => {
    const { connection, seen, source } = connect();
    connection.open();
    source().emit('config', config(1, 1, 'stopped'));
    assert.equal(connection.checkStall(performance.now() + 10_000), false);
    source().emit('state', JSON.stringify({ state: 'running', source: 'tone:440' }));
    assert.equal(connection.checkStall(performance.now() + 2_000), false);
    assert.equal(connection.checkStall(performance.now() + 3_500), true);
    assert.equal(FakeEventSource.opened.length, 2);
    assert.deepEqual(seen.at(-1), ['reconnecting', 'the stream stalled: reconnecting…']);
    connection.close();
  });

  test('a refused key ends the session; another refusal is tried again, later each time', async () => {
    const answers = [
      { status: 503, json: async () => ({}) },
      { status: 403, statusText: 'Forbidden', json: async () => ({ error: 'wrong listening key' }) },
    ];
    globalThis.fetch = async () => answers.shift();
    const { connection, seen, source } = connect();
    connection.open();
    source().readyState = FakeEventSource.CLOSED;
    source().emit('error');
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.match(seen.at(-1)[1], /^the broadcaster refused the stream \(too many listeners\?\): trying again in [01] s…$/);
    assert.equal(connection.refusals, 1);
    source().emit('error');
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(seen.at(-1), ['refused', 'the broadcaster refused the stream: wrong listening key']);
    connection.close();
  });

  test('says why it reconnects when the connection drops', () => {
    const { connection, seen, source } = connect();
    connection.open();
    source().emit('config', config(1, 1));
    source().emit('error');
    assert.deepEqual(seen.at(-1), ['reconnecting', 'cannot reach the broadcaster: reconnecting…']);
    source().emit('state', JSON.stringify({ state: 'shutdown', source: 'tone:440' }));
    source().emit('error');
    assert.deepEqual(seen.at(-1), ['reconnecting', 'the broadcaster has shut down: reconnecting…']);
    connection.close();
  });
});

describe('CatchUp', () => {
  test('plays live packets and learns their age; after a reconnect skips stale ones until live', () => {
    const catchUp = new CatchUp();
    assert.equal(catchUp.check(60, 0, 20), 'play');
    catchUp.begin();
    assert.equal(catchUp.check(900, 100, 20), 'skip');
    assert.equal(catchUp.check(880, 120, 20), 'skip');
    assert.equal(catchUp.check(70, 140, 20), 'live again');
    assert.equal(catchUp.check(900, 160, 20), 'play');
    assert.equal(catchUp.skippedFrames, 2);
  });

  test('plays the backlog anyway after 2 s, and when ages are unknown', () => {
    const catchUp = new CatchUp();
    catchUp.check(60, 0, 20);
    catchUp.begin();
    assert.equal(catchUp.check(900, 1000, 20), 'skip');
    assert.equal(catchUp.check(900, 3000, 20), 'live again');
    catchUp.begin();
    assert.equal(catchUp.check(null, 3100, 20), 'live again');
  });
});
