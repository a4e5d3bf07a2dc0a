// @ts-check
/**
 * Reports the page's figures to the server (docs/protocol.md, POST /audio/telemetry): the
 * first as soon as the latency is known (and what the page reads of the output device), then
 * every REPORT_EVERY_MS. A refusal is a bug
 * here: said once on the console. An unreachable server is the stream's to report.
 */
import { REPORT_EVERY_MS, buildReport } from './report.js';

/** When the session's figures are due at the server, and their sending. */
export class Reporter {
  /**
   * @param {string} url  POST /audio/telemetry, with the page's key
   * @param {number} tickMs  how often the session offers its figures
   */
  constructor(url, tickMs) {
    this.url = url;
    this.tickMs = tickMs;
    this.lastReportMs = -Infinity;
    this.latencyReported = false;
    this.refused = false;
  }

  /**
   * The figures now: sent when a report is due.
   * @param {import('./report.js').Figures} figures
   * @param {number} nowMs  performance.now()
   */
  offer(figures, nowMs) {
    const sinceMs = nowMs - this.lastReportMs;
    // The first report waits for what the page will learn of the output device.
    const known = figures.latencyMs !== null && figures.outputSettled;
    const first = !this.latencyReported && known;
    if (sinceMs >= REPORT_EVERY_MS || (first && sinceMs >= 2 * this.tickMs)) {
      this.lastReportMs = nowMs;
      this.latencyReported ||= known;
      this.send(figures);
    }
  }

  /** @param {import('./report.js').Figures} figures */
  send(figures) {
    fetch(this.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(buildReport(figures)),
    }).then(async (response) => {
      if (response.ok || this.refused) return;
      this.refused = true;
      const answer = await response.json().catch(() => ({}));
      console.warn(`broadcaster: the server refused the telemetry report (${response.status}):`,
        answer.error ?? response.statusText);
    }, () => {});
  }
}
