// The listener page's layer rules, checked on every file: run with `node --test tests/js/`.
//  - listener_web/worklet/ runs on the audio thread (AudioWorkletGlobalScope): it imports
//    nothing from outside its folder, and uses nothing that scope lacks (no DOM, no network,
//    no WebCodecs, no Worker, no timers).
//  - listener_web/decoding/ runs on the main thread and in the decoder Worker: it touches no
//    DOM, and imports only its own folder (so no UI code, and nothing that touches the DOM).
// JSDoc type imports count as imports; comments and strings are not code.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const WEB = fileURLToPath(new URL('../../listener_web/', import.meta.url));

const DOM = [
  'document', 'window', 'navigator', 'location', 'history', 'localStorage', 'sessionStorage',
  'customElements', 'getComputedStyle', 'matchMedia', 'requestAnimationFrame',
  'cancelAnimationFrame', 'ResizeObserver', 'MutationObserver', 'Element', 'Node', 'Image',
  'Audio', 'alert', 'confirm', 'prompt', /HTML\w*Element/, /SVG\w*Element/,
];
const NOT_IN_WORKLET = [
  'fetch', 'XMLHttpRequest', 'EventSource', 'WebSocket', 'Worker', 'importScripts',
  'AudioDecoder', 'AudioEncoder', 'EncodedAudioChunk', 'AudioData', 'AudioContext',
  'OfflineAudioContext', 'AudioWorkletNode', 'setTimeout', 'setInterval',
];

/** Per folder: the folders it may import from, and the globals it must not use. */
const RULES = {
  worklet: { imports: ['worklet'], forbidden: [...DOM, ...NOT_IN_WORKLET] },
  decoding: { imports: ['decoding'], forbidden: DOM },
};

/**
 * The code of a source: comments, strings and regular expressions blanked (template literals
 * keep their ${...} expressions, which are code).
 * @param {string} source
 */
function codeOf(source) {
  let out = '';
  let last = ''; // the last character of code that is not white space
  const emit = (text) => {
    out += text;
    if (text.trim()) last = text.trim().at(-1);
  };
  const templates = []; // for each open ${ of a template literal, the brace depth it closes at
  let depth = 0;
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (source.startsWith('//', i)) {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? source.length : end + 2;
      emit(' ');
    } else if (c === '"' || c === "'") {
      i = skipString(source, c, i + 1);
      emit('""');
    } else if (c === '`' || (c === '}' && templates.at(-1) === depth)) {
      if (c === '}') templates.pop();
      i = skipString(source, '`', i + 1);
      emit('``');
      if (source.startsWith('${', i - 2)) {
        templates.push(depth);
        emit('${');
      }
    } else if (c === '/' && (last === '' || '(,=:[!&|?{};+-*%<>~^'.includes(last))) {
      i = skipRegex(source, i + 1);
      emit('/x/');
    } else {
      if (c === '{') depth++;
      if (c === '}') depth--;
      emit(c);
      i++;
    }
  }
  return out;
}

/** Past the end of a string, or past the `${` that interrupts a template literal. */
function skipString(source, quote, i) {
  while (i < source.length) {
    if (source[i] === '\\') {
      i += 2;
    } else if (source[i] === quote) {
      return i + 1;
    } else if (quote === '`' && source[i] === '$' && source[i + 1] === '{') {
      return i + 2;
    } else {
      i++;
    }
  }
  return i;
}

/** Past the end of a regular expression literal. */
function skipRegex(source, i) {
  let inClass = false;
  while (i < source.length && source[i] !== '\n') {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) break;
    i++;
  }
  i++;
  while (i < source.length && /[a-z]/.test(source[i])) i++;
  return i;
}

/** Every module a source names: static and dynamic imports, JSDoc types, worker URLs. */
function importsOf(source) {
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bimport\s+['"]([^'"]+)['"]/g,
    /\bnew\s+URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1]));
}

/**
 * What a page file breaks of its folder's rule.
 * @param {string} file  its path under listener_web/, with '/'
 * @param {string} source
 * @returns {string[]}
 */
