"""The microphone: blocking PortAudio reads, run on the capture thread."""

from __future__ import annotations

import logging
import time
from typing import Any

from broadcaster.audio.devices import InputDevice, PortAudio, find_device, pick_rate
from broadcaster.audio.sources import SourceError
from broadcaster.core import opus
from broadcaster.core.reblock import PcmChunk
from broadcaster.core.standing import StandingQueue

logger = logging.getLogger(__name__)


class MicSource:
    """A PortAudio input device, chosen by index or part of its name ("" = default).

    Each open() starts a new PortAudio session, so a device plugged in again (perhaps under
    a new index) is found by name. Overruns are counted, never raised; a reader that has
    fallen more than `max_backlog_ms` behind drops the stale audio to stay live, and audio
    that stays queued behind every read for a second is dropped once (standing.py).
    """

    def __init__(self, device: str, channels: int, max_backlog_ms: float) -> None:
        self._wanted = device
        self._max_backlog_ms = max_backlog_ms
        self.name = f"mic:{device}" if device else "mic"  # the device's own name once probed
        self.sample_rate_hz = opus.DECODE_RATE_HZ  # or the device's Opus-native rate (probe)
        self.channels = channels
        self.overflows = 0  # input overruns reported by PortAudio
        self.dropped_frames = 0  # stale sample frames thrown away to stay live
        self._pa: PortAudio | None = None
        self._stream: Any = None
        self._block = 0
        self._block_bytes = 0
        self._max_backlog = 0
        self._overflow_code = 0
        self._latency_ms = 0.0
        self._standing = StandingQueue(1, 1)  # sized for the stream by open()

    def _choose(self, pa: PortAudio) -> tuple[InputDevice, int]:
        device = find_device(pa.input_devices(), self._wanted)
        rate = pick_rate(device, lambda r: pa.supports(device, r, self.channels))
        self.name = f"mic:{device.name}"
        return device, rate

    def probe(self) -> None:
        """Choose the device and rate without opening a stream (so the encoder can be set up)."""
        with PortAudio() as pa:
            _, self.sample_rate_hz = self._choose(pa)

    def open(self, block_frames: int) -> None:
        """Open the device at the probed rate for blocking reads of `block_frames`."""
        self.close()
        pa = PortAudio()
        try:
            device, rate = self._choose(pa)
            if rate != self.sample_rate_hz:
                raise SourceError(f"{device.name} now records at {rate} Hz, "
                                  f"not {self.sample_rate_hz} Hz")
            self._stream = pa.pa.open(
                format=pa.pyaudio.paInt16, channels=self.channels, rate=rate, input=True,
                input_device_index=device.index, frames_per_buffer=block_frames)
        except OSError as exc:
            pa.close()
            raise SourceError(f"cannot open input device {self._wanted or 'default'}: {exc}") \
                from exc
        except SourceError:
            pa.close()
            raise
        self._pa = pa
        self._overflow_code = pa.pyaudio.paInputOverflowed
        self._block = block_frames
        self._block_bytes = block_frames * self.channels * 2
        self._max_backlog = max(block_frames, int(rate * self._max_backlog_ms / 1000))
        self._latency_ms = 1000.0 * self._stream.get_input_latency()
        # A verdict a second, on a standing queue of 2 ms or more.
        self._standing = StandingQueue(window_reads=max(1, rate // block_frames),
                                       min_frames=rate // 500)
        logger.info("opened input %s at %d Hz, %d channel(s), latency %.1f ms", device.name,
                    rate, self.channels, self._latency_ms)

    def read(self) -> PcmChunk:
        """Read one block; if the reader has fallen behind, drop the stale audio and return
        the newest block instead.

        The backlog is asked for once per block, after the read: the same answer dates the
        block and tells whether audio is stale. Asking before the read as well would cost a
        call into PortAudio (which releases the GIL just after the event loop was woken to
        take the previous packet, so this thread would sleep once more per block).
        """
        stream = self._stream
        if stream is None:
            raise SourceError(f"{self.name} read before open()")
        try:
            pcm = self._read_block(stream)
            now_ms = time.time() * 1000.0
            queued = stream.get_read_available()
            while queued + self._block > self._max_backlog:
                # Of the block just read and the `queued` frames behind it, keep the newest
                # block. Repeat: PortAudio's ring holds only part of a long backlog (through
                # PulseAudio the rest waits in the server and refills the ring at once).
                pcm = (pcm + stream.read(queued, exception_on_overflow=False))[
                    -self._block_bytes:]
                self.dropped_frames += queued
                now_ms = time.time() * 1000.0
                queued = stream.get_read_available()
                self._standing.reset()
            standing = self._standing.observe(queued)
            if standing:
                # Read in step from now on: this block keeps its stamp, the audio behind it
                # is skipped (it never helped a read, it only made every frame later).
                stream.read(standing, exception_on_overflow=False)
                self.dropped_frames += standing
                logger.info("%s: dropped %.1f ms of audio that waited behind every read",
                            self.name, 1000.0 * standing / self.sample_rate_hz)
        except OSError as exc:
            raise SourceError(f"reading {self.name} failed: {exc}") from exc
        # The block's first sample entered `block + queued` frames before now: what PortAudio
        # reports as input latency is that same buffer (subtracting it too dated stamps
        # about 40 ms early against the virtual microphone's own record).
        held_ms = 1000.0 * (self._block + queued) / self.sample_rate_hz
        return PcmChunk(pcm, now_ms - held_ms)

    def _read_block(self, stream: Any) -> bytes:
        """One block, counting (not raising) overruns: a block cut by an overrun is
        dropped and the next one read."""
        while True:
            try:
                pcm: bytes = stream.read(self._block, exception_on_overflow=True)
                return pcm
            except OSError as exc:
                if exc.errno != self._overflow_code:
                    raise
                self.overflows += 1

    def close(self) -> None:
        """Close the stream and end the PortAudio session."""
        stream, self._stream = self._stream, None
        pa, self._pa = self._pa, None
        if stream is not None:
            try:
                stream.stop_stream()
                stream.close()
            except OSError as exc:
                logger.debug("closing %s: %s", self.name, exc)  # it failed already
        if pa is not None:
            pa.close()
