"""The archive through a real broadcaster process: replay, resume and download checked
against what a live listener got, byte for byte, and by independent decoders."""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support.archive_tools import feed, open_recorder, tone_packets
from tests.support.ogg_check import decode_mono, duration_s, opusinfo_clean
from tests.support.server import Broadcaster, start_broadcaster, wait_until
from tests.support.signal_tools import decode_packets, dominant_frequency, sine_s16le, write_wav
from tests.support.sse_client import BackgroundListener, collect

STEPS_HZ = (400, 600, 800, 1000, 1200)
STEP_S = 1.0


def stepped_wav(path: Path) -> Path:
    """A tone that changes frequency every STEP_S (and loops)."""
    return write_wav(path, b"".join(sine_s16le(hz, STEP_S) for hz in STEPS_HZ))


def config(tmp: Path, extra: str = "") -> str:
    return (f'[archive]\ndir = "{tmp / "archive"}"\nmin_free_mb = 0\n'
            f"[ring]\ncapacity_s = 1.0\n{extra}")


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Broadcaster, BackgroundListener]]:
    """One broadcaster and a live listener for the tests that only read (they share it)."""
    tmp_path = tmp_path_factory.mktemp("archive_http")
    (tmp_path / "archive").mkdir()
    wav = stepped_wav(tmp_path / "steps.wav")
    proc = start_broadcaster(tmp_path, "--source", f"file:{wav}", config=config(tmp_path))
    live = BackgroundListener(proc.url + "/audio/stream")
    try:
        yield proc, live
    finally:
        live.stop()
        proc.stop()


def live_packets(live: BackgroundListener) -> dict[int, bytes]:
    return {int(e.id or -1): base64.b64decode(e.data) for e in live.named("message")}


def test_a_replay_stays_behind_with_the_original_ids_and_bytes(
        station: tuple[Broadcaster, BackgroundListener]) -> None:
    proc, live = station
    wait_until(lambda: len(live.ids) >= 250, 15, "5 s of live audio")
    live_then = live.ids[-1]
    got = collect(proc.url + "/audio/stream?behind_ms=4000", 2.0)
    assert got.config["replay"] == {"behind_ms": 4000}
    heard = live_packets(live)
    first = got.ids[0]
    assert live_then - first == pytest.approx(200, abs=20)  # 4 s of 20 ms frames ago
    assert got.config["live_id"] == first + 15  # only the first 300 ms count as a burst
    assert got.ids == list(range(first, first + len(got.ids)))
    assert all(heard[seq] == packet for seq, packet in got.frames)
    # Paced: about 2 s of audio in 2 s, plus the 300 ms it starts with.
    assert 100 <= len(got.ids) <= 130, len(got.ids)
    clocks = got.named("clock")
    assert clocks and clocks[0]["id"] == first
    assert time.time() * 1000 - clocks[0]["capture_ms"] == pytest.approx(6000, abs=700)


def test_a_replay_from_a_moment_plays_what_was_live_then(
        station: tuple[Broadcaster, BackgroundListener]) -> None:
    proc, live = station
    wait_until(lambda: len(live.ids) >= 300, 15, "6 s of live audio")
    clock = live.named("clock")[2]
    at_ms = json.loads(clock.data)["capture_ms"]
    got = collect(proc.url + f"/audio/stream?from_ms={int(at_ms)}", 1.0)
    target = json.loads(clock.data)["id"]
    # A page keeps its first frame's capture time; the others are counted on from it, and a
    # busy machine stamps frames a few ms unevenly: within a few frames.
    assert got.ids[0] == pytest.approx(target, abs=3)
    heard = live_packets(live)
    assert all(heard[seq] == packet for seq, packet in got.frames)
    replayed = decode_packets(got.packets[5:30]).astype(np.float64)
    then = decode_packets([heard[seq] for seq in got.ids[5:30]]).astype(np.float64)
    assert dominant_frequency(replayed) == pytest.approx(dominant_frequency(then), abs=5)


def test_a_resume_beyond_the_ring_comes_from_the_archive_then_live(
        station: tuple[Broadcaster, BackgroundListener]) -> None:
    proc, live = station
    wait_until(lambda: len(live.ids) >= 250, 15, "5 s of live audio")
    last = live.ids[50]  # 4 s ago; the ring holds 1 s
    got = collect(proc.url + "/audio/stream", 1.5, {"Last-Event-ID": str(last)})
    assert got.config["replay"] is None and got.config["next_id"] == last + 1
    assert got.ids[0] == last + 1
    assert got.ids == list(range(last + 1, last + 1 + len(got.ids)))  # no hole, no repeat
    assert got.named("gap") == []
    assert got.ids[-1] >= live.ids[-1] - 60  # it caught up with live
    heard = live_packets(live)
    assert all(heard[seq] == packet for seq, packet in got.frames if seq in heard)


