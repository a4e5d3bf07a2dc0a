"""A replay's `config` event, against a real broadcaster that archives: the frames that come
at once (the first LEAD_MS) are the ones before its `live_id`, so a client holds only those
as its start burst."""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx

from broadcaster.archive.replay import LEAD_MS
from tests.support.server import start_broadcaster, wait_until
from tests.support.sse_client import receive


def test_a_replay_counts_only_its_first_burst_as_captured_before_it(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    proc = start_broadcaster(tmp_path, "--source", "tone:440", config=(
        f'[archive]\ndir = "{archive}"\nmin_free_mb = 0\n'))
    try:
        def held_s() -> float:
            summary = httpx.get(f"{proc.url}/archive", timeout=2).json()
            assert summary["enabled"] is True, summary
            return float(summary["audio_s"] or 0)

        wait_until(lambda: held_s() >= 3, 15, "3 s of archived audio")
        began = time.monotonic()
        got = receive(f"{proc.url}/audio/stream?behind_ms=2500", frames=20)
        config = got.config
        assert config["replay"] == {"behind_ms": 2500}
        burst = math.ceil(LEAD_MS / config["frame_ms"])
        assert config["live_id"] == config["next_id"] + burst
        assert got.ids[:20] == list(range(config["next_id"], config["next_id"] + 20))
        # The frames after the burst come at their pace, not at once.
        assert time.monotonic() - began >= (20 - burst) * config["frame_ms"] / 1000 * 0.8
    finally:
        proc.stop()
