"""/metrics: the Prometheus text format, pure and over HTTP."""

from __future__ import annotations

import re

import httpx

from broadcaster.core.metrics import render_metrics

SAMPLE = re.compile(r'^[a-z_]+(\{state="[a-z]+"\})? -?[0-9.e+]+$')


def test_every_line_is_a_comment_or_a_sample() -> None:
    text = render_metrics({"state": "running", "listeners": 3, "frames": 1234567890123,
                           "uptime_s": 12.5, "skips": 0}, healthy=True)
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), line
    assert "broadcaster_frames_total 1234567890123\n" in text  # exact, not 1.23457e+12
    assert "broadcaster_listeners 3\n" in text
    assert 'broadcaster_state{state="running"} 1\n' in text
    assert 'broadcaster_state{state="offline"} 0\n' in text
    assert "broadcaster_healthy 1\n" in text


def test_missing_or_odd_values_are_left_out() -> None:
    text = render_metrics({"state": "stopped", "listeners": None, "frames": "many",
                           "overflows": True}, healthy=False)
    assert "broadcaster_listeners " not in text
    assert "broadcaster_frames_total" not in text
    assert "broadcaster_overflows_total" not in text
    assert "broadcaster_healthy 0\n" in text


def test_metrics_over_http(tone_server: str) -> None:
    response = httpx.get(tone_server + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'broadcaster_state{state="running"} 1' in response.text
    frames = re.search(r"^broadcaster_frames_total (\d+)$", response.text, re.M)
    assert frames and int(frames.group(1)) > 0
