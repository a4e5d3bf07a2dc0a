"""Start/stop over HTTP, with listeners connected throughout."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx

from tests.conftest import start_broadcaster
from tests.support.sse_client import BackgroundListener


def test_stop_and_start_keep_listeners_connected_and_ids_going(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone:440")
    try:
        listener = BackgroundListener(proc.url + "/audio/stream")
        time.sleep(0.5)
        for _ in range(2):  # idempotent
            stopped = httpx.post(proc.url + "/audio/stop", timeout=5)
            assert stopped.status_code == 200
            assert stopped.json() == {"state": "stopped", "source": "tone:440"}
        stopped_at = time.monotonic()
        assert httpx.get(proc.url + "/status", timeout=5).json()["state"] == "stopped"
        assert httpx.get(proc.url + "/healthz", timeout=5).status_code == 200
        time.sleep(0.6)
        for _ in range(2):
            started = httpx.post(proc.url + "/audio/start", timeout=5)
            assert started.json() == {"state": "running", "source": "tone:440"}
        time.sleep(0.5)
        listener.stop()
        events = listener.events

        kinds = [e.event for _, e in events]
        assert kinds[0] == "config"
        states = [json.loads(e.data)["state"] for _, e in events if e.event == "state"]
        assert states == ["stopped", "running"]
        audio = [(t, int(e.id or -1)) for t, e in events if e.event == "message"]
        ids = [i for _, i in audio]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # ids keep going across the stop
        quiet = [t for t, _ in audio if stopped_at + 0.1 < t < stopped_at + 0.5]
        assert quiet == [], "audio kept flowing while stopped"
        assert all(base64.b64decode(e.data) for _, e in events if e.event == "message")
    finally:
        assert proc.stop() == 0, proc.log()


def test_autostart_off_waits_for_start(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone", config="[server]\nautostart = false\n")
    try:
        status = httpx.get(proc.url + "/status", timeout=5).json()
        assert (status["state"], status["frames"]) == ("stopped", 0)
        httpx.post(proc.url + "/audio/start", timeout=5)
        time.sleep(0.3)
        assert httpx.get(proc.url + "/status", timeout=5).json()["frames"] > 0
    finally:
        assert proc.stop() == 0, proc.log()


def test_control_endpoints_only_take_post(tone_server: str) -> None:
    assert httpx.get(tone_server + "/audio/start", timeout=5).status_code == 405
    assert httpx.get(tone_server + "/audio/stop", timeout=5).status_code == 405
