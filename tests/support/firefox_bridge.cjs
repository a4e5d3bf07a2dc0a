#!/usr/bin/env node
// Firefox for the Python tests: launches Debian's firefox-esr with puppeteer-core over
// WebDriver BiDi (no geckodriver, no browser download) and obeys one JSON command per line
// on stdin, answering one JSON line per command on stdout: {"id", "ok", "value"|"error"}.
//
//   {"id": 1, "op": "newPage"}                          -> a page id
//   {"id": 2, "op": "initScript", "page": 1, "js": ""}   runs before the page's own scripts
//   {"id": 3, "op": "goto", "page": 1, "url": ""}        waits for the load event
//   {"id": 4, "op": "evaluate", "page": 1, "js": ""}     the value of an expression (awaited)
//   {"id": 5, "op": "click", "page": 1, "selector": ""}  a real click (user activation)
//   {"id": 6, "op": "screenshot", "page": 1, "path": ""}
//   {"id": 7, "op": "closePage", "page": 1}
//   {"id": 8, "op": "activate", "page": 1}               its tab to the front (the others hide)
//
// Commands run concurrently: a frozen tab holds up only the commands sent to it, and the
// Python side decides when to give up. When stdin closes, Firefox's whole process group is
// killed (a frozen content process makes a polite close hang).
'use strict';
const path = require('path');
const readline = require('readline');

const toolsModules = path.join(__dirname, '..', '..', 'tools', 'node_modules');
const puppeteer = require(require.resolve('puppeteer-core', { paths: [toolsModules] }));

const config = JSON.parse(process.argv[2] || '{}');
const pages = new Map();
let nextPage = 1;
let browser = null;

function send(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

function killFirefox() {
  const proc = browser && browser.process();
  // puppeteer starts Firefox in a process group of its own, content processes included.
  if (proc && proc.pid) {
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** @param {any} cmd */
async function run(cmd) {
  const page = pages.get(cmd.page);
  switch (cmd.op) {
    case 'newPage': {
      const created = await browser.newPage();
      created.on('pageerror', (err) => process.stderr.write(`pageerror: ${err.message}\n`));
      const id = nextPage++;
      pages.set(id, created);
      return id;
    }
    case 'initScript': await page.evaluateOnNewDocument(cmd.js); return null;
    case 'goto': await page.goto(cmd.url, { waitUntil: 'load', timeout: cmd.timeoutMs }); return null;
    case 'evaluate': return await page.evaluate(cmd.js);
    case 'click': await page.click(cmd.selector); return null;
    case 'screenshot': await page.screenshot({ path: cmd.path }); return null;
    case 'viewport': await page.setViewport({ width: cmd.width, height: cmd.height }); return null;
    case 'activate': await page.bringToFront(); return null; // BiDi browsingContext.activate
    case 'closePage': pages.delete(cmd.page); await page.close(); return null;
    default: throw new Error(`unknown op ${cmd.op}`);
  }
}

async function main() {
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: config.executablePath,
    userDataDir: config.profileDir,
    headless: true,
    env: { ...process.env, ...(config.env || {}) },
    extraPrefsFirefox: config.prefs || {},
    protocolTimeout: 60_000,
  });
  send({ id: 0, ok: true, value: { pid: browser.process().pid } });
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const cmd = JSON.parse(line);
    run(cmd).then(
      (value) => send({ id: cmd.id, ok: true, value: value === undefined ? null : value }),
      (err) => send({ id: cmd.id, ok: false, error: String((err && err.message) || err) }));
  });
  lines.on('close', () => { killFirefox(); process.exit(0); });
}

main().catch((err) => {
  send({ id: 0, ok: false, error: String((err && err.stack) || err) });
  killFirefox();
  process.exit(1);
});
