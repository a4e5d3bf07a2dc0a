"""Capture for the event loop: starts and stops the capture thread, brings its packets to
the loop, and replaces a thread that is stuck in the device."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from broadcaster.audio.capture import CaptureThread
from broadcaster.audio.encoder import EncoderSettings, OpusEncoder, bitrate_advice
from broadcaster.audio.handoff import Handoff
from broadcaster.audio.sources import PcmSource, SourceError
from broadcaster.config import Config
from broadcaster.core.state import CaptureBusyError

logger = logging.getLogger(__name__)

STOP_WAIT_S = 2.0
STALL_S = 2.0  # capture that should run but has made no frame for this long is unhealthy
WEDGED_S = 5.0  # a capture loop that has not come round for this long is stuck in the device
SUPERVISE_S = 1.0
FUTILE_RESTARTS = 2  # restarts without a frame in between: the watchdog may take over
CATCH_UP_S = 0.5  # while nobody listens, packets reach the loop at least this often

Renew = Callable[[Config], PcmSource]
OnPacket = Callable[[bytes, float, float], None]  # (Opus packet, capture ms, level dBFS)


class CaptureSupervisor:
    """Runs one source's capture thread on behalf of the event loop.

    Packets come from the capture thread through a Handoff (handoff.py) and reach
    `on_packet` on the loop, in order; `on_change` runs when capture starts, stops, goes
    offline (`offline` says why) or comes back. A packet wakes the loop only when
    `wake_after()` asked for it (see handoff.py): while nobody listens, packets reach the
    loop in batches, every CATCH_UP_S and at `catch_up()`. A thread stuck in the device is
    abandoned and a fresh one started on a fresh source from `renew`.
    """

    def __init__(self, config: Config, source: PcmSource, on_packet: OnPacket,
                 on_change: Callable[[], None], wake_after: Callable[[], int],
                 renew: Renew | None = None) -> None:
        self.config = config
        self.source = source
        self.encoder_settings = self._settings(config, source)
        self._encoder = OpusEncoder(self.encoder_settings)
        advice = bitrate_advice(config.audio.application, config.audio.bitrate_bps)
        if advice:
            logger.warning("%s", advice)
        self._on_packet = on_packet
        self._on_change = on_change
        self._renew = renew
        self._handoff = Handoff(asyncio.get_running_loop(), wake_after)
        self._capture: CaptureThread | None = None
        self.running = False  # capture should run
        self.offline: str | None = None  # why the source delivers nothing, while it should
        self.restarts = 0
        self._restarts_since_frame = 0

    @staticmethod
    def _settings(config: Config, source: PcmSource) -> EncoderSettings:
        audio = config.audio
        return EncoderSettings(source.sample_rate_hz, audio.channels, audio.frame_ms,
                               audio.bitrate_bps, audio.application, audio.complexity)

    # -- control -----------------------------------------------------------------------
    async def start(self) -> None:
        """Start capture (idempotent); raises CaptureBusyError."""
        if self.running:
            return
        await self._join_previous()
        self.running, self.offline = True, None
        self._start_thread()
        logger.info("capture started: %s", self.source.name)

    async def stop(self) -> None:
        """Stop capture and release the device (idempotent); raises CaptureBusyError."""
        if not self.running:
            return
        self.running, self.offline = False, None
        self._on_change()
        await self._join_previous()
        logger.info("capture stopped")

    async def switch_source(self, config: Config, source: PcmSource) -> None:
        """Capture another source (a config reload); `config` may differ from the running
        one in [source] only. Raises EncoderError (nothing changed) or CaptureBusyError."""
        settings = self._settings(config, source)
        encoder = OpusEncoder(settings)  # may raise: then nothing has changed yet
        was_running = self.running
        await self.stop()
        self.config, self.source = config, source
        self.encoder_settings, self._encoder = settings, encoder
        if was_running:
            await self.start()
        else:
            self._on_change()  # the source's name changed

    def catch_up(self) -> None:
        """Bring every packet captured so far to the loop now."""
        self._handoff.run_pending()

    def prompt_for(self, seconds: float) -> None:
        """Bring packets to the loop one by one for at least `seconds` (someone listens)."""
        self._handoff.prompt_for(seconds)

    def _start_thread(self) -> None:
        capture: CaptureThread

        def publish(packet: bytes, capture_ms: float, level_dbfs: float) -> None:
            self._handoff.put(self._publish, capture, packet, capture_ms, level_dbfs)

        def report(reason: str | None) -> None:
            self._handoff.put(self._report, capture, reason, urgent=True)

        capture = CaptureThread(self.source, self._encoder, publish, report)
        self._capture = capture
        capture.start()
        self._on_change()

    def _publish(self, capture: CaptureThread, packet: bytes, capture_ms: float,
                 level_dbfs: float) -> None:
        if capture is not self._capture:
            return  # from an abandoned thread that came unstuck
        self._restarts_since_frame = 0
        if self.offline is not None:
            self.offline = None
            self._on_change()
        self._on_packet(packet, capture_ms, level_dbfs)

    def _report(self, capture: CaptureThread, reason: str | None) -> None:
        if capture is self._capture and reason != self.offline:
            self.offline = reason
            self._on_change()

    async def _join_previous(self) -> None:
        capture = self._capture
        if capture is None:
            return
        capture.request_stop()
        if not await asyncio.to_thread(capture.join, STOP_WAIT_S):
            raise CaptureBusyError(f"the capture thread has not let go of {self.source.name} "
                                   f"after {STOP_WAIT_S:g} s")
        self.catch_up()  # its last packets are still its own
        self._capture = None

    # -- supervision -------------------------------------------------------------------
    async def run(self) -> None:
        """Bring packets to the loop and replace stuck threads (runs until cancelled)."""
        await asyncio.gather(self._handoff.keep_up(CATCH_UP_S), self._supervise())

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(SUPERVISE_S)
            capture = self._capture
            if not self.running or capture is None or capture.responsive(WEDGED_S):
                continue
            reason = f"capture is stuck in {self.source.name}"
            if self.offline != reason:
                self.offline = reason
                self._on_change()
            if self._renew is None:
                continue
            logger.error("%s for %g s: restarting it", reason, WEDGED_S)
            capture.request_stop()  # it exits by itself if the device ever lets go
            try:
                source = await asyncio.to_thread(self._renew, self.config)
                if source.sample_rate_hz != self.encoder_settings.sample_rate_hz:
                    raise SourceError(f"{source.name} now records at {source.sample_rate_hz} Hz")
            except SourceError as exc:
                logger.error("cannot reopen the source: %s", exc)
                continue
            if self.running and self._capture is capture:
                self.source = source
                self.restarts += 1
                self._restarts_since_frame += 1
                self._start_thread()

    def health(self) -> tuple[bool, str | None]:
        """(healthy, reason) while capture should run; (True, None) when it should not."""
        capture = self._capture
        if not self.running or capture is None:
            return True, None
        if self.offline is not None:
            return False, self.offline
        last = capture.last_frame_monotonic or capture.started_monotonic
        idle_s = time.monotonic() - last
        if idle_s <= STALL_S:
            return True, "running" if capture.last_frame_monotonic else "starting"
        return False, f"no audio from {self.source.name} for {idle_s:.1f} s"

    def responsive(self) -> bool:
        """False when capture is stuck and restarting it in-process has not helped: the
        service manager's watchdog should restart the whole service."""
        capture = self._capture
        if capture is None or capture.responsive(WEDGED_S):
            return self._restarts_since_frame < FUTILE_RESTARTS
        return False
