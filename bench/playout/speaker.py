"""Mouth to ear in Firefox and WebKit: the clicks found in what the speaker plays.

Firefox and WebKitGTK play into a PulseAudio daemon (tests/support/engines.py `speakers`:
a null sink, a sound card that plays in real time into nothing). Its monitor is what that
card plays: `parec` reads it in 5 ms pieces, and each piece is stamped with time.time()
when it is read. A sample is read at the earliest when the sink has played it, so for each
click the smallest (read time - sample's position / rate) of the reads around it puts the
click on the microphone's clock (bench/playout's clicks and pairing). That is the ear
itself: the browser's whole output path counts, and nothing the browser says about its
output (`getOutputTimestamp()` blocks Firefox's page; WebKitGTK's is not believable, see
listener_web/output/output_clock.js) is used.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bench.playout.tap import CLICK_LEVEL, QUIET_S, RATE

READ_FRAMES = 240  # 5 ms
SINK = "speakers"


@dataclass(slots=True)
class SpeakerTap:
    """Reads what the speaker plays; finds the clicks in it, timed on time.time()."""

    env: dict[str, str]
    latency_ms: int = 5
    _proc: subprocess.Popen[bytes] | None = None
    _thread: threading.Thread | None = None
    _chunks: list[bytes] = field(default_factory=list)
    _reads: list[tuple[int, float]] = field(default_factory=list)  # (frames so far, read at)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Start reading the monitor."""
        self._proc = subprocess.Popen(
            ["parec", f"--device={SINK}.monitor", "--raw", "--format=s16le", f"--rate={RATE}",
             "--channels=1", f"--latency-msec={self.latency_ms}"],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        frames = 0
        pending = b""
        while True:
            data = self._proc.stdout.read(2 * READ_FRAMES)
            now = time.time()
            if not data:
                return
            pending += data
            whole = len(pending) // 2 * 2
            with self._lock:
                self._chunks.append(pending[:whole])
                frames += whole // 2
                self._reads.append((frames, now))
            pending = pending[whole:]

    def stop(self) -> None:
        """Stop reading."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def mark(self) -> int:
        """The number of frames read so far (clicks are looked for after such a mark)."""
        with self._lock:
            return self._reads[-1][0] if self._reads else 0

    def samples_since(self, mark: int) -> npt.NDArray[np.float32]:
        """What the speaker played from frame `mark` on, as floats of full scale 1."""
        with self._lock:
            data = b"".join(self._chunks)
        return np.frombuffer(data, dtype="<i2")[mark:].astype(np.float32) / np.float32(32768)

    def clicks_since(self, mark: int) -> list[float]:
        """When each click's first loud sample played, after frame `mark`, on time.time()."""
        with self._lock:
            data = b"".join(self._chunks)
            reads = np.array(self._reads, dtype=np.float64)
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
        loud = np.flatnonzero(np.abs(samples[mark:]) >= CLICK_LEVEL) + mark
        if len(loud) == 0:
            return []
        starts = loud[np.concatenate([[True], np.diff(loud) > QUIET_S * RATE])]
        # For each read: when its first frame would have been played, at the latest.
        base = reads[:, 1] - reads[:, 0] / RATE
        found = []
        for start in starts:
            near = np.abs(reads[:, 0] - start) < 5 * RATE  # reads within 5 s of the click
            found.append(float(np.min(base[near])) + start / RATE)
        return found

    def sink_latency_ms(self) -> tuple[float, float]:
        """The sink's latency now and as configured (ms), as `pactl list sinks` says."""
        text = subprocess.run(["pactl", "list", "sinks"], env=self.env, capture_output=True,
                              text=True, timeout=5, check=True).stdout
        found = re.search(r"Latency:\s*(\d+) usec, configured (\d+) usec", text)
        if not found:
            raise RuntimeError(f"no latency in pactl's sinks: {text[:400]}")
        return int(found.group(1)) / 1000, int(found.group(2)) / 1000

    def __enter__(self) -> SpeakerTap:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
