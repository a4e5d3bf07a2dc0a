"""The broadcast as the event loop sees it: capture state, the frame ring and the listeners."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from broadcaster.capture import CaptureThread
from broadcaster.config import Config
from broadcaster.encoder import EncoderSettings, OpusEncoder
from broadcaster.ring import FrameRing
from broadcaster.sources import PcmSource
from broadcaster.wire import HEARTBEAT, Packetizer, config_event, gap_event, state_event

logger = logging.getLogger(__name__)

OPUS_DECODE_RATE_HZ = 48000
STOP_WAIT_S = 2.0
STALL_S = 2.0  # capture that should run but has made no frame for this long is unhealthy
WEDGED_S = 5.0  # a capture loop that has not come round for this long is stuck in the device


class CaptureBusyError(RuntimeError):
    """The previous capture thread has not finished yet (a wedged device)."""


class Station:
    """Owns the capture thread and the ring; listeners read the ring by sequence number.

    Frames arrive from the capture thread through `loop.call_soon_threadsafe(publish)`.
    Every listener waits on one shared event and, when woken, sends everything it has not
    sent yet in one write, so a frame costs one append however many listen.
    """

    def __init__(self, config: Config, source: PcmSource) -> None:
        audio = config.audio
        self.config = config
        self.source = source
        self.encoder_settings = self._encoder_settings(source)
        self._encoder = OpusEncoder(self.encoder_settings)
        self._packetizer = Packetizer(audio.frame_ms)
        capacity = max(1, round(config.ring.capacity_s * 1000 / audio.frame_ms))
        self.ring = FrameRing(capacity)
        self._news = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._capture: CaptureThread | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.state = "stopped"
        self.state_version = 0
        self.closing = False
        self.listeners = 0
        self.skips = 0
        self.started_monotonic = time.monotonic()

    def _encoder_settings(self, source: PcmSource) -> EncoderSettings:
        audio = self.config.audio
        return EncoderSettings(source.sample_rate_hz, audio.channels, audio.frame_ms,
                               audio.bitrate_bps, audio.application, audio.complexity)

    # -- capture control ------------------------------------------------------------
    async def start(self) -> None:
        """Start capture (idempotent)."""
        if self.state == "running":
            return
        await self._join_previous()
        self._capture = CaptureThread(self.source, self._encoder, self._packetizer,
                                      self._from_capture_thread)
        self._capture.start()
        self._set_state("running")
        logger.info("capture started: %s", self.source.name)

    async def stop(self) -> None:
        """Stop capture and release the device (idempotent)."""
        if self.state == "stopped":
            return
        if self._capture is not None:
            self._capture.request_stop()
        self._set_state("stopped")
        await self._join_previous()
        logger.info("capture stopped")

    async def switch_source(self, config: Config, source: PcmSource) -> None:
        """Broadcast another source (a config reload); listeners stay connected and get
        `state` events naming it. `config` may differ from the running one in [source] only."""
        settings = self._encoder_settings(source)
        encoder = OpusEncoder(settings)  # may raise: then nothing has changed yet
        was_running = self.state == "running"
        await self.stop()
        self.config, self.source = config, source
        self.encoder_settings, self._encoder = settings, encoder
        if was_running:
            await self.start()
        else:
            self._set_state("stopped")  # tell listeners the new source name

    async def _join_previous(self) -> None:
        capture = self._capture
        if capture is None:
            return
        capture.request_stop()
        if not await asyncio.to_thread(capture.join, STOP_WAIT_S):
            raise CaptureBusyError(f"the capture thread has not let go of {self.source.name} "
                                   f"after {STOP_WAIT_S:g} s")
        self._capture = None

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_version += 1
        self._wake()

    def _from_capture_thread(self, seq: int, wire: bytes) -> None:
        try:
            self._loop.call_soon_threadsafe(self.publish, seq, wire)
        except RuntimeError:  # the loop has closed under a capture thread that outlived it
            if self._capture is not None:
                self._capture.request_stop()

    def publish(self, seq: int, wire: bytes) -> None:
        """Append one framed packet and wake the listeners (event loop thread only)."""
        self.ring.append(seq, wire)
        self._wake()

    def _wake(self) -> None:
        self._news.set()
        self._news.clear()

    # -- lifetime ---------------------------------------------------------------------
    async def open(self) -> None:
        """Start the heartbeat, and capture if the config says so."""
        self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="heartbeat")
        if self.config.server.autostart:
            await self.start()

    async def close(self) -> None:
        """End every listener's stream, stop capture and the heartbeat."""
        self.end_streams()
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
        try:
            await self.stop()
        except CaptureBusyError as exc:
            logger.warning("%s; exiting anyway", exc)

    def end_streams(self) -> None:
        """Make every listener's stream finish (on shutdown)."""
        self.closing = True
        self._wake()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.server.heartbeat_s / 2)
            self._wake()

    # -- reporting ----------------------------------------------------------------------
    @property
    def source_name(self) -> str:
        """The live source's name."""
        return self.source.name

    def summary(self) -> str:
        """One line for `systemctl status`."""
        return f"{self.state}: {self.source_name}, {self.listeners} listener(s)"

    def health(self) -> tuple[bool, str]:
        """(healthy, reason): unhealthy when capture should run but makes no frames."""
        capture = self._capture
        if self.state != "running" or capture is None:
            return True, "stopped"
        last = capture.last_frame_monotonic or capture.started_monotonic
        idle_s = time.monotonic() - last
        if idle_s <= STALL_S:
            return True, "running" if capture.last_frame_monotonic else "starting"
        return False, capture.error or f"no audio from {self.source_name} for {idle_s:.1f} s"

    def capture_responsive(self) -> bool:
        """False only when capture should run and its thread is stuck (for the watchdog)."""
        capture = self._capture
        return capture is None or capture.responsive(WEDGED_S)

    def status(self) -> dict[str, Any]:
        """Counters for /status."""
        return {
            "state": self.state,
            "source": self.source_name,
            "listeners": self.listeners,
            "frames": self.ring.next_seq,
            "overflows": self.source.overflows,
            "dropped_frames": self.source.dropped_frames,
            "skips": self.skips,
            "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
            "next_id": self.ring.next_seq,
            "ring_frames": len(self.ring),
            "frame_ms": self.config.audio.frame_ms,
            "sample_rate_hz": OPUS_DECODE_RATE_HZ,
            "input_rate_hz": self.encoder_settings.sample_rate_hz,
            "channels": self.config.audio.channels,
        }

    def config_payload(self, next_id: int) -> dict[str, Any]:
        """The `config` event every connection starts with."""
        audio = self.config.audio
        return {
            "codec": "opus",
            "sample_rate_hz": OPUS_DECODE_RATE_HZ,
            "channels": audio.channels,
            "frame_ms": audio.frame_ms,
            "frame_samples": int(OPUS_DECODE_RATE_HZ * audio.frame_ms / 1000),
            "bitrate_bps": audio.bitrate_bps,
            "application": audio.application,
            "source": self.source_name,
            "state": self.state,
            "server_ms": round(time.time() * 1000.0, 3),
            "next_id": next_id,
        }

    # -- listening --------------------------------------------------------------------
    def first_seq(self, last_id: int | None) -> int:
        """Where a new connection starts: after `last_id` if given, else the live edge."""
        if last_id is None:
            return self.ring.next_seq
        return min(last_id + 1, self.ring.next_seq)

    async def listen(self, start_seq: int) -> AsyncIterator[bytes]:
        """One listener's stream: config, then every frame from `start_seq`, as SSE bytes."""
        ring = self.ring
        heartbeat_s = self.config.server.heartbeat_s
        first = start_seq if ring.holds(start_seq) else ring.next_seq
        seq = start_seq
        seen_state = self.state_version
        last_sent = time.monotonic()
        self.listeners += 1
        try:
            yield config_event(self.config_payload(first), self.config.server.retry_ms)
            while not self.closing:
                out = b""
                if self.state_version != seen_state:
                    seen_state = self.state_version
                    out = state_event(self.state, self.source_name)
                batch = ring.read(seq)
                if batch.lost:
                    self.skips += batch.lost
                    out += gap_event(batch.lost, batch.next_seq)
                seq = batch.next_seq
                out += batch.data
                now = time.monotonic()
                if out:
                    last_sent = now
                    yield out
                elif now - last_sent >= heartbeat_s / 2:
                    last_sent = now
                    yield HEARTBEAT
                else:
                    await self._news.wait()
        finally:
            self.listeners -= 1
