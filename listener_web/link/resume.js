// @ts-check
/**
 * Where a live connection (re)starts, pure: the query of /audio/stream, and when not to
 * resume. The server serves `Last-Event-ID` from its archive across the whole retention
 * (docs/protocol.md): a live listener back after an hour away would be sent the hour, and
 * its player would skip it all, frame by frame, to get back to live. A live listener wants
 * live: past RESUME_MAX_BEHIND_MS it starts again at the live edge, as a first connection
 * does. A replay always resumes (its listener chose to hear it all).
 */

/** A live connection that would resume further behind live than this starts at live. */
export const RESUME_MAX_BEHIND_MS = 10000;

/**
 * @typedef {import('./wire.js').StreamConfig} StreamConfig
 *
 * @typedef {object} StreamStart  what a connection asks for
 * @property {number | null} behindMs  a replay's distance behind live; null: live
 * @property {number | null} afterId  resume after this id; null: a fresh start
 * @property {number} backlogMs  a fresh live start's audio (backlog_ms)
 * @property {number} bundleMs  frames in bundles of this long (0: frame by frame)
 */

/**
 * Whether a connection resumes from an earlier process of the server (its ids are below
 * this process's epoch: docs/protocol.md): ids do not count frames across the restart.
 * @param {StreamConfig} config
 */
export function crossesRestart(config) {
  return config.epoch !== null && config.nextId < config.epoch;
}

/**
 * How far behind live a connection starts, by its `config`: the frames it will send first
 * that were captured before it (a resume's or a backlog's). Across a restart, at least the
 * new process's frames (the earlier one's left are not counted).
 * @param {StreamConfig} config
 */
export function startsBehindMs(config) {
  const from = crossesRestart(config) ? /** @type {number} */ (config.epoch) : config.nextId;
  return Math.max(0, config.liveId - from) * config.frameMs;
}

/**
 * Whether a live connection resumed too far behind live (then open it again at live).
 * @param {StreamConfig} config
 */
export function resumedTooFar(config) {
  return config.replayBehindMs === null && startsBehindMs(config) > RESUME_MAX_BEHIND_MS;
}

/**
 * The id a live stream reopened now resumes after: the newest handled, unless it arrived
 * so long ago that the resume would be far behind live (then null: the live edge).
 * @param {number | null} lastId
 * @param {number | null} lastPacketMs  when it arrived (performance.now())
 * @param {number} nowMs  performance.now()
 * @returns {number | null}
 */
export function liveResumeAfter(lastId, lastPacketMs, nowMs) {
  if (lastId === null || lastPacketMs === null) return null;
  return nowMs - lastPacketMs > RESUME_MAX_BEHIND_MS ? null : lastId;
}

/**
 * The query of /audio/stream for a start (docs/protocol.md).
 * @param {StreamStart} start
 * @returns {string}
 */
export function streamQuery({ behindMs, afterId, backlogMs, bundleMs }) {
  const after = afterId === null ? null : `last_id=${afterId}`;
  const resume = behindMs === null
    ? after ?? `backlog_ms=${Math.round(backlogMs)}`
    : `behind_ms=${Math.round(behindMs)}${after ? `&${after}` : ''}`;
  return bundleMs > 0 ? `${resume}&bundle_ms=${Math.round(bundleMs)}` : resume;
}
