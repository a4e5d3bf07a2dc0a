"""Audio analysis and real-libopus decoding for the tests."""

from __future__ import annotations

import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import opuslib

RATE_HZ = 48000


def dominant_frequency(samples: np.ndarray, rate_hz: int = RATE_HZ) -> float:
    """The strongest frequency in `samples` (Hann-windowed FFT, parabolic peak refinement)."""
    x = np.asarray(samples, dtype=np.float64)
    x = x - x.mean()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum[1:])) + 1
    if 1 <= k < len(spectrum) - 1:
        a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
        denom = a - 2 * b + c
        k += 0.5 * (a - c) / denom if denom else 0.0
    return float(k * rate_hz / len(x))


def rms_dbfs(samples: np.ndarray, full_scale: float = 32768.0) -> float:
    """RMS level relative to a full-scale square wave (a full-scale sine is -3 dBFS)."""
    x = np.asarray(samples, dtype=np.float64) / full_scale
    rms = float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
    return 20 * np.log10(rms) if rms > 0 else -200.0


def decode_packets(packets: Iterable[bytes], channels: int = 1,
                   frame_samples: int = 5760) -> np.ndarray:
    """Decode raw Opus packets with libopus at 48 kHz; returns int16 samples (interleaved)."""
    decoder = opuslib.Decoder(RATE_HZ, channels)
    pcm = b"".join(decoder.decode(packet, frame_samples) for packet in packets)
    return np.frombuffer(pcm, dtype="<i2")


def sine_s16le(freq_hz: float, seconds: float, rate_hz: int = RATE_HZ,
               amplitude: float = 0.5, channels: int = 1) -> bytes:
    """A sine as interleaved s16le PCM."""
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    mono = np.round(amplitude * 32767 * np.sin(2 * np.pi * freq_hz * t)).astype("<i2")
    return np.repeat(mono, channels).tobytes()


def write_wav(path: Path, pcm: bytes, rate: int = 48000, channels: int = 1,
              width: int = 2) -> Path:
    """Write PCM as a WAV file; returns the path."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return path
