"""What capture + encode cost with nobody listening, and the idle memory.

    .venv/bin/python -m bench.cpu [--seconds 20] [--rounds 1] [--archive]

Runs the real broadcaster with no listener, once on the virtual microphone (real PyAudio
through PulseAudio) and once on the built-in tone, for each Opus complexity asked for, and
prints the process's CPU (CPU time over wall time) split by thread, and its RSS. The main
thread is the event loop; "capture side" is every other thread: the capture thread
(`python`) and whatever PortAudio / the ALSA PulseAudio plugin start (`threaded-ml`).

CPU time is the scheduler's exact run time per thread (/proc/PID/task/TID/schedstat) where
the kernel keeps it, else the tick-sampled user + system time, which misses much of a
thread that runs for microseconds at a time. With --rounds N every source is measured N
times, interleaved, and the median round is printed.

With --archive, the tone runs with the archive on and off, interleaved round by round (the
"archive writer" thread is its recorder): what keeping the broadcast on disk costs.

The first three rows are this machine's floor, measured in the benchmark's own process: a
bare thread that only wakes every 20 ms, the same encoding a frame each time, and the same
handing each packet to an event loop. On a virtual machine a wake-up alone can cost a
sizeable share of the 1 % budget; the broadcaster's rows are best read against them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from broadcaster.audio.encoder import EncoderSettings, OpusEncoder
from tests.support.procstat import rss_kb, thread_cpu_seconds
from tests.support.server import no_device_env, start_broadcaster
from tests.support.signal_tools import sine_s16le
from tests.support.vmic import VirtualMic


def thread_run_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """(name, CPU seconds so far) of each thread of `pid`, by thread id."""
    ticks = thread_cpu_seconds(pid)
    out = {}
    for tid, ticked in ticks.items():
        task = Path(f"/proc/{pid}/task/{tid}")
        try:
            name = (task / "comm").read_text().strip()
            seconds = int((task / "schedstat").read_text().split()[0]) / 1e9
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        except (OSError, ValueError, IndexError):
            seconds = ticked  # no schedstat in this kernel
        out[tid] = (name, seconds)
    return out


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement: shares of a core in %, and RSS."""

    event_loop: float
    threads: tuple[tuple[str, float], ...]  # (name, share) of the others, largest first
    rss_mb: float | None  # None: not measured
    written_bytes_per_s: float = 0.0  # what the process had written to disk (/proc/PID/io)

    @property
    def capture_side(self) -> float:
        """Every thread but the event loop."""
        return sum(share for _, share in self.threads)


def measure(args: list[str], env: dict[str, str], complexity: int, seconds: float,
            mic: VirtualMic | None, archive: bool = False) -> Sample:
    work = Path(tempfile.mkdtemp(prefix="cpu-"))
    config = (f"[audio]\ncomplexity = {complexity}\n"
              f"[archive]\nenabled = {str(archive).lower()}\nmin_free_mb = 0\n")
    proc = start_broadcaster(work, *args, env=env, config=config)
    pid = proc.process.pid
    try:
        if mic is not None:
            mic.play(sine_s16le(440, seconds + 5, amplitude=0.3))
        time.sleep(2)
        before, started = thread_run_seconds(pid), time.monotonic()
        written = written_bytes(pid)
        time.sleep(seconds)
        after, wall = thread_run_seconds(pid), time.monotonic() - started
        written = written_bytes(pid) - written
        rss = rss_kb(pid) / 1024
    finally:
        proc.stop()
        if mic is not None:
            mic.clear()
    used = {tid: (name, 100 * (cpu - before.get(tid, (name, 0.0))[1]) / wall)
            for tid, (name, cpu) in after.items()}
    _, event_loop = used.pop(pid, ("", 0.0))
    others = sorted(((name, share) for name, share in used.values()
                     if share >= 0.01 or name.startswith("archive")),
                    key=lambda item: -item[1])
    return Sample(event_loop, tuple(others), rss, written / wall)


