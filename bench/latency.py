"""Delivery latency: a click into the microphone, found in the decoded stream.

    .venv/bin/python -m bench.latency [--clicks 200]

For 20 ms and 10 ms frames, with Opus `audio` and `restricted_lowdelay`: the real
broadcaster reads the virtual microphone (real PyAudio through PulseAudio); a client on
127.0.0.1 decodes the SSE stream with libopus and finds each click. A click's delay is the
time its packet arrived minus the time its first sample entered the microphone. Prints
p50/p99/max, and how far p99 is beyond the budget the frame duration and the codec's
lookahead account for (a click waits at most a frame for its packet to fill, and the
encoder's lookahead delays it further).

Then where the time goes, as p50/p99 of each stage:

- capture wait: from when a click's first sample entered the microphone to when
  PortAudio's read returned it (it waits for its block to fill, and in PulseAudio/ALSA);
- encode: one call to libopus;
- thread → loop: from the capture thread's publish to the event loop running it;
- ring → client: from the server putting a frame in the ring (the `server_ms` of the
  `clock` event that precedes it) to the client receiving its bytes.

The first two and the hand-off are measured by a second pass over the same clicks, with
the production capture thread, mic source and encoder in this process (the source and the
encoder wrapped to note the times); the last one by the end-to-end pass.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import opuslib

from broadcaster.audio.capture import CaptureThread
from broadcaster.audio.encoder import EncoderSettings, OpusEncoder
from broadcaster.audio.sources.mic import MicSource
from broadcaster.config import AudioConfig
from broadcaster.core.reblock import PcmChunk
from tests.support.raw_client import dechunk, open_stream
from tests.support.server import no_device_env, start_broadcaster
from tests.support.sse import SSEDecoder
from tests.support.vmic import VirtualMic

RATE = 48000
CLICK_EVERY_S = 0.2531  # not a multiple of a frame: clicks land at every phase of a frame
LOOKAHEAD_SAMPLES = {"audio": 312, "restricted_lowdelay": 120}
LOUD = 8000
MAX_WAIT_S = 0.8 * CLICK_EVERY_S  # a click not read this long after it entered was lost


def click_pcm() -> bytes:
    """A short loud burst (2 ms at 3 kHz), then silence up to CLICK_EVERY_S."""
    n = int(RATE * 0.002)
    burst = 0.8 * 32767 * np.sin(2 * np.pi * 3000 * np.arange(n) / RATE)
    silence = np.zeros(int(RATE * CLICK_EVERY_S) - n)
    return np.concatenate([burst, silence]).astype("<i2").tobytes()


def pick(values: list[float], q: float) -> float:
    """The q-quantile of `values` (nearest rank); nan when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def spread(values: list[float]) -> str:
    """`p50/p99` in ms."""
    return f"{pick(values, 0.5):.2f}/{pick(values, 0.99):.2f}"


class EntryTimes:
    """When each queued click entered the virtual mic, asked for while the mic still
    remembers (its write log is about 20 s long)."""

    def __init__(self, mic: VirtualMic, positions: list[int]) -> None:
        self._mic = mic
        self._positions = positions
        self.entered: list[float] = []

    def update(self) -> None:
        """Resolve the clicks that have been written since the last call."""
        while len(self.entered) < len(self._positions):
            entered = self._mic.entered_at(self._positions[len(self.entered)])
            if entered is None:
                return
            self.entered.append(entered)


# -- the end-to-end pass: the real broadcaster, a client on a socket ----------------------

@dataclass
class Delivery:
    """What the client saw: each click's delay, and each clock event's ring → client time."""

    delays_ms: list[float] = field(default_factory=list)
    ring_to_client_ms: list[float] = field(default_factory=list)


