"""The broadcast as the event loop sees it: capture control, its state, and the fan-out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from broadcaster.audio.capture import CaptureThread
from broadcaster.audio.encoder import EncoderSettings, OpusEncoder, bitrate_advice
from broadcaster.audio.handoff import Handoff
from broadcaster.audio.sources import PcmSource, SourceError
from broadcaster.config import Config
from broadcaster.core import opus
from broadcaster.core.limits import Admission
from broadcaster.core.telemetry import TelemetryStore
from broadcaster.core.wire import Packetizer, state_event
from broadcaster.stream.fanout import Sink
from broadcaster.stream.listening import listen_to, make_fanout

logger = logging.getLogger(__name__)

STOP_WAIT_S = 2.0
STALL_S = 2.0  # capture that should run but has made no frame for this long is unhealthy
WEDGED_S = 5.0  # a capture loop that has not come round for this long is stuck in the device
SUPERVISE_S = 1.0
FUTILE_RESTARTS = 2  # restarts without a frame in between: the watchdog may take over
CATCH_UP_S = 0.5  # while nobody listens, frames reach the ring at least this often
PROMPT_AFTER_LISTEN_S = 2.0  # every frame wakes the loop this long after a listener asks

Renew = Callable[[Config], PcmSource]


class Tap(Protocol):
    """Something else that gets every frame and state change: the feed to a worker process."""

    @property
    def listeners(self) -> int:
        """Listeners served there."""

    def frame(self, seq: int, wire: bytes) -> None:
        """A framed frame, as the ring got it."""

    def state_changed(self) -> None:
        """The state (or the source's name) changed."""


class CaptureBusyError(RuntimeError):
    """The previous capture thread has not finished yet (a wedged device)."""


def epoch_first_seq() -> int:
    """The first frame id of this process: the start time in ms. Ids grow by at most 400 a
    second (2.5 ms frames), so every id a previous process sent is below this one."""
    return int(time.time() * 1000)


class Station:
    """Owns the capture thread, its state and the fan-out to listeners.

    Encoded packets come from the capture thread through a Handoff (handoff.py); here they
    are numbered and framed once, then appended to the ring every listener reads. While
    nobody listens here or in a worker, they reach the ring in batches: every CATCH_UP_S,
    and before anything reads it (a listener arriving, a status request).
    A capture thread stuck in the device is abandoned and a fresh one started on a fresh
    source (`renew`).
    """

    def __init__(self, config: Config, source: PcmSource, renew: Renew | None = None) -> None:
        audio = config.audio
        self.config = config
        self.source = source
        self._renew = renew
        self.encoder_settings = self._encoder_settings(source)
        self._encoder = OpusEncoder(self.encoder_settings)
        advice = bitrate_advice(audio.application, audio.bitrate_bps)
        if advice:
            logger.warning("%s", advice)
        first_seq = epoch_first_seq()
        self._packetizer = Packetizer(audio.frame_ms, next_seq=first_seq)
        self.fanout = make_fanout(config, first_seq)
        self.admission = Admission(config.server.max_listeners, config.server.max_listeners_per_ip)
        self.telemetry = TelemetryStore(config.server.max_listeners,
                                        config.server.max_listeners_per_ip)
        self.taps: list[Tap] = []
        self._handoff = Handoff(asyncio.get_running_loop(),
                                wanted=lambda: bool(self.fanout.listeners or self.taps))
        self._capture: CaptureThread | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wanted = False  # capture should run
        self._offline: str | None = None  # why the source delivers nothing, while it should
        self._shutdown = False
        self.state_version = 0
        self.capture_restarts = 0
        self._restarts_since_frame = 0
        self.started_monotonic = time.monotonic()

    def _encoder_settings(self, source: PcmSource) -> EncoderSettings:
        audio = self.config.audio
        return EncoderSettings(source.sample_rate_hz, audio.channels, audio.frame_ms,
                               audio.bitrate_bps, audio.application, audio.complexity)

    # -- state ------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """`running`, `stopped` (by control), `offline` (the source fails: reopening) or
        `shutdown`."""
        if self._shutdown:
            return "shutdown"
        if not self._wanted:
            return "stopped"
        return "offline" if self._offline else "running"

    def state_event(self) -> bytes:
        """The `state` event listeners get when the state changes."""
        return state_event(self.state, self.source_name, self._offline)

    def _state_changed(self) -> None:
        self.state_version += 1
        self.fanout.wake()
        for tap in self.taps:
            tap.state_changed()

    # -- capture control ------------------------------------------------------------
    async def start(self) -> None:
        """Start capture (idempotent)."""
        if self._wanted:
            return
        await self._join_previous()
        self._wanted = True
        self._offline = None
        self._start_capture()
        self._state_changed()
        logger.info("capture started: %s", self.source.name)

    def _start_capture(self) -> None:
        capture: CaptureThread

        def publish(packet: bytes, capture_ms: float) -> None:
            self._handoff.put(self._publish, capture, packet, capture_ms)

        def report(reason: str | None) -> None:
            self._handoff.put(self._on_report, capture, reason, urgent=True)

        capture = CaptureThread(self.source, self._encoder, publish, report)
        self._capture = capture
        self._packetizer.resync_clock()
        capture.start()

    def catch_up(self) -> None:
        """Put every frame captured so far into the ring (see the class's docstring)."""
        self._handoff.run_pending()

    def _publish(self, capture: CaptureThread, packet: bytes, capture_ms: float) -> None:
        if capture is not self._capture:
            return  # from an abandoned thread that came unstuck
        self._restarts_since_frame = 0
        if self._offline is not None:
            self._offline = None
            self._state_changed()
        seq, wire = self._packetizer.frame(packet, capture_ms, time.time() * 1000.0)
        self.fanout.publish(seq, wire)
        for tap in self.taps:
            tap.frame(seq, wire)

    def _on_report(self, capture: CaptureThread, reason: str | None) -> None:
        if capture is self._capture and reason != self._offline:
            self._offline = reason
            self._state_changed()

    async def stop(self) -> None:
        """Stop capture and release the device (idempotent)."""
        if not self._wanted:
            return
        self._wanted = False
        self._offline = None
        self._state_changed()
        await self._join_previous()
        logger.info("capture stopped")

    async def switch_source(self, config: Config, source: PcmSource) -> None:
        """Broadcast another source (a config reload); listeners stay connected and get
        `state` events naming it. `config` may differ from the running one in [source] only."""
        settings = self._encoder_settings(source)
        encoder = OpusEncoder(settings)  # may raise: then nothing has changed yet
        was_running = self._wanted
        await self.stop()
        self.config, self.source = config, source
        self.encoder_settings, self._encoder = settings, encoder
        if was_running:
            await self.start()
        else:
            self._state_changed()  # tell listeners the new source name

    async def _join_previous(self) -> None:
        capture = self._capture
        if capture is None:
            return
        capture.request_stop()
        if not await asyncio.to_thread(capture.join, STOP_WAIT_S):
            raise CaptureBusyError(f"the capture thread has not let go of {self.source.name} "
                                   f"after {STOP_WAIT_S:g} s")
        self.catch_up()  # its last frames are still its own
        self._capture = None

    async def _supervise(self) -> None:
        """Replace a capture thread that is stuck in the device."""
        while True:
            await asyncio.sleep(SUPERVISE_S)
            capture = self._capture
            if not self._wanted or capture is None or capture.responsive(WEDGED_S):
                continue
            reason = f"capture is stuck in {self.source_name}"
            if self._offline != reason:
                self._offline = reason
                self._state_changed()
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
            if self._wanted and self._capture is capture:
                self.source = source
                self.capture_restarts += 1
                self._restarts_since_frame += 1
                self._start_capture()

    # -- lifetime ---------------------------------------------------------------------
    async def open(self) -> None:
        """Start the heartbeat and the supervisor, and capture if the config says so."""
        self._tasks = [asyncio.create_task(self._heartbeat(), name="heartbeat"),
                       asyncio.create_task(self.fanout.pace(), name="pace"),
                       asyncio.create_task(self._supervise(), name="supervise"),
                       asyncio.create_task(self._handoff.keep_up(CATCH_UP_S), name="catch up")]
        if self.config.server.autostart:
            await self.start()

    async def close(self) -> None:
        """End every listener's stream, stop capture and the background tasks."""
        self.end_streams()
        for task in self._tasks:
            task.cancel()
        try:
            await self.stop()
        except CaptureBusyError as exc:
            logger.warning("%s; exiting anyway", exc)

    def end_streams(self) -> None:
        """Tell every listener the server is shutting down and end their streams."""
        if not self._shutdown:
            self._shutdown = True
            self._state_changed()
            self.fanout.close()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.fanout.heartbeat_s / 2)
            self.fanout.wake()

    # -- reporting ----------------------------------------------------------------------
    @property
    def source_name(self) -> str:
        """The live source's name."""
        return self.source.name

    @property
    def listeners(self) -> int:
        """Connected listeners, in this process and in worker processes."""
        return self.fanout.listeners + sum(tap.listeners for tap in self.taps)

    async def admit(self, address: str) -> str | None:
        """Admit one more listener from `address`; returns why not, or None."""
        return self.admission.admit(address)

    def release(self, address: str) -> None:
        """A listener admitted by `admit` has gone."""
        self.admission.release(address)

    def summary(self) -> str:
        """One line for `systemctl status`."""
        self.catch_up()
        return f"{self.state}: {self.source_name}, {self.listeners} listener(s)"

    def health(self) -> tuple[bool, str]:
        """(healthy, reason): unhealthy when capture should run but makes no frames."""
        self.catch_up()
        capture = self._capture
        if not self._wanted or capture is None:
            return True, self.state
        if self._offline is not None:
            return False, self._offline
        last = capture.last_frame_monotonic or capture.started_monotonic
        idle_s = time.monotonic() - last
        if idle_s <= STALL_S:
            return True, "running" if capture.last_frame_monotonic else "starting"
        return False, f"no audio from {self.source_name} for {idle_s:.1f} s"

    def capture_responsive(self) -> bool:
        """False when capture is stuck and restarting it in-process has not helped: the
        service manager's watchdog should restart the whole service."""
        capture = self._capture
        if capture is None or capture.responsive(WEDGED_S):
            return self._restarts_since_frame < FUTILE_RESTARTS
        return False

    def status(self) -> dict[str, Any]:
        """Counters for /status."""
        self.catch_up()
        ring = self.fanout.ring
        return {
            "state": self.state,
            "source": self.source_name,
            "offline_reason": self._offline,
            "listeners": self.listeners,
            "direct_listeners": self.fanout.direct_listeners,
            "frames": ring.next_seq - ring.first_seq,
            "overflows": self.source.overflows,
            "dropped_frames": self.source.dropped_frames,
            "skips": self.fanout.skips,
            "stride": self.fanout.stride,
            "refused_listeners": self.admission.refused,
            "capture_restarts": self.capture_restarts,
            "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
            "next_id": ring.next_seq,
            "ring_frames": len(ring),
            "frame_ms": self.config.audio.frame_ms,
            "sample_rate_hz": opus.DECODE_RATE_HZ,
            "input_rate_hz": self.encoder_settings.sample_rate_hz,
            "channels": self.config.audio.channels,
            "listeners_detail": self.telemetry.detail(time.monotonic()),
        }

    # -- listening --------------------------------------------------------------------
    def listen(self, last_id: int | None, on_end: Callable[[], None] | None = None,
               backlog_ms: float = 0.0, sink: Sink | None = None) -> AsyncIterator[bytes]:
        """One listener's stream (see `listen_to`)."""
        self._handoff.prompt_for(PROMPT_AFTER_LISTEN_S)
        return listen_to(self.fanout, self.config, self, last_id, backlog_ms, on_end, sink)
