"""Delivery latency: a click into the microphone, found in the decoded stream.

    .venv/bin/python bench/latency.py [--clicks 200]

For 20 ms and 10 ms frames, with Opus `audio` and `restricted_lowdelay`: the real
broadcaster reads the virtual microphone (real PyAudio through PulseAudio); a client on
127.0.0.1 decodes the SSE stream with libopus and finds each click. A click's delay is the
time its packet arrived minus the time its first sample entered the microphone. Prints
p50/p99/max, and how far p99 is beyond the budget the frame duration and the codec's
lookahead account for (a click waits at most a frame for its packet to fill, and the
encoder's lookahead delays it further).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import opuslib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broadcaster.sse import SSEDecoder
from tests.conftest import no_device_env, start_broadcaster
from tests.raw_client import dechunk, open_stream
from tests.vmic import VirtualMic

RATE = 48000
CLICK_EVERY_S = 0.2531  # not a multiple of a frame: clicks land at every phase of a frame
LOOKAHEAD_SAMPLES = {"audio": 312, "restricted_lowdelay": 120}


def click_pcm() -> bytes:
    """A short loud burst (2 ms at 3 kHz), then silence up to CLICK_EVERY_S."""
    n = int(RATE * 0.002)
    burst = 0.8 * 32767 * np.sin(2 * np.pi * 3000 * np.arange(n) / RATE)
    silence = np.zeros(int(RATE * CLICK_EVERY_S) - n)
    return np.concatenate([burst, silence]).astype("<i2").tobytes()


async def collect(port: int, clicks: int, mic: VirtualMic, frame_ms: float) -> list[float]:
    """Play clicks; return each one's delay in ms."""
    reader, writer = await open_stream(port)
    decoder, raw = SSEDecoder(), bytearray()
    opus = opuslib.Decoder(RATE, 1)
    pending: list[float] = []  # when each queued click entered the mic (once known)
    positions: list[int] = []
    delays: list[float] = []
    block = click_pcm()
    loud = False
    try:
        for _ in range(clicks):
            positions.append(mic.play(block))
        deadline = time.monotonic() + clicks * CLICK_EVERY_S + 10
        while len(delays) < clicks and time.monotonic() < deadline:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            arrived = time.time()
            raw += chunk
            for event in decoder.feed(dechunk(raw)):
                if event.event != "message":
                    continue
                pcm = np.frombuffer(opus.decode(base64.b64decode(event.data),
                                                int(RATE * frame_ms / 1000)), dtype="<i2")
                peak = int(np.max(np.abs(pcm.astype(np.int32))))
                if peak > 8000 and not loud:
                    while len(pending) < len(delays) + 1 and positions:
                        entered = mic.entered_at(positions[len(pending)])
                        if entered is None:
                            break
                        pending.append(entered)
                    if len(pending) > len(delays):
                        delays.append(1000 * (arrived - pending[len(delays)]))
                loud = peak > 8000
    finally:
        writer.close()
        mic.clear()
    return delays


def measure(mic: VirtualMic, frame_ms: float, application: str, clicks: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="latency-"))
    proc = start_broadcaster(work, "--source", "mic", "--log-level", "warning",
                             env=no_device_env() | mic.env,
                             config=(f"[audio]\nframe_ms = {frame_ms}\n"
                                     f'application = "{application}"\n'))
    try:
        time.sleep(1)
        delays = sorted(asyncio.run(collect(int(proc.url.rsplit(":", 1)[1]), clicks, mic,
                                            frame_ms)))
    finally:
        proc.stop()
    floor = frame_ms + 1000 * LOOKAHEAD_SAMPLES[application] / RATE
    pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]  # noqa: E731
    print(f"{frame_ms:>6g} ms {application:<20} {len(delays):>6} {pick(0.5):>8.1f} "
          f"{pick(0.99):>8.1f} {delays[-1]:>8.1f} {floor:>14.1f} {pick(0.99) - floor:>+10.1f}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=200)
    args = parser.parse_args()
    print(f"{'frame':>9} {'application':<20} {'clicks':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'frame+codec':>14} {'p99 beyond':>10}")
    with VirtualMic(Path(tempfile.mkdtemp(prefix="latency-vmic-")), chunk_ms=10) as mic:
        for frame_ms in (20.0, 10.0):
            for application in ("audio", "restricted_lowdelay"):
                measure(mic, frame_ms, application, args.clicks)


if __name__ == "__main__":
    main()