async def collect(port: int, clicks: int, mic: VirtualMic, frame_ms: float) -> Delivery:
    """Play clicks; return each one's delay, and each clock event's ring → client time."""
    reader, writer = await open_stream(port)
    decoder, raw = SSEDecoder(), bytearray()
    opus = opuslib.Decoder(RATE, 1)
    got = Delivery()
    block = click_pcm()
    loud = False
    try:
        entries = EntryTimes(mic, [mic.play(block) for _ in range(clicks)])
        deadline = time.monotonic() + clicks * CLICK_EVERY_S + 10
        while len(got.delays_ms) < clicks and time.monotonic() < deadline:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            arrived = time.time()
            raw += chunk
            for event in decoder.feed(dechunk(raw)):
                if event.event == "clock":
                    sent_ms = float(json.loads(event.data)["server_ms"])
                    got.ring_to_client_ms.append(1000 * arrived - sent_ms)
                if event.event != "message":
                    continue
                pcm = np.frombuffer(opus.decode(base64.b64decode(event.data),
                                                int(RATE * frame_ms / 1000)), dtype="<i2")
                peak = int(np.max(np.abs(pcm.astype(np.int32))))
                if peak > LOUD and not loud:
                    entries.update()
                    if len(entries.entered) > len(got.delays_ms):
                        got.delays_ms.append(1000 * (arrived - entries.entered[len(got.delays_ms)]))
                loud = peak > LOUD
    finally:
        writer.close()
        mic.clear()
    return got


def measure(mic: VirtualMic, frame_ms: float, application: str, clicks: int,
            archive: bool = True, suffix: str = "") -> Delivery:
    """Run the broadcaster on the mic and print one row of the delivery table."""
    work = Path(tempfile.mkdtemp(prefix="latency-"))
    proc = start_broadcaster(work, "--source", "mic", "--log-level", "warning",
                             env=no_device_env() | mic.env,
                             config=(f"[audio]\nframe_ms = {frame_ms}\n"
                                     f'application = "{application}"\n'
                                     f"[archive]\nenabled = {str(archive).lower()}\n"
                                     "min_free_mb = 0\n"))
    try:
        time.sleep(1)
        got = asyncio.run(collect(int(proc.url.rsplit(":", 1)[1]), clicks, mic, frame_ms))
    finally:
        proc.stop()
    delays = got.delays_ms
    floor = frame_ms + 1000 * LOOKAHEAD_SAMPLES[application] / RATE
    print(f"{frame_ms:>6g} ms {application:<20} {len(delays):>6} {pick(delays, 0.5):>8.1f} "
          f"{pick(delays, 0.99):>8.1f} {max(delays):>8.1f} {floor:>14.1f} "
          f"{pick(delays, 0.99) - floor:>+10.1f}{suffix}", flush=True)
    return got


# -- the stage pass: the production capture path in this process, with stamps ------------

class StampedMic:
    """The mic source, noting when each read returned and what it held."""

    def __init__(self, mic: MicSource) -> None:
        self._mic = mic
        self.reads: list[tuple[float, bytes]] = []  # (time.time() the read returned, PCM)

    @property
    def name(self) -> str:
        """The mic's name."""
        return self._mic.name

    @property
    def sample_rate_hz(self) -> int:
        """The mic's rate."""
        return self._mic.sample_rate_hz

    @property
    def channels(self) -> int:
        """The mic's channels."""
        return self._mic.channels

    @property
    def overflows(self) -> int:
        """The mic's overruns."""
        return self._mic.overflows

    @property
    def dropped_frames(self) -> int:
        """What the mic dropped to stay live."""
        return self._mic.dropped_frames

    def open(self, block_frames: int) -> None:
        """Open the mic."""
        self._mic.open(block_frames)

    def read(self) -> PcmChunk:
        """Read the mic and note when the read returned."""
        chunk = self._mic.read()
        self.reads.append((time.time(), chunk.pcm))
        return chunk

    def close(self) -> None:
        """Close the mic."""
        self._mic.close()


class TimedEncoder(OpusEncoder):
    """The Opus encoder, noting how long each frame took."""

    def __init__(self, settings: EncoderSettings) -> None:
        super().__init__(settings)
        self.encode_ms: list[float] = []

    def encode(self, pcm: bytes) -> bytes:
        """Encode and note the time it took."""
        started = time.perf_counter()
        packet = super().encode(pcm)
        self.encode_ms.append(1000 * (time.perf_counter() - started))
        return packet


@dataclass
class Stages:
    """Per-click capture waits and per-frame encode and hand-off times, in ms."""

    capture_wait_ms: list[float]
    encode_ms: list[float]
    handoff_ms: list[float]


def onset_times(reads: list[tuple[float, bytes]]) -> list[float]:
    """When the read holding each click's first loud sample returned."""
    onsets, quiet_for = [], RATE  # samples since the last loud one
    for returned, pcm in reads:
        samples = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
        loud = np.flatnonzero(samples > LOUD)
        if len(loud) and quiet_for + loud[0] > RATE // 10:
            onsets.append(returned)
        quiet_for = len(samples) - 1 - loud[-1] if len(loud) else quiet_for + len(samples)
    return onsets


