// What the page says on plain http, for each browser's set of missing features.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { insecureNote } from '../../../listener_web/ui/insecure_note.js';

describe('insecureNote()', () => {
  test('Chromium and Firefox: both turned off, a fallback decoder and output', () => {
    const text = insecureNote({ webCodecs: true, worklet: true }, false);
    assert.equal(text, 'On plain http this browser turns off WebCodecs and AudioWorklet: ' +
      'this page plays through a fallback decoder and output, with more latency.');
  });

  test('WebKit keeps WebCodecs: only the output is a fallback', () => {
    const text = insecureNote({ webCodecs: false, worklet: true }, false);
    assert.equal(text, 'On plain http this browser turns off AudioWorklet: ' +
      'this page plays through a fallback output, with more latency.');
    assert.doesNotMatch(text, /WebCodecs/);
  });

  test('with an https page to link to', () => {
    const text = insecureNote({ webCodecs: true, worklet: true }, true);
    assert.match(text, /^On plain http this browser turns off WebCodecs and AudioWorklet, and this page plays through a fallback decoder and output with more latency\. /);
    assert.match(text, /The https page has them, and plays with the lowest latency:$/);
  });

  test('nothing to say when nothing is missing', () => {
    assert.equal(insecureNote({ webCodecs: false, worklet: false }, true), null);
  });
});
