"""Sound activity for real: made-up sounds into the virtual microphone, through PyAudio, the
detector and HTTP, seen by a streaming client and in /activity/episodes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import no_device_env, start_broadcaster, wait_until
from tests.support.signal_tools import sine_s16le
from tests.support.sse_client import BackgroundListener
from tests.support.vmic import VirtualMic

pytestmark = pytest.mark.vmic
RATE_HZ = 48000


@pytest.fixture(scope="module")
def vmic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualMic]:
    with VirtualMic(tmp_path_factory.mktemp("vmic")) as mic:
        yield mic


def noise(seconds: float, rms_dbfs: float, seed: int = 1) -> bytes:
    """White noise at an RMS level."""
    rms = 32768 * 10 ** (rms_dbfs / 20)
    samples = np.random.default_rng(seed).normal(0.0, rms, int(seconds * RATE_HZ))
    return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(2 * int(seconds * RATE_HZ))


def test_a_room_a_fan_a_click_and_a_cry_make_one_episode(tmp_path: Path,
                                                         vmic: VirtualMic) -> None:
    proc = start_broadcaster(tmp_path, "--source", "mic", env=no_device_env() | vmic.env)
    try:
        listener = BackgroundListener(proc.url + "/audio/stream")
        time.sleep(0.5)
        vmic.play(silence(1.0) + noise(4.0, -62.0))  # a quiet room, then a fan comes on
        vmic.play(sine_s16le(1000, 0.005, amplitude=0.9) + noise(2.0, -62.0, seed=2))  # click
        # A cry: a 600 Hz tone at -20 dBFS RMS in three breaths, 1.8 s in all.
        cry = b"".join(sine_s16le(600, 0.5, amplitude=0.1414) + noise(0.15, -62.0, seed=n)
                       for n in range(3))
        cry_at = vmic.play(cry)
        vmic.play(noise(3.0, -62.0, seed=9))
        wait_until(lambda: len(listener.named("activity")) >= 2, 15, "the episode's end")
        time.sleep(0.3)
        listener.stop()
        events = [json.loads(event.data) for event in listener.named("activity")]
        assert [(e["change"], e["episode"]) for e in events] == [("start", 1), ("end", 1)]
        start, end = events
        onset_ms = (vmic.entered_at(cry_at) or 0.0) * 1000
        assert start["start_ms"] == pytest.approx(onset_ms, abs=60)  # the onset, not later
        assert start["alerted"] and start["ongoing"] and not end["ongoing"]
        assert end["peak_dbfs"] == pytest.approx(-20.0, abs=1.5)
        assert 1500 <= end["duration_ms"] <= 2200
        assert end["floor_dbfs"] < -55.0

        page = httpx.get(proc.url + "/activity/episodes", timeout=5).json()
        assert page["alerts_enabled"] is True and page["next_before"] is None
        assert [e["episode"] for e in page["episodes"]] == [1]
        assert page["episodes"][0] == {k: v for k, v in end.items() if k != "change"}
        status = httpx.get(proc.url + "/status", timeout=5).json()
        assert (status["episodes"], status["alerts"], status["episode"]) == (1, 1, None)
        assert -66.0 < status["level_dbfs"] < -58.0  # the fan, now
        metrics = httpx.get(proc.url + "/metrics", timeout=5).text
        assert "broadcaster_sound_episodes_total 1\n" in metrics
    finally:
        assert proc.stop() == 0, proc.log()
