"""The real broadcaster over real HTTP: what a client receives, decoded with real libopus."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest

from tests.support.signal_tools import decode_packets, dominant_frequency, rms_dbfs
from tests.support.sse_client import Received, receive


def test_config_comes_first_and_describes_the_stream(tone_server: str) -> None:
    got = receive(tone_server + "/audio/stream", frames=1)
    config = got.config
    assert config["codec"] == "opus"
    assert (config["sample_rate_hz"], config["channels"], config["frame_ms"]) == (48000, 1, 20.0)
    assert config["frame_samples"] == 960
    assert (config["source"], config["state"]) == ("tone:440", "running")
    assert got.ids[0] == config["next_id"]
    assert abs(config["server_ms"] - time.time() * 1000) < 5000


def test_the_tone_arrives_in_order_at_the_right_pitch_and_level(tone_server: str) -> None:
    got = receive(tone_server + "/audio/stream", frames=100)
    assert got.ids == list(range(got.ids[0], got.ids[0] + 100))
    pcm = decode_packets(got.packets)
    assert len(pcm) == 100 * 960
    steady = pcm[4800:]
    assert dominant_frequency(steady) == pytest.approx(440, abs=1)
    assert rms_dbfs(steady) == pytest.approx(-12 - 3.01, abs=1.0)  # a sine's RMS is 3 dB down
    # no discontinuity anywhere: a pure tone decoded without gaps has no sudden jumps
    assert np.max(np.abs(np.diff(steady.astype(np.int32)))) < 0.1 * 32768


def test_capture_timestamps_arrive_every_second(tone_server: str) -> None:
    got = receive(tone_server + "/audio/stream", frames=110)
    clocks = got.named("clock")
    assert len(clocks) >= 2
    for clock in clocks:
        assert clock["id"] in got.ids
        assert 0 <= clock["server_ms"] - clock["capture_ms"] < 1000
        assert abs(clock["capture_ms"] - time.time() * 1000) < 10000
    steps = np.diff([c["id"] for c in clocks])
    assert all(steps <= 50)


def test_stream_headers(tone_server: str) -> None:
    with httpx.stream("GET", tone_server + "/audio/stream", timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache, no-transform"
        assert response.headers["x-accel-buffering"] == "no"
        first = next(response.iter_raw())
        assert first.startswith(b"retry: 1000\nevent: config\n")


@pytest.mark.parametrize("how", ["header", "query"])
def test_resume_with_last_event_id_has_no_gap(tone_server: str, how: str) -> None:
    first = receive(tone_server + "/audio/stream", frames=20)
    last = first.ids[-1]
    time.sleep(0.3)  # frames keep coming while we are away; the ring keeps them
    if how == "header":
        again = receive(tone_server + "/audio/stream", frames=30,
                        headers={"Last-Event-ID": str(last)})
    else:
        again = receive(tone_server + f"/audio/stream?last_id={last}", frames=30)
    assert again.ids[0] == last + 1
    assert again.config["next_id"] == last + 1
    assert again.named("gap") == []
    pcm = decode_packets(first.packets + again.packets)
    assert np.max(np.abs(np.diff(pcm[4800:].astype(np.int32)))) < 0.1 * 32768


def test_header_wins_over_query(tone_server: str) -> None:
    first = receive(tone_server + "/audio/stream", frames=2)
    again = receive(tone_server + f"/audio/stream?last_id={first.ids[0] - 30}", frames=1,
                    headers={"Last-Event-ID": str(first.ids[-1])})
    assert again.ids[0] == first.ids[-1] + 1


def test_resume_after_the_ring_moved_on_starts_live_and_says_what_was_lost(
    tone_server: str,
) -> None:
    now = receive(tone_server + "/audio/stream", frames=1)
    epoch, live = now.config["epoch"], now.ids[0]
    assert live - epoch > 60, "the 1 s ring must have moved past the first frame"
    got = receive(tone_server + "/audio/stream", frames=3,
                  headers={"Last-Event-ID": str(epoch)})
    [gap] = got.named("gap")
    assert gap["reason"] == "behind"
    assert gap["lost"] >= live - epoch - 1
    assert got.ids[0] == gap["next_id"] >= live
    assert got.ids[0] == got.config["next_id"]


def test_an_id_from_before_a_restart_resyncs_at_the_live_edge(tone_server: str) -> None:
    epoch = receive(tone_server + "/audio/stream", frames=1).config["epoch"]
    got = receive(tone_server + "/audio/stream", frames=2,
                  headers={"Last-Event-ID": str(epoch - 5)})  # a previous process's id
    [gap] = got.named("gap")
    assert gap == {"lost": None, "next_id": got.ids[0], "reason": "restart"}
    assert got.ids[0] > epoch


def test_ids_start_at_the_process_start_time_so_restarts_never_reuse_them(
    tone_server: str,
) -> None:
    got = receive(tone_server + "/audio/stream", frames=1)
    status = httpx.get(tone_server + "/status", timeout=5).json()
    assert abs(got.config["epoch"] - (time.time() * 1000 - status["uptime_s"] * 1000)) < 5000
    assert got.ids[0] - got.config["epoch"] <= status["frames"]


def test_resume_from_the_future_starts_at_the_live_edge(tone_server: str) -> None:
    live = receive(tone_server + "/audio/stream", frames=1).ids[0]
    got = receive(tone_server + "/audio/stream", frames=2,
                  headers={"Last-Event-ID": str(live + 10**6)})
    assert got.named("gap") == []
    assert got.ids[1] == got.ids[0] + 1


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "\uff11\uff12", "9" * 19, "0x10"])
def test_a_malformed_resume_id_is_a_400(tone_server: str, bad: str) -> None:
    response = httpx.get(tone_server + "/audio/stream", params={"last_id": bad}, timeout=5)
    assert response.status_code == 400
    assert "last_id" in response.json()["error"]
    if bad.isascii():  # HTTP headers are Latin-1
        response = httpx.get(tone_server + "/audio/stream", headers={"Last-Event-ID": bad},
                             timeout=5)
        assert response.status_code == 400


def test_a_new_listener_can_start_with_fresh_backlog(tone_server: str) -> None:
    # A plain start has no backlog; listening to it 6 frames makes sure the server has been
    # capturing for more than 100 ms (the fixture's server may have just started).
    plain = receive(tone_server + "/audio/stream", frames=6).config
    assert plain["live_id"] == plain["next_id"]
    with_backlog = receive(tone_server + "/audio/stream?backlog_ms=100", frames=8)
    config = with_backlog.config
    assert with_backlog.ids == list(range(with_backlog.ids[0], with_backlog.ids[0] + 8))
    assert with_backlog.ids[0] == config["next_id"]
    # 5 frames (100 ms) before the live edge; fewer only if the capture was uneven just then.
    assert 3 <= config["live_id"] - config["next_id"] <= 5
    pcm = decode_packets(with_backlog.packets)
    assert dominant_frequency(pcm[960:]) == pytest.approx(440, abs=5)


def test_the_config_says_how_much_older_decoded_audio_is(tone_server: str) -> None:
    # The default application, `restricted_lowdelay`: libopus's 120-sample lookahead at
    # 48 kHz (tests/test_encoder.py checks each application against the encoder).
    config = receive(tone_server + "/audio/stream", frames=1).config
    assert (config["application"], config["codec_delay_ms"]) == ("restricted_lowdelay", 2.5)


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "1001", "99999999999", "\uff15"])
def test_a_malformed_backlog_is_a_400(tone_server: str, bad: str) -> None:
    response = httpx.get(tone_server + "/audio/stream", params={"backlog_ms": bad}, timeout=5)
    assert response.status_code == 400
    assert "backlog_ms" in response.json()["error"]


def test_two_clients_at_once_get_the_same_bytes(tone_server: str) -> None:
    results: list[Received | None] = [None, None]

    def listen(i: int) -> None:
        results[i] = receive(tone_server + "/audio/stream", frames=60)

    threads = [threading.Thread(target=listen, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    a, b = results
    assert a is not None and b is not None
    common = set(a.ids) & set(b.ids)
    assert len(common) >= 50
    frames_a, frames_b = dict(a.frames), dict(b.frames)
    assert all(frames_a[i] == frames_b[i] for i in common)
    status = httpx.get(tone_server + "/status", timeout=5).json()
    assert status["listeners"] == 0  # both disconnected and were counted out


def test_status_and_health(tone_server: str) -> None:
    status = httpx.get(tone_server + "/status", timeout=5).json()
    for key in ("state", "source", "listeners", "frames", "overflows", "skips", "uptime_s",
                "dropped_frames"):
        assert key in status
    assert (status["state"], status["source"]) == ("running", "tone:440")
    assert status["frames"] > 0 and status["uptime_s"] > 0
    health = httpx.get(tone_server + "/healthz", timeout=5)
    assert (health.status_code, health.json()["ok"]) == (200, True)


def test_the_page_is_served(tone_server: str) -> None:
    page = httpx.get(tone_server + "/", timeout=5)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "/static/ui/app.js" in page.text
    script = httpx.get(tone_server + "/static/worklet/worklet.js", timeout=5)
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert httpx.get(tone_server + "/static/../pyproject.toml", timeout=5).status_code == 404