function problemsOf(file, source) {
  const folder = file.split('/')[0];
  const rule = RULES[folder];
  if (!rule) return [];
  const problems = [];
  for (const name of importsOf(source)) {
    const target = posix.normalize(posix.join(posix.dirname(file), name));
    if (!name.startsWith('.') || !rule.imports.includes(target.split('/')[0])) {
      const ui = target.startsWith('ui/') ? ' (UI code)' : '';
      problems.push(`${file} imports ${name}${ui}: outside ${rule.imports.join(', ')}/`);
    }
  }
  const code = codeOf(source);
  for (const global of rule.forbidden) {
    const name = typeof global === 'string' ? global : global.source;
    const pattern = new RegExp(`(?:(?<![\\w$.])|(?<=\\b(?:globalThis|self)\\.))(${name})\\b`, 'g');
    for (const used of new Set([...code.matchAll(pattern)].map((m) => m[1]))) {
      problems.push(`${file} uses ${used}`);
    }
  }
  return problems;
}

/** @returns {string[]} the page's files, relative to listener_web/, with '/' */
function pageFiles(folder = WEB) {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return pageFiles(path);
    return entry.name.endsWith('.js') ? [relative(WEB, path).split(sep).join('/')] : [];
  });
}

describe('the page layer rules', () => {
  test('hold for every file of the worklet and decoding folders', () => {
    const files = pageFiles();
    assert.ok(files.includes('worklet/worklet.js') && files.includes('decoding/decoder_worker.js'), files);
    const problems = files.flatMap((file) => problemsOf(file, readFileSync(join(WEB, file), 'utf8')));
    assert.deepEqual(problems, []);
  });

  const broken = [
    ['worklet/a.js', "import { Panel } from '../ui/panel.js';", 'worklet/a.js imports ../ui/panel.js (UI code): outside worklet/'],
    ['worklet/a.js', "import { Prefill } from '../decoding/prefill.js';", 'worklet/a.js imports ../decoding/prefill.js: outside worklet/'],
    ['worklet/a.js', 'const answer = await fetch(url);', 'worklet/a.js uses fetch'],
    ['worklet/a.js', 'setTimeout(() => this.flush(), 10);', 'worklet/a.js uses setTimeout'],
    ['worklet/a.js', 'const decoder = new AudioDecoder(init);', 'worklet/a.js uses AudioDecoder'],
    ['decoding/a.js', "const script = document.createElement('script');", 'decoding/a.js uses document'],
    ['decoding/a.js', "globalThis.localStorage.getItem('volume');", 'decoding/a.js uses localStorage'],
    ['decoding/a.js', '/** @param {HTMLCanvasElement} c */\nfunction f(c) { return c instanceof HTMLCanvasElement; }', 'decoding/a.js uses HTMLCanvasElement'],
    ['decoding/a.js', 'const label = `${window.innerWidth} px`;', 'decoding/a.js uses window'],
    ['decoding/a.js', "/** @type {import('../ui/figures.js').FigurePart} */\nlet part;", "decoding/a.js imports ../ui/figures.js (UI code): outside decoding/"],
    ['decoding/a.js', "const { Session } = await import('../session/session.js');", 'decoding/a.js imports ../session/session.js: outside decoding/'],
  ];
  for (const [file, source, expected] of broken) {
    test(`catches: ${expected}`, () => assert.deepEqual(problemsOf(file, source), [expected]));
  }

  test('comments, strings and regular expressions are no use of a global', () => {
    const source = [
      '// the document says why; window.x', '/* navigator */',
      "const a = 'document', b = \"window\", c = `location ${1 + 1} history`;",
      'const d = /document|window/g.test(a);', 'this.document = event.window;',
    ].join('\n');
    assert.deepEqual(problemsOf('decoding/a.js', source), []);
    assert.deepEqual(problemsOf('ui/a.js', 'document.title = "x";'), [], 'the UI may');
  });
});
