"""Every Opus fact the broadcaster relies on (RFC 6716, RFC 7845, libopus 1.3), in one place."""

from __future__ import annotations

DECODE_RATE_HZ = 48000  # what a decoder outputs, and what the stream's `config` event names
RATES_HZ = (48000, 24000, 16000, 12000, 8000)  # the input rates libopus encodes from
FRAME_MS = (2.5, 5.0, 10.0, 20.0, 40.0, 60.0)  # the frame durations a packet may carry
APPLICATIONS = ("audio", "voip", "restricted_lowdelay")
MAX_PACKET_BYTES = 4000  # what the libopus documentation recommends for one packet

# libopus's lookahead is 2.5 ms; every application but `restricted_lowdelay` adds 4 ms of
# delay compensation (encoder `lookahead`: 312 against 120 samples at 48 kHz).
LOOKAHEAD_MS = 2.5
DELAY_COMPENSATION_MS = 4.0

# Below this bitrate libopus's `audio` application may code speech with its speech codec
# (SILK, alone or in hybrid), which `restricted_lowdelay` does without; from here up it
# codes everything with the music codec (CELT) at any complexity, as `restricted_lowdelay`
# does, and only adds 4 ms of delay.
SPEECH_CODEC_BELOW_BPS = 64000


def codec_delay_ms(application: str) -> float:
    """How much older the audio that comes out of the decoder is than the capture time of
    the packet it came in (what the encoder's `lookahead` says, in ms)."""
    if application == "restricted_lowdelay":
        return LOOKAHEAD_MS
    return LOOKAHEAD_MS + DELAY_COMPENSATION_MS


def frame_samples(frame_ms: float, rate_hz: int = DECODE_RATE_HZ) -> int:
    """Samples per channel in one frame of `frame_ms` at `rate_hz`."""
    return int(rate_hz * frame_ms / 1000)


# The frame duration of each TOC configuration (RFC 6716, 3.1), in 48 kHz samples: SILK
# 10/20/40/60 ms (configs 0-11), hybrid 10/20 ms (12-15), CELT 2.5/5/10/20 ms (16-31).
_CONFIG_SAMPLES = ((480, 960, 1920, 2880) * 3 + (480, 960) * 2 + (120, 240, 480, 960) * 4)


class PacketError(ValueError):
    """Bytes that are not an Opus packet."""


def packet_samples(packet: bytes) -> int:
    """How many 48 kHz samples (per channel) one Opus packet decodes to (RFC 6716, 3.1)."""
    if not packet:
        raise PacketError("an Opus packet has at least its TOC byte")
    toc = packet[0]
    per_frame = _CONFIG_SAMPLES[toc >> 3]
    code = toc & 0x3
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        if len(packet) < 2:
            raise PacketError("a code 3 Opus packet has a frame count byte")
        frames = packet[1] & 0x3F
        if frames == 0:
            raise PacketError("an Opus packet with no frames")
    samples = frames * per_frame
    if samples > 5760:  # 120 ms: the most a packet may hold
        raise PacketError(f"an Opus packet of {samples} samples (over 120 ms)")
    return samples