async def stages(mic: VirtualMic, frame_ms: float, application: str, clicks: int) -> Stages:
    """Capture and encode the clicks with the production classes; time each stage."""
    audio = AudioConfig(frame_ms=frame_ms, application=application)
    source = MicSource("", 1, max_backlog_ms=100.0)
    source.probe()
    stamped = StampedMic(source)
    encoder = TimedEncoder(EncoderSettings(source.sample_rate_hz, 1, frame_ms,
                                           audio.bitrate_bps, application, audio.complexity))
    loop = asyncio.get_running_loop()
    handoff_ms: list[float] = []

    def arrived(published: float) -> None:
        handoff_ms.append(1000 * (time.perf_counter() - published))

    def publish(packet: bytes, capture_ms: float, level_dbfs: float) -> None:
        loop.call_soon_threadsafe(arrived, time.perf_counter())

    capture = CaptureThread(stamped, encoder, publish, lambda reason: None)
    capture.start()
    try:
        await asyncio.sleep(1)
        entries = EntryTimes(mic, [mic.play(click_pcm()) for _ in range(clicks)])
        deadline = time.monotonic() + clicks * CLICK_EVERY_S + 2
        while len(entries.entered) < clicks and time.monotonic() < deadline:
            entries.update()
            await asyncio.sleep(0.05)
        await asyncio.sleep(MAX_WAIT_S)
    finally:
        capture.request_stop()
        await asyncio.to_thread(capture.join, 2)
        mic.clear()
    waits, onsets = [], onset_times(list(stamped.reads))
    for entered in entries.entered:
        seen = next((t for t in onsets if t >= entered), None)
        if seen is not None and seen - entered < MAX_WAIT_S:
            waits.append(1000 * (seen - entered))
    return Stages(waits, encoder.encode_ms, handoff_ms)


def archive_compare(clicks: int, rounds: int) -> None:
    """Delivery with the archive off and on, interleaved, in one run."""
    print(f"{'frame':>9} {'application':<20} {'clicks':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'frame+codec':>14} {'p99 beyond':>10}  archive")
    with VirtualMic(Path(tempfile.mkdtemp(prefix="latency-vmic-")), chunk_ms=10) as mic:
        for _ in range(rounds):
            for archive in (False, True):
                measure(mic, 20.0, "restricted_lowdelay", clicks, archive,
                        f"  {'on' if archive else 'off'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=200)
    parser.add_argument("--archive-rounds", type=int, default=0,
                        help="only 20 ms restricted_lowdelay: this many rounds with the "
                             "archive off, then on")
    args = parser.parse_args()
    if args.archive_rounds:
        archive_compare(args.clicks, args.archive_rounds)
        return
    configs = [(frame_ms, application) for frame_ms in (20.0, 10.0)
               for application in ("audio", "restricted_lowdelay")]
    deliveries: list[Delivery] = []
    print(f"{'frame':>9} {'application':<20} {'clicks':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'frame+codec':>14} {'p99 beyond':>10}")
    with VirtualMic(Path(tempfile.mkdtemp(prefix="latency-vmic-")), chunk_ms=10) as mic:
        for frame_ms, application in configs:
            deliveries.append(measure(mic, frame_ms, application, args.clicks))
        print(f"\nwhere the time goes, p50/p99 ms\n{'frame':>9} {'application':<20} "
              f"{'capture wait':>13} {'lookahead':>9} {'encode':>11} {'thread→loop':>11} "
              f"{'ring→client':>11}")
        os.environ.update(mic.env)  # this process now reads the mic itself
        for (frame_ms, application), delivery in zip(configs, deliveries, strict=True):
            got = asyncio.run(stages(mic, frame_ms, application, args.clicks))
            lookahead_ms = 1000 * LOOKAHEAD_SAMPLES[application] / RATE
            print(f"{frame_ms:>6g} ms {application:<20} {spread(got.capture_wait_ms):>13} "
                  f"{lookahead_ms:>9.1f} {spread(got.encode_ms):>11} "
                  f"{spread(got.handoff_ms):>11} {spread(delivery.ring_to_client_ms):>11}",
                  flush=True)


if __name__ == "__main__":
    main()
