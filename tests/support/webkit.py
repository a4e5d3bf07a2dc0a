"""WebKitGTK for the tests: WebKitWebDriver driving MiniBrowser on a private Xvfb display.

WebKitWebDriver (Debian's `webkit2gtk-driver`) speaks classic W3C WebDriver over HTTP,
which httpx talks directly: no Selenium, so nothing is ever downloaded. MiniBrowser needs a
display, so each driver gets its own Xvfb. WebKit resolves names through the system, so the
driver runs in a mount namespace of its own where a private hosts file maps the test's LAN
name to loopback (the machine's /etc/hosts is untouched).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import free_port

DRIVER = "WebKitWebDriver"
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
COMMAND_TIMEOUT_S = 30.0
_START_TIMEOUT_S = 20.0
# MiniBrowser's own toolbar keeps its window at least 447 px wide; shrunk to nothing by this
# GTK style, the window can be as narrow as a phone (set_viewport). The page's form controls
# are WebKit's own drawing, the same size with it or without.
BROWSER_CHROME_CSS = ("* { font-size: 3px; padding: 0; margin: 0; min-width: 0; min-height: 0;"
                      " -gtk-icon-transform: scale(0.3); }\n")


class WebKitError(RuntimeError):
    """The driver or the browser failed, or did not answer in time."""


def start_xvfb(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private X display; returns the server and its DISPLAY value."""
    read_end, write_end = os.pipe()
    with open(workdir / "xvfb.log", "wb") as log:
        proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp", "-screen", "0",
             "1280x900x24"], pass_fds=(write_end,), stdout=log, stderr=log,
            start_new_session=True)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        display = reader.readline().decode().strip()  # written once the server is ready
    if not display:
        proc.kill()
        raise WebKitError(f"Xvfb did not start: {(workdir / 'xvfb.log').read_text()}")
    return proc, f":{display}"


def in_private_hosts(hosts: Path, argv: list[str]) -> list[str]:
    """`argv` run in a mount namespace where `hosts` stands in for /etc/hosts."""
    user_ns = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", *user_ns, "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts), *argv]


class WebKitDriver:
    """One WebKitWebDriver and the MiniBrowser session it drives."""

    def __init__(self, workdir: Path, env: dict[str, str], hosts: dict[str, str]) -> None:
        self._xvfb, display = start_xvfb(workdir)
        hosts_file = workdir / "hosts"
        hosts_file.write_text("127.0.0.1 localhost\n" + "".join(
            f"{address} {name}\n" for name, address in hosts.items()))
        port = free_port()
        self.log_path = workdir / "webkit.log"
        runtime = workdir / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        config = workdir / "config"
        (config / "gtk-3.0").mkdir(parents=True, exist_ok=True)
        (config / "gtk-3.0" / "gtk.css").write_text(BROWSER_CHROME_CSS)
        with open(self.log_path, "wb") as log:
            self._driver = subprocess.Popen(
                in_private_hosts(hosts_file, [DRIVER, f"--port={port}"]),
                env={**os.environ, "DISPLAY": display, "XDG_RUNTIME_DIR": str(runtime),
                     "XDG_CONFIG_HOME": str(config), **env},
                stdout=log, stderr=log, start_new_session=True)
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{port}",
                                  timeout=COMMAND_TIMEOUT_S + 5)
        try:
            self._wait_ready()
            caps = {"browserName": "MiniBrowser", "webkitgtk:browserOptions": {
                "binary": MINIBROWSER, "args": ["--automation"]}}
            session = self._request("POST", "/session",
                                    {"capabilities": {"alwaysMatch": caps}})
            self._session = f"/session/{session['sessionId']}"
            self.command("POST", "/timeouts", {"script": int(COMMAND_TIMEOUT_S * 1000),
                                               "pageLoad": int(COMMAND_TIMEOUT_S * 1000)})
        except BaseException:
            self.close()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._driver.poll() is not None:
                raise WebKitError(f"{DRIVER} exited:\n{self.log_tail()}")
            try:
                self._http.get("/status", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise WebKitError(f"{DRIVER} did not answer:\n{self.log_tail()}")

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TimeoutException:
            raise WebKitError(f"{method} {path}: no answer in time") from None
        value = response.json().get("value")
        if response.status_code != 200:
            raise WebKitError(f"{method} {path}: {value}\n{self.log_tail()}")
        return value

    def command(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One WebDriver command on the session (`path` after /session/{id})."""
        return self._request(method, self._session + path, body)

    def execute(self, script: str) -> Any:
        """Run a function body in the page and return its (awaited) value."""
        return self.command("POST", "/execute/sync", {"script": script, "args": []})

    def click(self, selector: str) -> None:
        """A real click on the first element `selector` matches (user activation)."""
        element = self.command("POST", "/element", {"using": "css selector",
                                                    "value": selector})
        self.command("POST", f"/element/{next(iter(element.values()))}/click", {})

    def set_viewport(self, width: int, height: int) -> None:
        """Size the window so that the page's viewport is `width` x `height` CSS px (the
        window holds a toolbar too: measure, then make up the difference)."""
        inner = "return [window.innerWidth, window.innerHeight]"
        rect = {"width": width, "height": height}
        for _ in range(4):
            self.command("POST", "/window/rect", rect)
            time.sleep(0.2)  # the page's resize comes after the window's
            got_width, got_height = self.execute(inner)
            if (got_width, got_height) == (width, height):
                return
            rect = {"width": rect["width"] + width - got_width,
                    "height": rect["height"] + height - got_height}
        raise WebKitError(f"the viewport stays {got_width}x{got_height}, not {width}x{height}")

    def screenshot(self, path: Path) -> None:
        """Save the viewport as a PNG."""
        path.write_bytes(base64.b64decode(self.command("GET", "/screenshot")))

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the driver and the browser wrote."""
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)

    def close(self) -> None:
        """End the session (briefly), then kill the driver, the browser and the display."""
        if hasattr(self, "_session"):
            with contextlib.suppress(httpx.HTTPError):
                self._http.delete(self._session, timeout=3)
        self._http.close()
        for proc in (self._driver, self._xvfb):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
