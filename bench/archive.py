"""The archive's costs: the storage chosen against SQLite, then a full 24-hour archive.

    .venv/bin/python -m bench.archive [--hours 24] [--compare-minutes 60]

1. **Storage, by measurement.** The same real Opus packets (a tone at 64 kbit/s, 20 ms
   frames) written in the batches the recorder takes (half a second), three ways: the
   archive's own Ogg segments with their page index (what broadcaster does), SQLite with a
   row per packet, and SQLite with a row per half second. For each: CPU per packet in this
   thread, the bytes the process caused to be written to the disk (`/proc/self/io`
   write_bytes) per hour of audio against the audio's own bytes, and what it holds on disk.
   SQLite is Python's own (WAL, synchronous=NORMAL, a commit per batch).
2. **A full archive.** `--hours` of packets written by the recorder, then: opening it
   (lock, repair, scan) as a start-up does; seeking to random moments (find the page by
   capture time, read it); a broadcaster started on it, to serving; a replay from random
   moments over HTTP to its first frame; and one hour downloaded as Ogg Opus over HTTP.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from broadcaster.archive.recorder import ArchiveRecorder, RecorderSettings
from broadcaster.archive.store import ArchiveStore
from broadcaster.audio.encoder import EncoderSettings, OpusEncoder
from broadcaster.core.retention import Retention
from tests.support.server import start_broadcaster
from tests.support.signal_tools import sine_s16le

FRAME_MS = 20.0
BATCH = 25  # packets the recorder takes at a time: half a second
T0_MS = 1_796_000_000_000.0
Packet = tuple[int, bytes, float, float]


def tone_packets(seconds: float = 10.0) -> list[bytes]:
    """Real packets of a 64 kbit/s tone, to be cycled."""
    encoder = OpusEncoder(EncoderSettings(48000, 1, FRAME_MS, 64000, "restricted_lowdelay", 5))
    pcm = sine_s16le(440, seconds, amplitude=0.3)
    size = encoder.settings.frame_bytes
    return [encoder.encode(pcm[i:i + size]) for i in range(0, len(pcm) - size + 1, size)]


def batches(packets: list[bytes], count: int, first_id: int = 1_796_000_000_000
            ) -> list[list[Packet]]:
    out, batch = [], []
    for n in range(count):
        batch.append((first_id + n, packets[n % len(packets)], T0_MS + n * FRAME_MS, -20.0))
        if len(batch) == BATCH:
            out.append(batch)
            batch = []
    return out + ([batch] if batch else [])


def written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/self/io")


def folder_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def recorder(root: Path) -> ArchiveRecorder:
    settings = RecorderSettings(root, Retention(1e12, 1 << 50), 60.0, 1, 120, FRAME_MS)
    rec = ArchiveRecorder(settings)
    rec.open()
    return rec


def ours(root: Path) -> Callable[[list[Packet]], None]:
    return recorder(root).write_batch


def sqlite_rows(root: Path) -> Callable[[list[Packet]], None]:
    db = sqlite3.connect(root / "archive.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE frames (id INTEGER PRIMARY KEY, capture_ms REAL, level REAL, "
               "packet BLOB)")
    db.execute("CREATE INDEX by_time ON frames (capture_ms)")

    def write(batch: list[Packet]) -> None:
        db.execute("BEGIN")
        db.executemany("INSERT INTO frames VALUES (?, ?, ?, ?)",
                       [(seq, ms, level, packet) for seq, packet, ms, level in batch])
        db.execute("COMMIT")
    return write


def sqlite_batches(root: Path) -> Callable[[list[Packet]], None]:
    db = sqlite3.connect(root / "archive.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE pages (first_id INTEGER PRIMARY KEY, capture_ms REAL, "
               "level REAL, count INTEGER, packets BLOB)")
    db.execute("CREATE INDEX by_time ON pages (capture_ms)")

    def write(batch: list[Packet]) -> None:
        blob = b"".join(struct.pack("<H", len(p)) + p for _, p, _, _ in batch)
        db.execute("INSERT INTO pages VALUES (?, ?, ?, ?, ?)",
                   (batch[0][0], batch[0][2], max(b[3] for b in batch), len(batch), blob))
    return write


def compare(minutes: float) -> None:
    packets = tone_packets()
    work = batches(packets, int(minutes * 60_000 / FRAME_MS))
    audio_bytes = sum(len(p) for batch in work for _, p, _, _ in batch)
    per_hour = 60 / minutes
    print(f"1. storage: {minutes:g} min of 64 kbit/s audio, {len(work)} batches of {BATCH}, "
          f"{audio_bytes / 1e6 * per_hour:.1f} MB of packets an hour")
    print(f"{'storage':<32} {'CPU/packet':>11} {'CPU share':>10} {'written/h':>10} "
          f"{'x audio':>8} {'on disk/h':>10}")
    for label, make in (("Ogg segments + index (ours)", ours),
                        ("SQLite, a row per packet", sqlite_rows),
                        ("SQLite, a row per 0.5 s", sqlite_batches)):
        root = Path(tempfile.mkdtemp(prefix="bench-archive-"))
        write = make(root)
        before_io, before_cpu = written_bytes(), time.thread_time()
        for batch in work:
            write(batch)
        cpu = time.thread_time() - before_cpu
        after_io = written_bytes()
        count = sum(len(batch) for batch in work)
        share = 100 * cpu / (minutes * 60)
        print(f"{label:<32} {cpu / count * 1e6:>9.1f}us {share:>9.3f}% "
              f"{(after_io - before_io) / 1e6 * per_hour:>8.1f}MB "
              f"{(after_io - before_io) / audio_bytes:>8.2f} "
              f"{folder_bytes(root) / 1e6 * per_hour:>8.1f}MB", flush=True)


def full_archive(hours: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-archive-24h-"))
    packets = tone_packets()
    count = int(hours * 3_600_000 / FRAME_MS)
    print(f"\n2. a full archive: {hours:g} h ({count} packets) in {root}")
    rec = recorder(root)
    started = time.monotonic()
    first = 1_796_000_000_000
    batch: list[Packet] = []
    for n in range(count):
        batch.append((first + n, packets[n % len(packets)], T0_MS + n * FRAME_MS, -20.0))
        if len(batch) == 500:
            rec.write_batch(batch)
            batch = []
    rec.write_batch(batch)
    rec.close()
    wrote_s = time.monotonic() - started
    print(f"   written in {wrote_s:.1f} s ({hours * 3600 / wrote_s:.0f}x real time), "
          f"{folder_bytes(root) / 1e6:.0f} MB in {len(list(root.glob('*.opus')))} files")

    opens = []
    for _ in range(5):
        started = time.perf_counter()
        again = recorder(root)
        opens.append(time.perf_counter() - started)
        again.close()
    print(f"   opening it as a start-up does (lock, repair, read each index's ends): median "
          f"{statistics.median(opens) * 1000:.0f} ms")

    store = ArchiveStore(root)
    store.scan()
    seeks = []
    for _ in range(500):
        at = T0_MS + random.uniform(0, hours * 3_600_000)
        started = time.perf_counter()
        seq = store.id_at(at)
        assert seq is not None
        chunk = store.read(seq, 1)
        seeks.append(time.perf_counter() - started)
        assert chunk is not None and chunk.packets
    seeks.sort()
    print(f"   seek to a random moment and read its page: p50 {seeks[250] * 1000:.2f} ms, "
          f"p99 {seeks[495] * 1000:.2f} ms, max {seeks[-1] * 1000:.2f} ms")
    served(root, hours)


def served(root: Path, hours: float) -> None:
    config = f'[archive]\ndir = "{root}"\nmin_free_mb = 0\nmax_mb = {1 << 20}\n'
    config += f"keep_hours = {hours + 1}\n"
    empty = Path(tempfile.mkdtemp(prefix="bench-archive-empty-"))
    for label, folder in (("an empty archive", empty), (f"the {hours:g} h archive", root)):
        work = Path(tempfile.mkdtemp(prefix="bench-archive-srv-"))
        started = time.monotonic()
        proc = start_broadcaster(work, config=config.replace(str(root), str(folder)))
        up_s = time.monotonic() - started
        proc.stop()
        print(f"   a broadcaster on {label}: serving (/healthz) after {up_s * 1000:.0f} ms")
    work = Path(tempfile.mkdtemp(prefix="bench-archive-srv-"))
    proc = start_broadcaster(work, config=config)
    try:
        firsts = []
        with httpx.Client(timeout=10) as client:
            for _ in range(30):
                at = int(T0_MS + random.uniform(0, (hours - 1) * 3_600_000))
                started = time.perf_counter()
                with client.stream("GET", proc.url + f"/audio/stream?from_ms={at}") as stream:
                    for chunk in stream.iter_raw():
                        if b"\nid: " in chunk or chunk.startswith(b"id: "):
                            break
                firsts.append(time.perf_counter() - started)
        firsts.sort()
        print(f"   replay from a random moment, request to its first frame (loopback): "
              f"p50 {firsts[15] * 1000:.1f} ms, max {firsts[-1] * 1000:.1f} ms")
        started = time.perf_counter()
        size = 0
        with httpx.stream("GET", proc.url + "/archive/download",
                          params={"from_ms": int(T0_MS), "to_ms": int(T0_MS + 3_600_000)},
                          timeout=60) as response:
            for chunk in response.iter_raw():
                size += len(chunk)
        took = time.perf_counter() - started
        print(f"   download 1 h as Ogg Opus over HTTP: {size / 1e6:.1f} MB in {took:.2f} s "
              f"= {3600 / took:.0f}x real time")
    finally:
        proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--compare-minutes", type=float, default=60.0)
    args = parser.parse_args()
    compare(args.compare_minutes)
    full_archive(args.hours)


if __name__ == "__main__":
    main()
