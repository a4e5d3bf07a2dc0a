"""The broadcast in the capturing process: supervised capture, each packet numbered and
framed once, and the fan-out every listener (and every worker's copy) reads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from broadcaster.audio.sources import PcmSource
from broadcaster.audio.supervisor import CaptureSupervisor, Renew
from broadcaster.config import Config
from broadcaster.core import opus
from broadcaster.core.sound import SoundWatch
from broadcaster.core.state import BroadcastState, CaptureBusyError
from broadcaster.core.wire import Packetizer
from broadcaster.stream.fanout import Fanout, Sink
from broadcaster.stream.hello import open_stream

logger = logging.getLogger(__name__)

PacketTap = Callable[[int, bytes, float, float], None]  # id, packet, capture ms, level dBFS
PROMPT_AFTER_LISTEN_S = 2.0  # every frame wakes the loop this long after a listener asks


def epoch_first_seq() -> int:
    """The first frame id of this process: the start time in ms. Ids grow by at most 400 a
    second (2.5 ms frames), so every id a previous process sent is below this one."""
    return int(time.time() * 1000)


class Station:
    """Owns the capture (through its supervisor), the frame ids and the fan-out.

    Packets reach the loop from the capture thread (audio/supervisor.py); here they are
    numbered and framed once, then appended to the ring every listener reads. While nobody
    listens here or in a worker, they arrive in batches, and before anything reads the ring
    (a listener arriving, a status request) they are caught up.
    """

    def __init__(self, config: Config, source: PcmSource, renew: Renew | None = None,
                 first_seq: int | None = None) -> None:
        """`first_seq`: this run's first id (default: the start time in ms; an archive asks
        for one above every id it holds, should the clock have stepped back)."""
        self.config = config
        first_seq = epoch_first_seq() if first_seq is None else first_seq
        self._packetizer = Packetizer(config.audio.frame_ms, next_seq=first_seq)
        self.fanout = Fanout.for_config(config, first_seq,
                                        state=BroadcastState("stopped", source.name))
        self.capture = CaptureSupervisor(config, source, self._publish, self._capture_changed,
                                         self._frames_until_wanted,
                                         renew=renew)
        alerts = config.alerts
        self.sound = SoundWatch(alerts.policy() if alerts.enabled else None,
                                config.audio.frame_ms)
        # Told every packet with its id, capture time and level (the archive's recorder).
        self.packet_taps: list[PacketTap] = []
        # More counters for /status (the webhook's, say).
        self.reporters: list[Callable[[], dict[str, Any]]] = []
        # Listeners served elsewhere (worker processes): set by whoever serves them.
        self.listeners_elsewhere: Callable[[], int] = lambda: 0
        # Frames go on to other machines (the engine) as they come, listened to or not.
        self.relayed = False
        self._tasks: list[asyncio.Task[None]] = []
        self._shutdown = False
        self.started_monotonic = time.monotonic()

    # -- state ------------------------------------------------------------------------
    @property
    def state(self) -> BroadcastState:
        """The broadcast's state, as listeners are told it."""
        return self.fanout.state

    def _capture_changed(self) -> None:
        capture = self.capture
        if self._shutdown:
            return  # the streams have ended with their final state
        if not capture.running:
            state = BroadcastState("stopped", capture.source.name)
        elif capture.offline:
            state = BroadcastState("offline", capture.source.name, capture.offline)
        else:
            state = BroadcastState("running", capture.source.name)
        if state != self.fanout.state:
            self._packetizer.resync_clock()  # listeners get a clock event with the next frame
            self.fanout.set_state(state)

    def _publish(self, packet: bytes, capture_ms: float, level_dbfs: float) -> None:
        seq, wire = self._packetizer.frame(packet, capture_ms, time.time() * 1000.0)
        for tap in self.packet_taps:
            tap(seq, packet, capture_ms, level_dbfs)
        # Sound episodes go with the frame that made them: in the ring, to every listener.
        self.fanout.publish(seq, self.sound.feed(level_dbfs, capture_ms) + wire)

    def _frames_until_wanted(self) -> int:
        """How many packets from now the loop should be woken for (see audio/handoff.py):
        1 while anyone takes every frame (here, in a worker, or the engine); the one that
        completes a bundle while every listener here takes bundles; 0 for nobody."""
        if self.relayed or self.listeners_elsewhere():
            return 1
        return self.fanout.frames_until_wanted(self._packetizer.next_seq)

    # -- control ----------------------------------------------------------------------
    async def start(self) -> None:
        """Start capture (idempotent); raises CaptureBusyError."""
        await self.capture.start()

    async def stop(self) -> None:
        """Stop capture and release the device (idempotent); raises CaptureBusyError."""
        await self.capture.stop()

    async def switch_source(self, config: Config, source: PcmSource) -> None:
        """Broadcast another source (a config reload); listeners stay connected and get
        `state` events naming it. `config` may differ from the running one in [source] only."""
        await self.capture.switch_source(config, source)
        self.config = config

    def catch_up(self) -> None:
        """Put every frame captured so far into the ring."""
        self.capture.catch_up()

    # -- lifetime ---------------------------------------------------------------------
    async def open(self, serve_listeners: bool = True) -> None:
        """Start the supervisor (and the fan-out's heartbeat and pacing, when this process
        serves listeners), and capture if the config says so."""
        self._tasks = [asyncio.create_task(self.capture.run(), name="capture supervisor")]
        if serve_listeners:
            self._tasks.append(asyncio.create_task(self.fanout.run(), name="fan-out"))
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
            self.fanout.close(BroadcastState("shutdown", self.source_name))

    # -- reporting ----------------------------------------------------------------------
    @property
    def source_name(self) -> str:
        """The live source's name."""
        return self.capture.source.name

    @property
    def listeners(self) -> int:
        """Connected listeners, in this process and elsewhere."""
        return self.fanout.listeners + self.listeners_elsewhere()

    def summary(self) -> str:
        """One line for `systemctl status`."""
        self.catch_up()
        return f"{self.state.state}: {self.source_name}, {self.listeners} listener(s)"

    def health(self) -> tuple[bool, str]:
        """(healthy, reason): unhealthy when capture should run but makes no frames."""
        self.catch_up()
        ok, reason = self.capture.health()
        return ok, self.state.state if reason is None else reason

    def capture_responsive(self) -> bool:
        """False when capture is stuck and restarting it has not helped (see supervisor)."""
        return self.capture.responsive()

    async def status(self) -> dict[str, Any]:
        """Counters for /status."""
        return self.counters()

    def counters(self) -> dict[str, Any]:
        """The broadcast's counters (what /status shows but the listeners' reports)."""
        self.catch_up()
        ring, source, state = self.fanout.ring, self.capture.source, self.state
        return {
            "state": state.state,
            "source": state.source,
            "offline_reason": state.reason,
            "listeners": self.listeners,
            "direct_listeners": self.fanout.direct_listeners,
            "frames": ring.next_seq - ring.first_seq,
            "overflows": source.overflows,
            "dropped_frames": source.dropped_frames,
            "skips": self.fanout.skips,
            "stride": self.fanout.stride,
            "capture_restarts": self.capture.restarts,
            "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
            "next_id": ring.next_seq,
            "ring_frames": len(ring),
            "frame_ms": self.config.audio.frame_ms,
            "sample_rate_hz": opus.DECODE_RATE_HZ,
            "input_rate_hz": self.capture.encoder_settings.sample_rate_hz,
            "channels": self.config.audio.channels,
        } | self.sound.counters() | {k: v for report in self.reporters
                                         for k, v in report().items()}

    def ring_span(self) -> tuple[int, int, int]:
        """See web/broadcast.py."""
        self.catch_up()
        ring = self.fanout.ring
        return ring.first_seq, ring.oldest_seq, ring.next_seq

    async def episodes(self, before: int | None, limit: int) -> dict[str, Any]:
        """A page of sound episodes, newest first, numbered below `before`."""
        self.catch_up()
        return self.sound.page(before, limit)

    # -- listening --------------------------------------------------------------------
    def expect_listener(self) -> None:
        """A listener is about to read (here or in a worker): catch up, then bring every
        frame to the loop at once for a while."""
        self.capture.prompt_for(PROMPT_AFTER_LISTEN_S)

    def listen(self, last_id: int | None, on_end: Callable[[], None] | None = None,
               backlog_ms: float = 0.0, sink: Sink | None = None,
               bundle_ms: float = 0.0) -> AsyncIterator[bytes]:
        """One listener's stream (see stream/hello.py's `open_stream`)."""
        self.expect_listener()
        return open_stream(self.fanout, self.config, last_id, backlog_ms, on_end, sink,
                           bundle_ms)