def test_a_download_is_the_span_as_an_ogg_file(
        station: tuple[Broadcaster, BackgroundListener], tmp_path: Path) -> None:
    proc, live = station
    wait_until(lambda: len(live.ids) >= 300, 15, "6 s of live audio")
    clocks = [json.loads(e.data) for e in live.named("clock")]
    start, end = clocks[1], clocks[4]
    with httpx.stream("GET", proc.url + "/archive/download",
                      params={"from_ms": int(start["capture_ms"]),
                              "to_ms": int(end["capture_ms"])}, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("audio/ogg")
        assert "content-length" not in response.headers  # streamed
        assert ".opus" in response.headers["content-disposition"]
        path = tmp_path / "span.opus"
        path.write_bytes(response.read())
    span_s = (end["capture_ms"] - start["capture_ms"]) / 1000
    assert duration_s(path) > 0  # ffprobe reads it (its duration leaves out the pre-skip)
    opusinfo_clean(path)
    samples = decode_mono(path)
    assert len(samples) / 48000 == pytest.approx(span_s, abs=0.05)
    heard = live_packets(live)
    for second in range(3):
        ids = range(start["id"] + 50 * second + 10, start["id"] + 50 * second + 40)
        expected = decode_packets([heard[seq] for seq in ids]).astype(np.float64)
        got = samples[48000 * second + 9600: 48000 * second + 38400]
        assert dominant_frequency(got) == pytest.approx(dominant_frequency(expected), abs=5)

    last = httpx.get(proc.url + "/archive/download?last_s=2", timeout=10)
    # Capture times inside a page are counted from its first frame's: a frame or two either way.
    assert len(decode_mono(last.content)) / 48000 == pytest.approx(2, abs=0.1)


def test_summary_levels_and_status_say_what_is_held(
        station: tuple[Broadcaster, BackgroundListener]) -> None:
    proc, live = station
    wait_until(lambda: len(live.ids) >= 150, 15, "3 s of live audio")
    summary = httpx.get(proc.url + "/archive", timeout=5).json()
    assert summary["enabled"] and summary["files"] == 1 and summary["bytes"] > 10_000
    assert summary["to_ms"] - summary["from_ms"] >= 1500
    levels = httpx.get(proc.url + "/archive/levels?points=4", timeout=5).json()
    assert len(levels["levels"]) >= 2 and all(-15 < level < -3 for level in levels["levels"]
                                              if level is not None)
    status = httpx.get(proc.url + "/status", timeout=5).json()
    assert status["archive_recording"] and status["archive_bytes_written"] > 10_000
    metrics = httpx.get(proc.url + "/metrics", timeout=5).text
    assert "broadcaster_archive_bytes_written" in metrics


@pytest.mark.parametrize(("query", "status", "words"), [
    ("/archive/download?from_ms=abc", 400, "from_ms must be"),
    ("/archive/download?from_ms=../../etc/passwd", 400, "from_ms must be"),
    ("/archive/download?from_ms=2000&to_ms=1000", 400, "must be after"),
    ("/archive/download?from_ms=1000&to_ms=2000", 404, "the archive holds audio captured"),
    ("/archive/download?from_ms=99999999999999999999", 400, "from_ms must be"),
    ("/archive/download?last_s=0", 400, "last_s must be"),
    ("/archive/download?last_s=1&from_ms=5", 400, "not both"),
    ("/archive/levels?points=0", 400, "points must be"),
    ("/archive/levels?points=99999", 400, "points must be"),
    ("/audio/stream?behind_ms=-5", 400, "behind_ms must be"),
    ("/audio/stream?behind_ms=999999999999", 400, "within the archive's retention"),
    ("/audio/stream?from_ms=1&behind_ms=5", 400, "not both"),
    ("/audio/stream?from_ms=%2Fetc%2Fpasswd", 400, "from_ms must be"),
])
def test_bad_queries_get_a_clear_4xx(station: tuple[Broadcaster, BackgroundListener],
                                     query: str, status: int, words: str) -> None:
    proc, live = station
    wait_until(lambda: len(live.ids) >= 100, 15, "2 s of live audio")
    answer = httpx.get(proc.url + query, timeout=5)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


def test_the_archive_needs_the_listen_key(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    key = config(tmp_path, "[access]\nlisten_key = \"s3cret-key\"\n")
    proc = start_broadcaster(tmp_path, config=key)
    try:
        for path in ("/archive", "/archive/levels", "/archive/download?last_s=1",
                     "/audio/stream?behind_ms=2000"):
            assert httpx.get(proc.url + path, timeout=5).status_code == 401, path
        assert httpx.get(proc.url + "/archive?key=s3cret-key", timeout=5).status_code == 200
    finally:
        proc.stop()


def test_a_missing_folder_means_live_only_said_once(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, config=config(tmp_path))  # archive/ not made
    try:
        summary = httpx.get(proc.url + "/archive", timeout=5).json()
        assert summary["enabled"] is False and "does not exist" in summary["reason"]
        answer = httpx.get(proc.url + "/audio/stream?behind_ms=2000", timeout=5)
        assert answer.status_code == 404 and "keeps no archive" in answer.json()["error"]
        assert proc.log().count("the archive is off") == 1
    finally:
        proc.stop()


def test_kill_9_then_restart_loses_at_most_2_s_and_resumes_across(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    wav = stepped_wav(tmp_path / "steps.wav")
    first = start_broadcaster(tmp_path, "--source", f"file:{wav}", config=config(tmp_path))
    live = _UntilKilled(first.url + "/audio/stream")
    wait_until(lambda: len(live.ids) >= 200, 15, "4 s of live audio")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    live.stop()
    heard = live_packets(live)
    last_heard = max(heard)

    second = start_broadcaster(tmp_path, "--source", f"file:{wav}", config=config(tmp_path))
    try:
        assert "closed its Ogg stream" in second.log()
        summary = httpx.get(second.url + "/archive", timeout=5).json()
        assert summary["from_id"] <= min(heard)
        got = collect(second.url + "/audio/stream", 1.5, {"Last-Event-ID": str(last_heard - 150)})
        old = [seq for seq in got.ids if seq <= last_heard]
        assert old[0] == last_heard - 149 and old == list(range(old[0], old[-1] + 1))
        assert last_heard - old[-1] <= 100  # at most 2 s of audio lost to the kill
        assert all(heard[seq] == packet for seq, packet in got.frames if seq in heard)
        [gap] = got.named("gap")
        assert gap["reason"] == "restart" and gap["next_id"] > last_heard
        assert got.ids[-1] > gap["next_id"]  # on into the new run's frames
    finally:
        second.stop()
    for path in (tmp_path / "archive").glob("*.opus"):
        opusinfo_clean(path)  # the killed run's file too: cut and closed


class _UntilKilled(BackgroundListener):
    """A live listener whose server is killed under it."""

    def _run(self, url: str) -> None:
        with contextlib.suppress(httpx.TransportError):
            super()._run(url)


def test_a_clock_behind_the_archive_never_makes_ids_go_back(tmp_path: Path) -> None:
    """A Pi that booted with its clock a day behind: the archive holds ids from 'the
    future'; the new run's ids start above them, and resuming goes on across."""
    (tmp_path / "archive").mkdir()
    ahead = int(time.time() * 1000) + 86_400_000
    rec = open_recorder(tmp_path / "archive")
    rec.start(ahead)
    end = feed(rec, ahead, tone_packets(440, 2.0), time.time() * 1000 + 86_400_000)
    rec.close()
    proc = start_broadcaster(tmp_path, config=config(tmp_path))
    try:
        got = collect(proc.url + "/audio/stream", 1.0, {"Last-Event-ID": str(end - 10)})
        assert got.ids[:9] == list(range(end - 9, end))
        [gap] = got.named("gap")
        assert gap["reason"] == "restart" and gap["next_id"] >= end
        assert min(seq for seq in got.ids if seq >= end) == gap["next_id"]
    finally:
        proc.stop()


def test_worker_processes_serve_the_archive_too(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    proc = start_broadcaster(tmp_path, config=config(tmp_path, "[server]\nworkers = 2\n"))
    try:
        wait_until(lambda: (httpx.get(proc.url + "/archive", timeout=5).json().get("audio_s")
                            or 0) >= 3, 15, "3 s in the archive")
        got = collect(proc.url + "/audio/stream?behind_ms=2500", 1.0)
        assert got.config["replay"] == {"behind_ms": 2500} and len(got.ids) >= 40
        assert got.ids == list(range(got.ids[0], got.ids[0] + len(got.ids)))
        download = httpx.get(proc.url + "/archive/download?last_s=2", timeout=10)
        assert len(decode_mono(download.content)) / 48000 == pytest.approx(2, abs=0.1)
    finally:
        proc.stop()
