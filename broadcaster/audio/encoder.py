"""Opus encoding through real libopus (opuslib)."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

from broadcaster.core.opus import (
    APPLICATIONS,
    FRAME_MS,
    MAX_PACKET_BYTES,
    RATES_HZ,
    SPEECH_CODEC_BELOW_BPS,
)

# opus_encode(OpusEncoder *st, const opus_int16 *pcm, int frame_size, unsigned char *data,
#             opus_int32 max_data_bytes) -> bytes written, or a negative error code
_OpusEncodeCall = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_char_p,
                                   ctypes.c_int, ctypes.c_void_p, ctypes.c_int32)


class EncoderError(RuntimeError):
    """libopus is missing or refused the settings."""


def bitrate_advice(application: str, bitrate_bps: int) -> str | None:
    """A warning for settings that cost more sound than the latency they save, or None."""
    if application != "restricted_lowdelay" or bitrate_bps >= SPEECH_CODEC_BELOW_BPS:
        return None
    return (f"audio.application = 'restricted_lowdelay' at {bitrate_bps / 1000:g} kbit/s: "
            f"speech would sound better with application = 'audio' (4 ms more delay) or "
            f"bitrate_bps >= {SPEECH_CODEC_BELOW_BPS}")


def _opuslib() -> Any:
    try:
        import opuslib  # import late: it fails when libopus is missing
        import opuslib.api
    except Exception as exc:  # opuslib raises a bare Exception when libopus can't be found
        raise EncoderError(
            f"cannot load libopus ({exc}): install it with `apt-get install libopus0`"
        ) from exc
    return opuslib


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """What the encoder is asked to do."""

    sample_rate_hz: int
    channels: int
    frame_ms: float
    bitrate_bps: int
    application: str
    complexity: int

    def __post_init__(self) -> None:
        if self.sample_rate_hz not in RATES_HZ:
            raise EncoderError(
                f"Opus cannot encode at {self.sample_rate_hz} Hz: it takes "
                + ", ".join(map(str, RATES_HZ)) + " Hz"
            )
        if self.frame_ms not in FRAME_MS:
            raise EncoderError(f"Opus frames are {FRAME_MS} ms, not {self.frame_ms}")
        if self.application not in APPLICATIONS:
            raise EncoderError(f"unknown Opus application {self.application!r}")

    @property
    def frame_samples(self) -> int:
        """Samples per channel in one frame at the input rate."""
        return int(self.sample_rate_hz * self.frame_ms / 1000)

    @property
    def frame_bytes(self) -> int:
        """Bytes of s16le PCM in one frame."""
        return self.frame_samples * self.channels * 2


class OpusEncoder:
    """Encodes whole frames of s16le PCM into raw Opus packets.

    opuslib creates and configures the encoder; each frame is then encoded with one direct
    call into libopus that writes into a buffer allocated once: opuslib's own `encode()`
    allocates and converts several Python objects per frame, which adds about 30 % to the
    cost of a frame on a capture thread that has just woken up.
    """

    def __init__(self, settings: EncoderSettings) -> None:
        opuslib = _opuslib()
        self.settings = settings
        try:
            self._encoder = opuslib.Encoder(
                settings.sample_rate_hz, settings.channels, settings.application
            )
            self._encoder.bitrate = settings.bitrate_bps
            self._encoder.complexity = settings.complexity
        except opuslib.OpusError as exc:
            raise EncoderError(f"libopus refused the settings {settings}: {exc}") from exc
        self._frame_samples = settings.frame_samples
        self._frame_bytes = settings.frame_bytes
        self._opus_encode = _OpusEncodeCall(("opus_encode", opuslib.api.libopus))
        self._state = ctypes.cast(self._encoder.encoder_state, ctypes.c_void_p).value
        self._out = ctypes.create_string_buffer(MAX_PACKET_BYTES)
        self._out_address = ctypes.addressof(self._out)
        self._out_view = memoryview(self._out).cast("B")

    @property
    def lookahead_samples(self) -> int:
        """The encoder's algorithmic delay, in samples at the input rate."""
        return int(self._encoder.lookahead)

    def encode(self, pcm: bytes) -> bytes:
        """Encode exactly one frame of PCM."""
        if len(pcm) != self._frame_bytes:
            raise EncoderError(f"a frame is {self._frame_bytes} bytes of PCM, got {len(pcm)}")
        size: int = self._opus_encode(self._state, pcm, self._frame_samples, self._out_address,
                                      MAX_PACKET_BYTES)
        if size < 0:
            raise EncoderError(f"libopus failed to encode a frame (error {size})")
        return self._out_view[:size].tobytes()
