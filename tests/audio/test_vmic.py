"""Prove the virtual microphone with real PyAudio/PortAudio.

PortAudio reads ALSA_CONFIG_PATH / PULSE_SERVER when PyAudio() initialises, so the PyAudio
side runs in a child process started with the mic's env. The child keeps one stream open,
reads it continuously in a thread, and answers one JSON line per command on stdin.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import wait_until
from tests.support.signal_tools import sine_s16le
from tests.support.vmic import VirtualMic, VirtualMicError

pytestmark = pytest.mark.vmic

if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
    pytest.skip("pulseaudio / pactl not installed", allow_module_level=True)

RATE = 48000
FRAMES_PER_BUFFER = 480

CHILD = r"""
import json, os, sys, threading
from pathlib import Path
import pyaudio

pa = pyaudio.PyAudio()
stream = None
reader = None
lock = threading.Lock()
stop = threading.Event()
captured = bytearray()
state = {"frames": 0, "error": None}


def read_loop(frames_per_buffer, frame_bytes):
    while not stop.is_set():
        try:
            data = stream.read(frames_per_buffer, exception_on_overflow=False)
        except Exception as e:
            with lock:
                state["error"] = repr(e)
            return
        with lock:
            captured.extend(data)
            state["frames"] += len(data) // frame_bytes


