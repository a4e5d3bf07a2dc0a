"""The virtual microphone's clock: a thread that writes queued PCM into the pipe source's
FIFO in real time, silence when nothing is queued.

Every ``chunk_ms`` it writes ``chunk_ms`` of audio. The pipe source reads its FIFO only while
it has a recording client, so the FIFO fills up (64 KiB, ~0.7 s at 48 kHz mono) while nobody
records; the feeder reads back whatever backlog exceeds ``max_backlog_ms`` (through its own
``O_RDWR`` descriptor), so a newly opened stream starts at most that far behind live, as a
real mic would. Unloading the source unlinks the FIFO and reloading makes a new one: the
feeder notices and reopens it.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import logging
import os
import stat
import termios
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 5.0
# If the writer falls further behind its schedule than this, it restarts the schedule
# instead of bursting the missed chunks out.
_MAX_LAG_S = 0.2


class PipeFeeder:
    """Queued s16le PCM written into a FIFO every `chunk_ms`, padded with silence."""

    def __init__(self, rate_hz: int, channels: int, chunk_ms: int, max_backlog_ms: int) -> None:
        self.rate_hz = rate_hz
        self.chunk_ms = chunk_ms
        self.frame_bytes = 2 * channels
        self.chunk_frames = rate_hz * chunk_ms // 1000
        if self.chunk_frames * 1000 != rate_hz * chunk_ms:
            raise ValueError(f"chunk_ms={chunk_ms} is not a whole number of frames")
        self.chunk_bytes = self.chunk_frames * self.frame_bytes
        self._max_backlog_bytes = rate_hz * max_backlog_ms // 1000 * self.frame_bytes
        self.fifo_path: Path | None = None  # set by start()

        self._lock = threading.Lock()
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued_bytes = 0
        self._taking = (0, 0)
        self._ever_queued = 0  # bytes ever queued
        self._ever_taken = 0  # of those, bytes taken for writing
        # (taken before, taken after, time.time() of the write) of the latest writes
        self._write_log: collections.deque[tuple[int, int, float]] = collections.deque(
            maxlen=2000)
        self._written_bytes = 0
        self._discarded_bytes = 0
        self._stop_evt = threading.Event()
        self._running_evt = threading.Event()  # set = writing, clear = paused
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._fd_id: tuple[int, int] | None = None
        self._pending = b""  # tail of a partially written frame, written first next tick
        self._fd_written = 0  # bytes written through the current descriptor

    def start(self, fifo_path: Path) -> None:
        """Start writing into `fifo_path` (opened, and reopened, as it appears)."""
        self.fifo_path = fifo_path
        self._stop_evt.clear()
        self._running_evt.set()
        self._thread = threading.Thread(target=self._writer, name="vmic-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, close the FIFO and drop what is still queued. Idempotent."""
        self._stop_evt.set()
        self._running_evt.set()  # wake a paused writer so it can see the stop
        if self._thread is not None:
            self._thread.join(timeout=_STOP_TIMEOUT_S)
            if self._thread.is_alive():
                log.error("vmic writer thread did not stop")
            self._thread = None
        self._close_fifo()
        self.clear()

    # ----------------------------------------------------------------- audio

    def play(self, pcm: bytes) -> int:
        """Queue interleaved s16le PCM to be written in real time after what is queued.

        Returns the position of its first byte in everything ever queued, for `entered_at`.
        """
        pcm = bytes(pcm)
        if len(pcm) % self.frame_bytes:
            raise ValueError(
                f"PCM length {len(pcm)} is not a multiple of the frame size {self.frame_bytes}"
            )
        with self._lock:
            position = self._ever_queued
            if pcm:
                self._queue.append(pcm)
                self._queued_bytes += len(pcm)
                self._ever_queued += len(pcm)
            return position

    def entered_at(self, position: int) -> float | None:
        """When the queued byte at `position` entered the microphone (time.time()), or None
        if it has not been written yet. A chunk written at time T holds the audio of the
        chunk_ms before T, as a sound card delivers it."""
        with self._lock:
            for taken_before, taken_after, written_at in self._write_log:
                if taken_before <= position < taken_after:
                    offset = position - taken_before
                    frames_after = (self.chunk_bytes - offset) // self.frame_bytes
                    return written_at - frames_after / self.rate_hz
        return None

    def clear(self) -> None:
        """Drop all queued audio (the writer goes on with silence)."""
        with self._lock:
            self._queue.clear()
            self._ever_taken += self._queued_bytes  # dropped: never written
            self._queued_bytes = 0

    def pause(self) -> None:
        """Stop writing anything (a wedged device): readers block. Queued audio is kept."""
        self._running_evt.clear()
        log.info("vmic writer paused at frame %d", self.written_frames)

    def resume(self) -> None:
        """Resume writing (the schedule restarts from now: missed time is not caught up)."""
        self._running_evt.set()
        log.info("vmic writer resumed at frame %d", self.written_frames)

    @property
    def written_frames(self) -> int:
        """Frames written into the pipe so far (silence included)."""
        with self._lock:
            return self._written_bytes // self.frame_bytes

    @property
    def queued_frames(self) -> int:
        """Frames queued by play() and not yet taken by the writer."""
        with self._lock:
            return self._queued_bytes // self.frame_bytes

    @property
    def discarded_frames(self) -> int:
        """Frames the writer read back out of the pipe because no client was draining it."""
        with self._lock:
            return self._discarded_bytes // self.frame_bytes

    # ----------------------------------------------------------------- writer thread

    def _take_chunk(self) -> bytes:
        """The next chunk_ms of queued audio, padded with silence."""
        need = self.chunk_bytes
        parts = []
        with self._lock:
            while need and self._queue:
                head = self._queue[0]
                if len(head) <= need:
                    parts.append(self._queue.popleft())
                    need -= len(head)
                else:
                    parts.append(head[:need])
                    self._queue[0] = head[need:]
                    need = 0
            self._queued_bytes -= self.chunk_bytes - need
            self._taking = (self._ever_taken, self._ever_taken + self.chunk_bytes - need)
            self._ever_taken += self.chunk_bytes - need
        if need:
            parts.append(bytes(need))
        return b"".join(parts)

    def _writer(self) -> None:
        period = self.chunk_ms / 1000.0
        base = time.monotonic()
        n = 0
        try:
            while not self._stop_evt.is_set():
                if not self._running_evt.is_set():
                    self._running_evt.wait()
                    base, n = time.monotonic(), 0
                    continue
                due = base + n * period
                delay = due - time.monotonic()
                if delay > 0:
                    if self._stop_evt.wait(delay):
                        break
                    if not self._running_evt.is_set():
                        continue
                elif -delay > _MAX_LAG_S:
                    log.warning("vmic writer %.0f ms late: restarting its schedule", -delay * 1e3)
                    base, n = time.monotonic(), 0
                n += 1
                self._tick()
        except Exception:
            log.exception("vmic writer thread crashed")
            raise
        finally:
            self._close_fifo()

    def _tick(self) -> None:
        chunk = self._take_chunk()
        fd = self._ensure_fifo()
        if fd is None:
            return  # source unplugged: the audio of this tick is lost, as with a real mic
        self._discard_backlog(fd)
        data = self._pending + chunk
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            written = 0
        except OSError as e:
            log.warning("vmic write failed (%s): reopening the FIFO", e)
            self._close_fifo()
            return
        with self._lock:
            self._written_bytes += written
            self._write_log.append((*self._taking, time.time()))
        self._fd_written += written
        misalign = self._fd_written % self.frame_bytes
        # Keep only what completes a partly written frame; the rest of a chunk that did not
        # fit is dropped (nobody is draining the pipe).
        self._pending = data[written : written + (self.frame_bytes - misalign)] if misalign else b""

    def _discard_backlog(self, fd: int) -> None:
        """Read back audio piling up in the pipe while the source has no client."""
        buf = bytearray(4)
        try:
            fcntl.ioctl(fd, termios.FIONREAD, buf)
        except OSError:
            return
        backlog = int.from_bytes(buf, "little")
        excess = backlog - self._max_backlog_bytes
        excess -= excess % self.frame_bytes
        if excess <= 0:
            return
        try:
            got = len(os.read(fd, excess))
        except BlockingIOError:
            return
        with self._lock:
            self._discarded_bytes += got
        if got % self.frame_bytes:  # the source raced us; keep the stream frame-aligned
            with contextlib.suppress(BlockingIOError):
                got += len(os.read(fd, self.frame_bytes - got % self.frame_bytes))

    def _ensure_fifo(self) -> int | None:
        """An open descriptor on the current FIFO, or None while the source is unloaded.

        The FIFO is opened O_RDWR|O_NONBLOCK: opening never waits for a reader and writes
        never block. Each tick checks that the path still names the FIFO we hold, since
        unloading the source unlinks it and reloading creates a new one.
        """
        assert self.fifo_path is not None
        try:
            st = os.stat(self.fifo_path)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISFIFO(st.st_mode):
            st = None
        if self._fd is not None and (st is None or (st.st_dev, st.st_ino) != self._fd_id):
            log.info("vmic FIFO %s went away: closing it", self.fifo_path)
            self._close_fifo()
        if self._fd is None and st is not None:
            try:
                fd = os.open(self.fifo_path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ENXIO):
                    log.warning("vmic cannot open FIFO %s: %s", self.fifo_path, e)
                return None
            fst = os.fstat(fd)
            self._fd, self._fd_id = fd, (fst.st_dev, fst.st_ino)
            self._pending, self._fd_written = b"", 0
            log.info("vmic FIFO %s opened", self.fifo_path)
        return self._fd

    def _close_fifo(self) -> None:
        fd, self._fd, self._fd_id = self._fd, None, None
        self._pending = b""
        if fd is not None:
            os.close(fd)
