// Tests for listener_web/link/wire.js: run with `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  WireError,
  base64ToBytes,
  parseAudioId,
  parseClock,
  parseConfig,
  parseGap,
  parseState,
} from '../../../listener_web/link/wire.js';

// The examples of docs/protocol.md, verbatim.
const CONFIG = {
  codec: 'opus',
  sample_rate_hz: 48000,
  channels: 1,
  frame_ms: 20.0,
  frame_samples: 960,
  bitrate_bps: 64000,
  application: 'audio',
  codec_delay_ms: 6.5,
  source: 'tone:440',
  state: 'running',
  server_ms: 1764064033123.4,
  next_id: 1234,
  live_id: 1234,
  bundle_ms: 0,
};

function withConfig(changes) {
  return JSON.stringify({ ...CONFIG, ...changes });
}

function without(key) {
  const copy = { ...CONFIG };
  delete copy[key];
  return JSON.stringify(copy);
}

describe('parseConfig', () => {
  test('reads the documented example into camelCase fields', () => {
    assert.deepEqual(parseConfig(JSON.stringify(CONFIG)), {
      codec: 'opus',
      sampleRateHz: 48000,
      channels: 1,
      frameMs: 20,
      frameSamples: 960,
      bitrateBps: 64000,
      application: 'audio',
      codecDelayMs: 6.5,
      source: 'tone:440',
      state: 'running',
      serverMs: 1764064033123.4,
      nextId: 1234,
      liveId: 1234,
      replayBehindMs: null,
      bundleMs: 0,
      epoch: null,
    });
  });

  test("reads a replay's distance behind live; null or absent is live", () => {
    assert.equal(parseConfig(withConfig({ replay: { behind_ms: 30000 } })).replayBehindMs, 30000);
    assert.equal(parseConfig(withConfig({ replay: null })).replayBehindMs, null);
    assert.throws(() => parseConfig(withConfig({ replay: 5 })), /config\.replay/);
    assert.throws(() => parseConfig(withConfig({ replay: { behind_ms: -1 } })), /replay\.behind_ms/);
  });

  test('takes live_id for next_id from a server that does not send it', () => {
    assert.equal(parseConfig(without('live_id')).liveId, 1234);
    assert.equal(parseConfig(withConfig({ live_id: 1240 })).liveId, 1240);
  });

  test('reads the bundles granted; none from a server that does not say', () => {
    assert.equal(parseConfig(withConfig({ bundle_ms: 500 })).bundleMs, 500);
    assert.equal(parseConfig(without('bundle_ms')).bundleMs, 0);
  });

  test('takes no codec delay from a server that does not say', () => {
    assert.equal(parseConfig(without('codec_delay_ms')).codecDelayMs, 0);
  });

  test('accepts stereo, a stopped state and missing informative fields', () => {
    const cfg = parseConfig(
      JSON.stringify({ ...CONFIG, channels: 2, state: 'stopped', bitrate_bps: undefined }),
    );
    assert.equal(cfg.channels, 2);
    assert.equal(cfg.state, 'stopped');
    assert.equal(cfg.bitrateBps, null);
    assert.equal(parseConfig(without('application')).application, null);
  });

  test('ignores unknown keys', () => {
    assert.equal(parseConfig(withConfig({ future_field: [1, 2] })).source, 'tone:440');
  });

  for (const key of [
    'codec',
    'sample_rate_hz',
    'channels',
    'frame_ms',
    'frame_samples',
    'source',
    'state',
    'server_ms',
    'next_id',
  ]) {
    test(`rejects a config without ${key}`, () => {
      assert.throws(() => parseConfig(without(key)), (err) => {
        assert.ok(err instanceof WireError);
        assert.match(err.message, new RegExp(key));
        return true;
      });
    });
  }

  const bad = {
    codec: ['pcm', 'OPUS', null],
    channels: [0, 3, 1.5, '1'],
    sample_rate_hz: [0, -48000, 48000.5, '48000'],
    frame_ms: [0, -20, '20', null],
    frame_samples: [0, 960.5],
    source: [42, null],
    state: ['paused', '', null],
    server_ms: ['now', null, true],
    next_id: [-1, 1.5, '7'],
    live_id: [-1, 1.5, '7', null],
    bitrate_bps: [0, '64k'],
    application: [3],
    codec_delay_ms: [-1, 1001, '6.5', null],
    bundle_ms: [-1, 2001, '500', null],
  };
  for (const [key, values] of Object.entries(bad)) {
    for (const value of values) {
      test(`rejects ${key} = ${JSON.stringify(value)}`, () => {
        assert.throws(() => parseConfig(withConfig({ [key]: value })), WireError);
      });
    }
  }

  for (const text of ['', 'not json', '{"codec":', '[]', 'null', '"opus"', '42']) {
    test(`rejects the payload ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseConfig(text), WireError);
    });
  }
});

describe('parseClock', () => {
  test('reads the documented example', () => {
    const text = '{"id":1234,"capture_ms":1764064033101.2,"server_ms":1764064033123.4}';
    assert.deepEqual(parseClock(text), {
      id: 1234,
      captureMs: 1764064033101.2,
      serverMs: 1764064033123.4,
    });
  });

  test('rejects missing or mistyped fields', () => {
    assert.throws(() => parseClock('{"id":1,"capture_ms":5}'), /server_ms/);
    assert.throws(() => parseClock('{"id":-1,"capture_ms":5,"server_ms":6}'), /clock\.id/);
    assert.throws(() => parseClock('{"id":1,"capture_ms":"5","server_ms":6}'), /capture_ms/);
    assert.throws(() => parseClock('{"id":1,'), WireError);
  });
});

describe('parseState', () => {
  test('reads both states', () => {
    assert.deepEqual(parseState('{"state":"stopped","source":"tone:440"}'), {
      reason: null,
      state: 'stopped',
      source: 'tone:440',
    });
    assert.equal(parseState('{"state":"running","source":"mic: USB Audio"}').source, 'mic: USB Audio');
  });

  test('reads offline with its reason, and shutdown', () => {
    const offline = parseState('{"state":"offline","source":"mic","reason":"unplugged"}');
    assert.deepEqual(offline, { state: 'offline', source: 'mic', reason: 'unplugged' });
    assert.equal(parseState('{"state":"shutdown","source":"mic"}').state, 'shutdown');
  });

  test('rejects unknown states and a missing source', () => {
    assert.throws(() => parseState('{"state":"paused","source":"x"}'), /state\.state/);
    assert.throws(() => parseState('{"state":"running"}'), /state\.source/);
  });
});

describe('parseGap', () => {
  test('reads the documented example', () => {
    assert.deepEqual(parseGap('{"lost":37,"next_id":5012}'), {
      lost: 37,
      nextId: 5012,
      reason: 'behind',
    });
    assert.deepEqual(parseGap('{"lost":null,"next_id":9,"reason":"restart"}'), {
      lost: null,
      nextId: 9,
      reason: 'restart',
    });
    assert.deepEqual(parseGap('{"lost":12,"next_id":9,"reason":"missing"}'), {
      lost: 12,
      nextId: 9,
      reason: 'missing',
    });
    assert.throws(() => parseGap('{"lost":1,"next_id":9,"reason":"bored"}'), /gap\.reason/);
  });

  test('rejects negative or missing counts', () => {
    assert.throws(() => parseGap('{"lost":-1,"next_id":5012}'), /gap\.lost/);
    assert.throws(() => parseGap('{"lost":3}'), /gap\.next_id/);
  });
});

describe('parseAudioId', () => {
  test('reads decimal ids', () => {
    assert.equal(parseAudioId('0'), 0);
    assert.equal(parseAudioId('1234'), 1234);
  });

  test('rejects anything else', () => {
    for (const text of ['', '-1', '1.5', '12a', ' 1', '1e3', '9'.repeat(16)]) {
      assert.throws(() => parseAudioId(text), WireError, text);
    }
  });
});

describe('base64ToBytes', () => {
  test('decodes to the original bytes', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const n of [1, 2, 3, 4, 80, 256]) {
      const text = Buffer.from(bytes.subarray(0, n)).toString('base64');
      assert.deepEqual(base64ToBytes(text), bytes.subarray(0, n));
    }
  });

  test('rejects empty, unpadded, url-safe and garbage input', () => {
    for (const text of ['', 'AQ', 'AQI', 'A', '-_8=', 'AA==AA==', 'AQ I=', 'not base64!']) {
      assert.throws(() => base64ToBytes(text), WireError, text);
    }
  });
});