def reply(**obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    cmd, *args = line.split()
    try:
        if cmd == "devices":
            devices = []
            for i in range(pa.get_device_count()):
                d = pa.get_device_info_by_index(i)
                api = pa.get_host_api_info_by_index(d["hostApi"])["name"]
                devices.append({"index": i, "name": d["name"], "api": api,
                                "inputs": d["maxInputChannels"]})
            default = pa.get_default_input_device_info()
            supported = pa.is_format_supported(
                48000, input_device=default["index"], input_channels=1,
                input_format=pyaudio.paInt16)
            reply(devices=devices, default_input=default["name"], supported=supported)
        elif cmd == "open":
            rate, channels, fpb = int(args[0]), int(args[1]), int(args[2])
            stream = pa.open(rate=rate, channels=channels, format=pyaudio.paInt16,
                             input=True, frames_per_buffer=fpb)
            reader = threading.Thread(target=read_loop, args=(fpb, 2 * channels), daemon=True)
            reader.start()
            reply(ok=True)
        elif cmd == "status":
            with lock:
                reply(**state)
        elif cmd == "dump":
            with lock:
                Path(args[0]).write_bytes(bytes(captured))
                reply(ok=True, frames=state["frames"])
        elif cmd == "close":
            stop.set()
            reader.join(timeout=2.0)
            if reader.is_alive():
                reply(ok=False, error="reader still blocked in read()")
            else:
                stream.close()
                stream = None
                reply(ok=True)
        elif cmd == "quit":
            break
        else:
            reply(exception=f"unknown command {cmd!r}")
    except Exception as e:
        reply(exception=repr(e))

if reader is not None and reader.is_alive():
    os._exit(3)  # a wedged read() cannot be interrupted: leave without cleanup
if stream is not None:
    stream.close()
pa.terminate()
"""


class PaChild:
    """A child process driving real PyAudio against the virtual mic."""

    def __init__(self, mic: VirtualMic, tmp_path: Path) -> None:
        self._stderr_path = tmp_path / f"pachild-{time.monotonic_ns()}.stderr"
        with open(self._stderr_path, "wb") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", CHILD],
                env={**os.environ, **mic.env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                bufsize=1,
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._pump = threading.Thread(target=self._read_stdout, daemon=True)
        self._pump.start()

    def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def stderr(self) -> str:
        return self._stderr_path.read_text(errors="replace")[-3000:]

    def cmd(self, *words: object, timeout: float = 5.0) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self._proc.stdin.flush()
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"child did not answer {words} in {timeout} s") from None
        if line is None:
            raise AssertionError(f"child exited on {words}:\n{self.stderr()}")
        reply: dict[str, Any] = json.loads(line)
        if "exception" in reply:
            raise AssertionError(f"child failed on {words}: {reply['exception']}\n{self.stderr()}")
        return reply

    def frames(self) -> int:
        return int(self.cmd("status")["frames"])

    def close(self) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write("quit\n")
            self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self._pump.join(timeout=5)
        assert self._proc.stdout is not None
        self._proc.stdout.close()

    def __enter__(self) -> PaChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_and_flow(child: PaChild) -> None:
    """Open the default input at 48 kHz mono s16 and wait until audio flows."""
    assert child.cmd("open", RATE, 1, FRAMES_PER_BUFFER)["ok"]
    wait_until(lambda: child.frames() >= 2 * FRAMES_PER_BUFFER, 3.0, "the stream to flow")


def play_and_capture(mic: VirtualMic, child: PaChild, pcm: bytes, path: Path) -> bytes:
    """Play pcm into a flowing stream and return everything the child captured."""
    mic.play(pcm)
    wait_until(lambda: mic.queued_frames == 0, 5.0, "the queue to drain")
    mark = mic.written_frames
    # Let the last chunk travel pipe -> daemon -> client buffer -> read().
    wait_until(lambda: mic.written_frames >= mark + RATE // 4, 2.0, "the writer to go on")
    child.cmd("dump", path)
    return path.read_bytes()


def dominant_freqs(pcm: bytes, window: int = 2400) -> list[int]:
    """Dominant frequency of each loud window, consecutive duplicates collapsed."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    out: list[int] = []
    for start in range(0, len(x) - window + 1, window):
        w = x[start : start + window]
        if np.sqrt(np.mean(w * w)) < 3000:
            continue
        spectrum = np.abs(np.fft.rfft(w * np.hanning(window)))
        freq = round(float(np.argmax(spectrum)) * RATE / window)
        if not out or out[-1] != freq:
            out.append(freq)
    return out


def vmic_is_default(mic: VirtualMic) -> bool:
    return mic.pactl("get-default-source").strip() == "vmic"


@pytest.fixture
def mic(tmp_path: Path) -> Iterator[VirtualMic]:
    m = VirtualMic(tmp_path / "vmic")
    m.start()
    pid = m.pid
    assert pid is not None
    try:
        yield m
    finally:
        m.stop()
    assert not Path(f"/proc/{pid}").exists(), "pulseaudio still running after stop()"


def test_sine_s16le_shape_and_scale() -> None:
    pcm = sine_s16le(1000, 0.01, rate_hz=48000, amplitude=0.5, channels=2)
    x = np.frombuffer(pcm, dtype="<i2").reshape(-1, 2)
    assert x.shape == (480, 2)
    assert np.array_equal(x[:, 0], x[:, 1])
    assert x[0, 0] == 0
    assert x[12, 0] == round(0.5 * 32767)  # a quarter period of 1 kHz at 48 kHz
    assert dominant_freqs(sine_s16le(440, 0.2)) == [440]


def test_pyaudio_lists_and_opens_default_input(mic: VirtualMic, tmp_path: Path) -> None:
    with PaChild(mic, tmp_path) as child:
        info = child.cmd("devices")
        inputs = [d for d in info["devices"] if d["inputs"] >= 1]
        assert [d["name"] for d in inputs] == ["default"], info
        assert info["default_input"] == "default"
        assert info["supported"] is True
        open_and_flow(child)
        assert child.cmd("close")["ok"]
    assert vmic_is_default(mic)


def test_known_audio_in_same_audio_out(mic: VirtualMic, tmp_path: Path) -> None:
    block = sine_s16le(440, 0.3) + sine_s16le(880, 0.3)
    with PaChild(mic, tmp_path) as child:
        open_and_flow(child)
        captured = play_and_capture(mic, child, block, tmp_path / "capture.raw")
    assert dominant_freqs(captured) == [440, 880]
    at = captured.find(block)
    assert at >= 0 and at % 2 == 0, "the played block is not in the capture bit-exactly"


def test_paused_writer_blocks_reads_until_resumed(mic: VirtualMic, tmp_path: Path) -> None:
    with PaChild(mic, tmp_path) as child:
        open_and_flow(child)
        mic.pause_writer()
        time.sleep(0.3)  # let the audio already in flight be read
        blocked_at, written_at = child.frames(), mic.written_frames
        time.sleep(0.5)
        assert child.frames() == blocked_at, "read() returned audio while the writer was paused"
        assert mic.written_frames == written_at
        assert child.cmd("status")["error"] is None

        mic.resume_writer()
        wait_until(
            lambda: child.frames() >= blocked_at + RATE // 5, 2.0, "reads to flow after resume"
        )
        assert child.cmd("close")["ok"]


def test_unplug_then_replug(mic: VirtualMic, tmp_path: Path) -> None:
    with PaChild(mic, tmp_path) as child:
        open_and_flow(child)
        mic.remove_source()
        wait_until(lambda: child.cmd("status")["error"] is not None, 2.0, "the open read to fail")
        assert "-9999" in child.cmd("status")["error"]
    sources = [ln.split("\t")[1] for ln in mic.pactl("list", "short", "sources").splitlines()]
    assert "vmic" not in sources
    assert not mic.fifo_path.exists()
    mic.play(sine_s16le(1000, 0.2))  # lost while unplugged, like a real mic
    time.sleep(0.3)

    mic.restore_source()
    assert vmic_is_default(mic)
    block = sine_s16le(660, 0.25)
    with PaChild(mic, tmp_path) as child:
        open_and_flow(child)
        captured = play_and_capture(mic, child, block, tmp_path / "replug.raw")
    assert dominant_freqs(captured) == [660]
    assert captured.find(block) >= 0


def test_start_failure_reports_daemon_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "pulseaudio"
    fake.write_text("#!/bin/sh\necho 'E: fake daemon refuses to start' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    m = VirtualMic(tmp_path / "broken")
    with pytest.raises(VirtualMicError, match="exited with status 1") as err:
        m.start()
    assert "fake daemon refuses to start" in str(err.value)
    m.stop()


def test_deep_workdir_and_idempotent_stop(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with VirtualMic(deep) as m:
        assert len(str(m.socket_path)) <= 100
        pid = m.pid
        assert m.written_frames >= 0
        wait_until(lambda: m.written_frames >= RATE // 10, 2.0, "the writer to run")
    m.stop()
    assert pid is not None and not Path(f"/proc/{pid}").exists()
    assert not m.socket_path.exists()
