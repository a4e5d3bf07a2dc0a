// @ts-check
/**
 * The broadcaster's capture controls (POST /audio/start and /audio/stop), shown only when
 * this page may use them: it was opened with `#token=TOKEN`, or from this machine (the
 * server allows control from loopback when no token is configured).
 */

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The control token from the page's fragment (never sent to the server in the URL).
 * @param {string} hash  location.hash
 * @returns {string | null}
 */
export function tokenFromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  return token ? token : null;
}

/**
 * Wire the capture buttons of `container`.
 * @param {HTMLElement} container  holds #capture-start and #capture-stop
 * @param {(text: string, ok: boolean) => void} report
 */
export function setUpControls(container, report) {
  const token = tokenFromHash(location.hash);
  if (!token && !LOOPBACK.has(location.hostname)) return;
  container.hidden = false;
  for (const [id, action] of [['capture-start', 'start'], ['capture-stop', 'stop']]) {
    const button = container.querySelector(`#${id}`);
    button?.addEventListener('click', async () => {
      /** @type {Record<string, string>} */
      const headers = token ? { Authorization: `Bearer ${token}` } : {};
      try {
        const response = await fetch(`/audio/${action}`, { method: 'POST', headers });
        const body = await response.json();
        report(response.ok ? `capture ${body.state}` : body.error, response.ok);
      } catch (err) {
        report(`capture ${action} failed: ${err}`, false);
      }
    });
  }
}
