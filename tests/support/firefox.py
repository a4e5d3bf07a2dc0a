"""Firefox ESR for the tests, through puppeteer-core over WebDriver BiDi.

A small Node program (firefox_bridge.cjs) launches Debian's `firefox-esr` and takes one JSON
command per line; this module runs it in a process group of its own, waits for each answer
with a timeout (a frozen tab must fail a test, never hang the suite), and kills Firefox's
and the bridge's process groups when done.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.support.server import ROOT

FIREFOX_PATH = "/usr/bin/firefox-esr"
BRIDGE = Path(__file__).with_name("firefox_bridge.cjs")
COMMAND_TIMEOUT_S = 30.0
# Sound without a tap (the tests press Start with a real click anyway), no first-run noise.
PREFS: dict[str, object] = {
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
}


class FirefoxError(RuntimeError):
    """Firefox or its bridge failed, or did not answer in time."""


class FirefoxBridge:
    """One Firefox process, commanded through the Node bridge."""

    def __init__(self, workdir: Path, env: dict[str, str], prefs: dict[str, object]) -> None:
        home = workdir / "home"
        profile = workdir / "profile"
        for folder in (home, profile):
            folder.mkdir(parents=True, exist_ok=True)
        self._stderr = open(workdir / "firefox.log", "wb")  # noqa: SIM115 (closed in close())
        config = {"executablePath": FIREFOX_PATH, "profileDir": str(profile),
                  "prefs": {**PREFS, **prefs},
                  "env": {"HOME": str(home), "XDG_RUNTIME_DIR": str(home),
                          "MOZ_CRASHREPORTER_DISABLE": "1", **env}}
        self._proc = subprocess.Popen(
            ["node", str(BRIDGE), json.dumps(config)], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._stderr, start_new_session=True)
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = 1
        self._firefox_pid: int | None = None
        self.log_path = workdir / "firefox.log"
        self._firefox_pid = int(self._wait(0, COMMAND_TIMEOUT_S)["pid"])

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._replies.put(json.loads(line))
        self._replies.put({"id": -1, "ok": False, "error": "the Firefox bridge exited"})

    def _wait(self, command_id: int, timeout_s: float) -> Any:
        while True:
            try:
                reply = self._replies.get(timeout=timeout_s)
            except queue.Empty:
                raise FirefoxError(f"Firefox gave no answer in {timeout_s} s") from None
            if reply["id"] == -1:
                self._replies.put(reply)  # every later call fails the same way
            elif reply["id"] != command_id:
                continue  # the late answer to a command that timed out
            if not reply["ok"]:
                raise FirefoxError(f"{reply['error']}\n{self.log_tail()}")
            return reply["value"]

    def call(self, op: str, timeout_s: float = COMMAND_TIMEOUT_S, **args: Any) -> Any:
        """Send one command and return its value; FirefoxError when it fails or times out."""
        command_id, self._next_id = self._next_id, self._next_id + 1
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write((json.dumps({"id": command_id, "op": op, **args}) + "\n")
                                   .encode())
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise FirefoxError(f"the Firefox bridge has exited\n{self.log_tail()}") from None
        return self._wait(command_id, timeout_s)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the bridge and Firefox wrote to stderr."""
        self._stderr.flush()
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)

    def close(self) -> None:
        """Kill Firefox and the bridge, whatever state they are in."""
        for pid in (self._firefox_pid, self._proc.pid):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        self._proc.wait(timeout=10)
        self._reader.join(timeout=10)  # it reads to the end of the bridge's output
        for stream in (self._proc.stdin, self._proc.stdout, self._stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

