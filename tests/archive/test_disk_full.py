"""A disk that fills up under the archive: a real, small tmpfs (mounted in a private mount
namespace of the broadcaster's own, so nothing outside sees it). Live listeners notice
nothing; the archive frees what its retention allows, pauses with one log line and a flag,
and resumes by itself once there is room."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import httpx
import pytest

from broadcaster.archive.recorder import ArchiveRecorder, RecorderSettings
from broadcaster.audio.encoder import EncoderSettings, OpusEncoder
from broadcaster.core.retention import Retention
from tests.support.server import start_broadcaster, wait_until
from tests.support.signal_tools import sine_s16le
from tests.support.sse_client import BackgroundListener, collect

TMPFS_KB = 1024
BITRATE_BPS = 256_000  # 32 KB/s: the small disk fills in seconds


def seed_archive(root: Path, segments: int) -> None:
    """Old segments (a minute apart, long ago) for the retention to free."""
    encoder = OpusEncoder(EncoderSettings(48000, 1, 20.0, BITRATE_BPS, "restricted_lowdelay",
                                          5))
    pcm = sine_s16le(440, 2.0)
    size = encoder.settings.frame_bytes
    packets = [encoder.encode(pcm[i:i + size]) for i in range(0, len(pcm) - size + 1, size)]
    recorder = ArchiveRecorder(RecorderSettings(root, Retention(1e12, 1 << 40), 1.0, 1, 120,
                                                20.0))
    recorder.open()
    recorder.start(1_000_000_000_000)
    for minute in range(segments):
        for n, packet in enumerate(packets):
            seq = 1_000_000_000_000 + minute * 1000 + n
            recorder.tap(seq, packet, 1.0e12 + minute * 60_000 + n * 20, -10.0)
    recorder.close()


def test_a_full_disk_pauses_the_archive_and_nothing_else(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed: scripts/setup.sh --dev installs it")
    seed = tmp_path / "seed"
    seed.mkdir()
    seed_archive(seed, 2)
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = (f"mount -t tmpfs -o size={TMPFS_KB}k tmpfs {disk} && mkdir {disk}/archive && "
             f"cp {seed}/*.opus {seed}/*.idx {disk}/archive/ && exec \"$@\"")
    namespace = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    config = (f'[archive]\ndir = "{disk}/archive"\nmin_free_mb = 0\nfile_minutes = 1\n'
              f"[audio]\nbitrate_bps = {BITRATE_BPS}\n")
    proc = start_broadcaster(tmp_path, config=config, program=[
        *namespace, "sh", "-c", mount, "sh", sys.executable, "-m", "broadcaster"])
    inside = Path(f"/proc/{proc.process.pid}/root") / str(disk).lstrip("/")
    live = BackgroundListener(proc.url + "/audio/stream")
    try:
        wait_until(lambda: httpx.get(proc.url + "/archive").json()["files"] >= 3, 10,
                   "the seeded segments and a new one")
        # Leave about 250 KB: about 8 s of this broadcast.
        free = shutil.disk_usage(inside).free
        (inside / "filler").write_bytes(b"\0" * max(0, free - 250 * 1024))

        def status() -> dict[str, object]:
            return httpx.get(proc.url + "/status", timeout=5).json()

        wait_until(lambda: status()["archive_paused"] == 1, 40, "the archive to pause")
        paused_near = live.ids[-1]  # the archive's hole begins before this frame
        paused = status()
        assert paused["archive_files_deleted"] >= 2  # retention freed what it could first
        assert "cannot write" in str(paused["archive_paused_reason"]) or "full" in str(
            paused["archive_paused_reason"])
        time.sleep(2)
        (inside / "filler").unlink()
        wait_until(lambda: status()["archive_paused"] == 0, 15, "the archive to resume")
        time.sleep(1.5)
        resumed = status()
        assert resumed["archive_dropped_frames"] > 0
        summary = httpx.get(proc.url + "/archive", timeout=5).json()
        assert summary["to_ms"] > time.time() * 1000 - 3000  # written again, up to now
        ids = live.ids
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # live: not a frame missed
        assert live.named("gap") == []
        log = proc.log()
        assert log.count("archive paused") == 1 and log.count("archive resumed") == 1
        # Replaying across the pause says what the archive does not hold.
        before = paused_near - 150
        got = collect(proc.url + "/audio/stream", 3.0, {"Last-Event-ID": str(before)})
        missing = [gap for gap in got.named("gap") if gap["reason"] == "missing"]
        assert missing and missing[0]["lost"] > 0
    finally:
        live.stop()
        proc.stop()