def written_bytes(pid: int) -> int:
    """The bytes a process caused to be written to storage so far."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def thread_seconds(tid: int) -> float:
    """CPU seconds so far of one thread of this process."""
    return int(Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[0]) / 1e9


def floor(seconds: float, frame_s: float, encode: bool, hand_off: bool) -> Sample:
    """What this machine charges for the bare rhythm of capture, in this process.

    A thread sleeps to a deadline every frame, as the tone source does (and a blocking read
    does no less); with `encode` it encodes one frame of a tone each time, with `hand_off`
    it also hands each frame to an event loop with `call_soon_threadsafe`. Nothing else
    runs: the difference to the broadcaster's own figures is what its code adds.
    """
    settings = EncoderSettings(48_000, 1, frame_s * 1000, 64_000, "audio", 5)
    encoder = OpusEncoder(settings)
    pcm = sine_s16le(440, frame_s, amplitude=0.3)[:settings.frame_bytes]
    stop = threading.Event()
    tids: dict[str, int] = {}

    def pace(loop: asyncio.AbstractEventLoop) -> None:
        tids["thread"] = threading.get_native_id()
        deadline = time.monotonic()
        while not stop.is_set():
            deadline += frame_s
            time.sleep(max(0.0, deadline - time.monotonic()))
            packet = encoder.encode(pcm) if encode else b""
            if hand_off:
                loop.call_soon_threadsafe(len, packet)

    async def run() -> Sample:
        loop = asyncio.get_running_loop()
        thread = threading.Thread(target=pace, args=(loop,), daemon=True)
        thread.start()
        await asyncio.sleep(1.0)
        main = threading.get_native_id()
        before = thread_seconds(main), thread_seconds(tids["thread"])
        started = time.monotonic()
        await asyncio.sleep(seconds)
        wall = time.monotonic() - started
        loop_share = 100 * (thread_seconds(main) - before[0]) / wall
        thread_share = 100 * (thread_seconds(tids["thread"]) - before[1]) / wall
        stop.set()
        thread.join()
        return Sample(loop_share if hand_off else 0.0, (("thread", thread_share),), None)

    return asyncio.run(run())


def show(label: str, complexity: int | None, sample: Sample) -> None:
    threads = ", ".join(f"{name} {share:.2f}%" for name, share in sample.threads) or "-"
    rss = "-" if sample.rss_mb is None else f"{sample.rss_mb:.1f} MB"
    print(f"{label:<22} {'-' if complexity is None else complexity:>10} "
          f"{sample.event_loop + sample.capture_side:>8.2f}% "
          f"{sample.event_loop:>10.2f}% {sample.capture_side:>12.2f}% {threads:<34} "
          f"{rss:>10}", flush=True)


def archive_cost(seconds: float, rounds: int, complexity: int) -> None:
    """The tone with the archive off and on, interleaved; the medians, and the difference."""
    print(f"{'tone, 20 ms frames':<22} {'complexity':>10} {'process':>9} {'event loop':>11} "
          f"{'capture side':>13} {'capture-side threads':<34} {'RSS':>10}")
    runs: dict[bool, list[Sample]] = {False: [], True: []}
    for _ in range(rounds):
        for archive in (False, True):
            runs[archive].append(measure(["--source", "tone"], no_device_env(), complexity,
                                         seconds, None, archive))
    medians = {}
    for archive in (False, True):
        samples = sorted(runs[archive], key=lambda sample: sample.event_loop
                         + sample.capture_side)
        medians[archive] = samples[len(samples) // 2]
        show(f"archive {'on' if archive else 'off'}", complexity, medians[archive])
    writer = [share for sample in runs[True] for name, share in sample.threads
              if name.startswith("archive")]
    total = {key: value.event_loop + value.capture_side for key, value in medians.items()}
    print(f"archive on - off (medians of {rounds} rounds): {total[True] - total[False]:+.3f}% "
          f"of a core; its writer thread alone: median "
          f"{statistics.median(writer) if writer else 0.0:.3f}%")
    audio_mb_h = 64_000 / 8 * 3600 / 1e6
    for archive in (False, True):
        mb_h = statistics.median(s.written_bytes_per_s for s in runs[archive]) * 3600 / 1e6
        print(f"written to disk with the archive {'on' if archive else 'off'}: "
              f"{mb_h:.1f} MB an hour (/proc/PID/io write_bytes), against "
              f"{audio_mb_h:.1f} MB an hour of 64 kbit/s audio: {mb_h / audio_mb_h:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--complexity", type=int, nargs="*", default=[5, 0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--archive", action="store_true",
                        help="only the tone, with the archive on and off")
    args = parser.parse_args()
    if args.archive:
        archive_cost(args.seconds, args.rounds, args.complexity[0])
        return
    print(f"{'source (20 ms frames)':<22} {'complexity':>10} {'process':>9} {'event loop':>11} "
          f"{'capture side':>13} {'capture-side threads':<34} {'RSS':>10}")
    for label, encode, hand_off in (("floor: wake", False, False),
                                    ("floor: wake+encode", True, False),
                                    ("floor: +hand-off", True, True)):
        show(label, 5 if encode else None, floor(args.seconds / 2, 0.020, encode, hand_off))
    with VirtualMic(Path(tempfile.mkdtemp(prefix="cpu-vmic-"))) as mic:
        for complexity in args.complexity:
            runs: dict[str, list[Sample]] = {"mic": [], "tone": []}
            for _ in range(args.rounds):
                runs["mic"].append(measure(["--source", "mic"], no_device_env() | mic.env,
                                           complexity, args.seconds, mic))
                runs["tone"].append(measure(["--source", "tone"], no_device_env(), complexity,
                                            args.seconds, None))
            for key, label in (("mic", "mic (virtual, PyAudio)"), ("tone", "tone")):
                samples = sorted(runs[key], key=lambda sample: sample.capture_side)
                show(label, complexity, samples[len(samples) // 2])
                if args.rounds > 1:
                    shares = ", ".join(f"{s.capture_side:.2f}%" for s in runs[key])
                    print(f"{'':<22} {'':>10} capture side in each round: {shares} "
                          f"(median {statistics.median(s.capture_side for s in runs[key]):.2f}%)",
                          flush=True)


if __name__ == "__main__":
    main()
