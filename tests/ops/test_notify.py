"""systemd notifications: the message format, and the real program talking to a real
unix datagram socket the way the service manager listens."""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broadcaster.ops.notify import Notifier, format_message, socket_address, watchdog_interval_s
from tests.conftest import no_device_env, start_broadcaster
from tests.support.vmic import VirtualMic


def test_format_message() -> None:
    assert format_message({"READY": "1", "STATUS": "live: tone"}) == b"READY=1\nSTATUS=live: tone"
    with pytest.raises(ValueError):
        format_message({"STATUS": "two\nlines"})
    with pytest.raises(ValueError):
        format_message({"ready": "1"})


def test_socket_address() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@abstract") == "\0abstract"
    assert socket_address("") is None
    assert socket_address("vsock:2:1234") is None


def test_watchdog_interval_is_half_the_timeout_and_only_for_our_pid() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000"}, 42) == 10.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "42"}, 42) == 10.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "7"}, 42) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "0"}, 42) is None
    assert watchdog_interval_s({}, 42) is None


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    notifier.send(READY="1")  # a no-op, no error


def parse(datagram: bytes) -> dict[str, str]:
    """A notification's KEY=value lines."""
    return dict(line.split("=", 1) for line in datagram.decode().splitlines())


class Manager:
    """The service manager's end: a bound unix datagram socket."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="notify-"))  # short: unix socket paths are
        self.path = self.dir / "notify"                       # limited to ~107 bytes
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))

    def env(self, watchdog_s: float) -> dict[str, str]:
        return {"NOTIFY_SOCKET": str(self.path), "WATCHDOG_USEC": str(int(watchdog_s * 1e6))}

    def receive(self, until: str, timeout_s: float) -> list[tuple[float, dict[str, str]]]:
        """Messages (arrival time, fields) up to and including one that has `until`."""
        got = []
        deadline = time.monotonic() + timeout_s
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                raise AssertionError(f"no {until} within {timeout_s} s; got {got}") from None
            fields = parse(data)
            got.append((time.monotonic(), fields))
            if until in fields:
                return got

    def drain(self, seconds: float) -> list[tuple[float, dict[str, str]]]:
        got = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                break
            got.append((time.monotonic(), parse(data)))
        return got

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)
        self.dir.rmdir()


@pytest.fixture
def manager() -> Iterator[Manager]:
    m = Manager()
    yield m
    m.close()


def test_ready_after_http_answers_watchdog_pings_and_stopping_on_sigterm(
    tmp_path: Path, manager: Manager
) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone", wait=False,
                             env=no_device_env() | manager.env(watchdog_s=1.0))
    try:
        [(_, ready)] = manager.receive("READY", timeout_s=20)
        assert ready["READY"] == "1"
        assert ready["STATUS"] == "running: tone:440, 0 listener(s)"
        # READY is only sent once the server answers HTTP
        assert httpx.get(proc.url + "/healthz", timeout=1).status_code == 200
        pings = [t for t, fields in manager.drain(2.0) if fields.get("WATCHDOG") == "1"]
        assert 3 <= len(pings) <= 6  # every 0.5 s: half of WATCHDOG_USEC
    finally:
        assert proc.stop() == 0, proc.log()
    stopping = manager.receive("STOPPING", timeout_s=5)
    assert stopping[-1][1]["STOPPING"] == "1"


@pytest.mark.vmic
def test_watchdog_pings_stop_while_the_capture_thread_is_wedged(
    tmp_path: Path, manager: Manager
) -> None:
    with VirtualMic(tmp_path / "vmic") as mic:
        proc = start_broadcaster(tmp_path, "--source", "mic", wait=False,
                                 env=no_device_env() | mic.env | manager.env(watchdog_s=1.0))
        try:
            manager.receive("READY", timeout_s=20)
            paused = time.monotonic()
            mic.pause_writer()  # reads block: the capture thread is stuck in the device
            # The station restarts a stuck capture thread itself (after 5 s); only when two
            # restarts in a row bring no audio does it stop pinging, for systemd to step in.
            messages = manager.drain(14.0)
            late = [fields for t, fields in messages if t > paused + 12.5]
            assert late, "no status while wedged"
            assert all("WATCHDOG" not in fields for fields in late), late
            assert "capture is stuck in mic:default" in late[-1]["STATUS"]
            early = [fields for t, fields in messages if t < paused + 4]
            assert any("WATCHDOG" in fields for fields in early)
            assert httpx.get(proc.url + "/status", timeout=5).json()["capture_restarts"] >= 2
            mic.resume_writer()
            resumed = manager.drain(3.0)
            assert any(fields.get("WATCHDOG") == "1" for _, fields in resumed)
        finally:
            assert proc.stop() == 0, proc.log()
