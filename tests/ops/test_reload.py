"""Config reload on SIGHUP: what applies live, what waits for a restart."""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from broadcaster.config_file import config_from_dict
from broadcaster.ops.reload import changed_keys, plan_reload
from tests.conftest import start_broadcaster, wait_until
from tests.support.signal_tools import decode_packets, dominant_frequency
from tests.support.sse_client import Received, receive


def test_plan_source_change_is_live() -> None:
    old = config_from_dict({})
    new = config_from_dict({"source": {"spec": "tone:1000"}, "logging": {"level": "debug"}})
    plan = plan_reload(old, new)
    assert plan.switch_source and plan.log_level == "debug" and plan.needs_restart == ()


def test_plan_codec_ring_and_server_changes_wait_for_a_restart() -> None:
    old = config_from_dict({})
    new = config_from_dict({"audio": {"frame_ms": 10}, "server": {"port": 9000},
                            "ring": {"capacity_s": 2}})
    plan = plan_reload(old, new)
    assert not plan.changes_anything
    assert plan.needs_restart == ("audio.frame_ms", "ring.capacity_s", "server.port")
    assert changed_keys(old, old) == []


def test_sighup_switches_the_source_without_dropping_listeners(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, config='[source]\nspec = "tone:440"\n')
    config_file = next(tmp_path.glob("config-*.toml"))
    try:
        result: list[Received] = []
        listener = threading.Thread(target=lambda: result.append(
            receive(proc.url + "/audio/stream", frames=150)))
        listener.start()
        time.sleep(0.6)
        config_file.write_text('[source]\nspec = "tone:1000"\n[audio]\nframe_ms = 10\n')
        proc.process.send_signal(signal.SIGHUP)
        listener.join(20)
        [got] = result
        assert got.named("state") == [{"state": "stopped", "source": "tone:440"},
                                      {"state": "running", "source": "tone:1000"}]
        assert got.ids == list(range(got.ids[0], got.ids[0] + 150))  # one stream, no gap
        pcm = decode_packets(got.packets)
        assert dominant_frequency(pcm[:9600]) == pytest.approx(440, abs=2)
        assert dominant_frequency(pcm[-24000:]) == pytest.approx(1000, abs=2)
        assert httpx.get(proc.url + "/status", timeout=5).json()["frame_ms"] == 20.0
        assert "only applied after a restart: audio.frame_ms" in proc.log()

        config_file.write_text("[source]\nspec = 'radio'\n")  # a broken file changes nothing
        proc.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert "config reload failed, keeping the running config: source.spec" in proc.log()
        status = httpx.get(proc.url + "/status", timeout=5).json()
        assert (status["state"], status["source"]) == ("running", "tone:1000")
    finally:
        assert proc.stop() == 0, proc.log()


def test_sighup_changes_the_log_level_of_the_workers_too(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, config="[server]\nworkers = 2\n")
    config_file = next(tmp_path.glob("config-*.toml"))
    try:
        wait_until(lambda: len(httpx.get(proc.url + "/status", timeout=5).json()["workers"]) == 2,
                   10, "both workers up")
        config_file.write_text('[server]\nworkers = 2\n[logging]\nlevel = "debug"\n')
        proc.process.send_signal(signal.SIGHUP)
        def switched(index: int) -> bool:
            line = rf"worker {index} broadcaster\.workers\.relay: log level now debug"
            return re.search(line, proc.log()) is not None

        wait_until(lambda: switched(0) and switched(1), 5, "both workers at the new level")
    finally:
        assert proc.stop() == 0, proc.log()
