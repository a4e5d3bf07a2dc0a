"""Listeners that choose their cost (`?bundle_ms=`): over real HTTP, a bundled listener gets
a write every half second with every frame in it, while a listener beside it still gets
each frame as it comes."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Broadcaster, start_broadcaster
from tests.support.sse_client import BackgroundListener


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broadcaster]:
    proc = start_broadcaster(tmp_path_factory.mktemp("tone"), "--source", "tone")
    yield proc
    assert proc.stop() == 0, proc.log()


def bursts(arrivals: list[float], within_s: float = 0.005) -> list[int]:
    """How many events came in each burst (events less than `within_s` apart)."""
    sizes = [1]
    for a, b in itertools.pairwise(arrivals):
        if b - a < within_s:
            sizes[-1] += 1
        else:
            sizes.append(1)
    return sizes


def test_a_bundled_listener_gets_every_frame_twice_a_second(tone: Broadcaster) -> None:
    bundled = BackgroundListener(tone.url + "/audio/stream?bundle_ms=500")
    live = BackgroundListener(tone.url + "/audio/stream")
    time.sleep(3.2)
    bundled.stop()
    live.stop()
    [config] = [json.loads(e.data) for e in bundled.named("config")]
    assert config["bundle_ms"] == 500
    ids = bundled.ids
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # gapless
    arrivals = [at for at, event in bundled.events if event.event == "message"]
    # One write can reach the client in two reads a few ms apart: a burst is what comes
    # within 50 ms (bundles are 500 ms apart). The first may be partial, the last cut short.
    sizes = bursts(arrivals, within_s=0.05)[1:-1]
    assert len(sizes) >= 4 and all(20 <= size <= 30 for size in sizes), sizes
    live_arrivals = [at for at, event in live.events if event.event == "message"]
    live_bursts = bursts(live_arrivals)[5:]
    # Frame by frame: a busy machine may deliver a few together now and then.
    assert sum(size == 1 for size in live_bursts) >= 0.8 * len(live_bursts), live_bursts


@pytest.mark.parametrize("value", ["-1", "2001", "half", "9" * 30])
def test_a_bad_bundle_is_a_400_that_names_it(tone: Broadcaster, value: str) -> None:
    response = httpx.get(tone.url + "/audio/stream", params={"bundle_ms": value}, timeout=5)
    assert response.status_code == 400 and "bundle_ms" in response.json()["error"]


def test_small_bundles_are_plain_streams(tone: Broadcaster) -> None:
    with httpx.stream("GET", tone.url + "/audio/stream?bundle_ms=5", timeout=5) as response:
        lines = response.iter_lines()
        first = next(lines, "")
        data = next(line for line in lines if line.startswith("data:"))
    assert first.startswith("retry:") and json.loads(data[5:])["bundle_ms"] == 0
