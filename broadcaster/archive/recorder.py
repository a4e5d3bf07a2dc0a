"""The recorder: every packet written to the archive, on a thread of its own, in batches.

The event loop only appends each packet to a queue (a deque: no lock, no wake-up); the
writer thread takes the queue every half second, builds the pages (core/recording.py) and
appends them to the segment's two files. An SD card sees a few appends a second, coalesced
by the page cache, never a synchronous write per frame, and a slow or full disk never
holds up capture or a listener: the queue is bounded, and what does not fit is counted.

Faults: a disk that fills pauses the archive (one log line, a flag in /status) after it has
freed what its retention allows; it resumes by itself when a write succeeds again. A
process killed mid-write leaves at most the queue unwritten (half a second, a page); the
next start cuts the torn end (store.py's `repair`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broadcaster.archive.episodes import FILE_NAME, episode_line, load_episodes
from broadcaster.archive.store import ArchiveStore
from broadcaster.core.activity import Episode
from broadcaster.core.archive_index import SegmentHeader, index_name, segment_name
from broadcaster.core.recording import SegmentWriter, Written
from broadcaster.core.retention import Retention, Usage

logger = logging.getLogger(__name__)

TICK_S = 0.5  # how often the writer takes the queue
RETENTION_EVERY_S = 30.0
RETRY_EVERY_S = 5.0  # while paused, how often a write is tried again
MAX_QUEUED_BYTES = 8 * 1024 * 1024  # about 17 minutes at 64 kbit/s, if the disk stalls


@dataclass(frozen=True, slots=True)
class RecorderSettings:
    """What the recorder needs to know of the broadcast and the config."""

    root: Path
    retention: Retention
    file_minutes: float
    channels: int
    pre_skip: int
    frame_ms: float


class _Paused(Exception):
    """A write failed for good: the archive pauses."""


class ArchiveRecorder:
    """Owns the archive folder (one writer at a time: a lock file) and the writer thread."""

    def __init__(self, settings: RecorderSettings) -> None:
        self.settings = settings
        self._queue: deque[tuple[int, bytes, float, float]] = deque()
        self._notes: deque[bytes] = deque()  # finished episodes, as lines to append
        self.episodes: list[Episode] = []  # those kept by earlier runs (once open)
        self._queued_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._writer: SegmentWriter | None = None
        self._files: tuple[int, int] | None = None  # the open segment's (ogg, index) fds
        self._good: tuple[int, int] = (0, 0)  # their sizes after the last whole write
        self._key: tuple[int, int, int] | None = None
        self._last_ms = 0.0
        self._usage: list[tuple[Path, Usage]] = []  # closed segments, oldest first
        self.paused: str | None = None
        self.dropped_frames = 0
        self.write_errors = 0
        self.bytes_written = 0
        self.files_deleted = 0
        self._epoch = 0
        self.next_id: int | None = None  # the id after the newest held (set by the opener)

    # -- lifetime ----------------------------------------------------------------------
    def open(self) -> int | None:
        """Lock the folder and repair a killed writer's torn ends; the id after the newest
        held (this run's ids must start above it). Raises OSError (with the reason) when
        the archive cannot be written: run live-only."""
        root = self.settings.root
        if not root.is_dir():
            raise OSError(errno.ENOENT, f"the archive folder {root} does not exist")
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OSError(errno.EBUSY, f"another broadcaster records into {root}") from None
        self._lock_fd = fd
        store = ArchiveStore(root)
        for line in store.repair():
            logger.warning("archive: %s", line)
        self._usage = [(segment.path, Usage(segment.bytes, segment.audio_ms))
                       for segment in store.segments]
        oldest = store.segments[0].first if store.segments else None
        self.episodes = load_episodes(root, None if oldest is None else oldest.capture_ms)
        return store.end_id

    def start(self, epoch: int) -> None:
        """Start writing, in a thread; `epoch` is this run's first id."""
        self._epoch = epoch
        self._thread = threading.Thread(target=self._run, name="archive writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, close the segment's stream, stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        else:
            self._finish_segment()  # written with write_batch, no thread
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- the loop's side ---------------------------------------------------------------
    def tap(self, seq: int, packet: bytes, capture_ms: float, level_dbfs: float) -> None:
        """Queue one packet (on the event loop: never blocks)."""
        if self._queued_bytes > MAX_QUEUED_BYTES:
            self.dropped_frames += 1
            return
        self._queue.append((seq, packet, capture_ms, level_dbfs))
        self._queued_bytes += len(packet)

    def note_episode(self, payload: dict[str, Any]) -> None:
        """Keep a finished episode with the archive (a sound watch's tap: never blocks)."""
        line = episode_line(payload)
        if line is not None:
            self._notes.append(line)

    def counters(self) -> dict[str, Any]:
        """The recorder's side of /status."""
        return {"archive_recording": self._thread is not None and self.paused is None,
                "archive_paused": int(self.paused is not None),
                "archive_paused_reason": self.paused, "archive_write_errors": self.write_errors,
                "archive_dropped_frames": self.dropped_frames,
                "archive_bytes_written": self.bytes_written,
                "archive_files_deleted": self.files_deleted}

    # -- the writer thread -------------------------------------------------------------
    def _run(self) -> None:
        _name_thread(b"archive writer")
        last_retention = 0.0
        last_try = 0.0
        stopping = False
        while not stopping:
            stopping = self._stop.wait(TICK_S)
            batch = self._take()
            now = time.monotonic()
            try:
                if self.paused is not None:
                    if now - last_try < RETRY_EVERY_S and not stopping:
                        self.dropped_frames += len(batch)
                        continue
                    last_try = now
                    self._apply_retention(0)  # still paused while the disk is short
                    ArchiveStore(self.settings.root).repair()  # close the cut segment
                self.write_batch(batch)
                self._write_notes()
                if now - last_retention >= RETENTION_EVERY_S:
                    last_retention = now
                    self._apply_retention(0)
                if self.paused is not None:
                    logger.warning("archive resumed: writing to %s again", self.settings.root)
                    self.paused = None
            except (_Paused, OSError) as exc:  # any disk error: pause, try again later
                self.dropped_frames += len(batch)
                last_try = now
                self._close_files()
                reason = str(exc) if isinstance(exc, _Paused) else (
                    f"cannot use {self.settings.root} ({exc.strerror or exc})")
                if self.paused is None:
                    logger.error("archive paused: %s; live listeners are not affected, and it "
                                 "resumes by itself", reason)
                self.paused = reason
            except Exception:  # a bug: the archive stops, the broadcast goes on
                logger.exception("the archive writer failed; the archive is off")
                self.paused = "the archive writer failed (see the log)"
                self._close_files()
                return
        self._finish_segment()

    def _write_notes(self) -> None:
        """Append the finished episodes to the archive's list of them."""
        if not self._notes:
            return
        lines = b""
        while self._notes:
            lines += self._notes.popleft()
        try:
            with open(self.settings.root / FILE_NAME, "ab") as notes:
                notes.write(lines)
        except OSError as exc:
            self.write_errors += 1
            logger.warning("archive: cannot keep the sound episodes (%s)", exc.strerror or exc)

    def _take(self) -> list[tuple[int, bytes, float, float]]:
        batch = []
        queue = self._queue
        while queue:
            item = queue.popleft()
            self._queued_bytes -= len(item[1])
            batch.append(item)
        return batch

    def write_batch(self, batch: list[tuple[int, bytes, float, float]]) -> None:
        """Write these packets (id, packet, capture ms, level) now: the writer thread's job
        (a benchmark calls it directly, with no thread running). Raises _Paused."""
        for seq, packet, capture_ms, level in batch:
            writer = self._writer
            if writer is None or self._rolls(writer, seq, capture_ms):
                self._finish_segment()
                writer = self._start_segment(seq, capture_ms)
            self._last_ms = capture_ms
            self._append(writer.add(seq, packet, capture_ms, level))
        if self._writer is not None:
            # No page stays open between batches: what was captured is on disk (where
            # replays and other processes read it) within about TICK_S, and a kill loses
            # no more than that and the queue.
            self._append(self._writer.flush())

    def _rolls(self, writer: SegmentWriter, seq: int, capture_ms: float) -> bool:
        """Whether `seq` starts a new segment: a new period on the local clock, a clock
        stepped back, a hole in the ids (the queue overflowed), or a segment grown past an
        eighth of the archive's bytes (retention deletes whole segments)."""
        return (self._period(capture_ms) != self._key or capture_ms < self._last_ms - 1000
                or seq != writer.next_id
                or writer.size * 8 > self.settings.retention.max_bytes)

    def _period(self, capture_ms: float) -> tuple[int, int, int]:
        local = time.localtime(capture_ms / 1000)
        minute = local.tm_hour * 60 + local.tm_min
        return local.tm_year, local.tm_yday, int(minute // self.settings.file_minutes)

    def _start_segment(self, seq: int, capture_ms: float) -> SegmentWriter:
        settings = self.settings
        header = SegmentHeader(settings.channels, settings.pre_skip, self._epoch,
                               seq & 0xFFFFFFFF, settings.frame_ms, time.time() * 1000)
        name = segment_name(tuple(time.localtime(capture_ms / 1000))[:6],  # type: ignore[arg-type]
                            seq)
        path = settings.root / name
        writer = SegmentWriter(header, ("ENCODER=broadcaster", f"BROADCASTER_FIRST_ID={seq}"))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        try:
            ogg = os.open(path, flags, 0o640)
            try:
                index = os.open(settings.root / index_name(name), flags, 0o640)
            except OSError:
                os.close(ogg)
                os.unlink(path)
                raise
        except OSError as exc:
            self.write_errors += 1
            raise _Paused(f"cannot create {name} ({exc.strerror or exc})") from exc
        self._writer, self._files, self._good = writer, (ogg, index), (0, 0)
        self._key = self._period(capture_ms)
        self._usage.append((path, Usage(0, 0.0)))
        self._append([writer.start()])
        return writer

    def _append(self, written: list[Written]) -> None:
        for item in written:
            self._write(item)

    def _write(self, item: Written) -> None:
        """Both files, page then record (a reader never sees a record before its page);
        on a full disk, retention frees space and the write is tried once more."""
        assert self._files is not None and self._writer is not None
        ogg, index = self._files
        for attempt in (1, 2):
            try:
                _write_all(ogg, item.ogg)
                _write_all(index, item.index)
                break
            except OSError as exc:
                self.write_errors += 1
                os.ftruncate(ogg, self._good[0])
                os.ftruncate(index, self._good[1])
                if (exc.errno in (errno.ENOSPC, errno.EDQUOT) and attempt == 1
                        and self._apply_retention(max(1 << 20, 16 * len(item.ogg)))):
                    continue
                self._close_files()
                raise _Paused(f"cannot write to {self.settings.root} "
                              f"({exc.strerror or exc})") from exc
        self._good = (self._good[0] + len(item.ogg), self._good[1] + len(item.index))
        self.bytes_written += len(item.ogg) + len(item.index)
        path, _ = self._usage[-1]
        self._usage[-1] = (path, Usage(sum(self._good),
                                       self._writer.samples / 48.0))

    def _finish_segment(self) -> None:
        """End the open segment's Ogg stream and close its files (a failing write leaves it
        for the next start's repair)."""
        writer = self._writer
        try:
            if writer is not None and self._files is not None:
                self._append(writer.finish())
        except _Paused:
            pass
        finally:
            self._close_files()

    def _close_files(self) -> None:
        if self._files is not None:
            for fd in self._files:
                os.close(fd)
        self._files = None
        self._writer = None

    def _apply_retention(self, need_bytes: int) -> int:
        """Delete the oldest segments the bounds (and `need_bytes` more) call for; how many."""
        try:
            stat = os.statvfs(self.settings.root)
            free: int | None = stat.f_bavail * stat.f_frsize
        except OSError:
            free = None
        count = self.settings.retention.expired([usage for _, usage in self._usage], free,
                                                need_bytes)
        freed = sum(usage.bytes for _, usage in self._usage[:count])
        for path, _ in self._usage[:count]:
            for doomed in (path, path.with_name(index_name(path.name))):
                with contextlib.suppress(FileNotFoundError):
                    doomed.unlink()
        del self._usage[:count]
        self.files_deleted += count
        min_free = self.settings.retention.min_free_bytes
        if need_bytes == 0 and free is not None and free + freed < min_free:
            raise _Paused(f"the disk holding {self.settings.root} has {free >> 20} MB free, "
                          f"less than archive.min_free_mb ({min_free >> 20} MB), and the "
                          "archive holds nothing more it may delete")
        return count


def _name_thread(name: bytes) -> None:
    """Name this thread for `top -H` and the benchmarks (Linux; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(15, name[:15], 0, 0, 0)  # PR_SET_NAME


def _write_all(fd: int, data: bytes) -> None:
    """Append all of `data`; a short write (a disk filling up) is an ENOSPC."""
    if data and os.write(fd, data) != len(data):
        raise OSError(errno.ENOSPC, "the disk is full")
