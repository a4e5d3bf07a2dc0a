"""A listener that stops reading costs the others nothing: real sockets, a real server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx

from tests.conftest import start_broadcaster
from tests.support.procstat import rss_kb
from tests.support.raw_client import dechunk, open_stream
from tests.support.sse import SSEDecoder

HEALTHY = 20
# A high bitrate and a 1 s ring, so a stalled reader fills every buffer on the way within
# about a second and then falls behind the ring.
CONFIG = ("[audio]\nbitrate_bps = 510000\n[ring]\ncapacity_s = 1.0\n"
          "[server]\nmax_listeners_per_ip = 50\n")


async def healthy(port: int, seconds: float, lags: list[float], lost: list[int]) -> None:
    reader, writer = await open_stream(port)
    decoder, raw, expected = SSEDecoder(), bytearray(), None
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            raw += await asyncio.wait_for(reader.read(65536), 2)
            for event in decoder.feed(dechunk(raw)):
                if event.event == "message":
                    seq = int(event.id or -1)
                    if expected is not None and seq != expected:
                        lost.append(seq - expected)
                    expected = seq + 1
                elif event.event == "clock":
                    lags.append(time.time() * 1000 - json.loads(event.data)["server_ms"])
                elif event.event == "gap":
                    lost.append(-1)
    finally:
        writer.close()


async def stalled(port: int, stall_s: float) -> list[str]:
    """Read a little, stop reading for `stall_s`, then read on: returns the event kinds."""
    reader, writer = await open_stream(port, rcvbuf=4096)
    decoder, raw, kinds = SSEDecoder(), bytearray(), []
    try:
        raw += await reader.read(4096)
        await asyncio.sleep(stall_s)
        end = time.monotonic() + 2
        while time.monotonic() < end and "gap" not in kinds:
            raw += await asyncio.wait_for(reader.read(65536), 2)
            kinds += [e.event for e in decoder.feed(dechunk(raw))]
    finally:
        writer.close()
    return kinds


def test_a_stalled_listener_does_not_slow_the_others_or_grow_memory(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone", config=CONFIG)
    port = int(proc.url.rsplit(":", 1)[1])
    lags: list[float] = []
    lost: list[int] = []

    async def main() -> tuple[list[str], int, int]:
        before = rss_kb(proc.process.pid)
        stall = asyncio.create_task(stalled(port, 6.0))
        await asyncio.gather(*(healthy(port, 7.0, lags, lost) for _ in range(HEALTHY)))
        during = rss_kb(proc.process.pid)
        return await stall, before, during

    try:
        kinds, before_kb, during_kb = asyncio.run(main())
    finally:
        assert proc.stop() == 0, proc.log()
    assert lost == [], "healthy listeners lost frames"
    lags.sort()
    assert len(lags) >= HEALTHY * 5
    assert lags[int(0.99 * len(lags))] < 50, f"lag p99 {lags[int(0.99 * len(lags))]:.1f} ms"
    assert during_kb - before_kb < 8 * 1024, f"RSS grew {during_kb - before_kb} kB"
    assert "gap" in kinds, "the stalled listener was not moved to the live edge"


def test_sigterm_exits_within_two_seconds_even_with_a_stalled_listener(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone", config=CONFIG)
    port = int(proc.url.rsplit(":", 1)[1])

    async def main() -> tuple[float, bytes]:
        _, stalled_writer = await open_stream(port, rcvbuf=4096)
        reader, writer = await open_stream(port)
        deadline = time.monotonic() + 3  # the stalled one fills its buffers meanwhile
        while time.monotonic() < deadline:
            await asyncio.wait_for(reader.read(65536), 2)
        started = time.monotonic()
        proc.process.terminate()
        tail = b""
        while chunk := await asyncio.wait_for(reader.read(65536), 5):
            tail = (tail + chunk)[-4096:]
        await asyncio.to_thread(proc.process.wait, 5)
        took = time.monotonic() - started
        for w in (writer, stalled_writer):
            w.close()
        return took, tail

    took, tail = asyncio.run(main())
    assert proc.process.returncode == 0, proc.log()
    assert took < 2.0, f"took {took:.2f} s to exit"
    assert b'"state":"shutdown"' in tail  # the final event reached the healthy listener


def test_a_listener_stalled_past_the_timeout_is_disconnected(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone", config=CONFIG + (
        "stalled_listener_timeout_s = 2.0\n"))
    port = int(proc.url.rsplit(":", 1)[1])

    async def main() -> tuple[int, int, bool]:
        reader, writer = await open_stream(port, rcvbuf=4096)
        await asyncio.sleep(1)
        during = (await asyncio.to_thread(listeners, proc.url))
        await asyncio.sleep(5)  # a full window for ~1 s, then 2 s of zero window: dropped
        after = (await asyncio.to_thread(listeners, proc.url))
        try:
            while await asyncio.wait_for(reader.read(65536), 2):
                pass
            reset = False  # ended cleanly
        except (ConnectionResetError, TimeoutError):
            reset = True
        writer.close()
        return during, after, reset

    try:
        during, after, reset = asyncio.run(main())
    finally:
        assert proc.stop() == 0, proc.log()
    assert (during, after) == (1, 0)
    assert reset


def listeners(url: str) -> int:
    return int(httpx.get(url + "/status", timeout=5).json()["listeners"])
