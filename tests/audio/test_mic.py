"""The mic path for real: known audio into a virtual microphone, through PyAudio/PortAudio,
libopus and HTTP, decoded at the other end."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from broadcaster.audio.sources.mic import MicSource
from tests.conftest import ROOT, no_device_env, start_broadcaster, wait_until
from tests.support.signal_tools import decode_packets, dominant_frequency, rms_dbfs, sine_s16le
from tests.support.sse_client import BackgroundListener, Received, receive
from tests.support.vmic import VirtualMic

pytestmark = pytest.mark.vmic


@pytest.fixture(scope="module")
def vmic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualMic]:
    with VirtualMic(tmp_path_factory.mktemp("vmic")) as mic:
        yield mic


def mic_env(vmic: VirtualMic) -> dict[str, str]:
    return no_device_env() | vmic.env


def state(url: str) -> str:
    return str(httpx.get(url + "/status", timeout=5).json()["state"])


def windows(pcm: np.ndarray, size: int = 4800) -> list[tuple[float, float]]:
    """(dominant Hz, RMS dBFS) of each 100 ms window."""
    return [(dominant_frequency(pcm[i:i + size]), rms_dbfs(pcm[i:i + size]))
            for i in range(0, len(pcm) - size + 1, size)]


def test_what_goes_into_the_mic_comes_out_of_the_stream(
    tmp_path: Path, vmic: VirtualMic
) -> None:
    proc = start_broadcaster(tmp_path, "--source", "mic", env=mic_env(vmic))
    try:
        result: list[Received] = []
        listener = threading.Thread(
            target=lambda: result.append(receive(proc.url + "/audio/stream", frames=150)))
        listener.start()
        time.sleep(0.5)
        vmic.play(sine_s16le(440, 1.0) + sine_s16le(880, 1.0))
        listener.join(20)
        [got] = result
    finally:
        assert proc.stop() == 0, proc.log()
    assert got.config["source"] == "mic:default"
    assert got.ids == list(range(got.ids[0], got.ids[0] + 150)), "frames missing or reordered"
    loud = [(hz, level) for hz, level in windows(decode_packets(got.packets)) if level > -30]
    tones = [440 if abs(hz - 440) < 5 else 880 if abs(hz - 880) < 5 else None for hz, _ in loud]
    assert None not in tones[1:-1], loud  # only the edges may straddle a change
    core = [t for t in tones if t is not None]
    assert core == sorted(core), "880 Hz came before 440 Hz finished"
    assert 8 <= core.count(440) <= 11 and 8 <= core.count(880) <= 11, loud
    levels = [level for _, level in loud[1:-1]]
    assert np.median(levels) == pytest.approx(-9.0, abs=1.5)  # amplitude 0.5 sine: -9 dBFS RMS


def test_auto_uses_the_microphone_when_there_is_one(tmp_path: Path, vmic: VirtualMic) -> None:
    proc = start_broadcaster(tmp_path, env=mic_env(vmic))
    try:
        got = receive(proc.url + "/audio/stream", frames=5)
        assert got.config["source"] == "mic:default"
        assert "no input device found" not in proc.log()
    finally:
        assert proc.stop() == 0, proc.log()


def run_cli(vmic: VirtualMic, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=ROOT,
                          env=mic_env(vmic), capture_output=True, text=True, timeout=30)


def test_list_devices_shows_the_microphone_and_what_auto_picks(vmic: VirtualMic) -> None:
    result = run_cli(vmic, "--list-devices")
    assert result.returncode == 0, result.stderr
    assert "] default (default): " in result.stdout
    assert "`auto` uses [" in result.stdout


def test_an_unknown_device_name_lists_the_inputs(vmic: VirtualMic) -> None:
    result = run_cli(vmic, "--source", "mic:no-such-mic")
    assert result.returncode == 1
    assert "no input device name contains 'no-such-mic'; the inputs are: [" in result.stderr
    assert "default (default)" in result.stderr


def test_a_device_can_be_chosen_by_part_of_its_name(tmp_path: Path, vmic: VirtualMic) -> None:
    proc = start_broadcaster(tmp_path, "--source", "mic:DEFAU", env=mic_env(vmic))
    try:
        assert receive(proc.url + "/audio/stream", frames=3).config["source"] == "mic:default"
    finally:
        assert proc.stop() == 0, proc.log()


def test_a_wedged_device_turns_health_red_until_audio_flows_again(
    tmp_path: Path, vmic: VirtualMic
) -> None:
    proc = start_broadcaster(tmp_path, "--source", "mic", env=mic_env(vmic))
    try:
        before = receive(proc.url + "/audio/stream", frames=5).ids[-1]
        vmic.pause_writer()  # the device stops delivering: reads block
        try:
            time.sleep(3.0)
            health = httpx.get(proc.url + "/healthz", timeout=5)
            assert health.status_code == 503
            assert "no audio from mic:default" in health.json()["reason"]
        finally:
            vmic.resume_writer()
        wait_until(lambda: httpx.get(proc.url + "/healthz", timeout=5).status_code == 200,
                   5, "health to recover")
        after = receive(proc.url + "/audio/stream", frames=5,
                        headers={"Last-Event-ID": str(before)})
        assert after.ids[0] == before + 1  # ids kept going; nothing was skipped
    finally:
        assert proc.stop() == 0, proc.log()


def test_unplugging_the_mic_keeps_listeners_and_the_stream_resumes_by_itself(
    tmp_path: Path, vmic: VirtualMic
) -> None:
    proc = start_broadcaster(tmp_path, "--source", "mic", env=mic_env(vmic))
    listener = BackgroundListener(proc.url + "/audio/stream")
    try:
        time.sleep(0.8)
        vmic.remove_source()  # the USB mic is pulled out
        unplugged = time.monotonic()
        wait_until(lambda: state(proc.url) == "offline", 5, "the broadcaster to notice")
        health = httpx.get(proc.url + "/healthz", timeout=5)
        time.sleep(2.5)  # keeps trying to reopen meanwhile
        health_later = httpx.get(proc.url + "/healthz", timeout=5)
        vmic.restore_source()  # and plugged in again
        wait_until(lambda: state(proc.url) == "running", 10, "the stream to resume by itself")
        vmic.play(sine_s16le(700, 1.0))
        time.sleep(1.5)
    finally:
        listener.stop()
        assert proc.stop() == 0, proc.log()
    events = listener.events
    states = [json.loads(e.data) for e in listener.named("state")]
    kinds = [s["state"] for s in states]
    # offline (its reason may be updated: the read failed, then reopening fails), then back
    assert kinds[0] == "offline" and "running" in kinds, states
    assert set(kinds[:kinds.index("running")]) == {"offline"}, states
    assert all(s["reason"] for s in states if s["state"] == "offline")
    assert "reading mic:default failed" in states[0]["reason"]
    assert health.status_code == 503 and "mic:default" in health.json()["reason"]
    assert health_later.status_code == 503
    audio = [(t, e) for t, e in events if e.event == "message"]
    ids = [int(e.id or -1) for _, e in audio]
    assert ids == list(range(ids[0], ids[0] + len(ids))), "ids must keep going, gap-free"
    after = [base64.b64decode(e.data) for t, e in audio if t > unplugged + 3]
    loud = [hz for hz, level in windows(decode_packets(after)) if level > -30]
    assert len(loud) >= 8 and np.median(loud) == pytest.approx(700, abs=3), loud


def open_mic(vmic: VirtualMic, monkeypatch: pytest.MonkeyPatch,
             max_backlog_ms: float) -> MicSource:
    """The virtual mic through the production MicSource, open for 20 ms reads."""
    for key, value in vmic.env.items():
        monkeypatch.setenv(key, value)
    source = MicSource("", 1, max_backlog_ms=max_backlog_ms)
    source.probe()
    source.open(960)
    return source


def test_a_reader_that_stalls_drops_the_stale_audio_and_reads_the_newest(
    vmic: VirtualMic, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = open_mic(vmic, monkeypatch, max_backlog_ms=50)
    try:
        for _ in range(10):
            source.read()  # settle: reading live
        vmic.play(sine_s16le(440, 0.6) + sine_s16le(1000, 1.0))
        time.sleep(1.2)  # the reader stalls; PulseAudio keeps what the mic hears meanwhile
        started = time.monotonic()
        chunk = source.read()
        took_s = time.monotonic() - started
    finally:
        source.close()
    assert took_s < 0.2  # dropped, not replayed
    assert source.dropped_frames > 0.8 * 48000, source.dropped_frames
    newest = np.frombuffer(chunk.pcm, dtype="<i2")
    assert dominant_frequency(newest) == pytest.approx(1000, abs=30)  # not the stale 440 Hz
    assert time.time() * 1000 - chunk.capture_ms < 300


def test_audio_left_behind_every_read_is_dropped_once_so_reads_come_in_step(
    vmic: VirtualMic, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = open_mic(vmic, monkeypatch, max_backlog_ms=100)
    stream = source._stream  # the real PortAudio stream, to step out of PulseAudio's pace

    def queued_after_reads(count: int) -> list[int]:
        queued = []
        for _ in range(count):
            source.read()
            queued.append(stream.get_read_available())
        return queued

    try:
        vmic.play(sine_s16le(440, 8.0))
        queued_after_reads(75)  # 1.5 s: any standing queue from the start is gone
        # Half a block read on its own: the 20 ms reads now end half a fragment into
        # PulseAudio's 20 ms fragments, and 10 ms waits behind every read.
        dropped = source.dropped_frames
        stream.read(480, exception_on_overflow=False)
        assert min(queued_after_reads(10)) >= 480
        # A whole second's window ends: the standing 10 ms goes. On a busy machine one late
        # write of the feeder can empty the queue for a read and restart the second the
        # check waits: then it goes a second later.
        for _ in range(2):
            queued_after_reads(100)
            if source.dropped_frames > dropped:
                break
        assert source.dropped_frames - dropped == pytest.approx(480, abs=48)
        # In step, and it stays so: nothing waits behind a read (but after the odd late
        # write of the virtual mic's feeder on a busy machine, caught up at once).
        late = [queued for queued in queued_after_reads(50) if queued]
        assert len(late) <= 5, late
    finally:
        source.close()
