"""The capture thread: source → whole frames → Opus packets → the event loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from broadcaster.audio.encoder import OpusEncoder
from broadcaster.audio.level import pcm_level_dbfs
from broadcaster.audio.sources import PcmSource, SourceError
from broadcaster.core.reblock import Reblocker

logger = logging.getLogger(__name__)

# (Opus packet, capture time in Unix ms, the frame's level in dBFS)
Publish = Callable[[bytes, float, float], None]
Report = Callable[[str | None], None]  # why the source is offline, or None: it is back
RETRY_S = (0.5, 1.0, 2.0, 5.0)


class CaptureThread:
    """Reads the source on its own thread; never waits on the network.

    `publish(packet, capture_ms, level_dbfs)` is called on this thread with each encoded
    frame (and how loud the PCM was), and
    `report(reason)` when the source goes offline (None when it is back); the caller hands
    both to the event loop (`loop.call_soon_threadsafe`). A source that fails to open or
    read is closed and reopened with back-off until the thread is stopped.
    """

    def __init__(self, source: PcmSource, encoder: OpusEncoder, publish: Publish,
                 report: Report) -> None:
        self._source = source
        self._encoder = encoder
        self._publish = publish
        self._report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self.started_monotonic = 0.0
        self.last_frame_monotonic = 0.0
        self.last_progress_monotonic = 0.0  # the loop came round: a read returned, or a wait
        self.error: str | None = None

    def start(self) -> None:
        """Start capturing."""
        self.started_monotonic = self.last_progress_monotonic = time.monotonic()
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to finish after its current read."""
        self._stop.set()

    def responsive(self, limit_s: float) -> bool:
        """Whether the thread runs and its loop came round within `limit_s` (not wedged)."""
        alive = self._thread.is_alive() or not self.started_monotonic
        return alive and time.monotonic() - self.last_progress_monotonic <= limit_s

    def join(self, timeout_s: float) -> bool:
        """Wait for the thread to finish; True if it did."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        settings = self._encoder.settings
        reblocker = Reblocker(settings.frame_bytes,
                              settings.sample_rate_hz * settings.channels * 2)
        attempt = 0
        while not self._stop.is_set():
            try:
                self._source.open(settings.frame_samples)
            except SourceError as exc:
                self._failed(f"cannot open {self._source.name}: {exc}", attempt)
                attempt += 1
                continue
            attempt = 0
            reblocker.reset()
            try:
                self._pump(reblocker)
            except (SourceError, EOFError) as exc:
                if not self._stop.is_set():
                    self._failed(str(exc), 0)
            except Exception:
                logger.exception("capture failed unexpectedly; reopening %s", self._source.name)
                self._pause(RETRY_S[-1])
            finally:
                self._source.close()

    def _pump(self, reblocker: Reblocker) -> None:
        # This runs once a frame on a core that has usually done other work since the last
        # one, so each step costs several times what it does in a tight loop: one clock
        # read, one stop check, and publish last, right before the next blocking read.
        read, encode, publish = self._source.read, self._encoder.encode, self._publish
        level = pcm_level_dbfs
        feed, stopped = reblocker.feed, self._stop.is_set
        while True:
            chunk = read()
            now = time.monotonic()
            self.last_progress_monotonic = now
            if stopped():
                return  # and a read that returns after this thread was abandoned is dropped
            if self.error is not None:
                self.error = None
                logger.info("%s is delivering audio again", self._source.name)
                self._report(None)
            for block in feed(chunk):
                self.last_frame_monotonic = now
                publish(encode(block.pcm), block.capture_ms, level(block.pcm))

    def _failed(self, message: str, attempt: int) -> None:
        delay = RETRY_S[min(attempt, len(RETRY_S) - 1)]
        if self.error != message:
            logger.error("%s; retrying every %g s at most", message, RETRY_S[-1])
            self.error = message
            self._report(message)
        self._pause(delay)

    def _pause(self, delay_s: float) -> None:
        """Wait (stoppable) while showing the loop is alive."""
        end = time.monotonic() + delay_s
        while not self._stop.is_set() and (left := end - time.monotonic()) > 0:
            self.last_progress_monotonic = time.monotonic()
            self._stop.wait(min(left, 0.5))
        self.last_progress_monotonic = time.monotonic()
