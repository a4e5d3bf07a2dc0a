"""Run the real broadcaster as a subprocess on 127.0.0.1, for the tests and the benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def wait_until(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `cond` until it holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def no_device_env() -> dict[str, str]:
    """The environment of a machine with no sound card: no PulseAudio reachable.

    (Not an empty ALSA config: PortAudio aborts on one, which the broadcaster reports as a
    broken sound set-up, not as a machine with no device; tests of that add
    `ALSA_CONFIG_PATH=/dev/null` to this environment.)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "ALSA_"))}
    return env | {"PULSE_SERVER": "unix:/nonexistent"}


@dataclass
class Broadcaster:
    """A running broadcaster process."""

    process: subprocess.Popen[str]
    url: str
    log_path: Path

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 5.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"broadcaster ignored SIGTERM:\n{self.log()}") from None
        return self.process.returncode


def start_broadcaster(tmp: Path, *args: str, env: dict[str, str] | None = None,
                      config: str | None = None, wait: bool = True,
                      program: list[str] | None = None) -> Broadcaster:
    """Run `python -m broadcaster` (or `program`) on a free port; wait until /healthz answers."""
    port = free_port()
    argv = [*(program or [sys.executable, "-m", "broadcaster"]),
            "--host", "127.0.0.1", "--port", str(port)]
    if config is not None:
        path = tmp / f"config-{port}.toml"
        path.write_text(config)
        argv += ["--config", str(path)]
    log_path = tmp / f"broadcaster-{port}.log"
    # Its own state directory (the archive's default home), never the real one.
    env = {"STATE_DIRECTORY": str(tmp / f"state-{port}")} | (env or no_device_env())
    with open(log_path, "w") as log:
        process = subprocess.Popen([*argv, *args], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, text=True)
    proc = Broadcaster(process, f"http://127.0.0.1:{port}", log_path)
    if not wait:
        return proc
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"broadcaster exited with {process.returncode}:\n{proc.log()}")
        try:
            if httpx.get(proc.url + "/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.stop()
    raise AssertionError(f"broadcaster did not come up:\n{proc.log()}")
