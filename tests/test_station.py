"""The station and app in-process: a real tone source, real libopus, a real Hypercorn."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig

from broadcaster.audio.sources.tone import tone_source
from broadcaster.audio.supervisor import CATCH_UP_S
from broadcaster.config import Config
from broadcaster.config_file import config_from_dict
from broadcaster.server import WEB_ROOT
from broadcaster.station import PROMPT_AFTER_LISTEN_S, Station
from broadcaster.web.app import create_app
from tests.conftest import free_port
from tests.support.signal_tools import decode_packets, dominant_frequency
from tests.support.sse import SSEDecoder


def make_config(**sections: dict[str, object]) -> Config:
    return config_from_dict({"source": {"spec": "tone:440"}, **sections})


@contextlib.asynccontextmanager
async def running_station(config: Config) -> AsyncIterator[Station]:
    station = Station(config, tone_source(440, -12.0, 48000, config.audio.channels))
    await station.open()
    try:
        yield station
    finally:
        await station.close()


async def take_frames(stream: AsyncIterator[bytes], count: int) -> tuple[list[str], list[bytes]]:
    """Read events from a listener stream until `count` audio frames came; (kinds, packets)."""
    decoder, kinds, packets = SSEDecoder(), [], []
    while len(packets) < count:
        for event in decoder.feed(await anext(stream)):
            kinds.append(event.event)
            if event.event == "message":
                packets.append(base64.b64decode(event.data))
    return kinds, packets


@pytest.mark.parametrize(("frame_ms", "channels"), [(10.0, 1), (20.0, 2), (2.5, 1)])
def test_frame_sizes_and_channels(frame_ms: float, channels: int) -> None:
    async def main() -> None:
        config = make_config(audio={"frame_ms": frame_ms, "channels": channels})
        async with running_station(config) as station:
            stream = station.listen(None)
            count = int(500 / frame_ms)  # half a second
            _, packets = await take_frames(stream, count)
            await stream.aclose()
        pcm = decode_packets(packets, channels=channels)
        assert len(pcm) == count * int(48 * frame_ms) * channels
        left = pcm[::channels][len(pcm) // channels // 4:]
        assert dominant_frequency(left) == pytest.approx(440, abs=3)

    asyncio.run(main())


def test_a_listener_that_falls_behind_the_ring_jumps_to_live_and_the_skip_is_counted() -> None:
    async def main() -> None:
        async with running_station(make_config(ring={"capacity_s": 0.5})) as station:
            stalled = station.listen(None)
            healthy = station.listen(None)
            await anext(stalled)  # config
            await anext(healthy)
            kinds, _ = await take_frames(healthy, 50)  # 1 s: the stalled one is lost
            assert "gap" not in kinds
            assert station.listeners == 2
            kinds, _ = await take_frames(stalled, 1)
            assert kinds[0] == "gap"
            assert station.fanout.skips >= 25
            for stream in (stalled, healthy):
                await stream.aclose()
            assert station.listeners == 0

    asyncio.run(main())


def test_state_changes_reach_listeners_and_shutdown_ends_streams() -> None:
    async def main() -> None:
        async with running_station(make_config()) as station:
            stream = station.listen(None)
            await take_frames(stream, 2)
            await station.stop()
            decoder = SSEDecoder()
            seen: list[str] = []
            while "state" not in seen:
                seen += [e.event for e in decoder.feed(await anext(stream))]
            station.end_streams()
            final = b""
            with pytest.raises(StopAsyncIteration):
                while True:
                    final += await asyncio.wait_for(anext(stream), 1)
            assert SSEDecoder().feed(final)[-1].data == '{"state":"shutdown","source":"tone:440"}'
            assert station.listeners == 0

    asyncio.run(main())


def test_the_stream_outlives_quarts_response_timeout() -> None:
    async def main() -> None:
        async with running_station(make_config()) as station:
            app = create_app(station, WEB_ROOT)
            app.config["RESPONSE_TIMEOUT"] = 0.5  # Quart's default is 60 s
            hc = HypercornConfig()
            port = free_port()
            hc.bind = [f"127.0.0.1:{port}"]
            hc.accesslog = None
            stop = asyncio.Event()
            server = asyncio.create_task(serve(app, hc, shutdown_trigger=stop.wait))
            await asyncio.sleep(0.3)
            frames = 0
            async with httpx.AsyncClient(timeout=5) as client, client.stream(
                    "GET", f"http://127.0.0.1:{port}/audio/stream") as response:
                async for chunk in response.aiter_raw():
                    frames += chunk.count(b"\nid: ") + chunk.startswith(b"id: ")
                    if frames >= 75:  # 1.5 s, three times the timeout
                        break
            station.end_streams()
            stop.set()
            await asyncio.wait_for(server, 5)
            assert frames >= 75

    asyncio.run(main())


def test_with_nobody_listening_frames_reach_the_ring_in_batches_and_none_is_lost() -> None:
    async def main() -> None:
        async with running_station(make_config()) as station:
            await asyncio.sleep(CATCH_UP_S * 2.5)
            assert station.capture._handoff.wake_at == 0  # the loop is not woken per frame
            ring = station.fanout.ring
            frames = station.counters()["frames"]  # a status request catches up first
            started = time.monotonic()
            seen = [ring.next_seq]
            for _ in range(60):  # 1.2 s
                await asyncio.sleep(0.02)
                seen.append(ring.next_seq)
            batches = sum(1 for a, b in itertools.pairwise(seen) if b != a)
            assert batches <= 2 * 1.2 / CATCH_UP_S  # not once a frame
            later = station.counters()["frames"]
            expected = (time.monotonic() - started) / 0.020
            assert expected - 3 <= later - frames <= expected + 3  # every frame, none twice
            assert len(ring) == later

    asyncio.run(main())


def test_while_every_listener_takes_bundles_the_loop_wakes_once_a_bundle() -> None:
    async def main() -> None:
        async with running_station(make_config()) as station:
            stream = station.listen(None, bundle_ms=100)  # 5 frames
            decoder, ids, writes = SSEDecoder(), [], 0
            loop = asyncio.get_running_loop()
            settled = loop.time() + PROMPT_AFTER_LISTEN_S + 0.2
            ring, seen = station.fanout.ring, []
            while loop.time() < settled + 1.0:
                got = [e for e in decoder.feed(await anext(stream)) if e.event == "message"]
                ids += [int(e.id or -1) for e in got]
                if loop.time() > settled:
                    writes += 1
                    assert 1 <= station.capture._handoff.wake_at <= 5
                    assert [int(e.id or -1) % 5 for e in got][-1:] in ([], [4])
                    seen.append(ring.next_seq)
            await stream.aclose()
            assert ids == list(range(ids[0], ids[0] + len(ids)))  # every frame, in order
            assert 8 <= writes <= 12  # a write every 100 ms, ending a bundle
            assert all(seq % 5 == 0 for seq in seen)  # the ring was filled a bundle at a time

    asyncio.run(main())


def test_a_listener_after_an_idle_spell_starts_live_and_gets_each_frame_as_it_comes() -> None:
    async def main() -> None:
        async with running_station(make_config()) as station:
            await asyncio.sleep(CATCH_UP_S * 2.5)
            stream = station.listen(None)
            decoder, arrivals = SSEDecoder(), []
            loop = asyncio.get_running_loop()
            while len(arrivals) < 25:
                for event in decoder.feed(await anext(stream)):
                    if event.event == "message":
                        arrivals.append(loop.time())
            await stream.aclose()
            gaps = sorted(b - a for a, b in itertools.pairwise(arrivals[5:]))
            # One by one at the frame rate (20 ms), not in bursts every CATCH_UP_S.
            assert gaps[len(gaps) // 2] > 0.010

    asyncio.run(main())
