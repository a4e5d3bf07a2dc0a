"""The microphone: blocking PortAudio reads, run on the capture thread."""

from __future__ import annotations

import logging
import time
from typing import Any

from broadcaster.devices import PortAudio, find_device, pick_rate
from broadcaster.reblock import PcmChunk
from broadcaster.sources import SourceError

logger = logging.getLogger(__name__)


class MicSource:
    """A PortAudio input device, chosen by index or part of its name ("" = default).

    Each open() starts a new PortAudio session, so a device plugged in again (perhaps under
    a new index) is found by name. Overruns are counted, never raised; a reader that has
    fallen more than `max_backlog_ms` behind drops the stale audio to stay live.
    """

    def __init__(self, device: str, channels: int, max_backlog_ms: float) -> None:
        self._wanted = device
        self._channels = channels
        self._max_backlog_ms = max_backlog_ms
        self._name = f"mic:{device}" if device else "mic"
        self._rate = 48000
        self._pa: PortAudio | None = None
        self._stream: Any = None
        self._block = 0
        self._max_backlog = 0
        self._overflow_code = 0
        self._overflows = 0
        self._dropped = 0

    @property
    def name(self) -> str:
        """`mic:` and the device's name once opened."""
        return self._name

    @property
    def sample_rate_hz(self) -> int:
        """48 kHz, or the Opus-native rate the device supports (known after open)."""
        return self._rate

    @property
    def channels(self) -> int:
        """Channels recorded."""
        return self._channels

    @property
    def overflows(self) -> int:
        """Input overruns reported by PortAudio."""
        return self._overflows

    @property
    def dropped_frames(self) -> int:
        """Stale sample frames thrown away to stay live."""
        return self._dropped

    def probe(self) -> None:
        """Choose the device and rate without opening a stream (so the encoder can be set up)."""
        with PortAudio() as pa:
            device = find_device(pa.input_devices(), self._wanted)
            self._rate = pick_rate(device, lambda r: pa.supports(device, r, self._channels))
            self._name = f"mic:{device.name}"

    def open(self, block_frames: int) -> None:
        """Open the device at the chosen rate for blocking reads of `block_frames`."""
        self.close()
        pa = PortAudio()
        try:
            device = find_device(pa.input_devices(), self._wanted)
            rate = pick_rate(device, lambda r: pa.supports(device, r, self._channels))
            if rate != self._rate:
                raise SourceError(f"{device.name} now records at {rate} Hz, not {self._rate} Hz")
            self._stream = pa.pa.open(
                format=pa.pyaudio.paInt16, channels=self._channels, rate=rate, input=True,
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
        self._name = f"mic:{device.name}"
        self._block = block_frames
        self._max_backlog = max(block_frames, int(rate * self._max_backlog_ms / 1000))
        logger.info("opened input %s at %d Hz, %d channel(s), latency %.1f ms", device.name,
                    rate, self._channels, 1000 * self._stream.get_input_latency())

    def read(self) -> PcmChunk:
        """Read one block; drop stale audio first if the reader has fallen behind."""
        stream = self._stream
        if stream is None:
            raise SourceError(f"{self._name} read before open()")
        try:
            backlog = stream.get_read_available()
            if backlog > self._max_backlog:
                stale = backlog - self._block
                stream.read(stale, exception_on_overflow=False)
                self._dropped += stale
            while True:
                try:
                    pcm = stream.read(self._block, exception_on_overflow=True)
                    break
                except OSError as exc:
                    if exc.errno != self._overflow_code:
                        raise
                    self._overflows += 1
            now_ms = time.time() * 1000.0
            queued = self._block + stream.get_read_available()
            latency_ms = stream.get_input_latency() * 1000.0
        except OSError as exc:
            raise SourceError(f"reading {self._name} failed: {exc}") from exc
        return PcmChunk(pcm, now_ms - latency_ms - 1000.0 * queued / self._rate)

    def close(self) -> None:
        """Close the stream and end the PortAudio session."""
        stream, self._stream = self._stream, None
        pa, self._pa = self._pa, None
        if stream is not None:
            try:
                stream.stop_stream()
                stream.close()
            except OSError as exc:
                logger.warning("closing %s: %s", self._name, exc)
        if pa is not None:
            pa.close()
