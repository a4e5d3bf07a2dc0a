"""/activity/episodes over real HTTP, from the capturing process and through workers: a
looped WAV file whose loud part comes back every 2.3 s makes the episodes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import Broadcaster, start_broadcaster, wait_until
from tests.support.signal_tools import sine_s16le, write_wav

RATE_HZ = 48000
ALERTS = "[alerts]\nrelease_ms = 300.0\nhold_ms = 0.0\ncooldown_s = 0.0\n"


def looped_sound(path: Path) -> Path:
    """1.5 s of quiet hiss (-70 dBFS) then 0.8 s of a tone at -20 dBFS RMS."""
    hiss = np.random.default_rng(3).normal(0.0, 32768 * 10 ** (-70 / 20), int(1.5 * RATE_HZ))
    pcm = np.round(hiss).astype("<i2").tobytes() + sine_s16le(600, 0.8, amplitude=0.1414)
    return write_wav(path, pcm)


def episodes(proc: Broadcaster, **params: str) -> httpx.Response:
    return httpx.get(proc.url + "/activity/episodes", params=params, timeout=5)


@pytest.mark.parametrize("workers", [0, 2])
def test_episodes_are_paged_newest_first(tmp_path: Path, workers: int) -> None:
    wav = looped_sound(tmp_path / "sound.wav")
    proc = start_broadcaster(tmp_path, "--source", f"file:{wav}",
                             config=f"[server]\nworkers = {workers}\n" + ALERTS)
    try:
        wait_until(lambda: len(episodes(proc).json()["episodes"]) >= 3, 15, "three episodes")
        first = episodes(proc, limit="2").json()
        numbers = [e["episode"] for e in first["episodes"]]
        assert numbers == sorted(numbers, reverse=True) and len(numbers) == 2
        assert first["next_before"] == numbers[-1]
        older = episodes(proc, before=str(first["next_before"]), limit="200").json()
        assert older["episodes"][0]["episode"] == numbers[-1] - 1
        assert all(e["episode"] < numbers[-1] for e in older["episodes"])
        assert all(e["alerted"] for e in older["episodes"])  # no cooldown
        assert all(-21.5 < e["peak_dbfs"] < -18.5 for e in older["episodes"])
    finally:
        assert proc.stop() == 0, proc.log()


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broadcaster]:
    proc = start_broadcaster(tmp_path_factory.mktemp("tone"), "--source", "tone")
    yield proc
    assert proc.stop() == 0, proc.log()


@pytest.mark.parametrize(("params", "named"), [
    ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"before": "-1"}, "before"), ({"before": "../../etc"}, "before"),
    ({"before": "9" * 40}, "before"),
])
def test_a_bad_page_is_a_400_that_names_it(tone: Broadcaster, params: dict[str, str],
                                           named: str) -> None:
    response = episodes(tone, **params)
    assert response.status_code == 400
    assert named in response.json()["error"]


def test_with_alerts_off_nothing_is_measured(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone", config="[alerts]\nenabled = false\n")
    try:
        assert episodes(proc).json() == {"alerts_enabled": False, "episodes": [],
                                         "next_before": None}
        status = httpx.get(proc.url + "/status", timeout=5).json()
        assert status["alerts_enabled"] is False and "episodes" not in status
    finally:
        assert proc.stop() == 0, proc.log()
