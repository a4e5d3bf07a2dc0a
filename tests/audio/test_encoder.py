from __future__ import annotations

import numpy as np
import pytest

from broadcaster.audio.encoder import (
    SPEECH_CODEC_BELOW_BPS,
    EncoderError,
    EncoderSettings,
    OpusEncoder,
    bitrate_advice,
)
from broadcaster.config import AudioConfig
from broadcaster.core.opus import APPLICATIONS as OPUS_APPLICATIONS
from broadcaster.core.opus import codec_delay_ms
from tests.support.signal_tools import decode_packets, dominant_frequency, rms_dbfs, sine_s16le


def settings(**kw: object) -> EncoderSettings:
    base: dict[str, object] = {"sample_rate_hz": 48000, "channels": 1, "frame_ms": 20.0,
                               "bitrate_bps": 64000, "application": "audio", "complexity": 5}
    return EncoderSettings(**(base | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("frame_ms", [2.5, 5.0, 10.0, 20.0, 40.0, 60.0])
@pytest.mark.parametrize("application", ["audio", "voip", "restricted_lowdelay"])
def test_real_libopus_round_trip(frame_ms: float, application: str) -> None:
    encoder = OpusEncoder(settings(frame_ms=frame_ms, application=application))
    pcm = sine_s16le(1000, 1.0)
    size = encoder.settings.frame_bytes
    packets = [encoder.encode(pcm[i:i + size]) for i in range(0, len(pcm) - size + 1, size)]
    decoded = decode_packets(packets)
    assert len(decoded) == len(packets) * encoder.settings.frame_samples
    tail = decoded[len(decoded) // 2:]
    assert dominant_frequency(tail) == pytest.approx(1000, abs=3)
    reference = np.frombuffer(sine_s16le(1000, 0.5), dtype="<i2")
    assert rms_dbfs(tail) == pytest.approx(rms_dbfs(reference), abs=1.5)


@pytest.mark.parametrize("rate", [8000, 12000, 16000, 24000])
def test_opus_native_input_rates_decode_at_48k(rate: int) -> None:
    encoder = OpusEncoder(settings(sample_rate_hz=rate))
    pcm = sine_s16le(500, 1.0, rate_hz=rate)
    size = encoder.settings.frame_bytes
    packets = [encoder.encode(pcm[i:i + size]) for i in range(0, len(pcm), size)]
    decoded = decode_packets(packets)
    assert dominant_frequency(decoded[len(decoded) // 2:]) == pytest.approx(500, abs=3)


def test_stereo_keeps_channels_apart() -> None:
    encoder = OpusEncoder(settings(channels=2, bitrate_bps=128000))
    left = np.frombuffer(sine_s16le(440, 1.0), dtype="<i2")
    right = np.frombuffer(sine_s16le(1200, 1.0), dtype="<i2")
    pcm = np.column_stack([left, right]).ravel().tobytes()
    size = encoder.settings.frame_bytes
    packets = [encoder.encode(pcm[i:i + size]) for i in range(0, len(pcm), size)]
    decoded = decode_packets(packets, channels=2)
    half = len(decoded) // 2
    assert dominant_frequency(decoded[half::2][:12000]) == pytest.approx(440, abs=3)
    assert dominant_frequency(decoded[half + 1::2][:12000]) == pytest.approx(1200, abs=3)


@pytest.mark.parametrize("application", ["audio", "restricted_lowdelay"])
def test_packets_are_those_opuslib_makes(application: str) -> None:
    import opuslib

    ours = OpusEncoder(settings(application=application))
    reference = opuslib.Encoder(48000, 1, application)
    reference.bitrate, reference.complexity = 64000, 5
    pcm = sine_s16le(700, 0.5)
    size = ours.settings.frame_bytes
    frames = [pcm[i:i + size] for i in range(0, len(pcm), size)]
    packets = [ours.encode(frame) for frame in frames]
    assert packets == [reference.encode(frame, 960) for frame in frames]
    assert len(set(packets)) > 1  # each packet is its own bytes, not a view of a reused buffer


def test_restricted_lowdelay_has_the_short_lookahead() -> None:
    assert OpusEncoder(settings(application="restricted_lowdelay")).lookahead_samples == 120
    assert OpusEncoder(settings()).lookahead_samples == 312


@pytest.mark.parametrize("application", OPUS_APPLICATIONS)
def test_the_codec_delay_the_listeners_are_told_is_the_encoders_lookahead(
        application: str) -> None:
    encoder = OpusEncoder(settings(application=application))
    assert codec_delay_ms(application) == encoder.lookahead_samples * 1000 / 48000


def test_a_partial_frame_is_refused() -> None:
    with pytest.raises(EncoderError, match="1920 bytes"):
        OpusEncoder(settings()).encode(b"\0" * 100)


def test_unsupported_rate_lists_the_rates_opus_takes() -> None:
    with pytest.raises(EncoderError, match="44100 Hz: it takes 48000, 24000, 16000"):
        settings(sample_rate_hz=44100)


def speech_like_s16le(seconds: float) -> bytes:
    """A 140 Hz voice with a 3 Hz syllable rhythm over a little noise."""
    t = np.arange(int(48000 * seconds)) / 48000
    voice = 0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    noise = 0.05 * np.random.default_rng(1).standard_normal(t.size)
    return (np.clip(voice + noise, -1, 1) * 20000).astype("<i2").tobytes()


def codecs_used(encoder: OpusEncoder, pcm: bytes) -> set[str]:
    """Which of Opus's codecs the packets' TOC bytes name (RFC 6716, 3.1)."""
    size = encoder.settings.frame_bytes
    configs = {encoder.encode(pcm[i:i + size])[0] >> 3 for i in range(0, len(pcm) - size + 1, size)}
    return {"silk" if c < 12 else "hybrid" if c < 16 else "celt" for c in configs}


@pytest.mark.parametrize("complexity", [5, 10])
def test_from_the_advised_bitrate_up_audio_codes_speech_with_the_music_codec_too(
        complexity: int) -> None:
    # So the default `restricted_lowdelay` only saves the 4 ms `audio` would add.
    pcm = speech_like_s16le(3.0)
    for application in ("audio", "restricted_lowdelay"):
        encoder = OpusEncoder(settings(application=application, complexity=complexity,
                                       bitrate_bps=SPEECH_CODEC_BELOW_BPS))
        assert codecs_used(encoder, pcm) == {"celt"}
    # ... while below it, at the highest effort, `audio` codes speech with SILK in part.
    encoder = OpusEncoder(settings(application="audio", complexity=10,
                                   bitrate_bps=SPEECH_CODEC_BELOW_BPS // 2))
    assert "hybrid" in codecs_used(encoder, pcm)


def test_a_low_bitrate_without_the_speech_codec_is_advised_against() -> None:
    default = AudioConfig()
    assert bitrate_advice(default.application, default.bitrate_bps) is None
    assert bitrate_advice("audio", 16000) is None
    advice = bitrate_advice("restricted_lowdelay", 24000)
    assert advice is not None and "24 kbit/s" in advice
    assert "application = 'audio'" in advice and "bitrate_bps >= 64000" in advice
